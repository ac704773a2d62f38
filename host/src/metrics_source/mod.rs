//! Metric sources for rollout analysis: each turns one query for one arm (stable or
//! candidate) over one time window into samples, one per observation.
//!
//! Bad data is passed on, never smoothed over: a NULL row or a `NaN` sample reaches the
//! regression policy as NaN, an empty window as an empty list. Only a source that
//! cannot answer (down, timed out, a query error) is an error, and an analysis with an
//! error yields no verdict for that interval.

pub mod prometheus;
pub mod sql;

use std::future::Future;
use std::pin::Pin;

pub use prometheus::Prometheus;
pub use sql::SqlSource;

/// The stretch of time an analysis reads, in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive).
    pub since_ms: u64,
    /// End (inclusive).
    pub until_ms: u64,
}

/// What one query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// The observations, in the order the source returned them (at most the limit).
    pub values: Vec<f64>,
    /// Whether the source had more than the limit (the rest was not read).
    pub truncated: bool,
}

impl Samples {
    /// Adds `v` unless the limit is reached; false once it is.
    fn push(&mut self, v: f64, max: usize) -> bool {
        if self.values.len() >= max {
            self.truncated = true;
            return false;
        }
        self.values.push(v);
        true
    }
}

/// Why a source gave no samples. Never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be reached or did not answer in time.
    #[error("{source_name} is unreachable: {message}")]
    Unreachable {
        /// The provider's name in the config.
        source_name: String,
        /// Why.
        message: String,
    },
    /// The source refused the query or answered with something that is not samples.
    #[error("{source_name} refused the query `{query}`: {message}")]
    Query {
        /// The provider's name in the config.
        source_name: String,
        /// The query, as sent.
        query: String,
        /// Why.
        message: String,
    },
    /// A version cannot be put into a query safely.
    #[error("version `{version}` cannot be put into a query (letters, digits and . _ - + : only)")]
    UnsafeVersion {
        /// The version.
        version: String,
    },
}

/// The future a source returns.
pub type SourceFuture<'a> = Pin<Box<dyn Future<Output = Result<Samples, SourceError>> + Send + 'a>>;

/// A source of metric samples.
pub trait MetricsSource: Send + Sync {
    /// At most `max` samples of `query` over `window`.
    fn samples<'a>(&'a self, query: &'a str, window: Window, max: usize) -> SourceFuture<'a>;
}

/// The values a query template is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryValues<'a> {
    /// The stable version.
    pub stable: &'a str,
    /// The candidate version.
    pub candidate: &'a str,
    /// The candidate's weight.
    pub weight: u8,
    /// The window.
    pub window: Window,
}

/// `template` with `{since_ms}` and `{until_ms}` filled in, and the traffic state's
/// names as [`crate::traffic::TrafficState::render`] fills them.
///
/// # Errors
/// A version with characters that could change the query's meaning.
pub fn render_query(template: &str, v: QueryValues<'_>) -> Result<String, SourceError> {
    for version in [v.stable, v.candidate] {
        if !crate::config::rollout::is_safe_version(version) {
            return Err(SourceError::UnsafeVersion {
                version: crate::decision::excerpt(version, 128),
            });
        }
    }
    let traffic = crate::traffic::TrafficState {
        stable: v.stable,
        candidate: v.candidate,
        weight: v.weight,
    };
    Ok(traffic.render(
        &template
            .replace("{since_ms}", &v.window.since_ms.to_string())
            .replace("{until_ms}", &v.window.until_ms.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_filled_and_unsafe_versions_refused() {
        let v = QueryValues {
            stable: "v2",
            candidate: "v3",
            weight: 25,
            window: Window {
                since_ms: 1000,
                until_ms: 2000,
            },
        };
        assert_eq!(
            render_query(
                "SELECT x FROM t WHERE v = '{candidate}' AND at >= {since_ms} AND at <= {until_ms} -- {stable} {weight} {stable_weight}",
                v
            )
            .expect("render"),
            "SELECT x FROM t WHERE v = 'v3' AND at >= 1000 AND at <= 2000 -- v2 25 75"
        );
        let bad = QueryValues {
            candidate: "v3'; DROP TABLE t; --",
            ..v
        };
        assert!(matches!(
            render_query("{candidate}", bad),
            Err(SourceError::UnsafeVersion { .. })
        ));
    }

    #[test]
    fn samples_stop_at_the_limit_and_say_so() {
        let mut s = Samples {
            values: vec![],
            truncated: false,
        };
        assert!(s.push(1.0, 2) && s.push(f64::NAN, 2));
        assert!(!s.push(3.0, 2));
        assert_eq!((s.values.len(), s.truncated), (2, true));
    }
}
