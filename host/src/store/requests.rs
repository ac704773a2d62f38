//! Operator requests to a running rollout, and the audit entries of operator actions.

use serde::Serialize;

use super::{Store, StoreError, ms, query_err};

/// What an operator asks of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutAction {
    /// Stop analysing and shifting until resumed.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Roll back now.
    Abort,
    /// Give the candidate all traffic now and make it stable.
    Promote,
}

impl RolloutAction {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Abort => "abort",
            Self::Promote => "promote",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Pause, Self::Resume, Self::Abort, Self::Promote]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRequest {
    /// Ascending id: requests are acted on in this order.
    pub id: i64,
    /// What.
    pub action: RolloutAction,
    /// Who asked.
    pub who: String,
    /// Why.
    pub reason: String,
}

impl Store {
    /// Queues `action` for the rollout of `run_id`; returns the request's id.
    ///
    /// # Errors
    /// Query failure.
    pub async fn request_rollout_action(
        &self,
        pipeline: &str,
        run_id: &str,
        action: RolloutAction,
        who: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sluice_rollout_requests (pipeline, run_id, action, who, reason, requested_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(pipeline)
        .bind(run_id)
        .bind(action.as_str())
        .bind(who)
        .bind(reason)
        .bind(ms(now_ms))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "queueing `{}` for the rollout of pipeline `{pipeline}`",
            action.as_str()
        )))?;
        Ok(())
    }

    /// The oldest request for the rollout of `run_id` after request `after`.
    ///
    /// # Errors
    /// Query failure.
    pub async fn next_rollout_request(
        &self,
        pipeline: &str,
        run_id: &str,
        after: i64,
    ) -> Result<Option<RolloutRequest>, StoreError> {
        let row: Option<(i64, String, String, String)> = sqlx::query_as(
            "SELECT id, action, who, reason FROM sluice_rollout_requests \
             WHERE pipeline = $1 AND run_id = $2 AND id > $3 ORDER BY id LIMIT 1",
        )
        .bind(pipeline)
        .bind(run_id)
        .bind(after)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(format!(
            "reading operator requests of pipeline `{pipeline}`"
        )))?;
        Ok(row.and_then(|(id, action, who, reason)| {
            RolloutAction::parse(&action).map(|action| RolloutRequest {
                id,
                action,
                who,
                reason,
            })
        }))
    }

    /// Writes an operator's action to the audit log, next to the policies' decisions:
    /// point `rollout`, policy `operator`, who and why as the input.
    ///
    /// # Errors
    /// Query failure.
    pub async fn record_operator_action(
        &self,
        pipeline: &str,
        run_id: &str,
        request: &RolloutRequest,
        outcome: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let input = serde_json::json!({
            "request": request.action,
            "who": request.who,
            "reason": request.reason,
            "request_id": request.id,
        })
        .to_string();
        let output =
            serde_json::json!({ outcome: { "reason": format!("{}: {}", request.who, request.reason) } })
                .to_string();
        sqlx::query(
            "INSERT INTO sluice_decisions (pipeline, run_id, point, outcome, policy, \
             policy_version, module_sha256, input, output, failure, logs, fuel_used, \
             wall_micros, decided_ms, code_tier, fuel_exact) \
             VALUES ($1, $2, 'rollout', $3, 'operator', '', '', $4, $5, NULL, '[]', 0, 0, $6, 'operator', 1)",
        )
        .bind(pipeline)
        .bind(run_id)
        .bind(outcome)
        .bind(input)
        .bind(output)
        .bind(ms(now_ms))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "writing an operator action of pipeline `{pipeline}` to the audit log"
        )))?;
        Ok(())
    }
}
