//! The policy upload API, served on the host's listener when `host.admin` is set:
//!
//! - `PUT /v1/policies/{name}` with a WebAssembly component as the body (at most the
//!   engine's `max_module_bytes`) and optionally `Expected-Sha256: <hex>`: checked and
//!   swapped in exactly like a changed file in the policy directory, then kept in the
//!   store so a restart loads it again;
//! - `GET /v1/policies` and `GET /v1/policies/{name}`: what is live.
//!
//! Every call needs `Authorization: Bearer <token>`, a token being a file of
//! `tokens_dir` (its name is who the audit says called). Every upload attempt is
//! audited, accepted or not. Uploads are checked one at a time, so concurrent uploads
//! cost one compilation's CPU at a time, not many.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use crate::clock::{now_ms, rfc3339};
use crate::policy::{ActivePolicy, PolicyRegistry, UploadError, is_sha256_hex, sha256_hex};
use crate::store::{Store, StoredUpload, UploadAttempt};

/// The header carrying the sha256 the uploader expects the body to have.
pub const EXPECTED_SHA256: &str = "expected-sha256";

/// What the API works with.
pub struct Admin {
    /// The live modules.
    pub registry: Arc<PolicyRegistry>,
    /// Where uploads are kept and audited.
    pub store: Store,
    /// The tokens' directory.
    pub tokens_dir: PathBuf,
    /// Largest body taken, in bytes.
    pub max_bytes: u64,
    /// Held while an upload is checked.
    pub uploading: tokio::sync::Mutex<()>,
}

/// One live module as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleView {
    /// Module name.
    pub name: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// `stock`, `directory` or `upload`.
    pub origin: &'static str,
    /// The world it implements: `retrain`, `promotion`, `regression` or `rollout`.
    pub world: String,
    /// Its self-description (name, version, parameters).
    pub description: serde_json::Value,
    /// When this version went live (RFC 3339).
    pub loaded_at: String,
    /// Swaps to new bytes since the process started.
    pub swaps: u64,
    /// `optimized` or `baseline` code.
    pub tier: String,
    /// The pipelines it serves.
    pub pipelines: Vec<String>,
}

impl ModuleView {
    fn of(name: &str, a: &ActivePolicy) -> Self {
        let mut pipelines: Vec<String> = a.params.keys().cloned().collect();
        pipelines.sort();
        Self {
            name: name.to_owned(),
            sha256: a.module.sha256.clone(),
            origin: a.origin.as_str(),
            world: a.module.point.as_str().to_owned(),
            description: serde_json::to_value(&a.module.description).unwrap_or_default(),
            loaded_at: rfc3339(a.loaded_ms),
            swaps: a.swaps,
            tier: format!("{:?}", a.module.tier).to_lowercase(),
            pipelines,
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn json(status: StatusCode, body: &impl Serialize) -> Reply {
    let text = serde_json::to_vec_pretty(body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, reason: &str, message: &str) -> Reply {
    let mut r = json(
        status,
        &serde_json::json!({ "error": message, "reason": reason }),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer realm=\"sluice\""),
        );
    }
    r
}

/// The token name whose token `presented` is, comparing every token in constant time.
fn who(dir: &Path, presented: &[u8]) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut found = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // A mounted Secret also holds `..data` and timestamped directories.
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let Ok(token) = std::fs::read(entry.path()) else {
            continue;
        };
        let token = token.trim_ascii_end();
        if !token.is_empty() && constant_time_eq(token, presented) && found.is_none() {
            found = Some(name);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Admin {
    /// Answers a request under `/v1/`.
    pub async fn handle(&self, req: Request<hyper::body::Incoming>) -> Reply {
        let path = req.uri().path().to_owned();
        let name = match path.strip_prefix("/v1/policies") {
            Some("" | "/") => None,
            Some(rest) if rest.starts_with('/') => Some(rest[1..].to_owned()),
            _ => {
                return error(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "not found; the API has /v1/policies and /v1/policies/{name}",
                );
            }
        };
        let bearer = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().as_bytes().to_vec());
        let caller = bearer.and_then(|t| who(&self.tokens_dir, &t));
        let is_put = req.method() == Method::PUT;
        let Some(caller) = caller else {
            if let (true, Some(name)) = (is_put, &name) {
                self.audit(
                    name,
                    "",
                    "-",
                    Err(("unauthorized", "no valid bearer token")),
                )
                .await;
            }
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "give a valid token: `Authorization: Bearer <token>`",
            );
        };
        match (req.method().clone(), name) {
            (Method::GET, None) => {
                let all: Vec<ModuleView> = self
                    .registry
                    .live()
                    .iter()
                    .map(|(n, a)| ModuleView::of(n, a))
                    .collect();
                json(StatusCode::OK, &all)
            }
            (Method::GET, Some(name)) => match self.registry.get(&name) {
                Some(a) => json(StatusCode::OK, &ModuleView::of(&name, &a)),
                None => error(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    &format!("no live module `{name}`"),
                ),
            },
            (Method::PUT, Some(name)) => self.upload(req, &name, &caller).await,
            _ => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "use GET /v1/policies, GET or PUT /v1/policies/{name}",
            ),
        }
    }

    async fn upload(&self, req: Request<hyper::body::Incoming>, name: &str, who: &str) -> Reply {
        let expected = match req.headers().get(EXPECTED_SHA256).map(|v| v.to_str()) {
            None => None,
            Some(Ok(v)) if is_sha256_hex(v) => Some(v.to_ascii_lowercase()),
            Some(_) => {
                let message = "Expected-Sha256 must be 64 hex digits, as `sha256sum` prints";
                self.audit(name, "", who, Err(("bad-digest-header", message)))
                    .await;
                return error(StatusCode::BAD_REQUEST, "bad-digest-header", message);
            }
        };
        let too_large = format!(
            "the body is larger than {} bytes (host.engine.max_module_bytes)",
            self.max_bytes
        );
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_bytes) {
            self.audit(name, "", who, Err(("too-large", &too_large)))
                .await;
            return error(StatusCode::PAYLOAD_TOO_LARGE, "too-large", &too_large);
        }
        let limit = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        let body = match Limited::new(req.into_body(), limit).collect().await {
            Ok(b) => b.to_bytes().to_vec(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                self.audit(name, "", who, Err(("too-large", &too_large)))
                    .await;
                return error(StatusCode::PAYLOAD_TOO_LARGE, "too-large", &too_large);
            }
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "body",
                    &format!("cannot read the body: {e}"),
                );
            }
        };
        let sha256 = sha256_hex(&body);
        if let Some(expected) = &expected
            && *expected != sha256
        {
            let message = format!(
                "the body's sha256 is {sha256}, not the Expected-Sha256 {expected}: it changed on the way; nothing was checked or swapped"
            );
            self.audit(name, &sha256, who, Err(("digest-mismatch", &message)))
                .await;
            return error(StatusCode::BAD_REQUEST, "digest-mismatch", &message);
        }
        let _one_at_a_time = self.uploading.lock().await;
        let registry = Arc::clone(&self.registry);
        let (module, bytes) = (name.to_owned(), body.clone());
        let installed = tokio::task::spawn_blocking(move || registry.install(&module, bytes)).await;
        let installed = match installed {
            Ok(r) => r,
            Err(e) => {
                let message = format!("the check of the module panicked: {e}");
                self.audit(name, &sha256, who, Err(("panic", &message)))
                    .await;
                return error(StatusCode::INTERNAL_SERVER_ERROR, "panic", &message);
            }
        };
        match installed {
            Ok(live) => {
                // Kept in the store even when unchanged, so re-sending repairs an
                // upload that went live but could not be stored.
                let stored = self
                    .store
                    .save_upload(&StoredUpload {
                        name: name.to_owned(),
                        sha256: sha256.clone(),
                        wasm: body,
                        uploaded_by: who.to_owned(),
                        uploaded_ms: now_ms(),
                    })
                    .await;
                if let Err(e) = stored {
                    let message = format!(
                        "the module is live but could not be stored, so a restart would lose it; send it again: {}",
                        crate::error_chain(&e)
                    );
                    tracing::error!(module = %name, %sha256, error = %message, "an uploaded module could not be stored");
                    self.audit(name, &sha256, who, Err(("store", &message)))
                        .await;
                    return error(StatusCode::SERVICE_UNAVAILABLE, "store", &message);
                }
                let reason = if live.unchanged {
                    "unchanged"
                } else {
                    "accepted"
                };
                self.audit(name, &sha256, who, Ok(reason)).await;
                tracing::info!(module = %name, %sha256, %who, unchanged = live.unchanged, "policy module uploaded");
                let view = self.registry.get(name).map(|a| ModuleView::of(name, &a));
                json(
                    StatusCode::OK,
                    &serde_json::json!({ "status": reason, "module": view }),
                )
            }
            Err(e) => {
                let status = match &e {
                    UploadError::BadName(_) => StatusCode::BAD_REQUEST,
                    UploadError::DirectoryOwned(_) => StatusCode::CONFLICT,
                    UploadError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    UploadError::Transient { .. } => StatusCode::SERVICE_UNAVAILABLE,
                };
                let message = e.to_string();
                self.audit(name, &sha256, who, Err((e.label(), &message)))
                    .await;
                error(status, e.label(), &message)
            }
        }
    }

    /// Audits one upload attempt; a failure to audit is logged, not fatal to the reply.
    async fn audit(
        &self,
        name: &str,
        sha256: &str,
        who: &str,
        outcome: Result<&str, (&str, &str)>,
    ) {
        let (accepted, reason) = match outcome {
            Ok(r) => (true, r.to_owned()),
            Err((label, message)) => (
                false,
                crate::decision::excerpt(&format!("{label}: {message}"), 1024),
            ),
        };
        let attempt = UploadAttempt {
            name: crate::decision::excerpt(name, 128),
            sha256: sha256.to_owned(),
            who: who.to_owned(),
            accepted,
            reason,
            at_ms: now_ms(),
        };
        if let Err(e) = self.store.audit_upload(&attempt).await {
            tracing::warn!(module = %attempt.name, error = %crate::error_chain(&e), "cannot audit a policy upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_whole_and_exact() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn a_token_file_names_its_caller_and_dot_entries_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ci"), "token-one\n").expect("write");
        std::fs::write(dir.path().join("empty"), "\n").expect("write");
        std::fs::write(dir.path().join("..data"), "hidden").expect("write");
        assert_eq!(who(dir.path(), b"token-one").as_deref(), Some("ci"));
        assert_eq!(who(dir.path(), b"hidden"), None);
        assert_eq!(who(dir.path(), b""), None, "an empty file is no token");
        assert_eq!(who(dir.path(), b"token-two"), None);
        assert_eq!(who(&dir.path().join("absent"), b"token-one"), None);
    }
}
