//! One analysis's data: every watched metric's window for both arms, collected
//! concurrently. A source that cannot answer fails the whole collection (no verdict
//! this interval); what sources do return — empty, short, NaN — is passed on as is.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use crate::decision::{Direction, MetricWindow};
use crate::metrics_source::{MetricsSource, QueryValues, SourceError, Window, render_query};

/// One watched metric, wired to its source.
#[derive(Clone)]
pub struct WatchedMetric {
    /// Name shown to the regression policy.
    pub name: String,
    /// Which way it is good.
    pub direction: Direction,
    /// Where its samples come from.
    pub source: Arc<dyn MetricsSource>,
    /// Query for the stable arm.
    pub baseline: String,
    /// Query for the candidate arm.
    pub canary: String,
}

impl std::fmt::Debug for WatchedMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedMetric")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a collection found.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// One window per metric, in config order.
    pub windows: Vec<MetricWindow>,
    /// Metric arms whose source had more samples than the limit.
    pub truncated: Vec<String>,
}

/// The window an analysis at `now_ms` reads: from when traffic reached the current
/// weight, but no further back than `longest`.
pub fn window(step_started_ms: u64, now_ms: u64, longest: Duration) -> Window {
    let longest = u64::try_from(longest.as_millis()).unwrap_or(u64::MAX);
    Window {
        since_ms: step_started_ms.max(now_ms.saturating_sub(longest)),
        until_ms: now_ms,
    }
}

/// Collects every metric's baseline and canary samples over `values.window`.
///
/// # Errors
/// The first source that could not answer, naming the metric and arm.
pub async fn collect(
    metrics: &[WatchedMetric],
    values: QueryValues<'_>,
    max_samples: usize,
) -> Result<Collected, SourceError> {
    let queries = metrics
        .iter()
        .flat_map(|m| [(m, "baseline", &m.baseline), (m, "canary", &m.canary)])
        .map(|(m, arm, template)| async move {
            let query = render_query(template, values)?;
            let samples = m.source.samples(&query, values.window, max_samples).await;
            samples.map_err(|e| with_arm(e, &m.name, arm))
        });
    let mut answers = join_all(queries).await.into_iter();
    let mut collected = Collected {
        windows: Vec::with_capacity(metrics.len()),
        truncated: Vec::new(),
    };
    for m in metrics {
        let (Some(baseline), Some(canary)) = (answers.next(), answers.next()) else {
            break;
        };
        let (baseline, canary) = (baseline?, canary?);
        for (arm, s) in [("baseline", &baseline), ("canary", &canary)] {
            if s.truncated {
                collected.truncated.push(format!("{} {arm}", m.name));
            }
        }
        collected.windows.push(MetricWindow {
            name: m.name.clone(),
            direction: m.direction,
            baseline: baseline.values,
            canary: canary.values,
        });
    }
    Ok(collected)
}

/// `e` with the metric and arm it happened for in front of its message.
fn with_arm(e: SourceError, metric: &str, arm: &str) -> SourceError {
    match e {
        SourceError::Unreachable {
            source_name,
            message,
        } => SourceError::Unreachable {
            source_name: format!("metric `{metric}` ({arm}): {source_name}"),
            message,
        },
        SourceError::Query {
            source_name,
            query,
            message,
        } => SourceError::Query {
            source_name: format!("metric `{metric}` ({arm}): {source_name}"),
            query,
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics_source::{Samples, SourceFuture};

    /// Answers each query with its length as one sample, or fails on `down`.
    struct Echo;

    impl MetricsSource for Echo {
        fn samples<'a>(&'a self, query: &'a str, _: Window, _: usize) -> SourceFuture<'a> {
            Box::pin(async move {
                if query.contains("down") {
                    return Err(SourceError::Unreachable {
                        source_name: "echo".into(),
                        message: "connection refused".into(),
                    });
                }
                Ok(Samples {
                    values: vec![query.len() as f64],
                    truncated: query.contains("many"),
                })
            })
        }
    }

    fn metric(name: &str, baseline: &str, canary: &str) -> WatchedMetric {
        WatchedMetric {
            name: name.into(),
            direction: Direction::LowerIsBetter,
            source: Arc::new(Echo),
            baseline: baseline.into(),
            canary: canary.into(),
        }
    }

    fn values() -> QueryValues<'static> {
        QueryValues {
            stable: "v1",
            candidate: "v22",
            weight: 10,
            window: window(100, 1000, Duration::from_secs(10)),
        }
    }

    #[tokio::test]
    async fn each_arm_gets_its_own_filled_query_and_truncation_is_reported() {
        let got = collect(
            &[metric("latency", "{stable}", "{candidate} many")],
            values(),
            10,
        )
        .await
        .expect("collect");
        assert_eq!(got.windows[0].baseline, vec![2.0]);
        assert_eq!(got.windows[0].canary, vec![8.0]);
        assert_eq!(got.truncated, vec!["latency canary".to_owned()]);
    }

    #[tokio::test]
    async fn a_source_down_names_the_metric_and_arm() {
        let e = collect(
            &[metric("ok", "a", "b"), metric("quality", "a", "down")],
            values(),
            10,
        )
        .await
        .expect_err("down");
        assert!(
            e.to_string().starts_with("metric `quality` (canary)"),
            "{e}"
        );
    }

    #[test]
    fn the_window_starts_at_the_step_but_not_too_far_back() {
        assert_eq!(window(100, 1000, Duration::from_secs(10)).since_ms, 100);
        assert_eq!(
            window(100, 60_000, Duration::from_secs(10)).since_ms,
            50_000
        );
    }
}
