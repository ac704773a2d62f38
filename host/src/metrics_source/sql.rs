//! SQL metric source (PostgreSQL or SQLite through sqlx): each query returns one
//! numeric column, one row per observation — per-request latency, or a quality score
//! an evaluation job writes. A NULL is a NaN sample.

use futures_util::TryStreamExt as _;
use sqlx::{AnyPool, AssertSqlSafe, Row as _};

use super::{MetricsSource, Samples, SourceError, SourceFuture, Window};

/// A SQL database as a metric source.
#[derive(Debug, Clone)]
pub struct SqlSource {
    name: String,
    pool: AnyPool,
}

impl SqlSource {
    /// The provider `name` reading from `pool`.
    pub fn new(name: &str, pool: AnyPool) -> Self {
        Self {
            name: name.to_owned(),
            pool,
        }
    }

    async fn read(&self, query: &str, max: usize) -> Result<Samples, SourceError> {
        let refused = |message: String| SourceError::Query {
            source_name: format!("SQL provider `{}`", self.name),
            query: crate::decision::excerpt(query, 300),
            message,
        };
        let mut rows = sqlx::query(AssertSqlSafe(query.to_owned())).fetch(&self.pool);
        let mut samples = Samples {
            values: Vec::new(),
            truncated: false,
        };
        loop {
            let row = match rows.try_next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) if is_unreachable(&e) => {
                    return Err(SourceError::Unreachable {
                        source_name: format!("SQL provider `{}`", self.name),
                        message: crate::error_chain(&e),
                    });
                }
                Err(e) => return Err(refused(crate::error_chain(&e))),
            };
            if row.len() != 1 {
                return Err(refused(format!(
                    "it returns {} columns; return exactly one numeric column",
                    row.len()
                )));
            }
            let value = match row.try_get::<Option<f64>, _>(0) {
                Ok(v) => v.unwrap_or(f64::NAN),
                Err(_) => match row.try_get::<Option<i64>, _>(0) {
                    #[allow(clippy::cast_precision_loss)]
                    Ok(v) => v.map_or(f64::NAN, |i| i as f64),
                    Err(e) => {
                        return Err(refused(format!(
                            "its column is not numeric ({e}); cast it, e.g. CAST(x AS DOUBLE PRECISION)"
                        )));
                    }
                },
            };
            if !samples.push(value, max) {
                break;
            }
        }
        Ok(samples)
    }
}

/// Whether a sqlx error means the database did not answer (connection refused or cut,
/// TLS, a pool that timed out) as opposed to refusing the query or its result: only the
/// database's own errors and what it returned are the query's fault.
fn is_unreachable(e: &sqlx::Error) -> bool {
    !matches!(
        e,
        sqlx::Error::Database(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. }
            | sqlx::Error::RowNotFound
    )
}

impl MetricsSource for SqlSource {
    fn samples<'a>(&'a self, query: &'a str, _window: Window, max: usize) -> SourceFuture<'a> {
        // The window reaches a SQL query through `{since_ms}` / `{until_ms}`.
        Box::pin(self.read(query, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn source() -> SqlSource {
        let (pool, _) = crate::store::pool("sqlite::memory:", 1)
            .await
            .expect("pool");
        sqlx::query("CREATE TABLE r (version TEXT, latency REAL, n INTEGER)")
            .execute(&pool)
            .await
            .expect("table");
        for (v, l, n) in [
            ("v1", Some(10.5), 1),
            ("v1", None, 2),
            ("v2", Some(12.0), 3),
        ] {
            sqlx::query("INSERT INTO r VALUES ($1, $2, $3)")
                .bind(v)
                .bind(l)
                .bind(n)
                .execute(&pool)
                .await
                .expect("insert");
        }
        SqlSource::new("db", pool)
    }

    const W: Window = Window {
        since_ms: 0,
        until_ms: 1,
    };

    #[tokio::test]
    async fn rows_become_samples_and_null_becomes_nan() {
        let s = source().await;
        let got = s
            .samples(
                "SELECT latency FROM r WHERE version = 'v1' ORDER BY n",
                W,
                10,
            )
            .await
            .expect("samples");
        assert_eq!(got.values[0], 10.5);
        assert!(got.values[1].is_nan());
        let ints = s
            .samples("SELECT n FROM r ORDER BY n", W, 2)
            .await
            .expect("ints");
        assert_eq!((ints.values, ints.truncated), (vec![1.0, 2.0], true));
        let empty = s
            .samples("SELECT latency FROM r WHERE version = 'v9'", W, 10)
            .await
            .expect("empty");
        assert!(empty.values.is_empty() && !empty.truncated);
    }

    #[tokio::test]
    async fn bad_queries_say_what_is_wrong() {
        let s = source().await;
        let e = s
            .samples("SELECT version, latency FROM r", W, 10)
            .await
            .expect_err("two columns");
        assert!(e.to_string().contains("exactly one numeric column"), "{e}");
        let e = s
            .samples("SELECT version FROM r", W, 10)
            .await
            .expect_err("text");
        assert!(e.to_string().contains("not numeric"), "{e}");
        let e = s
            .samples("SELECT nope FROM r", W, 10)
            .await
            .expect_err("bad column");
        assert!(matches!(e, SourceError::Query { .. }), "{e}");
    }
}
