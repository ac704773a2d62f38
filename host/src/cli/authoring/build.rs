//! `sluice policy build DIR`: any project `sluice policy new` makes, in any of the three
//! languages, to one component at `DIR/dist/<name>.wasm` (or `--out`).
//!
//! - Rust: `cargo build --release --target wasm32-wasip2` of the project's package.
//! - Python: the embedded WIT and `sluice_policy` package are written to
//!   `DIR/.sluice/`, with a two-line app module that exports the project's `policy`,
//!   and componentize-py builds the component for the point's world. The generated
//!   bindings are written to `DIR/.sluice/bindings` for editors.
//! - JavaScript/TypeScript: the embedded WIT and `sluice-policy` package are written to
//!   `DIR/.sluice/`, rolldown bundles an entry that exports the project's default
//!   `Policy` (resolving `sluice-policy` to the embedded SDK and leaving the host's
//!   `sluice:policy/*` imports external; a `tsconfig.json`'s `paths`, which point
//!   editors at the SDK's declarations, are not used for bundling), and
//!   componentize-js builds the component
//!   with WASI HTTP disabled (the sandbox grants no network, and a module importing it
//!   would be refused at load).
//!
//! The module appears at its path only once complete: it is written beside it and
//! renamed, so a failed build never leaves a half-written module for a watching host
//! to pick up.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::project::Project;
use super::{AuthoringError, Lang, assets, io, tools};
use crate::decision::DecisionPoint;

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The component.
    pub module: PathBuf,
    /// Its sha256, hex.
    pub sha256: String,
}

/// Builds `project` to `out` (default `dist/<name>.wasm` in the project).
///
/// # Errors
/// A missing tool (with how to install it), a failed tool run (its output went to
/// stderr), or a file that cannot be written.
pub fn build(project: &Project, out: Option<&Path>) -> Result<Built, AuthoringError> {
    let out = match out {
        Some(p) => p.to_owned(),
        None => project
            .dir
            .join("dist")
            .join(format!("{}.wasm", project.name)),
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let partial = out.with_extension("wasm.partial");
    let result = match (project.lang, project.point) {
        (Lang::Rust, _) => rust(project, &partial),
        (Lang::Python, Some(point)) => python(project, point, &partial),
        (Lang::Js, Some(point)) => js(project, point, &partial),
        (lang, None) => Err(AuthoringError::Invalid(format!(
            "a {} project must name its decision point",
            lang.as_str()
        ))),
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let bytes = std::fs::read(&partial).map_err(io(&partial))?;
    std::fs::rename(&partial, &out).map_err(io(&out))?;
    Ok(Built {
        module: out,
        sha256: crate::policy::module::sha256_hex(&bytes),
    })
}

fn write(path: &Path, contents: &str) -> Result<(), AuthoringError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, contents).map_err(io(path))
}

/// Writes the embedded WIT to `dir` and returns it.
fn write_wit(dir: &Path) -> Result<PathBuf, AuthoringError> {
    for (name, text) in assets::WIT {
        write(&dir.join(name), text)?;
    }
    Ok(dir.to_owned())
}

fn rust(project: &Project, out: &Path) -> Result<(), AuthoringError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = project.dir.join("Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped());
    let line = tools::render(&cmd);
    let mut child = cmd.spawn().map_err(|e| AuthoringError::ToolFailed {
        command: line.clone(),
        status: format!("cannot start: {e}"),
    })?;
    let mut artifact = None;
    if let Some(stdout) = child.stdout.take() {
        for message in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&message) else {
                continue;
            };
            let ours = v.get("manifest_path").and_then(serde_json::Value::as_str)
                == Some(manifest.to_string_lossy().as_ref());
            if ours
                && v.get("reason").and_then(serde_json::Value::as_str) == Some("compiler-artifact")
            {
                artifact = v
                    .get("filenames")
                    .and_then(serde_json::Value::as_array)
                    .and_then(|files| {
                        files
                            .iter()
                            .filter_map(serde_json::Value::as_str)
                            .find(|f| f.ends_with(".wasm"))
                    })
                    .map(PathBuf::from)
                    .or(artifact);
            }
        }
    }
    let status = child.wait().map_err(|e| AuthoringError::ToolFailed {
        command: line.clone(),
        status: e.to_string(),
    })?;
    if !status.success() {
        return Err(AuthoringError::ToolFailed {
            command: line,
            status: status.to_string(),
        });
    }
    let artifact = artifact.ok_or_else(|| {
        AuthoringError::NoArtifact(format!(
            "cargo built {} but reported no .wasm file; is `crate-type = [\"cdylib\"]` set in [lib]?",
            manifest.display()
        ))
    })?;
    std::fs::copy(&artifact, out).map_err(io(out))?;
    Ok(())
}

/// The module componentize-py is pointed at: it exports the project's `policy`.
fn python_app(module: &str) -> String {
    format!(
        "# Written by `sluice policy build`: exports the `policy` of `{module}`.\n\
         import importlib as _importlib\n\
         globals().update(_importlib.import_module(\"{module}\").policy.export_classes())\n"
    )
}

fn python(project: &Project, point: DecisionPoint, out: &Path) -> Result<(), AuthoringError> {
    let tool = tools::componentize_py()?;
    let work = project.dir.join(".sluice");
    let wit = write_wit(&work.join("wit"))?;
    let sdk = work.join("python");
    for (path, text) in assets::PYTHON_SDK {
        write(&sdk.join(path), text)?;
    }
    let app = work.join("app");
    write(&app.join("sluice_app.py"), &python_app(&project.entry))?;
    let base = |cmd: &mut Command| {
        cmd.arg("-d")
            .arg(&wit)
            .args(["-w", point.as_str()])
            .env("PYTHONHASHSEED", "0")
            .env("SOURCE_DATE_EPOCH", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1");
    };
    let mut cmd = Command::new(&tool);
    base(&mut cmd);
    cmd.args(["componentize", "sluice_app"])
        .arg("-p")
        .arg(&app)
        .arg("-p")
        .arg(&project.dir)
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(out);
    tools::run(&mut cmd)?;
    // Bindings for editors and type checkers; the module is already built.
    // componentize-py refuses to write into an existing directory.
    let bindings_dir = work.join("bindings");
    if let Err(e) = std::fs::remove_dir_all(&bindings_dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(AuthoringError::Io {
            path: bindings_dir,
            source: e,
        });
    }
    let mut bindings = Command::new(&tool);
    base(&mut bindings);
    bindings
        .arg("bindings")
        .arg(&bindings_dir)
        .stdout(Stdio::null());
    if let Err(e) = tools::run(&mut bindings) {
        tracing::warn!(error = %e, "the module is built, but writing editor bindings failed");
    }
    Ok(())
}

/// The interface name a JavaScript module exports for `point` (camelCase).
fn js_export(point: DecisionPoint) -> &'static str {
    match point {
        DecisionPoint::Retrain => "decideRetrain",
        DecisionPoint::Promotion => "decidePromotion",
        DecisionPoint::Regression => "decideRegression",
        DecisionPoint::Rollout => "decideRollout",
    }
}

fn js_string(path: &Path) -> String {
    serde_json::Value::String(path.to_string_lossy().into_owned()).to_string()
}

fn js(project: &Project, point: DecisionPoint, out: &Path) -> Result<(), AuthoringError> {
    let rolldown = tools::js_tool(&project.dir, "rolldown")?;
    let componentize = tools::js_tool(&project.dir, "componentize-js")?;
    let work = project.dir.join(".sluice");
    let wit = write_wit(&work.join("wit"))?;
    let sdk = work.join("sluice-policy");
    for (name, text) in assets::JS_SDK {
        write(&sdk.join(name), text)?;
    }
    let export = js_export(point);
    let entry = work.join("entry.js");
    write(
        &entry,
        &format!(
            "// Written by `sluice policy build`: exports the project's default Policy.\n\
             import policy from {main};\n\
             const exported = policy.exports();\n\
             export const selfDescription = exported.selfDescription;\n\
             export const {export} = exported.{export};\n",
            main = js_string(&project.dir.join(&project.entry)),
        ),
    )?;
    let bundle = work.join("bundle.js");
    let config = work.join("rolldown.config.mjs");
    write(
        &config,
        &format!(
            "// Written by `sluice policy build`.\n\
             export default {{\n  input: {entry},\n  external: [/^sluice:/, /^wasi:/],\n  \
             tsconfig: false,\n  \
             resolve: {{ alias: {{ 'sluice-policy': {sdk} }} }},\n  \
             output: {{ file: {bundle}, format: 'esm' }},\n  logLevel: 'warn',\n}};\n",
            entry = js_string(&entry),
            sdk = js_string(&sdk.join("index.js")),
            bundle = js_string(&bundle),
        ),
    )?;
    tools::run(
        Command::new(&rolldown)
            .arg("-c")
            .arg(&config)
            .current_dir(&work)
            .stdout(Stdio::null()),
    )?;
    // componentize-js reads the bundle's directory through a mapped preopen while it
    // initialises the engine; running it there keeps the mapping to `.sluice/`.
    tools::run(
        Command::new(&componentize)
            .arg("bundle.js")
            .arg("--wit")
            .arg(&wit)
            .args(["--world-name", point.as_str()])
            .args(["--disable", "http", "fetch-event"])
            .arg("--out")
            .arg(out)
            .current_dir(&work),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_app_imports_the_configured_module() {
        let app = python_app("pkg.rules");
        assert!(app.contains("import_module(\"pkg.rules\").policy.export_classes()"));
    }

    #[test]
    fn js_paths_are_quoted_as_string_literals() {
        assert_eq!(js_string(Path::new("/a b/'c\"")), "\"/a b/'c\\\"\"");
    }
}
