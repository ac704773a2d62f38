//! Notifications: a JSON POST to a pipeline's webhook on promotion, each rollout step,
//! completion, rollback and a failed run. The body has a `text` field, so
//! Slack-compatible receivers show it as is, and the details as fields.
//!
//! Sending never blocks the loop: events go into a bounded queue drained by a
//! background task that retries each one (with backoff) and drops what it cannot
//! deliver after the last attempt, or — when the queue is full — what does not fit,
//! counting both in `sluice_notifications_dropped_total`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::http::HttpClient;
use crate::metrics::{Metrics, names};
use crate::secret::Secret;

/// Events queued and not yet sent, at most; more are dropped (and counted).
pub const QUEUE: usize = 256;
/// Attempts per event.
pub const ATTEMPTS: u32 = 4;
/// Wait before the second attempt; doubled for each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A candidate was promoted (committed to the deploy repo).
    Promoted,
    /// The candidate's traffic weight changed.
    Step,
    /// The rollout completed: the candidate is stable.
    Completed,
    /// The candidate was rolled back.
    RolledBack,
    /// A training run failed.
    RunFailed,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// One line for people (Slack's `text`).
    pub text: String,
    /// The pipeline.
    pub pipeline: String,
    /// What happened.
    pub event: Kind,
    /// The version concerned.
    pub version: String,
    /// The candidate's traffic weight after the event, where there is one.
    pub weight: Option<u8>,
    /// Why, where there is a reason.
    pub reason: Option<String>,
}

/// A pipeline's webhook.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notification>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts the sender for `url` (on the current runtime). The task ends when the
    /// last `Notifier` clone is dropped and the queue is drained.
    pub fn start(
        url: String,
        token: Option<Secret>,
        client: HttpClient,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
        let m = Arc::clone(&metrics);
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                if !deliver(&client, &url, token.as_ref(), &n).await {
                    m.inc(names::NOTIFICATIONS_DROPPED, &[("pipeline", &n.pipeline)]);
                    tracing::warn!(pipeline = %n.pipeline, event = ?n.event, "notification not delivered after {ATTEMPTS} attempts; dropped");
                }
            }
        });
        Self { tx, metrics }
    }

    /// Queues `n`; drops it (counted) when the queue is full.
    pub fn send(&self, n: Notification) {
        if let Err(mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n)) =
            self.tx.try_send(n)
        {
            self.metrics
                .inc(names::NOTIFICATIONS_DROPPED, &[("pipeline", &n.pipeline)]);
            tracing::warn!(pipeline = %n.pipeline, "notification queue full; dropped");
        }
    }
}

/// Posts `n` until a 2xx answer or the attempts run out; whether it arrived.
async fn deliver(client: &HttpClient, url: &str, token: Option<&Secret>, n: &Notification) -> bool {
    let body = serde_json::to_string(n).unwrap_or_default();
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(t) = token {
        headers.push(("authorization", format!("Bearer {}", t.expose())));
    }
    let mut wait = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match client
            .send(
                "POST",
                url,
                &headers,
                Some(bytes::Bytes::from(body.clone())),
                TIMEOUT,
            )
            .await
        {
            Ok(a) if (200..300).contains(&a.status) => return true,
            Ok(a) => tracing::debug!(status = a.status, attempt, "notification refused"),
            Err(e) => tracing::debug!(error = %e, attempt, "notification not sent"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_slacks_text_field_and_the_details() {
        let n = Notification {
            text: "fraud: v3 rolled back — latency regressed".into(),
            pipeline: "fraud".into(),
            event: Kind::RolledBack,
            version: "v3".into(),
            weight: Some(0),
            reason: Some("latency regressed".into()),
        };
        let v: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&n).expect("json")).expect("parse");
        assert_eq!(v["text"], "fraud: v3 rolled back — latency regressed");
        assert_eq!(v["event"], "rolled-back");
        assert_eq!(v["weight"], 0);
    }
}
