//! Conversions between the generated WIT bindings and the SDK's plain types, and the
//! entry points the `export_*!` macros call. WebAssembly builds only.

use alloc::string::String;
use alloc::vec::Vec;

use crate::bindings::sluice::policy::types as wit;
use crate::types::{
    Description, Metric, ModelReport, ParamSpec, ParamType, ParamValue, Params, Verdict,
};

fn param_type(t: ParamType) -> wit::ParamType {
    match t {
        ParamType::Boolean => wit::ParamType::Boolean,
        ParamType::Integer => wit::ParamType::Integer,
        ParamType::Float => wit::ParamType::Float,
        ParamType::Text => wit::ParamType::Text,
        ParamType::Duration => wit::ParamType::Duration,
        ParamType::IntegerList => wit::ParamType::IntegerList,
        ParamType::FloatList => wit::ParamType::FloatList,
        ParamType::TextList => wit::ParamType::TextList,
    }
}

fn param_value_to_wit(v: ParamValue) -> wit::ParamValue {
    match v {
        ParamValue::Boolean(b) => wit::ParamValue::Boolean(b),
        ParamValue::Integer(i) => wit::ParamValue::Integer(i),
        ParamValue::Float(x) => wit::ParamValue::Float(x),
        ParamValue::Text(s) => wit::ParamValue::Text(s),
        ParamValue::Duration(s) => wit::ParamValue::Duration(s),
        ParamValue::IntegerList(l) => wit::ParamValue::IntegerList(l),
        ParamValue::FloatList(l) => wit::ParamValue::FloatList(l),
        ParamValue::TextList(l) => wit::ParamValue::TextList(l),
    }
}

fn param_value_from_wit(v: wit::ParamValue) -> ParamValue {
    match v {
        wit::ParamValue::Boolean(b) => ParamValue::Boolean(b),
        wit::ParamValue::Integer(i) => ParamValue::Integer(i),
        wit::ParamValue::Float(x) => ParamValue::Float(x),
        wit::ParamValue::Text(s) => ParamValue::Text(s),
        wit::ParamValue::Duration(s) => ParamValue::Duration(s),
        wit::ParamValue::IntegerList(l) => ParamValue::IntegerList(l),
        wit::ParamValue::FloatList(l) => ParamValue::FloatList(l),
        wit::ParamValue::TextList(l) => ParamValue::TextList(l),
    }
}

/// Parameters received from the host.
pub fn params(p: Vec<wit::Param>) -> Params {
    Params::from_pairs(
        p.into_iter()
            .map(|p| (p.name, param_value_from_wit(p.value)))
            .collect(),
    )
}

/// A model report received from the host.
pub fn report(r: wit::ModelReport) -> ModelReport {
    ModelReport {
        version: r.version,
        metrics: r
            .metrics
            .into_iter()
            .map(|m| Metric::new(m.name, m.value))
            .collect(),
    }
}

/// A metric sent to the host.
pub fn metric_to_wit(m: Metric) -> wit::Metric {
    wit::Metric {
        name: m.name,
        value: m.value,
    }
}

/// A verdict received from the host.
pub fn verdict(v: wit::Verdict) -> Verdict {
    match v {
        wit::Verdict::Pass => Verdict::Pass,
        wit::Verdict::Regressed => Verdict::Regressed,
        wit::Verdict::Inconclusive => Verdict::Inconclusive,
    }
}

/// A verdict sent to the host.
pub fn verdict_to_wit(v: Verdict) -> wit::Verdict {
    match v {
        Verdict::Pass => wit::Verdict::Pass,
        Verdict::Regressed => wit::Verdict::Regressed,
        Verdict::Inconclusive => wit::Verdict::Inconclusive,
    }
}

/// The self-description sent to the host.
pub fn describe(d: Description) -> wit::Description {
    wit::Description {
        name: d.name,
        version: d.version,
        summary: d.summary,
        params: d
            .params
            .into_iter()
            .map(|p: ParamSpec| wit::ParamSpec {
                name: p.name,
                kind: param_type(p.kind),
                default: p.default.map(param_value_to_wit),
                doc: p.doc,
            })
            .collect(),
    }
}

/// Runs the policy's parameter validation on the host's parameter set.
pub fn validate(p: Vec<wit::Param>, check: fn(&Params) -> Vec<String>) -> Vec<String> {
    check(&params(p))
}

#[cfg(feature = "retrain")]
/// Calls a retrain `decide` function with SDK types.
pub fn decide_retrain(
    ctx: crate::bindings::exports::sluice::policy::decide_retrain::Context,
    decide: fn(&crate::RetrainContext) -> crate::RetrainDecision,
) -> crate::bindings::exports::sluice::policy::decide_retrain::Decision {
    use crate::bindings::exports::sluice::policy::decide_retrain as w;
    let ctx = crate::RetrainContext {
        pipeline: ctx.pipeline,
        params: params(ctx.params),
        new_samples: ctx.new_samples,
        total_samples: ctx.total_samples,
        seconds_since_last_training: ctx.seconds_since_last_training,
        last_outcome: ctx.last_outcome.map(|o| match o {
            w::TrainingOutcome::Promoted => crate::TrainingOutcome::Promoted,
            w::TrainingOutcome::Rejected => crate::TrainingOutcome::Rejected,
            w::TrainingOutcome::Failed => crate::TrainingOutcome::Failed,
        }),
        run_active: ctx.run_active,
        production: ctx.production.map(report),
    };
    match decide(&ctx) {
        crate::RetrainDecision::Wait(reason) => w::Decision::Wait(reason),
        crate::RetrainDecision::Train { reason, args } => {
            w::Decision::Train(w::TrainRequest { reason, args })
        }
    }
}

#[cfg(feature = "promotion")]
/// Calls a promotion `decide` function with SDK types.
pub fn decide_promotion(
    ctx: crate::bindings::exports::sluice::policy::decide_promotion::Context,
    decide: fn(&crate::PromotionContext) -> crate::PromotionDecision,
) -> crate::bindings::exports::sluice::policy::decide_promotion::Decision {
    use crate::bindings::exports::sluice::policy::decide_promotion as w;
    let ctx = crate::PromotionContext {
        pipeline: ctx.pipeline,
        params: params(ctx.params),
        candidate: report(ctx.candidate),
        production: ctx.production.map(report),
    };
    match decide(&ctx) {
        crate::PromotionDecision::Promote(r) => w::Decision::Promote(r),
        crate::PromotionDecision::Reject(r) => w::Decision::Reject(r),
        crate::PromotionDecision::AwaitApproval(r) => w::Decision::AwaitApproval(r),
    }
}

#[cfg(feature = "regression")]
/// Calls a regression `decide` function with SDK types.
pub fn decide_regression(
    ctx: crate::bindings::exports::sluice::policy::decide_regression::Context,
    decide: fn(&crate::RegressionContext) -> crate::RegressionDecision,
) -> crate::bindings::exports::sluice::policy::decide_regression::Decision {
    use crate::bindings::exports::sluice::policy::decide_regression as w;
    let ctx = crate::RegressionContext {
        pipeline: ctx.pipeline,
        params: params(ctx.params),
        metrics: ctx
            .metrics
            .into_iter()
            .map(|m| crate::MetricWindow {
                name: m.name,
                direction: match m.direction {
                    w::Direction::HigherIsBetter => crate::Direction::HigherIsBetter,
                    w::Direction::LowerIsBetter => crate::Direction::LowerIsBetter,
                },
                baseline: m.baseline,
                canary: m.canary,
            })
            .collect(),
    };
    let d = decide(&ctx);
    w::Decision {
        overall: verdict_to_wit(d.overall),
        reason: d.reason,
        metrics: d
            .metrics
            .into_iter()
            .map(|m| w::MetricVerdict {
                name: m.name,
                verdict: verdict_to_wit(m.verdict),
                reason: m.reason,
                statistics: m.statistics.into_iter().map(metric_to_wit).collect(),
            })
            .collect(),
    }
}

#[cfg(feature = "rollout")]
/// Calls a rollout `decide` function with SDK types.
pub fn decide_rollout(
    ctx: crate::bindings::exports::sluice::policy::decide_rollout::Context,
    decide: fn(&crate::RolloutContext) -> crate::RolloutDecision,
) -> crate::bindings::exports::sluice::policy::decide_rollout::Decision {
    use crate::bindings::exports::sluice::policy::decide_rollout as w;
    let ctx = crate::RolloutContext {
        pipeline: ctx.pipeline,
        params: params(ctx.params),
        stable_version: ctx.stable_version,
        candidate_version: ctx.candidate_version,
        current_weight: ctx.current_weight,
        step_index: ctx.step_index,
        seconds_at_step: ctx.seconds_at_step,
        holds_at_step: ctx.holds_at_step,
        verdict: ctx.verdict.map(verdict),
    };
    match decide(&ctx) {
        crate::RolloutDecision::Advance { weight, reason } => {
            w::Decision::Advance(w::AdvanceTo { weight, reason })
        }
        crate::RolloutDecision::Hold(r) => w::Decision::Hold(r),
        crate::RolloutDecision::Rollback(r) => w::Decision::Rollback(r),
        crate::RolloutDecision::Complete(r) => w::Decision::Complete(r),
    }
}
