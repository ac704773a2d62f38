//! The decision audit log: every policy decision with its full input and output, the
//! module that made it (sha256), fuel and time.

use serde::Serialize;

use super::{Store, StoreError, ms, query_err};
use crate::policy::DecisionRecord;

/// A decision as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDecision {
    /// Row id (ascending in time).
    pub id: i64,
    /// Pipeline.
    pub pipeline: String,
    /// The run it belongs to, if any.
    pub run_id: Option<String>,
    /// Decision point.
    pub point: String,
    /// Variant (`train`, `wait`, `promote`, …).
    pub outcome: String,
    /// Policy name and version.
    pub policy: String,
    /// Policy version.
    pub policy_version: String,
    /// sha256 of the module.
    pub module_sha256: String,
    /// Input JSON.
    pub input: String,
    /// Output JSON.
    pub output: String,
    /// Why the fail-safe was used, as JSON, if it was.
    pub failure: Option<String>,
    /// Policy log lines, as JSON.
    pub logs: String,
    /// Fuel consumed (a lower bound when `fuel_exact` is false).
    pub fuel_used: i64,
    /// Whether `fuel_used` is the whole count.
    pub fuel_exact: bool,
    /// Wall time in µs.
    pub wall_micros: i64,
    /// Which compiler's code decided: `optimized`, `baseline` or `native`.
    pub code_tier: String,
    /// When (Unix ms).
    pub decided_ms: i64,
}

impl StoredDecision {
    /// The reason inside the output (`{"wait": {"reason": …}}` and the like), if any.
    pub fn reason(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.output).ok()?;
        find_key(&v, "reason").and_then(|r| r.as_str().map(str::to_owned))
    }
}

fn find_key<'v>(v: &'v serde_json::Value, key: &str) -> Option<&'v serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

impl Store {
    /// Appends `record` to the audit log.
    ///
    /// # Errors
    /// Query failure.
    pub async fn record_decision(
        &self,
        record: &DecisionRecord,
        run_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let failure = record.failure.as_ref().map(|f| {
            serde_json::json!({ "kind": f.label(), "message": f.to_string() }).to_string()
        });
        let logs = serde_json::to_string(&record.logs).map_err(|source| StoreError::Corrupt {
            what: "policy log lines".into(),
            source,
        })?;
        sqlx::query(
            "INSERT INTO sluice_decisions (pipeline, run_id, point, outcome, policy, \
             policy_version, module_sha256, input, output, failure, logs, fuel_used, \
             wall_micros, decided_ms, code_tier, fuel_exact) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&record.pipeline)
        .bind(run_id)
        .bind(record.point.as_str())
        .bind(record.outcome)
        .bind(&record.policy)
        .bind(&record.policy_version)
        .bind(&record.module_sha256)
        .bind(record.input.to_json())
        .bind(record.output.to_json())
        .bind(failure)
        .bind(logs)
        .bind(ms(record.fuel_used))
        .bind(ms(record.wall_micros))
        .bind(ms(record.decided_at_unix_ms))
        .bind(record.code_tier())
        .bind(i64::from(record.fuel_exact))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "writing a {} decision of pipeline `{}` to the audit log",
            record.point.as_str(),
            record.pipeline
        )))?;
        Ok(())
    }

    /// The newest decisions, of one pipeline or all, newest first.
    ///
    /// # Errors
    /// Query failure.
    pub async fn decisions(
        &self,
        pipeline: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredDecision>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pipeline, run_id, point, outcome, policy, policy_version, module_sha256, \
             input, output, failure, logs, fuel_used, wall_micros, decided_ms, code_tier, \
             fuel_exact \
             FROM sluice_decisions WHERE ($1 IS NULL OR pipeline = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(pipeline)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("reading the audit log"))?;
        rows.iter()
            .map(|r| {
                use sqlx::Row as _;
                Ok(StoredDecision {
                    id: r.try_get("id")?,
                    pipeline: r.try_get("pipeline")?,
                    run_id: r.try_get("run_id")?,
                    point: r.try_get("point")?,
                    outcome: r.try_get("outcome")?,
                    policy: r.try_get("policy")?,
                    policy_version: r.try_get("policy_version")?,
                    module_sha256: r.try_get("module_sha256")?,
                    input: r.try_get("input")?,
                    output: r.try_get("output")?,
                    failure: r.try_get("failure")?,
                    logs: r.try_get("logs")?,
                    fuel_used: r.try_get("fuel_used")?,
                    fuel_exact: r.try_get::<i64, _>("fuel_exact")? != 0,
                    wall_micros: r.try_get("wall_micros")?,
                    code_tier: r.try_get("code_tier")?,
                    decided_ms: r.try_get("decided_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("reading the audit log"))
    }
}
