//! Reading YAML or JSON input files into typed values, with errors that name the file,
//! line and column.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// An input file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be read.
    #[error("{}: cannot read the file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The content is malformed or does not have the expected shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong, including the field path when known.
        message: String,
    },
}

/// Parses `text` (from `path`) as JSON when the file ends in `.json`, else as YAML.
///
/// # Errors
/// [`InputError::Parse`] with the position of the problem.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, InputError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_str(text).map_err(|e| InputError::Parse {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            InputError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: strip_location(&e.to_string()),
            }
        })
    }
}

/// Reads and parses `path`.
///
/// # Errors
/// See [`InputError`].
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// serde_yaml appends " at line L column C"; the position is already in front.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only parsed")]
    struct Doc {
        name: String,
        count: u32,
    }

    #[test]
    fn yaml_errors_have_line_and_column() {
        let e = parse::<Doc>(Path::new("in.yaml"), "name: x\ncount: many\n").expect_err("bad");
        let msg = e.to_string();
        assert!(msg.starts_with("in.yaml:2:8: count: invalid type"), "{msg}");
    }

    #[test]
    fn unknown_fields_are_errors() {
        let e = parse::<Doc>(Path::new("in.yaml"), "name: x\ncount: 1\ncolour: red\n")
            .expect_err("bad");
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn json_errors_have_line_and_column() {
        let e = parse::<Doc>(Path::new("in.json"), "{\n \"name\": \"x\",\n \"count\": }")
            .expect_err("bad");
        assert!(e.to_string().starts_with("in.json:3:"), "{e}");
    }
}
