//! `{{name}}`: a canary regresses when a one-sided Welch test finds it worse.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;
use sluice_policy_sdk::stats::{self, Alternative, OutlierFilter, TestKind};
use sluice_policy_sdk::{
    Description, Direction, Metric, MetricVerdict, ParamSpec, ParamValue, RegressionContext,
    RegressionDecision, Verdict, fixed,
};

/// What the policy is and which parameters it takes.
pub fn describe() -> Description {
    Description {
        name: "{{name}}".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Per metric: one-sided Welch test in the bad direction; too few samples is inconclusive.".into(),
        params: vec![
            ParamSpec::optional("alpha", ParamValue::Float(0.05), "Significance level, in (0, 1)."),
            ParamSpec::optional("min_samples", ParamValue::Integer(5), "Fewest samples on each side for a verdict."),
        ],
    }
}

/// The decision.
pub fn decide(ctx: &RegressionContext) -> RegressionDecision {
    let alpha: f64 = ctx.param_or("alpha", 0.05);
    let need: u32 = ctx.param_or("min_samples", 5);
    let verdicts: Vec<MetricVerdict> = ctx
        .metrics
        .iter()
        .map(|w| {
            // "Worse" is lower for higher-is-better metrics: test canary < baseline.
            let worse = match w.direction {
                Direction::HigherIsBetter => Alternative::Less,
                Direction::LowerIsBetter => Alternative::Greater,
            };
            let c = stats::compare(&w.canary, &w.baseline, OutlierFilter::Iqr(1.5), TestKind::Welch, worse);
            let p = c.significance.p_value;
            let statistics = vec![
                Metric::new("n_baseline", f64::from(c.b.n)),
                Metric::new("n_canary", f64::from(c.a.n)),
                Metric::new("p_value", p),
            ];
            let (verdict, reason) = if c.a.n.min(c.b.n) < need {
                (Verdict::Inconclusive, format!("fewer than {need} samples"))
            } else if p < alpha {
                (Verdict::Regressed, format!("p = {} < {alpha}", fixed(p, 4)))
            } else {
                (Verdict::Pass, format!("p = {}", fixed(p, 4)))
            };
            MetricVerdict { name: w.name.clone(), verdict, reason, statistics }
        })
        .collect();
    for (outcome, word) in [(Verdict::Regressed, "regressed"), (Verdict::Inconclusive, "inconclusive")] {
        let names: Vec<&str> = verdicts.iter().filter(|v| v.verdict == outcome).map(|v| v.name.as_str()).collect();
        if !names.is_empty() {
            let reason = format!("{word}: {}", names.join(", "));
            return RegressionDecision { overall: outcome, reason, metrics: verdicts };
        }
    }
    if verdicts.is_empty() {
        return RegressionDecision { overall: Verdict::Inconclusive, reason: "no metrics to judge".into(), metrics: verdicts };
    }
    let reason = format!("all {} metrics pass", verdicts.len());
    RegressionDecision { overall: Verdict::Pass, reason, metrics: verdicts }
}

sluice_policy_sdk::export_regression!(describe: describe, decide: decide);
