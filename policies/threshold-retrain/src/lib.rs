//! `threshold-retrain` — the stock retrain policy.
//!
//! Trains when at least `min_new_samples` new verified samples arrived, or when the
//! last training started more than `max_age` ago (and at least one new sample exists).
//! Never while a run is active, and never sooner than `min_interval` after the last
//! training started.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;

use sluice_policy_sdk::{
    Description, ParamSpec, ParamValue, Params, RetrainContext, RetrainDecision,
};

/// Default for `min_new_samples`.
pub const DEFAULT_MIN_NEW_SAMPLES: i64 = 50;
/// Default for `max_age`: 7 days, in seconds.
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 7 * 24 * 3600;
/// Default for `min_interval`: 10 minutes, in seconds.
pub const DEFAULT_MIN_INTERVAL_SECONDS: u64 = 600;

/// The policy's self-description.
pub fn describe() -> Description {
    Description {
        name: "threshold-retrain".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Train when enough new verified samples arrived or the model is too old; \
                  never while a run is active or sooner than min_interval."
            .into(),
        params: vec![
            ParamSpec::optional(
                "min_new_samples",
                ParamValue::Integer(DEFAULT_MIN_NEW_SAMPLES),
                "New verified, unused samples that trigger training (≥ 1).",
            ),
            ParamSpec::optional(
                "max_age",
                ParamValue::Duration(DEFAULT_MAX_AGE_SECONDS),
                "Retrain when the last training started longer ago than this, if any new \
                 sample exists. 0 disables the age trigger.",
            ),
            ParamSpec::optional(
                "min_interval",
                ParamValue::Duration(DEFAULT_MIN_INTERVAL_SECONDS),
                "Least time between the starts of two training runs.",
            ),
        ],
    }
}

/// Checks value ranges the types cannot express.
pub fn validate(params: &Params) -> Vec<String> {
    let mut problems = Vec::new();
    match params.get::<i64>("min_new_samples") {
        Ok(n) if n < 1 => problems.push(format!("min_new_samples must be at least 1, got {n}")),
        Ok(_) => {}
        Err(e) => problems.push(e.to_string()),
    }
    problems
}

/// The decision.
pub fn decide(ctx: &RetrainContext) -> RetrainDecision {
    let min_new = ctx.param_or("min_new_samples", DEFAULT_MIN_NEW_SAMPLES as u64);
    let max_age: u64 = ctx.param_or("max_age", DEFAULT_MAX_AGE_SECONDS);
    let min_interval: u64 = ctx.param_or("min_interval", DEFAULT_MIN_INTERVAL_SECONDS);

    if ctx.run_active {
        return RetrainDecision::Wait("a training run is already active".into());
    }
    if let Some(since) = ctx.seconds_since_last_training
        && since < min_interval
    {
        return RetrainDecision::Wait(format!(
            "last training started {since}s ago, less than min_interval {min_interval}s"
        ));
    }
    if ctx.new_samples >= min_new {
        return train(format!(
            "{} new verified samples ≥ min_new_samples {min_new}",
            ctx.new_samples
        ));
    }
    if let Some(since) = ctx.seconds_since_last_training
        && max_age > 0
        && since >= max_age
        && ctx.new_samples > 0
    {
        return train(format!(
            "model is {since}s old ≥ max_age {max_age}s and {} new samples exist",
            ctx.new_samples
        ));
    }
    RetrainDecision::Wait(format!(
        "{} new verified samples < min_new_samples {min_new}",
        ctx.new_samples
    ))
}

fn train(reason: String) -> RetrainDecision {
    RetrainDecision::Train {
        reason,
        args: Vec::new(),
    }
}

sluice_policy_sdk::export_retrain!(describe: describe, decide: decide, validate: validate);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(new_samples: u64) -> RetrainContext {
        RetrainContext {
            pipeline: "p".into(),
            new_samples,
            ..RetrainContext::default()
        }
    }

    #[test]
    fn waits_below_threshold_and_trains_at_it() {
        assert!(matches!(decide(&ctx(49)), RetrainDecision::Wait(_)));
        assert!(matches!(decide(&ctx(50)), RetrainDecision::Train { .. }));
    }

    #[test]
    fn configured_threshold_wins_over_default() {
        let mut c = ctx(10);
        c.params = Params::new().with("min_new_samples", ParamValue::Integer(10));
        assert!(matches!(decide(&c), RetrainDecision::Train { .. }));
    }

    #[test]
    fn never_while_a_run_is_active() {
        let mut c = ctx(1000);
        c.run_active = true;
        assert_eq!(
            decide(&c),
            RetrainDecision::Wait("a training run is already active".into())
        );
    }

    #[test]
    fn respects_min_interval() {
        let mut c = ctx(1000);
        c.seconds_since_last_training = Some(599);
        assert!(matches!(decide(&c), RetrainDecision::Wait(_)));
        c.seconds_since_last_training = Some(600);
        assert!(matches!(decide(&c), RetrainDecision::Train { .. }));
    }

    #[test]
    fn old_model_with_new_data_retrains() {
        let mut c = ctx(3);
        c.seconds_since_last_training = Some(DEFAULT_MAX_AGE_SECONDS);
        assert!(matches!(decide(&c), RetrainDecision::Train { .. }));
        c.new_samples = 0;
        assert!(matches!(decide(&c), RetrainDecision::Wait(_)));
        c.new_samples = 3;
        c.params = Params::new().with("max_age", ParamValue::Duration(0));
        assert!(matches!(decide(&c), RetrainDecision::Wait(_)));
    }

    #[test]
    fn validation_rejects_zero_threshold() {
        let p = Params::new().with("min_new_samples", ParamValue::Integer(0));
        assert_eq!(
            validate(&p),
            vec!["min_new_samples must be at least 1, got 0"]
        );
    }
}
