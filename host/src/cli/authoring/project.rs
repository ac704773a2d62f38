//! Reading a policy project's manifest: its language, name, decision point and entry.

use std::path::{Path, PathBuf};

use super::{AuthoringError, Lang, io};
use crate::decision::DecisionPoint;

/// What `policy build` needs to know about a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project directory.
    pub dir: PathBuf,
    /// Its language.
    pub lang: Lang,
    /// The package name; the module is written to `dist/<name>.wasm`.
    pub name: String,
    /// The decision point (WIT world). For Rust it is the SDK feature in Cargo.toml and
    /// is not read here (`None`).
    pub point: Option<DecisionPoint>,
    /// Python: the module defining `policy`; JavaScript: the entry file.
    pub entry: String,
}

/// Reads the project in `dir`.
///
/// # Errors
/// [`AuthoringError::NotAProject`] when no manifest names a policy project, or
/// [`AuthoringError::Manifest`] naming the file and field that is wrong.
pub fn read(dir: &Path) -> Result<Project, AuthoringError> {
    let dir = dir.canonicalize().map_err(io(dir))?;
    let cargo = dir.join("Cargo.toml");
    if cargo.is_file() {
        return rust(&dir, &cargo);
    }
    let pyproject = dir.join("pyproject.toml");
    if pyproject.is_file() {
        let text = std::fs::read_to_string(&pyproject).map_err(io(&pyproject))?;
        if let Some(project) = python(&dir, &pyproject, &text)? {
            return Ok(project);
        }
    }
    let package = dir.join("package.json");
    if package.is_file() {
        let text = std::fs::read_to_string(&package).map_err(io(&package))?;
        if let Some(project) = js(&dir, &package, &text)? {
            return Ok(project);
        }
    }
    Err(AuthoringError::NotAProject { dir })
}

fn manifest(path: &Path, message: impl Into<String>) -> AuthoringError {
    AuthoringError::Manifest {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn toml_table(path: &Path, text: &str) -> Result<toml::Table, AuthoringError> {
    text.parse::<toml::Table>()
        .map_err(|e| manifest(path, format!("not valid TOML: {e}")))
}

fn rust(dir: &Path, path: &Path) -> Result<Project, AuthoringError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let table = toml_table(path, &text)?;
    let name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| manifest(path, "[package] name is missing: a policy is one package"))?;
    Ok(Project {
        dir: dir.to_owned(),
        lang: Lang::Rust,
        name: name.to_owned(),
        point: None,
        entry: "src/lib.rs".into(),
    })
}

fn point(path: &Path, field: &str, value: Option<&str>) -> Result<DecisionPoint, AuthoringError> {
    let value = value.ok_or_else(|| {
        manifest(
            path,
            format!("{field} is missing: set it to retrain, promotion, regression or rollout"),
        )
    })?;
    value.parse::<DecisionPoint>().map_err(|_| {
        manifest(
            path,
            format!("{field} is `{value}`; use retrain, promotion, regression or rollout"),
        )
    })
}

/// A Python project: `pyproject.toml` with `[tool.sluice] point = "..."` (and
/// optionally `module`, default `policy`). `None` when there is no `[tool.sluice]`.
fn python(dir: &Path, path: &Path, text: &str) -> Result<Option<Project>, AuthoringError> {
    let table = toml_table(path, text)?;
    let Some(sluice) = table.get("tool").and_then(|t| t.get("sluice")) else {
        return Ok(None);
    };
    let point = point(
        path,
        "[tool.sluice] point",
        sluice.get("point").and_then(toml::Value::as_str),
    )?;
    let entry = match sluice.get("module") {
        None => "policy".to_owned(),
        Some(m) => m
            .as_str()
            .filter(|m| is_module_path(m))
            .ok_or_else(|| {
                manifest(
                    path,
                    "[tool.sluice] module must be a Python module name such as `policy` or `pkg.policy`",
                )
            })?
            .to_owned(),
    };
    let name = table
        .get("project")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| manifest(path, "[project] name is missing"))?;
    check_file_name(path, "[project] name", name)?;
    Ok(Some(Project {
        dir: dir.to_owned(),
        lang: Lang::Python,
        name: name.to_owned(),
        point: Some(point),
        entry,
    }))
}

fn is_module_path(m: &str) -> bool {
    !m.is_empty()
        && m.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn check_file_name(path: &Path, field: &str, name: &str) -> Result<(), AuthoringError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(manifest(
            path,
            format!("{field} `{name}` must be 1–64 letters, digits, `-`, `_` or `.`"),
        ))
    }
}

/// A JavaScript project: `package.json` with `"sluice": {"point": "..."}` and `main`
/// (default `policy.js`; a `.ts` file works too). `None` without a `"sluice"` key.
fn js(dir: &Path, path: &Path, text: &str) -> Result<Option<Project>, AuthoringError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        manifest(
            path,
            format!(
                "not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Some(sluice) = value.get("sluice") else {
        return Ok(None);
    };
    let point = point(
        path,
        "\"sluice\".point",
        sluice.get("point").and_then(serde_json::Value::as_str),
    )?;
    let name = value
        .get("name")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| manifest(path, "\"name\" is missing"))?;
    let name = name.rsplit('/').next().unwrap_or(name);
    check_file_name(path, "\"name\"", name)?;
    let entry = value
        .get("main")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("policy.js")
        .to_owned();
    // Resolved, so `../elsewhere.js` or a symlink out of the project is refused: a
    // lexical `starts_with` would accept `dir/../x`.
    let inside = dir
        .join(&entry)
        .canonicalize()
        .is_ok_and(|p| p.starts_with(dir) && p.is_file());
    if !inside {
        return Err(manifest(
            path,
            format!(
                "\"main\" is `{entry}`, which is not a file inside {}",
                dir.display()
            ),
        ));
    }
    Ok(Some(Project {
        dir: dir.to_owned(),
        lang: Lang::Js,
        name: name.to_owned(),
        point: Some(point),
        entry,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_manifest_fields_are_checked_with_their_names() {
        let p = Path::new("pyproject.toml");
        let ok = "[project]\nname = \"gate\"\n[tool.sluice]\npoint = \"promotion\"\n";
        let project = python(Path::new("/x"), p, ok)
            .expect("valid")
            .expect("python");
        assert_eq!(project.point, Some(DecisionPoint::Promotion));
        assert_eq!(project.entry, "policy");
        assert!(
            python(Path::new("/x"), p, "[project]\nname = \"a\"\n")
                .expect("ok")
                .is_none()
        );
        let bad =
            python(Path::new("/x"), p, "[tool.sluice]\npoint = \"deploy\"\n").expect_err("refused");
        assert!(
            bad.to_string().contains("[tool.sluice] point is `deploy`"),
            "{bad}"
        );
        let bad = python(Path::new("/x"), p, "[tool.sluice\npoint = 1").expect_err("refused");
        assert!(bad.to_string().contains("not valid TOML"), "{bad}");
        let bad = python(
            Path::new("/x"),
            p,
            "[project]\nname = \"a\"\n[tool.sluice]\npoint = \"retrain\"\nmodule = \"a-b\"\n",
        )
        .expect_err("refused");
        assert!(bad.to_string().contains("module"), "{bad}");
    }

    #[test]
    fn a_js_entry_outside_the_project_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("p");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(tmp.path().join("outside.js"), "").expect("write");
        std::fs::write(dir.join("policy.js"), "").expect("write");
        let dir = dir.canonicalize().expect("canonical");
        let p = Path::new("package.json");
        let manifest = |main: &str| {
            format!(
                "{{\"name\": \"p\", \"main\": \"{main}\", \"sluice\": {{\"point\": \"retrain\"}}}}"
            )
        };
        let bad = js(&dir, p, &manifest("../outside.js")).expect_err("outside");
        assert!(bad.to_string().contains("not a file inside"), "{bad}");
        js(&dir, p, &manifest("policy.js"))
            .expect("inside")
            .expect("a js project");
    }

    #[test]
    fn js_manifest_errors_say_where() {
        let p = Path::new("package.json");
        let bad = js(Path::new("/x"), p, "{\n \"name\": \"a\",\n}").expect_err("refused");
        assert!(bad.to_string().contains("line 3"), "{bad}");
        assert!(
            js(Path::new("/x"), p, "{\"name\": \"a\"}")
                .expect("ok")
                .is_none()
        );
        let bad = js(Path::new("/x"), p, "{\"name\": \"a\", \"sluice\": {}}").expect_err("refused");
        assert!(
            bad.to_string().contains("\"sluice\".point is missing"),
            "{bad}"
        );
    }
}
