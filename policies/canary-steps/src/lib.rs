//! `canary-steps` — the stock rollout policy.
//!
//! Walks the candidate through `steps` (default 10 → 25 → 50 → 100 %). At each step it
//! waits `min_step_time`, then: a `regressed` verdict rolls back at once; `pass`
//! advances to the next weight (or completes at 100); `inconclusive` or no verdict
//! holds — at most `max_holds` times in a row, then rolls back, so a rollout with no
//! usable data never completes on its own.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;

use sluice_policy_sdk::{
    Description, ParamSpec, ParamValue, Params, RolloutContext, RolloutDecision, Verdict,
};

const DEFAULT_STEPS: [i64; 4] = [10, 25, 50, 100];

/// The policy's self-description.
pub fn describe() -> Description {
    Description {
        name: "canary-steps".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Advance through traffic weights on pass, hold on inconclusive (bounded), \
                  roll back on regression."
            .into(),
        params: vec![
            ParamSpec::optional(
                "steps",
                ParamValue::IntegerList(DEFAULT_STEPS.to_vec()),
                "Candidate traffic weights in %, strictly increasing, ending at 100.",
            ),
            ParamSpec::optional(
                "min_step_time",
                ParamValue::Duration(60),
                "Least time at a weight before it may advance.",
            ),
            ParamSpec::optional(
                "max_holds",
                ParamValue::Integer(10),
                "Holds in a row at one step (no verdict or inconclusive) before rolling back.",
            ),
        ],
    }
}

/// Checks the steps and the hold limit.
pub fn validate(params: &Params) -> Vec<String> {
    let mut problems = Vec::new();
    let steps: Vec<i64> = params.get_or("steps", DEFAULT_STEPS.to_vec());
    if steps.is_empty() {
        problems.push("steps must not be empty".to_owned());
    }
    if steps.iter().any(|w| !(1..=100).contains(w)) {
        problems.push(format!(
            "every step must be between 1 and 100, got {steps:?}"
        ));
    }
    if steps.windows(2).any(|p| p[0] >= p[1]) {
        problems.push(format!("steps must increase strictly, got {steps:?}"));
    }
    if steps.last() != Some(&100) {
        problems.push(format!("the last step must be 100, got {steps:?}"));
    }
    if params.get_or::<i64>("max_holds", 10) < 0 {
        problems.push("max_holds must not be negative".to_owned());
    }
    problems
}

/// The decision.
pub fn decide(ctx: &RolloutContext) -> RolloutDecision {
    let steps: Vec<i64> = ctx.param_or("steps", DEFAULT_STEPS.to_vec());
    let min_step_time: u64 = ctx.param_or("min_step_time", 60);
    let max_holds: u32 = ctx.param_or("max_holds", 10);
    let weight = i64::from(ctx.current_weight);

    if ctx.verdict == Some(Verdict::Regressed) {
        return RolloutDecision::Rollback(format!(
            "canary {} regressed at {weight}%",
            ctx.candidate_version
        ));
    }
    // Before the first step nothing has been measured: start at the first weight.
    if weight == 0
        && let Some(first) = steps.first().and_then(|w| u8::try_from(*w).ok())
    {
        return RolloutDecision::Advance {
            weight: first,
            reason: format!("start the rollout at {first}%"),
        };
    }
    if ctx.seconds_at_step < min_step_time {
        return RolloutDecision::Hold(format!(
            "{}s at {weight}%, less than min_step_time {min_step_time}s",
            ctx.seconds_at_step
        ));
    }
    match ctx.verdict {
        Some(Verdict::Pass) => match steps.iter().find(|w| **w > weight) {
            Some(next) => RolloutDecision::Advance {
                weight: u8::try_from(*next).unwrap_or(100),
                reason: format!("pass at {weight}%; advancing to {next}%"),
            },
            None => RolloutDecision::Complete(format!("pass at {weight}%; rollout complete")),
        },
        _ if ctx.holds_at_step >= max_holds => RolloutDecision::Rollback(format!(
            "no conclusive analysis after {} holds at {weight}% (max_holds {max_holds})",
            ctx.holds_at_step
        )),
        Some(_) => RolloutDecision::Hold(format!("inconclusive at {weight}%; holding")),
        None => RolloutDecision::Hold(format!("no analysis yet at {weight}%")),
    }
}

sluice_policy_sdk::export_rollout!(describe: describe, decide: decide, validate: validate);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(weight: u8, verdict: Option<Verdict>, seconds: u64, holds: u32) -> RolloutContext {
        RolloutContext {
            pipeline: "p".into(),
            stable_version: "v1".into(),
            candidate_version: "v2".into(),
            current_weight: weight,
            seconds_at_step: seconds,
            holds_at_step: holds,
            verdict,
            ..RolloutContext::default()
        }
    }

    #[test]
    fn walks_the_default_steps_and_completes() {
        assert!(matches!(
            decide(&ctx(0, None, 0, 0)),
            RolloutDecision::Advance { weight: 10, .. }
        ));
        for (from, to) in [(10, 25), (25, 50), (50, 100)] {
            let d = decide(&ctx(from, Some(Verdict::Pass), 60, 0));
            assert!(
                matches!(d, RolloutDecision::Advance { weight, .. } if weight == to),
                "{d:?}"
            );
        }
        assert!(matches!(
            decide(&ctx(100, Some(Verdict::Pass), 60, 0)),
            RolloutDecision::Complete(_)
        ));
    }

    #[test]
    fn regression_rolls_back_even_before_min_step_time() {
        assert!(matches!(
            decide(&ctx(25, Some(Verdict::Regressed), 1, 0)),
            RolloutDecision::Rollback(_)
        ));
    }

    #[test]
    fn waits_min_step_time() {
        assert!(matches!(
            decide(&ctx(25, Some(Verdict::Pass), 59, 0)),
            RolloutDecision::Hold(_)
        ));
    }

    #[test]
    fn inconclusive_holds_then_rolls_back() {
        assert!(matches!(
            decide(&ctx(25, Some(Verdict::Inconclusive), 60, 9)),
            RolloutDecision::Hold(_)
        ));
        assert!(matches!(
            decide(&ctx(25, Some(Verdict::Inconclusive), 60, 10)),
            RolloutDecision::Rollback(_)
        ));
        assert!(matches!(
            decide(&ctx(25, None, 600, 10)),
            RolloutDecision::Rollback(_)
        ));
    }

    #[test]
    fn validation_catches_bad_steps() {
        let p = Params::new().with("steps", ParamValue::IntegerList(vec![50, 25, 90]));
        let problems = validate(&p);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
