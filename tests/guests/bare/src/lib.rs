//! A `no_std` retrain policy whose `action` parameter exercises the SDK's `no_std`
//! runtime: `none` behaves, `panic` panics (the message must reach the host), `big`
//! allocates 8 MiB (memory must grow correctly), `hoard` allocates without bound (the
//! host's memory cap must stop it).

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;
use sluice_policy_sdk::{Description, ParamSpec, ParamValue, RetrainContext, RetrainDecision};

/// Self-description.
pub fn describe() -> Description {
    Description {
        name: "bare".into(),
        version: "0.1.0".into(),
        summary: "Exercises the no_std runtime.".into(),
        params: vec![ParamSpec::optional(
            "action",
            ParamValue::Text("none".into()),
            "none | panic | big | hoard",
        )],
    }
}

/// The decision: the action.
pub fn decide(ctx: &RetrainContext) -> RetrainDecision {
    let action: String = ctx.param_or("action", "none".into());
    match action.as_str() {
        "panic" => panic!(
            "bare guest panicked on purpose with {} samples",
            ctx.new_samples
        ),
        "big" => {
            let block: Vec<u64> = (0..(1u64 << 20)).collect();
            let sum: u64 = block.iter().sum();
            RetrainDecision::Wait(format!("sum {sum} over {} values", block.len()))
        }
        "hoard" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(core::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        _ => RetrainDecision::Wait("behaving".into()),
    }
}

sluice_policy_sdk::export_retrain!(describe: describe, decide: decide);
