//! Schema migrations, embedded in the binary, one list per backend. Each runs in its
//! own transaction and is recorded in `sluice_schema_migrations`.

use sqlx::AnyPool;

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
];

/// Applies every migration newer than the database's version.
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sluice_schema_migrations (\
         version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(query_err("creating the migrations table"))?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM sluice_schema_migrations")
            .fetch_one(pool)
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
        let mut tx = pool.begin().await.map_err(fail)?;
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
