//! Secrets: named in the config by the environment variable or file that holds them
//! (what a Kubernetes Secret gives), read at start, never written in the config and
//! never printed — `Debug` and `Display` show `***`.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a secret is read from: exactly one of `env` or `file`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// An environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
    /// A file holding the secret (trailing newline removed); relative to the config file.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// A secret value. Not printable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a secret cannot be read. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Neither or both sources given.
    #[error("give exactly one of `env` or `file`")]
    Ambiguous,
    /// The variable is not set (or not UTF-8).
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    /// The file cannot be read.
    #[error("cannot read secret file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The secret is empty.
    #[error("the secret from {0} is empty")]
    Empty(String),
}

impl SecretRef {
    /// Checks the shape (exactly one source) without reading.
    ///
    /// # Errors
    /// Neither or both sources.
    pub fn check(&self) -> Result<(), SecretError> {
        match (&self.env, &self.file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(SecretError::Ambiguous),
        }
    }

    /// Reads the secret; `base` resolves a relative file path.
    ///
    /// # Errors
    /// Missing variable or file, or an empty value.
    pub fn read(&self, base: &std::path::Path) -> Result<Secret, SecretError> {
        self.check()?;
        let (value, from) = match (&self.env, &self.file) {
            (Some(var), _) => (
                std::env::var(var).map_err(|_| SecretError::MissingEnv(var.clone()))?,
                format!("${var}"),
            ),
            (_, Some(path)) => {
                let path = base.join(path);
                let text = std::fs::read_to_string(&path).map_err(|e| SecretError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                (text, path.display().to_string())
            }
            (None, None) => return Err(SecretError::Ambiguous),
        };
        let value = value.trim_end_matches(['\n', '\r']).to_owned();
        if value.is_empty() {
            return Err(SecretError::Empty(from));
        }
        Ok(Secret(value))
    }
}

/// `url` with any password replaced by `***` (`postgres://u:***@h/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{path}")
            } else {
                format!("{scheme}://{user}@{host}{path}")
            }
        }
        None => url.to_owned(),
    }
}

/// Whether `url` carries a password (which belongs in a secret, not the config).
pub fn url_has_password(url: &str) -> bool {
    redact_url(url) != url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://sluice:pw@db:5432/sluice"),
            "postgres://sluice:***@db:5432/sluice"
        );
        assert_eq!(
            redact_url("postgres://sluice@db/x"),
            "postgres://sluice@db/x"
        );
        assert_eq!(redact_url("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
        assert!(url_has_password("https://t:x@h/"));
        assert!(!url_has_password("https://h/a@b"));
    }

    #[test]
    fn secrets_come_from_files_or_env_and_say_which_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("tok"), "abc\n").expect("write");
        let r = SecretRef {
            env: None,
            file: Some("tok".into()),
        };
        assert_eq!(r.read(dir.path()).expect("read").expose(), "abc");
        let r = SecretRef {
            env: Some("SLUICE_TEST_SURELY_UNSET".into()),
            file: None,
        };
        assert_eq!(
            r.read(dir.path()),
            Err(SecretError::MissingEnv("SLUICE_TEST_SURELY_UNSET".into()))
        );
        let both = SecretRef {
            env: Some("A".into()),
            file: Some("b".into()),
        };
        assert_eq!(both.check(), Err(SecretError::Ambiguous));
    }
}
