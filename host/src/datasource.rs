//! The data source: how many new labelled rows there are, and claiming them for a run.
//!
//! The statements are configurable; the defaults fit the common schema
//! `annotations(verified BOOLEAN, used_for_training BOOLEAN, training_run TEXT NULL)`.
//! Claiming marks the rows *and records which run took them*, in one transaction at
//! dispatch: rows verified while the run trains stay unclaimed for the next run, and a
//! failed run gives exactly its own rows back.

use sqlx::{AnyPool, AssertSqlSafe};

use crate::store::{StoreError, query_err};

/// Default statements, in one place.
pub mod defaults {
    /// New verified rows not yet used.
    pub const COUNT_QUERY: &str =
        "SELECT COUNT(*) FROM annotations WHERE verified AND NOT used_for_training";
    /// All verified rows.
    pub const TOTAL_QUERY: &str = "SELECT COUNT(*) FROM annotations WHERE verified";
    /// Claims the new rows for run `$1`.
    pub const CLAIM_STATEMENT: &str = "UPDATE annotations SET used_for_training = TRUE, \
         training_run = $1 WHERE verified AND NOT used_for_training";
    /// Gives run `$1`'s rows back.
    pub const RELEASE_STATEMENT: &str = "UPDATE annotations SET used_for_training = FALSE, \
         training_run = NULL WHERE training_run = $1";
}

/// The statements a pipeline's data source runs (configured in the pipeline's
/// `data_source` section, with [`defaults`] for what is not written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// Returns one integer: new verified, unused rows.
    pub count_query: String,
    /// Returns one integer: all verified rows.
    pub total_query: String,
    /// Marks the new rows as used by run `$1`.
    pub claim_statement: String,
    /// Gives back the rows of run `$1`.
    pub release_statement: String,
}

/// Counts of labelled rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleCounts {
    /// Verified rows no run has used.
    pub new: u64,
    /// All verified rows.
    pub total: u64,
}

/// A pipeline's data source.
#[derive(Debug, Clone)]
pub struct DataSource {
    pool: AnyPool,
    statements: Statements,
    pipeline: String,
}

impl DataSource {
    /// A data source over `pool`.
    pub fn new(pool: AnyPool, statements: Statements, pipeline: &str) -> Self {
        Self {
            pool,
            statements,
            pipeline: pipeline.to_owned(),
        }
    }

    /// New and total verified rows.
    ///
    /// # Errors
    /// Query failure (a transient error for the controller).
    pub async fn counts(&self) -> Result<SampleCounts, StoreError> {
        let new = self
            .count(&self.statements.count_query, "count_query")
            .await?;
        let total = self
            .count(&self.statements.total_query, "total_query")
            .await?;
        Ok(SampleCounts { new, total })
    }

    async fn count(&self, sql: &str, field: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await
            .map_err(query_err(format!(
                "running data_source.{field} of pipeline `{}`",
                self.pipeline
            )))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Claims the new rows for `run_id` in one transaction; returns how many.
    ///
    /// # Errors
    /// Statement failure; nothing is claimed then.
    pub async fn claim(&self, run_id: &str) -> Result<u64, StoreError> {
        self.run_in_tx(&self.statements.claim_statement, "claim_statement", run_id)
            .await
    }

    /// Gives back the rows `run_id` claimed; returns how many.
    ///
    /// # Errors
    /// Statement failure.
    pub async fn release(&self, run_id: &str) -> Result<u64, StoreError> {
        self.run_in_tx(
            &self.statements.release_statement,
            "release_statement",
            run_id,
        )
        .await
    }

    async fn run_in_tx(&self, sql: &str, field: &str, run_id: &str) -> Result<u64, StoreError> {
        let what = format!(
            "running data_source.{field} of pipeline `{}` for run {run_id}",
            self.pipeline
        );
        let mut tx = self.pool.begin().await.map_err(query_err(&what))?;
        let done = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(query_err(&what))?;
        tx.commit().await.map_err(query_err(&what))?;
        Ok(done.rows_affected())
    }
}
