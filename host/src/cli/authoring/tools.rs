//! Finding and running the language toolchains `policy build` drives.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::AuthoringError;

/// componentize-py's version the Python SDK is tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// componentize-js's version the JavaScript SDK is tested with.
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
/// rolldown's version the JavaScript build bundles with.
pub const ROLLDOWN_VERSION: &str = "1.3.4";

/// `componentize-py`: `$SLUICE_COMPONENTIZE_PY`, else on `PATH`.
///
/// # Errors
/// [`AuthoringError::ToolMissing`] with the install command.
pub fn componentize_py() -> Result<PathBuf, AuthoringError> {
    std::env::var_os("SLUICE_COMPONENTIZE_PY")
        .map(PathBuf::from)
        .or_else(|| on_path("componentize-py"))
        .ok_or_else(|| AuthoringError::ToolMissing {
            tool: "componentize-py".into(),
            hint: format!(
                "install it with `pip install componentize-py=={COMPONENTIZE_PY_VERSION}` \
                 (in a virtual environment), or set SLUICE_COMPONENTIZE_PY to its path"
            ),
        })
}

/// A JavaScript tool (`rolldown`, `componentize-js`): from `node_modules/.bin` in
/// `project` or a directory above it (as npm lays it out), else in
/// `$SLUICE_JS_TOOLS/node_modules/.bin`, else on `PATH`.
///
/// # Errors
/// [`AuthoringError::ToolMissing`] with the install command.
pub fn js_tool(project: &Path, tool: &str) -> Result<PathBuf, AuthoringError> {
    let in_bin = |dir: &Path| {
        let p = dir.join("node_modules").join(".bin").join(tool);
        p.is_file().then_some(p)
    };
    project
        .ancestors()
        .find_map(in_bin)
        .or_else(|| std::env::var_os("SLUICE_JS_TOOLS").and_then(|d| in_bin(Path::new(&d))))
        .or_else(|| on_path(tool))
        .ok_or_else(|| AuthoringError::ToolMissing {
            tool: tool.into(),
            hint: format!(
                "run `npm install --save-dev @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION} \
                 rolldown@{ROLLDOWN_VERSION}` in the project, or set SLUICE_JS_TOOLS to a \
                 directory whose node_modules has them"
            ),
        })
}

fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Runs `cmd`, its output going to ours.
///
/// # Errors
/// [`AuthoringError::ToolFailed`] when it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<(), AuthoringError> {
    let line = render(cmd);
    let status = cmd.status().map_err(|e| AuthoringError::ToolFailed {
        command: line.clone(),
        status: format!("cannot start: {e}"),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(AuthoringError::ToolFailed {
            command: line,
            status: status.to_string(),
        })
    }
}

/// The command line as a user could paste it (arguments quoted when needed).
pub fn render(cmd: &Command) -> String {
    let quote = |s: &OsStr| {
        let s = s.to_string_lossy();
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once(quote(cmd.get_program()))
        .chain(cmd.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}
