//! Schema migrations, embedded in the binary, one list per backend. Each runs in its
//! own transaction and is recorded in `sluice_schema_migrations`.
//!
//! Several hosts may start against one empty PostgreSQL store at once (a second
//! replica, a rolling update). PostgreSQL's DDL is not safe to race — two
//! `CREATE TABLE IF NOT EXISTS` collide on its catalogue — so the whole check-and-apply
//! runs under a session advisory lock, and a host that waited finds the work done.
//! SQLite serialises writers by itself.

use sqlx::{AnyConnection, AnyPool};

use super::{Backend, StoreError, query_err};

/// `(version, name, sql)` for each backend, oldest first.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_init.sql",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "0002_decision_code_tier.sql",
        include_str!("../../migrations/sqlite/0002_decision_code_tier.sql"),
    ),
    (
        3,
        "0003_policy_modules.sql",
        include_str!("../../migrations/sqlite/0003_policy_modules.sql"),
    ),
    (
        4,
        "0004_rollout_requests.sql",
        include_str!("../../migrations/sqlite/0004_rollout_requests.sql"),
    ),
    (
        5,
        "0005_policy_uploads.sql",
        include_str!("../../migrations/sqlite/0005_policy_uploads.sql"),
    ),
    (
        6,
        "0006_pipeline_fencing.sql",
        include_str!("../../migrations/sqlite/0006_pipeline_fencing.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_init.sql",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "0002_decision_code_tier.sql",
        include_str!("../../migrations/postgres/0002_decision_code_tier.sql"),
    ),
    (
        3,
        "0003_policy_modules.sql",
        include_str!("../../migrations/postgres/0003_policy_modules.sql"),
    ),
    (
        4,
        "0004_rollout_requests.sql",
        include_str!("../../migrations/postgres/0004_rollout_requests.sql"),
    ),
    (
        5,
        "0005_policy_uploads.sql",
        include_str!("../../migrations/postgres/0005_policy_uploads.sql"),
    ),
    (
        6,
        "0006_pipeline_fencing.sql",
        include_str!("../../migrations/postgres/0006_pipeline_fencing.sql"),
    ),
];

/// The key of the advisory lock that serialises migrations on PostgreSQL (the bytes
/// of `"sluiceMG"`); any other user of advisory locks on the database must avoid it.
pub const MIGRATION_LOCK_KEY: i64 = 0x736c_7569_6365_4d47;

/// Applies every migration newer than the database's version, one host at a time.
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(query_err("taking a connection for migrations"))?;
    if backend == Backend::Sqlite {
        return apply(&mut conn, backend).await;
    }
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(query_err("waiting for the migration lock"))?;
    let applied = apply(&mut conn, backend).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await;
    if unlocked.is_err() {
        // A session lock lives as long as its connection: close it rather than hand a
        // locked connection back to the pool.
        let _ = conn.detach();
    }
    applied?;
    unlocked.map_err(query_err("releasing the migration lock"))?;
    Ok(())
}

async fn apply(conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sluice_schema_migrations (\
         version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(query_err("creating the migrations table"))?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM sluice_schema_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(query_err("reading the schema version"))?;
    let current = current.unwrap_or(0);
    let known = list.last().map_or(0, |m| m.0);
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for &(version, name, sql) in list.iter().filter(|m| m.0 > current) {
        let fail = |source| StoreError::Migrate {
            version,
            name,
            source,
        };
        let mut tx = conn.begin().await.map_err(fail)?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query(
            "INSERT INTO sluice_schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(name)
        .bind(super::ms(crate::clock::now_ms()))
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(version, name, "database migration applied");
    }
    Ok(())
}
