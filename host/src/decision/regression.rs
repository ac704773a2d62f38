//! The regression decision point.

use serde::{Deserialize, Serialize};

use super::{Metric, Param, Point, Verdict, bounded, check_reason, samples};

/// Longest statistic name a policy may return (`p_value`, `cohens_d`, …), in bytes.
pub const MAX_STATISTIC_NAME_BYTES: usize = 64;

/// Most statistics a policy may attach to one metric verdict.
pub const MAX_STATISTICS: usize = 64;

/// Marker for the regression decision point.
#[derive(Debug)]
pub enum Regression {}

/// Which way a metric is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Larger is better.
    HigherIsBetter,
    /// Smaller is better.
    LowerIsBetter,
}

/// Baseline and canary samples of one metric. `null` in JSON stands for NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricWindow {
    /// Metric name.
    pub name: String,
    /// Which way it is good.
    pub direction: Direction,
    /// Baseline samples.
    #[serde(with = "samples")]
    pub baseline: Vec<f64>,
    /// Canary samples.
    #[serde(with = "samples")]
    pub canary: Vec<f64>,
}

/// What the regression policy is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    #[serde(skip_deserializing)]
    pub params: Vec<Param>,
    /// One window per watched metric.
    pub metrics: Vec<MetricWindow>,
}

/// The verdict for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricVerdict {
    /// Metric name.
    pub name: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// Statistics used.
    #[serde(default)]
    pub statistics: Vec<Metric>,
}

/// The regression policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionDecision {
    /// Overall verdict.
    pub overall: Verdict,
    /// Why.
    pub reason: String,
    /// One per input metric.
    pub metrics: Vec<MetricVerdict>,
}

/// What to answer when the regression policy fails: inconclusive, never pass.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RegressionFailSafe {
    /// Every metric and the overall verdict are inconclusive.
    #[default]
    Inconclusive,
}

impl Point for Regression {
    const POINT: super::DecisionPoint = super::DecisionPoint::Regression;
    type Context = RegressionContext;
    type Decision = RegressionDecision;
    type FailSafe = RegressionFailSafe;

    fn validate(ctx: &RegressionContext, d: &RegressionDecision) -> Result<(), String> {
        check_reason("the overall reason", &d.reason)?;
        for m in &d.metrics {
            check_reason(
                &format!("the reason for `{}`", super::excerpt(&m.name, 64)),
                &m.reason,
            )?;
            if m.statistics.len() > MAX_STATISTICS {
                return Err(format!(
                    "`{}` carries {} statistics; at most {MAX_STATISTICS} are allowed",
                    super::excerpt(&m.name, 64),
                    m.statistics.len()
                ));
            }
            if let Some(st) = m
                .statistics
                .iter()
                .find(|st| st.name.len() > MAX_STATISTIC_NAME_BYTES)
            {
                return Err(format!(
                    "a statistic of `{}` has a name of {} bytes; at most {MAX_STATISTIC_NAME_BYTES} are allowed",
                    super::excerpt(&m.name, 64),
                    st.name.len()
                ));
            }
            if !ctx.metrics.iter().any(|w| w.name == m.name) {
                return Err(format!(
                    "verdict for `{}`, which is not an input metric",
                    super::excerpt(&m.name, 64)
                ));
            }
        }
        for w in &ctx.metrics {
            let n = d.metrics.iter().filter(|m| m.name == w.name).count();
            if n != 1 {
                return Err(format!(
                    "expected exactly one verdict for `{}`, found {n}",
                    w.name
                ));
            }
        }
        if d.overall == Verdict::Pass && d.metrics.iter().any(|m| m.verdict != Verdict::Pass) {
            return Err("overall verdict is pass although a metric is not".to_owned());
        }
        Ok(())
    }

    fn fail_safe(_: RegressionFailSafe, ctx: &RegressionContext, why: &str) -> RegressionDecision {
        let reason = bounded(format!("fail-safe: {why}"));
        RegressionDecision {
            overall: Verdict::Inconclusive,
            metrics: ctx
                .metrics
                .iter()
                .map(|w| MetricVerdict {
                    name: w.name.clone(),
                    verdict: Verdict::Inconclusive,
                    reason: "fail-safe: the regression policy gave no valid answer".to_owned(),
                    statistics: Vec::new(),
                })
                .collect(),
            reason,
        }
    }

    fn outcome_label(d: &RegressionDecision) -> &'static str {
        match d.overall {
            Verdict::Pass => "pass",
            Verdict::Regressed => "regressed",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    fn trial_context(pipeline: &str, params: Vec<Param>) -> RegressionContext {
        RegressionContext {
            pipeline: pipeline.to_owned(),
            params,
            metrics: vec![MetricWindow {
                name: "trial".into(),
                direction: Direction::HigherIsBetter,
                baseline: vec![1.0, 2.0, 3.0],
                canary: vec![1.0, 2.0, 3.0],
            }],
        }
    }

    fn pipeline(ctx: &RegressionContext) -> &str {
        &ctx.pipeline
    }

    fn params_mut(ctx: &mut RegressionContext) -> &mut Vec<Param> {
        &mut ctx.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(name: &str, v: Verdict) -> MetricVerdict {
        MetricVerdict {
            name: name.into(),
            verdict: v,
            reason: String::new(),
            statistics: vec![],
        }
    }

    #[test]
    fn verdicts_must_match_inputs_one_to_one() {
        let ctx = Regression::trial_context("p", vec![]);
        let mut d = RegressionDecision {
            overall: Verdict::Pass,
            reason: String::new(),
            metrics: vec![verdict("trial", Verdict::Pass)],
        };
        assert!(Regression::validate(&ctx, &d).is_ok());
        d.metrics.push(verdict("trial", Verdict::Pass));
        assert!(Regression::validate(&ctx, &d).is_err());
        d.metrics = vec![verdict("other", Verdict::Pass)];
        assert!(Regression::validate(&ctx, &d).is_err());
    }

    #[test]
    fn statistic_names_and_foreign_metric_names_are_bounded_in_errors() {
        let ctx = Regression::trial_context("p", vec![]);
        let mut m = verdict("trial", Verdict::Pass);
        m.statistics = vec![crate::decision::Metric {
            name: "s".repeat(1 << 20),
            value: 1.0,
        }];
        let d = RegressionDecision {
            overall: Verdict::Pass,
            reason: String::new(),
            metrics: vec![m],
        };
        let e = Regression::validate(&ctx, &d).expect_err("long name");
        assert!(e.contains("a name of 1048576 bytes; at most 64"), "{e}");
        let d = RegressionDecision {
            overall: Verdict::Pass,
            reason: String::new(),
            metrics: vec![verdict(&"m".repeat(1 << 20), Verdict::Pass)],
        };
        let e = Regression::validate(&ctx, &d).expect_err("foreign metric");
        assert!(e.len() < 200, "{} bytes", e.len());
    }

    #[test]
    fn pass_overall_with_a_failing_metric_is_invalid() {
        let ctx = Regression::trial_context("p", vec![]);
        let d = RegressionDecision {
            overall: Verdict::Pass,
            reason: String::new(),
            metrics: vec![verdict("trial", Verdict::Inconclusive)],
        };
        assert!(Regression::validate(&ctx, &d).is_err());
    }

    #[test]
    fn fail_safe_is_inconclusive_for_every_metric() {
        let ctx = Regression::trial_context("p", vec![]);
        let d = Regression::fail_safe(RegressionFailSafe::Inconclusive, &ctx, "trap");
        assert_eq!(d.overall, Verdict::Inconclusive);
        assert!(Regression::validate(&ctx, &d).is_ok());
    }
}
