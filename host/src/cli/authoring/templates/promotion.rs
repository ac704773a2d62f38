//! `{{name}}`: promotes a candidate whose accuracy reaches `min_accuracy`.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;
use sluice_policy_sdk::{Description, ParamSpec, ParamValue, Params, PromotionContext, PromotionDecision};

/// What the policy is and which parameters it takes.
pub fn describe() -> Description {
    Description {
        name: "{{name}}".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Promote when the candidate's accuracy reaches min_accuracy; a missing metric rejects.".into(),
        params: vec![ParamSpec::optional(
            "min_accuracy",
            ParamValue::Float(0.9),
            "The least accuracy a candidate needs, in [0, 1].",
        )],
    }
}

/// Checks what the types cannot.
pub fn validate(params: &Params) -> Vec<String> {
    let floor: f64 = params.get_or("min_accuracy", 0.9);
    if (0.0..=1.0).contains(&floor) { vec![] } else { vec![format!("min_accuracy must be in [0, 1], got {floor}")] }
}

/// The decision.
pub fn decide(ctx: &PromotionContext) -> PromotionDecision {
    let floor: f64 = ctx.param_or("min_accuracy", 0.9);
    let Some(accuracy) = ctx.candidate.metric("accuracy").filter(|v| v.is_finite()) else {
        return PromotionDecision::Reject(format!("candidate {} reports no finite accuracy", ctx.candidate.version));
    };
    if accuracy < floor {
        return PromotionDecision::Reject(format!("accuracy {accuracy} is below {floor}"));
    }
    PromotionDecision::Promote(format!("accuracy {accuracy} ≥ {floor}"))
}

sluice_policy_sdk::export_promotion!(describe: describe, decide: decide, validate: validate);
