//! `sluice policy push`: the client of the policy upload API. Sends a module with its
//! sha256 as `Expected-Sha256`, so bytes damaged on the way are refused, and prints
//! what the host answered.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::HttpClient;
use crate::policy::{is_module_name, sha256_hex};
use crate::secret::SecretRef;

/// How long an upload may take, the host's checks (compilation, trial decisions) included.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// What to push where.
#[derive(Debug, Clone)]
pub struct Push {
    /// The module file.
    pub file: PathBuf,
    /// The module name (default: the file name without `.wasm`).
    pub name: Option<String>,
    /// The host's base URL (`http://sluice.ml.svc:9464`).
    pub server: String,
    /// Where the bearer token is.
    pub token: SecretRef,
    /// CA bundle for an HTTPS server.
    pub ca_file: Option<PathBuf>,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Bad arguments or an unreadable file or token.
    #[error("{0}")]
    Input(String),
    /// No answer.
    #[error("no answer from {server}: {source}")]
    Transport {
        /// The server.
        server: String,
        /// Why.
        #[source]
        source: crate::http::HttpError,
    },
    /// The host refused the module (or the token).
    #[error("the host answered {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its JSON answer.
        body: String,
    },
}

/// The module name a push uses: given, or the file's stem.
fn module_name(file: &Path, name: Option<&str>) -> Result<String, PushError> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| PushError::Input(format!("{}: give --name", file.display())))?,
    };
    if !is_module_name(&name) {
        return Err(PushError::Input(format!(
            "`{name}` is not a module name: use lowercase letters, digits, `-` and `_` (give --name)"
        )));
    }
    Ok(name)
}

/// Uploads `push.file`; returns the host's answer (JSON).
///
/// # Errors
/// See [`PushError`].
pub async fn push(push: &Push) -> Result<String, PushError> {
    let name = module_name(&push.file, push.name.as_deref())?;
    let bytes = std::fs::read(&push.file)
        .map_err(|e| PushError::Input(format!("cannot read {}: {e}", push.file.display())))?;
    let token = push
        .token
        .read(Path::new("."))
        .map_err(|e| PushError::Input(format!("the token: {e}")))?;
    let client =
        HttpClient::new(push.ca_file.as_deref()).map_err(|e| PushError::Input(e.to_string()))?;
    let url = format!("{}/v1/policies/{name}", push.server.trim_end_matches('/'));
    let answer = client
        .send(
            "PUT",
            &url,
            &[
                ("authorization", format!("Bearer {}", token.expose())),
                ("content-type", "application/wasm".into()),
                ("expected-sha256", sha256_hex(&bytes)),
            ],
            Some(bytes.into()),
            PUSH_TIMEOUT,
        )
        .await
        .map_err(|source| PushError::Transport {
            server: push.server.clone(),
            source,
        })?;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    if (200..300).contains(&answer.status) {
        Ok(body)
    } else {
        Err(PushError::Refused {
            status: answer.status,
            body: crate::decision::escape_controls(&body).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_defaults_to_the_file_stem_and_must_be_a_module_name() {
        assert_eq!(
            module_name(Path::new("dist/fraud-gate.wasm"), None).expect("stem"),
            "fraud-gate"
        );
        assert_eq!(
            module_name(Path::new("x.wasm"), Some("gate")).expect("given"),
            "gate"
        );
        assert!(module_name(Path::new("Gate.wasm"), None).is_err());
    }
}
