//! Argo CD: after a push, ask for a hard refresh and a sync of the application at the
//! pushed revision, then watch it until it reports that revision Synced and Healthy.
//!
//! REST API: `GET /api/v1/applications/{name}[?refresh=hard]`,
//! `POST /api/v1/applications/{name}/sync` with `{"revision": …}`; bearer token.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::http::{HttpClient, HttpError};
use crate::secret::Secret;

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Argo CD failures. The token never appears in them.
#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    /// The CA file cannot be used.
    #[error("Argo CD CA file {path}: {message}")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Bad server URL.
    #[error("Argo CD server URL `{0}` is not valid; expected https://HOST[:PORT]")]
    Url(String),
    /// The request did not get an answer.
    #[error("Argo CD request {method} {path} failed: {message}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// Why.
        message: String,
    },
    /// Argo CD answered with an error status.
    #[error("Argo CD answered {status} to {method} {path}: {message}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// Status code.
        status: u16,
        /// Argo CD's message (its JSON `message`, or the body).
        message: String,
    },
    /// The answer is not the JSON Argo CD sends.
    #[error("Argo CD's answer to {path} is not an Application: {message}")]
    Decode {
        /// Request path.
        path: String,
        /// Why.
        message: String,
    },
}

/// What matters of an Argo CD Application's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStatus {
    /// `status.sync.status`: `Synced`, `OutOfSync`, `Unknown`.
    pub sync: String,
    /// `status.sync.revision`.
    pub revision: String,
    /// `status.health.status`: `Healthy`, `Progressing`, `Degraded`, …
    pub health: String,
    /// `status.operationState.phase`, if an operation ran.
    pub operation: Option<String>,
    /// `status.operationState.message`.
    pub message: Option<String>,
}

impl AppStatus {
    /// Whether the application runs `revision`, Synced and Healthy.
    pub fn is_done(&self, revision: &str) -> bool {
        self.revision == revision && self.sync == "Synced" && self.health == "Healthy"
    }

    /// One line for status output.
    pub fn summary(&self) -> String {
        let short = self.revision.get(..12).unwrap_or(&self.revision);
        format!(
            "{} / {} at {short}{}",
            self.sync,
            self.health,
            self.operation
                .as_ref()
                .map(|o| format!(", operation {o}"))
                .unwrap_or_default()
        )
    }
}

#[derive(Deserialize)]
struct Application {
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    sync: Option<SyncStatus>,
    #[serde(default)]
    health: Option<Health>,
    #[serde(default)]
    operation_state: Option<OperationState>,
}

#[derive(Deserialize)]
struct SyncStatus {
    #[serde(default)]
    status: String,
    #[serde(default)]
    revision: String,
}

#[derive(Deserialize)]
struct Health {
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct OperationState {
    #[serde(default)]
    phase: String,
    #[serde(default)]
    message: Option<String>,
}

/// A client for one Argo CD server.
#[derive(Clone)]
pub struct ArgoCd {
    base: String,
    token: Secret,
    client: HttpClient,
}

impl std::fmt::Debug for ArgoCd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgoCd")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ArgoCd {
    /// A client for `server` (https, or http for tests) trusting `ca_file` if given,
    /// else the system's roots.
    ///
    /// # Errors
    /// Bad URL or CA file.
    pub fn new(server: &str, token: Secret, ca_file: Option<&Path>) -> Result<Self, ArgoError> {
        let base = server.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ArgoError::Url(server.to_owned()));
        }
        let client = HttpClient::new(ca_file).map_err(|e| match e {
            HttpError::Ca { path, message } => ArgoError::Ca { path, message },
            HttpError::Transport { message } => ArgoError::Ca {
                path: "(TLS setup)".into(),
                message,
            },
        })?;
        Ok(Self {
            base,
            token,
            client,
        })
    }

    /// The application's status; `refresh` asks Argo CD to re-read Git first (hard).
    ///
    /// # Errors
    /// Transport, status or decoding failure.
    pub async fn status(&self, app: &str, refresh: bool) -> Result<AppStatus, ArgoError> {
        let path = format!(
            "/api/v1/applications/{app}{}",
            if refresh { "?refresh=hard" } else { "" }
        );
        let body = self.request("GET", &path, None).await?;
        let decode = |message: String| ArgoError::Decode {
            path: path.clone(),
            message,
        };
        let app: Application = serde_json::from_slice(&body).map_err(|e| decode(e.to_string()))?;
        let status = app.status.unwrap_or_default();
        Ok(AppStatus {
            sync: status
                .sync
                .as_ref()
                .map(|s| s.status.clone())
                .unwrap_or_default(),
            revision: status.sync.map(|s| s.revision).unwrap_or_default(),
            health: status.health.map(|h| h.status).unwrap_or_default(),
            operation: status.operation_state.as_ref().map(|o| o.phase.clone()),
            message: status.operation_state.and_then(|o| o.message),
        })
    }

    /// Asks Argo CD to sync `app` to `revision`. An operation already running counts
    /// as requested.
    ///
    /// # Errors
    /// Transport or status failure.
    pub async fn sync(&self, app: &str, revision: &str) -> Result<(), ArgoError> {
        let path = format!("/api/v1/applications/{app}/sync");
        let body = serde_json::json!({ "revision": revision, "prune": false }).to_string();
        match self.request("POST", &path, Some(body)).await {
            Err(ArgoError::Status { message, .. })
                if message.contains("another operation is already in progress") =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    async fn request(
        &self,
        method: &'static str,
        path: &str,
        body: Option<String>,
    ) -> Result<Bytes, ArgoError> {
        let transport = |message: String| ArgoError::Transport {
            method,
            path: path.to_owned(),
            message,
        };
        let answer = self
            .client
            .send(
                method,
                &format!("{}{path}", self.base),
                &[
                    ("authorization", format!("Bearer {}", self.token.expose())),
                    ("content-type", "application/json".into()),
                    ("accept", "application/json".into()),
                ],
                body.map(bytes::Bytes::from),
                REQUEST_TIMEOUT,
            )
            .await
            .map_err(|e| transport(e.to_string()))?;
        let (status, bytes) = (answer.status, answer.body);
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(ArgoError::Status {
                method,
                path: path.to_owned(),
                status,
                message,
            });
        }
        Ok(bytes)
    }
}
