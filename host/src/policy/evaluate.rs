//! Making one decision: run the policy in its sandbox, check the answer, fall back to
//! the fail-safe on any failure, and produce the record that goes to the audit log.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::bindings::WitPoint;
use super::call::{self, CallStats};
use super::engine::{PolicyEngine, Tier};
use super::error::CallFailure;
use super::limits::Limits;
use super::module::PolicyModule;
use super::sandbox::LogLine;
use crate::decision::{
    AnyContext, AnyDecision, DecisionPoint, Description, Param, ParamError, Point, RawParams,
    resolve_params,
};
use crate::metrics::{Metrics, names};

/// Everything about one decision, for the audit log and `sluice decisions`.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// The pipeline.
    pub pipeline: String,
    /// The decision point.
    pub point: DecisionPoint,
    /// The policy's self-declared name.
    pub policy: String,
    /// The policy's self-declared version.
    pub policy_version: String,
    /// sha256 of the module that decided.
    pub module_sha256: String,
    /// The decision's variant (`train`, `wait`, `promote`, …).
    pub outcome: &'static str,
    /// The full input (context with parameters); JSON only when written.
    pub input: AnyContext,
    /// The decision that was acted on (the fail-safe if the policy failed).
    pub output: AnyDecision,
    /// Why the policy's own answer was not used, if it was not.
    pub failure: Option<CallFailure>,
    /// Fuel consumed (a lower bound when `fuel_exact` is false).
    pub fuel_used: u64,
    /// Whether `fuel_used` is the whole count (see [`CallStats::fuel_exact`]).
    pub fuel_exact: bool,
    /// Wall time in microseconds, including instantiation.
    pub wall_micros: u64,
    /// Which compiler's code decided; `None` for logic compiled into the host
    /// ([`decide_native`]). Fuel counts differ by a few percent between tiers.
    pub tier: Option<Tier>,
    /// Messages the policy logged.
    pub logs: Vec<LogLine>,
    /// When the decision was made (the policy's frozen clock), Unix milliseconds.
    pub decided_at_unix_ms: u64,
}

/// The result of asking a policy.
#[derive(Debug, Clone)]
pub struct Evaluation<P: Point> {
    /// The decision to act on: the policy's, or the fail-safe.
    pub decision: P::Decision,
    /// Why the fail-safe was used, if it was.
    pub failure: Option<CallFailure>,
    /// Fuel, time and logs.
    pub stats: CallStats,
    /// The audit record.
    pub record: DecisionRecord,
}

impl DecisionRecord {
    /// The tier as the audit log stores it: `optimized`, `baseline` or `native`.
    pub fn code_tier(&self) -> &'static str {
        match self.tier {
            Some(Tier::Optimized) => "optimized",
            Some(Tier::Baseline) => "baseline",
            None => "native",
        }
    }
}

/// How one pipeline uses a module at one decision point.
#[derive(Debug, Clone)]
pub struct Binding<P: Point> {
    /// Checked parameters (configured values and defaults).
    pub params: Vec<Param>,
    /// Limits per call.
    pub limits: Limits,
    /// What to answer when the policy fails.
    pub fail_safe: P::FailSafe,
}

impl<P: Point> Binding<P> {
    /// Checks `raw` against `description` and binds the result with default limits
    /// and the default fail-safe (what `sluice policy` and golden cases use).
    ///
    /// # Errors
    /// Parameters that do not fit the description.
    pub fn with_defaults(description: &Description, raw: &RawParams) -> Result<Self, ParamError> {
        Ok(Self {
            params: resolve_params(description, raw)?,
            limits: Limits::default(),
            fail_safe: P::FailSafe::default(),
        })
    }
}

/// Asks `module` for a decision on `ctx`, with `binding`'s parameters and limits, at
/// the frozen time `time`. Never fails: a failing policy yields the fail-safe, and
/// `metrics` counts both outcomes.
pub fn decide<P: WitPoint>(
    engine: &PolicyEngine,
    module: &PolicyModule,
    binding: &Binding<P>,
    mut ctx: P::Context,
    time: SystemTime,
    metrics: &Metrics,
) -> Evaluation<P> {
    *P::params_mut(&mut ctx) = binding.params.clone();
    let seed = call::seed_for(&module.sha256, time);
    let (result, stats) = call::run(engine, module.tier, &binding.limits, time, seed, |store| {
        P::call(&module.pre, store, &ctx)
    });
    let identity = Identity {
        description: &module.description,
        sha256: &module.sha256,
        tier: Some(module.tier),
    };
    conclude(identity, binding, ctx, result, stats, time, metrics)
}

/// The same decision path as [`decide`] — parameters, validation, fail-safe, metrics,
/// audit record — with `logic` compiled into the host instead of a sandboxed module.
/// The benchmarks compare [`decide`] against it to price the sandbox alone; the
/// record names `description`'s policy with the module digest `native`.
pub fn decide_native<P: WitPoint>(
    description: &Description,
    binding: &Binding<P>,
    mut ctx: P::Context,
    time: SystemTime,
    metrics: &Metrics,
    logic: impl FnOnce(&P::Context) -> P::Decision,
) -> Evaluation<P> {
    *P::params_mut(&mut ctx) = binding.params.clone();
    let started = std::time::Instant::now();
    let decision = logic(&ctx);
    let stats = CallStats {
        fuel_used: 0,
        fuel_exact: true,
        wall: started.elapsed(),
        logs: Vec::new(),
        logs_dropped: 0,
        guest_output: String::new(),
    };
    let identity = Identity {
        description,
        sha256: "native",
        tier: None,
    };
    conclude(identity, binding, ctx, Ok(decision), stats, time, metrics)
}

/// Which policy made a decision, for its record.
#[derive(Clone, Copy)]
struct Identity<'a> {
    description: &'a Description,
    sha256: &'a str,
    tier: Option<Tier>,
}

/// Checks the policy's answer, falls back to the fail-safe, counts, logs, and builds
/// the audit record.
fn conclude<P: WitPoint>(
    policy: Identity<'_>,
    binding: &Binding<P>,
    ctx: P::Context,
    result: Result<P::Decision, CallFailure>,
    stats: CallStats,
    time: SystemTime,
    metrics: &Metrics,
) -> Evaluation<P> {
    let result = result.and_then(|d| match P::validate(&ctx, &d) {
        Ok(()) => Ok(d),
        Err(problem) => Err(CallFailure::InvalidDecision { problem }),
    });
    let (decision, failure) = match result {
        Ok(d) => (d, None),
        Err(failure) => {
            let d = P::fail_safe(binding.fail_safe, &ctx, &failure.to_string());
            (d, Some(failure))
        }
    };
    let point = P::POINT.as_str();
    let name = &policy.description.name;
    metrics.inc(
        names::DECISIONS,
        &[("point", point), ("outcome", P::outcome_label(&decision))],
    );
    if let Some(f) = &failure {
        metrics.inc(
            names::POLICY_FAILURES,
            &[("point", point), ("policy", name), ("kind", f.label())],
        );
        tracing::warn!(
            point,
            policy = %name,
            module_sha256 = %policy.sha256,
            kind = f.label(),
            error = %f,
            "policy failed; using the fail-safe decision"
        );
    }
    for line in &stats.logs {
        tracing::info!(point, policy = %name, level = line.level, "policy log: {}", line.message);
    }
    let record = DecisionRecord {
        pipeline: P::pipeline(&ctx).to_owned(),
        point: P::POINT,
        policy: name.clone(),
        policy_version: policy.description.version.clone(),
        module_sha256: policy.sha256.to_owned(),
        outcome: P::outcome_label(&decision),
        input: ctx.into(),
        output: decision.clone().into(),
        failure: failure.clone(),
        fuel_used: stats.fuel_used,
        fuel_exact: stats.fuel_exact,
        wall_micros: u64::try_from(stats.wall.as_micros()).unwrap_or(u64::MAX),
        tier: policy.tier,
        logs: stats.logs.clone(),
        decided_at_unix_ms: u64::try_from(
            time.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX),
    };
    Evaluation {
        decision,
        failure,
        stats,
        record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Rollout, RolloutDecision};

    fn description() -> Description {
        Description {
            name: "steps".into(),
            version: "1".into(),
            summary: "test".into(),
            params: vec![],
        }
    }

    fn binding() -> Binding<Rollout> {
        Binding {
            params: vec![],
            limits: Limits::default(),
            fail_safe: Default::default(),
        }
    }

    #[test]
    fn native_logic_goes_through_the_same_checks_and_record() {
        let metrics = Metrics::new();
        let ctx = Rollout::trial_context("p", vec![]);
        let bad = decide_native::<Rollout>(
            &description(),
            &binding(),
            ctx.clone(),
            SystemTime::now(),
            &metrics,
            |_| RolloutDecision::Advance {
                weight: 101,
                reason: "too far".into(),
            },
        );
        assert!(
            matches!(bad.failure, Some(CallFailure::InvalidDecision { .. })),
            "{:?}",
            bad.failure
        );
        assert!(
            matches!(bad.decision, RolloutDecision::Hold { .. }),
            "{:?}",
            bad.decision
        );
        assert_eq!(bad.record.module_sha256, "native");
        assert_eq!(bad.record.code_tier(), "native");
        assert_eq!(bad.record.policy, "steps");
        assert_eq!(
            metrics.get(
                names::POLICY_FAILURES,
                &[
                    ("point", "rollout"),
                    ("policy", "steps"),
                    ("kind", "invalid-decision")
                ]
            ),
            1
        );
        let good = decide_native::<Rollout>(
            &description(),
            &binding(),
            ctx,
            SystemTime::now(),
            &metrics,
            |c| RolloutDecision::Advance {
                weight: c.current_weight + 1,
                reason: "next".into(),
            },
        );
        assert_eq!(good.failure, None);
        assert_eq!(good.record.outcome, "advance");
    }
}
