//! `stat-regression` — the stock regression policy.
//!
//! Per metric: any NaN/infinite sample makes the metric inconclusive (the data source
//! is broken; a missing value is not a zero). Outliers are filtered (IQR or MAD), then
//! fewer than `min_samples` on either side is inconclusive. Otherwise a one-sided test
//! (Welch's t or Mann–Whitney U) looks for the canary being worse in the metric's bad
//! direction: `regressed` when p < `alpha` and |Cohen's d| ≥ `min_effect`, else `pass`.
//! Overall: any regressed → regressed; else any inconclusive → inconclusive; else pass.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;

use sluice_policy_sdk::fixed;
use sluice_policy_sdk::stats::{self, Alternative, OutlierFilter, TestKind};
use sluice_policy_sdk::{
    Description, Direction, Metric, MetricVerdict, MetricWindow, ParamSpec, ParamValue, Params,
    RegressionContext, RegressionDecision, Verdict,
};

/// The policy's self-description.
pub fn describe() -> Description {
    Description {
        name: "stat-regression".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Canary vs baseline per metric: outlier filter, one-sided test in the bad \
                  direction, effect-size floor; too little or NaN data is inconclusive."
            .into(),
        params: vec![
            ParamSpec::optional(
                "alpha",
                ParamValue::Float(0.05),
                "Significance level of the one-sided test, in (0, 1).",
            ),
            ParamSpec::optional(
                "min_samples",
                ParamValue::Integer(30),
                "Fewest samples (after outlier filtering) on each side for a verdict.",
            ),
            ParamSpec::optional(
                "min_effect",
                ParamValue::Float(0.2),
                "Smallest |Cohen's d| that counts as a regression.",
            ),
            ParamSpec::optional(
                "outlier_filter",
                ParamValue::Text("iqr".into()),
                "`iqr` (Tukey fences, k = 1.5), `mad` (robust z ≤ 3.5) or `none`.",
            ),
            ParamSpec::optional(
                "test",
                ParamValue::Text("welch".into()),
                "`welch` (Welch's t-test) or `mann-whitney` (Mann-Whitney U).",
            ),
        ],
    }
}

/// Checks ranges and enumerations.
pub fn validate(params: &Params) -> Vec<String> {
    let mut problems = Vec::new();
    let alpha: f64 = params.get_or("alpha", 0.05);
    if !(alpha > 0.0 && alpha < 1.0) {
        problems.push(format!("alpha must be in (0, 1), got {alpha}"));
    }
    let min_samples: i64 = params.get_or("min_samples", 30);
    if min_samples < 2 {
        problems.push(format!("min_samples must be at least 2, got {min_samples}"));
    }
    let min_effect: f64 = params.get_or("min_effect", 0.2);
    if !(min_effect >= 0.0 && min_effect.is_finite()) {
        problems.push(format!(
            "min_effect must be a finite number ≥ 0, got {min_effect}"
        ));
    }
    let filter: String = params.get_or("outlier_filter", "iqr".into());
    if !matches!(filter.as_str(), "iqr" | "mad" | "none") {
        problems.push(format!(
            "outlier_filter must be iqr, mad or none, got `{filter}`"
        ));
    }
    let test: String = params.get_or("test", "welch".into());
    if !matches!(test.as_str(), "welch" | "mann-whitney") {
        problems.push(format!("test must be welch or mann-whitney, got `{test}`"));
    }
    problems
}

struct Settings {
    alpha: f64,
    min_samples: u32,
    min_effect: f64,
    filter: OutlierFilter,
    test: TestKind,
}

fn judge(w: &MetricWindow, s: &Settings) -> MetricVerdict {
    let verdict = |v, reason: String, statistics| MetricVerdict {
        name: w.name.clone(),
        verdict: v,
        reason,
        statistics,
    };
    let bad_b = w.baseline.iter().filter(|x| !x.is_finite()).count();
    let bad_c = w.canary.iter().filter(|x| !x.is_finite()).count();
    if bad_b + bad_c > 0 {
        return verdict(
            Verdict::Inconclusive,
            format!("{bad_b} baseline and {bad_c} canary samples are NaN or infinite"),
            vec![],
        );
    }
    // "Worse" is lower for higher-is-better metrics, higher for lower-is-better ones.
    let alternative = match w.direction {
        Direction::HigherIsBetter => Alternative::Less,
        Direction::LowerIsBetter => Alternative::Greater,
    };
    // One host call: filter, summaries, test and effect size of canary against baseline.
    let c = stats::compare(&w.canary, &w.baseline, s.filter, s.test, alternative);
    let (sc, sb) = (c.a, c.b);
    let removed = f64::from(c.outliers_a) + f64::from(c.outliers_b);
    let mut statistics = vec![
        Metric::new("n_baseline", f64::from(sb.n)),
        Metric::new("n_canary", f64::from(sc.n)),
        Metric::new("outliers_removed", removed),
        Metric::new("mean_baseline", sb.mean),
        Metric::new("mean_canary", sc.mean),
    ];
    if sb.n < s.min_samples || sc.n < s.min_samples {
        return verdict(
            Verdict::Inconclusive,
            format!(
                "too few samples: {} baseline, {} canary; need {} each",
                sb.n, sc.n, s.min_samples
            ),
            statistics,
        );
    }
    let worse = match w.direction {
        Direction::HigherIsBetter => sc.mean < sb.mean,
        Direction::LowerIsBetter => sc.mean > sb.mean,
    };
    if sb.sd == 0.0 && sc.sd == 0.0 {
        let v = if worse {
            Verdict::Regressed
        } else {
            Verdict::Pass
        };
        return verdict(
            v,
            format!(
                "both windows are constant: baseline {}, canary {}",
                sb.mean, sc.mean
            ),
            statistics,
        );
    }
    let (result, d) = (c.significance, c.cohens_d);
    statistics.push(Metric::new("statistic", result.statistic));
    statistics.push(Metric::new("p_value", result.p_value));
    statistics.push(Metric::new("cohens_d", d));
    if result.p_value.is_nan() {
        return verdict(
            Verdict::Inconclusive,
            "the test could not be computed".into(),
            statistics,
        );
    }
    if result.p_value < s.alpha && d.abs() >= s.min_effect {
        verdict(
            Verdict::Regressed,
            format!(
                "canary worse: p = {} < alpha {}, |d| = {} ≥ {}",
                fixed(result.p_value, 4),
                s.alpha,
                fixed(d.abs(), 3),
                s.min_effect
            ),
            statistics,
        )
    } else {
        verdict(
            Verdict::Pass,
            format!(
                "no significant regression: p = {} (alpha {}), |d| = {} (min {})",
                fixed(result.p_value, 4),
                s.alpha,
                fixed(d.abs(), 3),
                s.min_effect
            ),
            statistics,
        )
    }
}

/// The decision.
pub fn decide(ctx: &RegressionContext) -> RegressionDecision {
    let s = Settings {
        alpha: ctx.param_or("alpha", 0.05),
        min_samples: u32::try_from(ctx.param_or::<i64>("min_samples", 30).max(2))
            .unwrap_or(u32::MAX),
        min_effect: ctx.param_or("min_effect", 0.2),
        filter: match ctx
            .param_or::<String>("outlier_filter", "iqr".into())
            .as_str()
        {
            "iqr" => OutlierFilter::Iqr(1.5),
            "mad" => OutlierFilter::Mad(3.5),
            _ => OutlierFilter::None,
        },
        test: if ctx.param_or::<String>("test", "welch".into()) == "mann-whitney" {
            TestKind::MannWhitney
        } else {
            TestKind::Welch
        },
    };
    let metrics: Vec<MetricVerdict> = ctx.metrics.iter().map(|w| judge(w, &s)).collect();
    let named = |v: Verdict| -> Vec<&str> {
        metrics
            .iter()
            .filter(|m| m.verdict == v)
            .map(|m| m.name.as_str())
            .collect()
    };
    let (regressed, inconclusive) = (named(Verdict::Regressed), named(Verdict::Inconclusive));
    let (overall, reason) = if !regressed.is_empty() {
        (
            Verdict::Regressed,
            format!("regressed: {}", regressed.join(", ")),
        )
    } else if metrics.is_empty() {
        (Verdict::Inconclusive, "no metrics to judge".into())
    } else if !inconclusive.is_empty() {
        (
            Verdict::Inconclusive,
            format!("inconclusive: {}", inconclusive.join(", ")),
        )
    } else {
        (Verdict::Pass, format!("all {} metrics pass", metrics.len()))
    };
    RegressionDecision {
        overall,
        reason,
        metrics,
    }
}

sluice_policy_sdk::export_regression!(describe: describe, decide: decide, validate: validate);

#[cfg(test)]
mod tests {
    use super::*;

    fn window(baseline: Vec<f64>, canary: Vec<f64>, direction: Direction) -> RegressionContext {
        RegressionContext {
            pipeline: "p".into(),
            params: Params::new(),
            metrics: vec![MetricWindow {
                name: "latency".into(),
                direction,
                baseline,
                canary,
            }],
        }
    }

    /// Deterministic pseudo-normal samples around `mean`.
    fn series(mean: f64, spread: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| mean + spread * (((i * 7919) % 101) as f64 / 50.0 - 1.0))
            .collect()
    }

    #[test]
    fn clear_regression_in_the_bad_direction_is_detected() {
        let d = decide(&window(
            series(100.0, 5.0, 60),
            series(130.0, 5.0, 60),
            Direction::LowerIsBetter,
        ));
        assert_eq!(d.overall, Verdict::Regressed, "{d:?}");
    }

    #[test]
    fn improvement_is_not_a_regression() {
        let d = decide(&window(
            series(100.0, 5.0, 60),
            series(80.0, 5.0, 60),
            Direction::LowerIsBetter,
        ));
        assert_eq!(d.overall, Verdict::Pass, "{d:?}");
    }

    #[test]
    fn too_few_samples_is_inconclusive_not_pass() {
        let d = decide(&window(
            series(100.0, 5.0, 10),
            series(100.0, 5.0, 10),
            Direction::LowerIsBetter,
        ));
        assert_eq!(d.overall, Verdict::Inconclusive);
        assert!(d.metrics[0].reason.contains("too few samples"));
    }

    #[test]
    fn nan_or_empty_is_inconclusive() {
        let mut canary = series(100.0, 5.0, 60);
        canary[3] = f64::NAN;
        assert_eq!(
            decide(&window(
                series(100.0, 5.0, 60),
                canary,
                Direction::LowerIsBetter
            ))
            .overall,
            Verdict::Inconclusive
        );
        assert_eq!(
            decide(&window(vec![], vec![], Direction::HigherIsBetter)).overall,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn tiny_effects_do_not_regress() {
        let mut c = window(
            series(100.0, 5.0, 2000),
            series(100.4, 5.0, 2000),
            Direction::LowerIsBetter,
        );
        c.params = Params::new().with("min_effect", ParamValue::Float(0.5));
        assert_eq!(decide(&c).overall, Verdict::Pass);
    }

    #[test]
    fn validation_rejects_bad_values() {
        let p = Params::new()
            .with("alpha", ParamValue::Float(1.5))
            .with("test", ParamValue::Text("chi".into()));
        assert_eq!(validate(&p).len(), 2);
    }
}
