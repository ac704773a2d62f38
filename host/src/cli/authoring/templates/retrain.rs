//! `{{name}}`: trains once `min_new_samples` new verified samples arrived.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;
use sluice_policy_sdk::{Description, ParamSpec, ParamValue, Params, RetrainContext, RetrainDecision};

/// What the policy is and which parameters it takes.
pub fn describe() -> Description {
    Description {
        name: "{{name}}".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Train once enough new verified samples arrived; never while a run is active.".into(),
        params: vec![ParamSpec::optional(
            "min_new_samples",
            ParamValue::Integer(100),
            "New verified samples that trigger training (≥ 1).",
        )],
    }
}

/// Checks what the types cannot.
pub fn validate(params: &Params) -> Vec<String> {
    let n: i64 = params.get_or("min_new_samples", 100);
    if n < 1 { vec![format!("min_new_samples must be at least 1, got {n}")] } else { vec![] }
}

/// The decision.
pub fn decide(ctx: &RetrainContext) -> RetrainDecision {
    let need: u64 = ctx.param_or("min_new_samples", 100);
    if ctx.run_active {
        return RetrainDecision::Wait("a training run is already active".into());
    }
    if ctx.new_samples >= need {
        return RetrainDecision::Train { reason: format!("{} new samples ≥ {need}", ctx.new_samples), args: vec![] };
    }
    RetrainDecision::Wait(format!("{} new samples < {need}", ctx.new_samples))
}

sluice_policy_sdk::export_retrain!(describe: describe, decide: decide, validate: validate);
