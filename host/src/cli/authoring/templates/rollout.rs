//! `{{name}}`: walks the candidate through `steps`; rolls back on regression.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;
use sluice_policy_sdk::{Description, ParamSpec, ParamValue, Params, RolloutContext, RolloutDecision, Verdict};

/// What the policy is and which parameters it takes.
pub fn describe() -> Description {
    Description {
        name: "{{name}}".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Advance through the steps on pass, hold otherwise (bounded), roll back on regression.".into(),
        params: vec![
            ParamSpec::optional("steps", ParamValue::IntegerList(vec![10, 50, 100]), "Candidate weights in %, increasing, ending at 100."),
            ParamSpec::optional("max_holds", ParamValue::Integer(5), "Holds in a row at one step before rolling back."),
        ],
    }
}

/// Checks what the types cannot.
pub fn validate(params: &Params) -> Vec<String> {
    let steps: Vec<i64> = params.get_or("steps", vec![10, 50, 100]);
    let ok = steps.first().is_some_and(|s| *s > 0) && steps.last() == Some(&100) && steps.windows(2).all(|p| p[0] < p[1]);
    if ok { vec![] } else { vec![format!("steps must increase strictly from above 0 to 100, got {steps:?}")] }
}

/// The decision.
pub fn decide(ctx: &RolloutContext) -> RolloutDecision {
    let steps: Vec<i64> = ctx.param_or("steps", vec![10, 50, 100]);
    let max_holds: u32 = ctx.param_or("max_holds", 5);
    let weight = i64::from(ctx.current_weight);
    let to_u8 = |w: i64| u8::try_from(w).unwrap_or(100);
    if ctx.verdict == Some(Verdict::Regressed) {
        return RolloutDecision::Rollback(format!("regressed at {weight}%"));
    }
    if weight == 0 {
        let first = steps.first().copied().unwrap_or(100);
        return RolloutDecision::Advance { weight: to_u8(first), reason: format!("start at {first}%") };
    }
    if ctx.verdict == Some(Verdict::Pass) {
        return match steps.iter().find(|s| **s > weight) {
            Some(next) => RolloutDecision::Advance { weight: to_u8(*next), reason: format!("pass at {weight}%") },
            None => RolloutDecision::Complete("pass at 100%".into()),
        };
    }
    if ctx.holds_at_step >= max_holds {
        return RolloutDecision::Rollback(format!("no verdict after {} holds at {weight}%", ctx.holds_at_step));
    }
    RolloutDecision::Hold(format!("waiting for a verdict at {weight}%"))
}

sluice_policy_sdk::export_rollout!(describe: describe, decide: decide, validate: validate);
