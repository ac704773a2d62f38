//! `sluice policy new NAME --lang rust|python|js --point POINT`: a policy project that
//! builds with `sluice policy build` and passes its `cases.yaml` as generated.

use std::path::{Path, PathBuf};

use super::{AuthoringError, Lang, io};
use crate::decision::DecisionPoint;

/// The template source of each (language, point).
fn source(lang: Lang, point: DecisionPoint) -> &'static str {
    use DecisionPoint as P;
    match (lang, point) {
        (Lang::Rust, P::Retrain) => include_str!("templates/retrain.rs"),
        (Lang::Rust, P::Promotion) => include_str!("templates/promotion.rs"),
        (Lang::Rust, P::Regression) => include_str!("templates/regression.rs"),
        (Lang::Rust, P::Rollout) => include_str!("templates/rollout.rs"),
        (Lang::Python, P::Retrain) => include_str!("templates/retrain.py"),
        (Lang::Python, P::Promotion) => include_str!("templates/promotion.py"),
        (Lang::Python, P::Regression) => include_str!("templates/regression.py"),
        (Lang::Python, P::Rollout) => include_str!("templates/rollout.py"),
        (Lang::Js, P::Retrain) => include_str!("templates/retrain.js"),
        (Lang::Js, P::Promotion) => include_str!("templates/promotion.js"),
        (Lang::Js, P::Regression) => include_str!("templates/regression.js"),
        (Lang::Js, P::Rollout) => include_str!("templates/rollout.js"),
    }
}

fn cases(point: DecisionPoint) -> &'static str {
    match point {
        DecisionPoint::Retrain => include_str!("templates/retrain.yaml"),
        DecisionPoint::Promotion => include_str!("templates/promotion.yaml"),
        DecisionPoint::Regression => include_str!("templates/regression.yaml"),
        DecisionPoint::Rollout => include_str!("templates/rollout.yaml"),
    }
}

/// Where the Rust SDK crate is: `sdk` beside the `host` crate this binary was built
/// from, when that checkout still exists.
pub fn default_rust_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("sdk");
    sdk.join("Cargo.toml").is_file().then_some(sdk)
}

/// What `policy new` is asked to make.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The policy's name: the directory, package and self-description name.
    pub name: String,
    /// Its language.
    pub lang: Lang,
    /// Its decision point.
    pub point: DecisionPoint,
    /// The directory to create it in.
    pub parent: PathBuf,
    /// Rust only: the sluice-policy-sdk crate's directory.
    pub rust_sdk: Option<PathBuf>,
}

/// Checks a policy name: lowercase letters, digits and `-`, starting with a letter, at
/// most 64 bytes (the self-description's bound).
///
/// # Errors
/// [`AuthoringError::Invalid`] saying what is wrong.
pub fn check_name(name: &str) -> Result<(), AuthoringError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AuthoringError::Invalid(format!(
            "policy name `{name}`: use 1–64 lowercase letters, digits and `-`, starting with a \
             letter (for example `latency-gate`)"
        )))
    }
}

/// The files of a new project: `(relative path, contents)`.
///
/// # Errors
/// [`AuthoringError::Invalid`] for a bad name or, for Rust, no SDK path.
pub fn files(new: &NewProject) -> Result<Vec<(PathBuf, String)>, AuthoringError> {
    check_name(&new.name)?;
    let fill = |t: &str| t.replace("{{name}}", &new.name);
    let point = new.point.as_str();
    let mut out = vec![(PathBuf::from("cases.yaml"), fill(cases(new.point)))];
    let src = fill(source(new.lang, new.point));
    let build = format!("sluice policy build .   # writes dist/{}.wasm", new.name);
    let test = format!(
        "sluice policy test dist/{}.wasm --cases cases.yaml",
        new.name
    );
    match new.lang {
        Lang::Rust => {
            let sdk = new.rust_sdk.clone().ok_or_else(|| {
                AuthoringError::Invalid(
                    "cannot find the sluice-policy-sdk crate: pass --sdk with the path of \
                     sluice's `sdk` directory"
                        .into(),
                )
            })?;
            let sdk = serde_json::Value::String(sdk.to_string_lossy().into_owned());
            out.push((
                "Cargo.toml".into(),
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                     [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n[dependencies]\n\
                     # One world feature: the decision point this policy implements. Without\n\
                     # default features the module is no_std and imports no WASI (cheaper).\n\
                     sluice-policy-sdk = {{ path = {sdk}, default-features = false, features = [\"{point}\"] }}\n\n\
                     # A project of its own, even when created inside another workspace.\n[workspace]\n",
                    name = new.name,
                ),
            ));
            out.push(("src/lib.rs".into(), src));
            out.push((".gitignore".into(), "/target\n/dist\n".into()));
        }
        Lang::Python => {
            out.push((
                "pyproject.toml".into(),
                format!(
                    "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\n\n\
                     # `sluice policy build .` reads this: the decision point (WIT world) and\n\
                     # the module that defines `policy`.\n[tool.sluice]\npoint = \"{point}\"\nmodule = \"policy\"\n",
                    name = new.name,
                ),
            ));
            out.push(("policy.py".into(), src));
            out.push((
                ".gitignore".into(),
                "/.sluice\n/dist\n__pycache__/\n".into(),
            ));
        }
        Lang::Js => {
            out.push((
                "package.json".into(),
                format!(
                    "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.1.0\",\n  \"private\": true,\n  \
                     \"type\": \"module\",\n  \"main\": \"policy.js\",\n  \"sluice\": {{ \"point\": \"{point}\" }},\n  \
                     \"scripts\": {{ \"build\": \"sluice policy build .\", \"test\": \"{test}\" }},\n  \
                     \"devDependencies\": {{\n    \"@bytecodealliance/componentize-js\": \"{cjs}\",\n    \
                     \"rolldown\": \"{rd}\"\n  }}\n}}\n",
                    name = new.name,
                    cjs = super::tools::COMPONENTIZE_JS_VERSION,
                    rd = super::tools::ROLLDOWN_VERSION,
                ),
            ));
            out.push(("policy.js".into(), src));
            out.push((
                ".gitignore".into(),
                "/.sluice\n/dist\n/node_modules\n".into(),
            ));
        }
    }
    out.push(("README.md".into(), readme(new, &build, &test)));
    Ok(out)
}

fn readme(new: &NewProject, build: &str, test: &str) -> String {
    let (setup, source) = match new.lang {
        Lang::Rust => ("rustup target add wasm32-wasip2".to_owned(), "src/lib.rs"),
        Lang::Python => (
            format!(
                "# outside the project: the build puts the project directory on the Python path\n\
                 python3 -m venv ~/.local/share/sluice-py && ~/.local/share/sluice-py/bin/pip install componentize-py=={}\n\
                 export SLUICE_COMPONENTIZE_PY=~/.local/share/sluice-py/bin/componentize-py",
                super::tools::COMPONENTIZE_PY_VERSION
            ),
            "policy.py",
        ),
        Lang::Js => ("npm install".to_owned(), "policy.js"),
    };
    format!(
        "# {name}\n\nA sluice {point} policy in {lang}. The decision is in `{source}`; \
         `cases.yaml` holds golden cases.\n\n```sh\n{setup}\n{build}\n{test}\n```\n\n\
         Then point a pipeline's `policies.{point}` at `dist/{name}.wasm` (or copy it into \
         the host's watched policy directory: it is swapped in while the host runs).\n",
        name = new.name,
        point = new.point.as_str(),
        lang = new.lang.as_str(),
    )
}

/// Writes the project to `parent/name`, which must not exist. Files are written into
/// a hidden sibling directory first and renamed into place, so a failure leaves
/// nothing behind.
///
/// # Errors
/// [`AuthoringError::Exists`], [`AuthoringError::Invalid`] or an I/O error.
pub fn create(new: &NewProject) -> Result<PathBuf, AuthoringError> {
    let files = files(new)?;
    let dir = new.parent.join(&new.name);
    if dir.exists() {
        return Err(AuthoringError::Exists { path: dir });
    }
    std::fs::create_dir_all(&new.parent).map_err(io(&new.parent))?;
    let staging = new.parent.join(format!(".{}.partial", new.name));
    let _ = std::fs::remove_dir_all(&staging);
    let written = (|| {
        for (path, text) in &files {
            let path = staging.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        std::fs::rename(&staging, &dir).map_err(io(&dir))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written.map(|()| dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in ["", "Gate", "1gate", "gate-", "a_b", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("latency-gate2").expect("valid");
    }

    #[test]
    fn every_template_is_filled_in() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            for point in DecisionPoint::ALL {
                let new = NewProject {
                    name: "my-gate".into(),
                    lang,
                    point,
                    parent: "/tmp".into(),
                    rust_sdk: Some("/sdk".into()),
                };
                for (path, text) in files(&new).expect("files") {
                    assert!(!text.contains("{{"), "{lang:?} {point} {}", path.display());
                }
            }
        }
    }

    #[test]
    fn an_existing_directory_is_never_overwritten() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("gate")).expect("mkdir");
        let new = NewProject {
            name: "gate".into(),
            lang: Lang::Python,
            point: DecisionPoint::Promotion,
            parent: tmp.path().to_owned(),
            rust_sdk: None,
        };
        assert!(matches!(create(&new), Err(AuthoringError::Exists { .. })));
    }
}
