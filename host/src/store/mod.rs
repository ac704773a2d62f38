//! sluice's own store: pipeline state, runs, the decision audit log and rejected
//! versions, in SQLite (the embedded default) or PostgreSQL, through one set of queries.
//!
//! The state of a pipeline is one JSON document ([`PipelineState`]) written in a single
//! statement, so a crash leaves either the old or the new state, never a mixture.

mod audit;
mod migrate;
mod modules;
mod requests;
mod runs;
mod uploads;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::controller::phase::PipelineState;
use crate::secret::redact_url;

pub use audit::StoredDecision;
pub use modules::StoredRefusal;
pub use requests::{RolloutAction, RolloutRequest};
pub use runs::{RunRecord, RunStatus};
pub use uploads::{StoredUpload, UploadAttempt};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` / `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// The backend of `url`.
    ///
    /// # Errors
    /// Any other scheme.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Scheme {
                url: redact_url(url),
            })
        }
    }
}

/// Errors of the store. Each says what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not a database URL sluice knows.
    #[error(
        "`{url}` is not a supported database URL; use sqlite:PATH (created if missing) or postgres://USER@HOST/DB"
    )]
    Scheme {
        /// The URL, password removed.
        url: String,
    },
    /// The database cannot be reached.
    #[error("cannot connect to the database {url}; is it running and are the credentials right?")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed; the transaction was rolled back.
    #[error("database migration {version} ({name}) failed; the schema is unchanged by it")]
    Migrate {
        /// Migration number.
        version: i64,
        /// Its file name.
        name: &'static str,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A host that is no longer the leader tried to write a pipeline's state after a
    /// newer leader had: refused, nothing written.
    #[error(
        "pipeline `{pipeline}`: this host (lease term {term}) is no longer the leader; a host with a newer term wrote the pipeline's state, so this write was refused"
    )]
    Fenced {
        /// The pipeline.
        pipeline: String,
        /// This host's term.
        term: i64,
    },
    /// The database has migrations this binary does not know: it is older than the
    /// one that last ran against this database.
    #[error(
        "the database schema is at version {found}, newer than this sluice knows ({known}); run a newer sluice"
    )]
    TooNew {
        /// Highest applied version.
        found: i64,
        /// Highest version this binary has.
        known: i64,
    },
    /// A query failed.
    #[error("database error while {what}")]
    Query {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A stored document cannot be read back.
    #[error("stored {what} cannot be read; was the row edited by hand?")]
    Corrupt {
        /// Which document.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

pub(crate) fn query_err(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Query { what, source }
}

/// A connection pool to sluice's own database, migrated.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Digests of the modules whose description is stored (saves a query per decision).
    known_modules: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Who this host writes pipeline state as (shared by every clone).
    fence: std::sync::Arc<std::sync::RwLock<Fence>>,
}

/// Opens a pool on `url` (SQLite files are created if missing).
///
/// # Errors
/// Unknown scheme or connection failure.
pub async fn pool(url: &str, max_connections: u32) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(url)?;
    let url_owned = match backend {
        Backend::Sqlite if !url.contains("mode=") => {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        }
        _ => url.to_owned(),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url_owned)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(url),
            source,
        })?;
    Ok((pool, backend))
}

impl Store {
    /// Connects to `url` and applies pending migrations.
    ///
    /// # Errors
    /// Connection or migration failure.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (pool, backend) = pool(url, 4).await?;
        let store = Self {
            pool,
            backend,
            known_modules: Default::default(),
            fence: Default::default(),
        };
        migrate::run(&store.pool, backend).await?;
        Ok(store)
    }

    /// From now on this store's state writes carry `fence`, and are refused for a
    /// pipeline whose row a newer term wrote (see [`StoreError::Fenced`]).
    pub fn set_fence(&self, fence: Fence) {
        *self.fence.write().unwrap_or_else(|p| p.into_inner()) = fence;
    }

    /// The holder and term this store's writes carry.
    pub fn fence(&self) -> Fence {
        self.fence.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn known_modules(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.known_modules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// The persisted state of `pipeline`, if it has run before.
    ///
    /// # Errors
    /// Query failure or an unreadable document.
    pub async fn load_state(&self, pipeline: &str) -> Result<Option<PipelineState>, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT state FROM sluice_pipelines WHERE name = $1")
                .bind(pipeline)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_err(format!(
                    "loading the state of pipeline `{pipeline}`"
                )))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|source| StoreError::Corrupt {
                what: format!("state of pipeline `{pipeline}`"),
                source,
            })
        })
        .transpose()
    }

    /// Writes the state of `pipeline` (one statement: all or nothing).
    ///
    /// # Errors
    /// Query failure.
    pub async fn save_state(
        &self,
        pipeline: &str,
        state: &PipelineState,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        save_state(&self.pool, pipeline, state, now_ms, &self.fence()).await
    }

    /// Every pipeline's state with when it was last written, by name.
    ///
    /// # Errors
    /// Query failure or an unreadable document.
    pub async fn all_states(&self) -> Result<Vec<(String, PipelineState, u64)>, StoreError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT name, state, updated_ms FROM sluice_pipelines ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(query_err("listing pipeline states"))?;
        rows.into_iter()
            .map(|(name, text, updated)| {
                let state = serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
                    what: format!("state of pipeline `{name}`"),
                    source,
                })?;
                Ok((name, state, u64::try_from(updated).unwrap_or(0)))
            })
            .collect()
    }

    /// Why `version` was rejected, if it was.
    ///
    /// # Errors
    /// Query failure.
    pub async fn rejection(
        &self,
        pipeline: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT reason FROM sluice_rejected_versions WHERE pipeline = $1 AND version = $2",
        )
        .bind(pipeline)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(format!("looking up version {version}")))
    }
}

pub(crate) async fn save_state<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    pool: E,
    pipeline: &str,
    state: &PipelineState,
    now_ms: u64,
    fence: &Fence,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(state).map_err(|source| StoreError::Corrupt {
        what: format!("state of pipeline `{pipeline}`"),
        source,
    })?;
    // One statement: the row is written only if no newer term wrote it.
    let written = sqlx::query(
        "INSERT INTO sluice_pipelines (name, phase, state, updated_ms, holder, term) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (name) DO UPDATE SET phase = excluded.phase, state = excluded.state, \
         updated_ms = excluded.updated_ms, holder = excluded.holder, term = excluded.term \
         WHERE sluice_pipelines.term <= excluded.term",
    )
    .bind(pipeline)
    .bind(state.phase.name())
    .bind(text)
    .bind(ms(now_ms))
    .bind(&fence.holder)
    .bind(fence.term)
    .execute(pool)
    .await
    .map_err(query_err(format!(
        "saving the state of pipeline `{pipeline}`"
    )))?;
    if written.rows_affected() == 0 {
        return Err(StoreError::Fenced {
            pipeline: pipeline.to_owned(),
            term: fence.term,
        });
    }
    Ok(())
}

/// Who writes pipeline state: the lease holder and its term (the Lease's acquire time in
/// µs, which grows with every holder). Without leader election: empty and 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fence {
    /// The lease holder's identity.
    pub holder: String,
    /// Its term.
    pub term: i64,
}

/// Milliseconds as the `BIGINT` the tables use.
pub(crate) fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
