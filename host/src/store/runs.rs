//! Training runs: one row per run, from allocation to its end.

use serde::Serialize;

use super::{Store, StoreError, ms, query_err, save_state};
use crate::controller::phase::{PipelineState, RunRef};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Allocated; rows may not be claimed and the Job may not exist yet.
    Allocated,
    /// Rows claimed and Job created.
    Running,
    /// Training succeeded; the candidate is being evaluated or promoted.
    Trained,
    /// Promoted to production.
    Promoted,
    /// Rejected by the promotion policy or a human.
    Rejected,
    /// Training or promotion failed.
    Failed,
}

impl RunStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allocated => "allocated",
            Self::Running => "running",
            Self::Trained => "trained",
            Self::Promoted => "promoted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// Pipeline.
    pub pipeline: String,
    /// Job name.
    pub job_name: String,
    /// Candidate version.
    pub model_version: String,
    /// Status text (see [`RunStatus`]).
    pub status: String,
    /// Rows claimed for it.
    pub claimed_rows: i64,
    /// Why it ended as it did.
    pub reason: Option<String>,
    /// The promotion commit.
    pub commit_id: Option<String>,
    /// Start (Unix ms).
    pub started_ms: i64,
    /// End (Unix ms).
    pub finished_ms: Option<i64>,
}

impl Store {
    /// Records a new run and the pipeline state that refers to it, in one transaction:
    /// both exist or neither does.
    ///
    /// # Errors
    /// Query failure (nothing is written).
    pub async fn begin_run(
        &self,
        pipeline: &str,
        run: &RunRef,
        state: &PipelineState,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let what = format!("recording run {} of pipeline `{pipeline}`", run.id);
        let mut tx = self.pool.begin().await.map_err(query_err(&what))?;
        sqlx::query(
            "INSERT INTO sluice_runs (id, pipeline, job_name, model_version, status, started_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&run.id)
        .bind(pipeline)
        .bind(&run.job)
        .bind(&run.version)
        .bind(RunStatus::Allocated.as_str())
        .bind(ms(now_ms))
        .execute(&mut *tx)
        .await
        .map_err(query_err(&what))?;
        save_state(&mut *tx, pipeline, state, now_ms, &self.fence()).await?;
        tx.commit().await.map_err(query_err(&what))?;
        Ok(())
    }

    /// Adds `n` to the rows a run has claimed (a repeated claim after a restart adds
    /// the rows that arrived in between, or none).
    ///
    /// # Errors
    /// Query failure.
    pub async fn add_claimed(&self, id: &str, n: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sluice_runs SET claimed_rows = claimed_rows + $2 WHERE id = $1")
            .bind(id)
            .bind(ms(n))
            .execute(&self.pool)
            .await
            .map_err(query_err(format!("recording the rows claimed by run {id}")))?;
        Ok(())
    }

    /// Updates a run's status; `reason` and `commit` are set when given. Terminal
    /// statuses set the end time.
    ///
    /// # Errors
    /// Query failure.
    pub async fn set_run_status(
        &self,
        id: &str,
        status: RunStatus,
        reason: Option<&str>,
        commit: Option<&str>,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        update_run(&self.pool, id, status, reason, commit, now_ms).await
    }

    /// Ends `run` as rejected and remembers its version as rejected — so it is never
    /// promoted automatically — in one transaction. Repeating it is harmless: the
    /// version keeps the reason it was first rejected for.
    ///
    /// # Errors
    /// Query failure (nothing is written).
    pub async fn reject_run(
        &self,
        pipeline: &str,
        run: &RunRef,
        reason: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let what = format!("recording rejected version {}", run.version);
        let mut tx = self.pool.begin().await.map_err(query_err(&what))?;
        sqlx::query(
            "INSERT INTO sluice_rejected_versions (pipeline, version, reason, rejected_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (pipeline, version) DO NOTHING",
        )
        .bind(pipeline)
        .bind(&run.version)
        .bind(reason)
        .bind(ms(now_ms))
        .execute(&mut *tx)
        .await
        .map_err(query_err(&what))?;
        update_run(
            &mut *tx,
            &run.id,
            RunStatus::Rejected,
            Some(reason),
            None,
            now_ms,
        )
        .await?;
        tx.commit().await.map_err(query_err(&what))?;
        Ok(())
    }

    /// The newest runs, of one pipeline or all, newest first.
    ///
    /// # Errors
    /// Query failure.
    pub async fn runs(
        &self,
        pipeline: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, pipeline, job_name, model_version, status, claimed_rows, reason, \
             commit_id, started_ms, finished_ms FROM sluice_runs \
             WHERE ($1 IS NULL OR pipeline = $1) ORDER BY started_ms DESC, id DESC LIMIT $2",
        )
        .bind(pipeline)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing runs"))?;
        Ok(rows
            .into_iter()
            .map(|r| RunRecord {
                id: r.0,
                pipeline: r.1,
                job_name: r.2,
                model_version: r.3,
                status: r.4,
                claimed_rows: r.5,
                reason: r.6,
                commit_id: r.7,
                started_ms: r.8,
                finished_ms: r.9,
            })
            .collect())
    }
}

async fn update_run<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    exec: E,
    id: &str,
    status: RunStatus,
    reason: Option<&str>,
    commit: Option<&str>,
    now_ms: u64,
) -> Result<(), StoreError> {
    let terminal = matches!(
        status,
        RunStatus::Promoted | RunStatus::Rejected | RunStatus::Failed
    );
    sqlx::query(
        "UPDATE sluice_runs SET status = $2, reason = COALESCE($3, reason), \
         commit_id = COALESCE($4, commit_id), finished_ms = COALESCE($5, finished_ms) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(commit)
    .bind(terminal.then(|| ms(now_ms)))
    .execute(exec)
    .await
    .map_err(query_err(format!("updating run {id}")))?;
    Ok(())
}
