// The hostile-module suite, included by `sandbox.rs` (optimized code) and
// `sandbox_baseline.rs` (baseline code), each of which defines `BUILD` first.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sluice::decision::{
    Point, Retrain, RetrainContext, RetrainDecision, RetrainFailSafe, resolve_params,
};
use sluice::metrics::{Metrics, names};
use sluice::policy::{Binding, Build, CallFailure, Evaluation, Limits, PolicyModule, Tier, decide};

/// Loads guest `name` with the code `BUILD` asks for, and checks that it got it.
fn load(name: &str) -> std::sync::Arc<PolicyModule> {
    let engine = common::engine();
    let path = common::guest(name);
    let bytes = std::fs::read(&path).expect("guest built");
    let module = PolicyModule::load_build(&engine, &path.display().to_string(), &bytes, None, BUILD)
        .expect("guest loads");
    let expected = match BUILD {
        Build::Baseline if engine.has_baseline() => Tier::Baseline,
        Build::Baseline | Build::Optimized | Build::Quick => Tier::Optimized,
    };
    assert_eq!(module.tier, expected, "{name} runs the code under test");
    module
}

fn hostile() -> std::sync::Arc<PolicyModule> {
    load("hostile-guest")
}

fn attack(attack: &str, limits: Limits, metrics: &Metrics) -> (Evaluation<Retrain>, Duration) {
    let engine = common::engine();
    let module = hostile();
    let raw = [("attack".to_owned(), json!(attack))].into();
    let binding = Binding::<Retrain> {
        params: resolve_params(&module.description, &raw).expect("params"),
        limits,
        fail_safe: RetrainFailSafe::Wait,
    };
    let ctx = Retrain::trial_context("hostile", vec![]);
    let started = Instant::now();
    let e = decide::<Retrain>(&engine, &module, &binding, ctx, SystemTime::now(), metrics);
    (e, started.elapsed())
}

/// The next decision, on a well-behaved module, must succeed.
fn next_decision_succeeds() {
    let (e, _) = attack("none", Limits::default(), &Metrics::new());
    assert_eq!(e.failure, None);
    assert_eq!(
        e.decision,
        RetrainDecision::Wait {
            reason: "behaving".into()
        }
    );
}

fn assert_fail_safe(e: &Evaluation<Retrain>) {
    match &e.decision {
        RetrainDecision::Wait { reason } => assert!(reason.starts_with("fail-safe: "), "{reason}"),
        other => panic!("expected the fail-safe wait, got {other:?}"),
    }
    assert!(
        e.record.failure.is_some(),
        "the audit record names the failure"
    );
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let limits = Limits {
        deadline_ms: 60_000,
        ..Limits::default()
    };
    let (e, _) = attack("loop", limits, &Metrics::new());
    assert_eq!(
        e.failure,
        Some(CallFailure::OutOfFuel { fuel: limits.fuel })
    );
    assert!(e.stats.fuel_used >= limits.fuel);
    assert!(e.record.fuel_exact, "fuel that ran out is counted whole");
    assert_fail_safe(&e);
    next_decision_succeeds();
}

#[test]
fn an_endless_loop_hits_the_wall_clock_deadline() {
    let limits = Limits {
        fuel: u64::MAX / 4,
        deadline_ms: 50,
        ..Limits::default()
    };
    let (e, took) = attack("loop", limits, &Metrics::new());
    assert_eq!(e.failure, Some(CallFailure::Deadline { deadline_ms: 50 }));
    assert!(
        took < Duration::from_secs(5),
        "the call ended promptly: {took:?}"
    );
    assert!(
        !e.record.fuel_exact,
        "a loop stopped by the deadline does not report its burn: the count is a lower bound"
    );
    assert_fail_safe(&e);
    next_decision_succeeds();
}

#[test]
fn unbounded_memory_growth_hits_the_cap() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let (e, _) = attack("memory", limits, &Metrics::new());
    assert_eq!(
        e.failure,
        Some(CallFailure::MemoryCap {
            memory_bytes: 16 << 20
        })
    );
    assert_fail_safe(&e);
    next_decision_succeeds();
}

#[test]
fn runaway_recursion_overflows_the_stack_safely() {
    let (e, _) = attack(
        "recurse",
        Limits {
            fuel: u64::MAX / 4,
            deadline_ms: 10_000,
            ..Limits::default()
        },
        &Metrics::new(),
    );
    // Rust keeps its frames on a shadow stack in linear memory, which usually overflows
    // (an out-of-bounds access at its bottom) before wasm's own stack does.
    match &e.failure {
        Some(CallFailure::StackOverflow) => {}
        Some(CallFailure::Trap { detail, .. }) => {
            assert!(detail.contains("out of bounds memory access"), "{detail}")
        }
        other => panic!("expected a stack overflow, got {other:?}"),
    }
    assert_fail_safe(&e);
    next_decision_succeeds();
}

#[test]
fn a_huge_answer_is_an_invalid_decision() {
    let (e, _) = attack("huge-string", Limits::default(), &Metrics::new());
    match &e.failure {
        Some(CallFailure::InvalidDecision { problem }) => {
            assert!(problem.contains("8388608 bytes; at most 4096"), "{problem}")
        }
        other => panic!("expected an invalid decision, got {other:?}"),
    }
    assert_fail_safe(&e);
    assert!(
        e.record.output.to_json().len() < 10_000,
        "the record stays small"
    );
    next_decision_succeeds();
}

#[test]
fn out_of_range_answers_are_invalid() {
    let (e, _) = attack("invalid", Limits::default(), &Metrics::new());
    assert!(
        matches!(e.failure, Some(CallFailure::InvalidDecision { .. })),
        "{:?}",
        e.failure
    );
    assert_fail_safe(&e);
}

fn assert_trapped_with(e: &Evaluation<Retrain>, needle: &str) {
    match &e.failure {
        Some(CallFailure::Trap { guest_output, .. }) => assert!(
            guest_output.contains(needle),
            "guest output: {guest_output}"
        ),
        other => panic!(
            "expected a trap, got {other:?} with decision {:?}",
            e.decision
        ),
    }
    assert_fail_safe(e);
}

#[test]
fn the_filesystem_is_not_there() {
    let (e, _) = attack("open-file", Limits::default(), &Metrics::new());
    assert_trapped_with(&e, "open-file attack stopped");
    next_decision_succeeds();
}

#[test]
fn the_environment_is_empty() {
    // SAFETY of the test: a variable the host has, which must not leak.
    let (e, _) = attack("read-env", Limits::default(), &Metrics::new());
    assert_trapped_with(&e, "the environment is empty");
    next_decision_succeeds();
}

#[test]
fn sockets_are_refused() {
    let (e, _) = attack("socket", Limits::default(), &Metrics::new());
    assert_trapped_with(&e, "socket attack stopped");
    next_decision_succeeds();
}

#[test]
fn a_trap_is_counted_and_recorded() {
    let metrics = Metrics::new();
    let (e, _) = attack("trap", Limits::default(), &metrics);
    assert_trapped_with(&e, "deliberate trap");
    assert_eq!(
        metrics.get(
            names::POLICY_FAILURES,
            &[
                ("point", "retrain"),
                ("policy", "hostile"),
                ("kind", "trap")
            ]
        ),
        1
    );
    assert_eq!(
        metrics.get(
            names::DECISIONS,
            &[("point", "retrain"), ("outcome", "wait")]
        ),
        1
    );
    assert_eq!(e.record.point.as_str(), "retrain");
    assert_eq!(e.record.module_sha256.len(), 64);
    next_decision_succeeds();
}

#[test]
fn the_clock_is_frozen_at_the_decision_time() {
    let engine = common::engine();
    let module = hostile();
    let raw = [("attack".to_owned(), json!("clock"))].into();
    let binding = Binding::<Retrain> {
        params: resolve_params(&module.description, &raw).expect("params"),
        limits: Limits::default(),
        fail_safe: RetrainFailSafe::Wait,
    };
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let ctx: RetrainContext = Retrain::trial_context("clock", vec![]);
    let e = decide::<Retrain>(&engine, &module, &binding, ctx, at, &Metrics::new());
    assert_eq!(
        e.decision,
        RetrainDecision::Wait {
            reason: "clock reads 1700000000".into()
        }
    );
}

fn bare(action: &str, limits: Limits) -> Evaluation<Retrain> {
    let engine = common::engine();
    let module = load("bare-guest");
    assert!(
        !module.imports.iter().any(|i| i.starts_with("wasi:")),
        "a no_std policy imports no WASI: {:?}",
        module.imports
    );
    let raw = [("action".to_owned(), json!(action))].into();
    let binding = Binding::<Retrain> {
        params: resolve_params(&module.description, &raw).expect("params"),
        limits,
        fail_safe: RetrainFailSafe::Wait,
    };
    let ctx = RetrainContext {
        new_samples: 7,
        ..Retrain::trial_context("bare", vec![])
    };
    decide::<Retrain>(
        &engine,
        &module,
        &binding,
        ctx,
        SystemTime::now(),
        &Metrics::new(),
    )
}

#[test]
fn a_no_std_policy_panic_reaches_the_record() {
    let e = bare("panic", Limits::default());
    assert_trapped_with(&e, "bare guest panicked on purpose with 7 samples");
    assert!(
        e.record
            .logs
            .iter()
            .any(|l| l.level == "error" && l.message.contains("panicked on purpose"))
    );
}

#[test]
fn the_no_std_allocator_grows_memory_and_the_cap_still_holds() {
    let e = bare("big", Limits::default());
    assert_eq!(e.failure, None);
    assert_eq!(
        e.decision,
        RetrainDecision::Wait {
            reason: format!(
                "sum {} over 1048576 values",
                (1u64 << 20) * ((1u64 << 20) - 1) / 2
            )
        }
    );
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let e = bare("hoard", limits);
    assert_eq!(
        e.failure,
        Some(CallFailure::MemoryCap {
            memory_bytes: 16 << 20
        })
    );
    assert_fail_safe(&e);
    assert_eq!(bare("none", Limits::default()).failure, None);
}

#[test]
fn a_host_call_on_more_samples_than_allowed_traps_before_the_host_reads_them() {
    let (e, _) = attack("stats-huge", Limits::default(), &Metrics::new());
    match &e.failure {
        Some(CallFailure::Trap { detail, .. }) => assert!(
            detail.contains("stats::summarize was given 2097152 samples; one call takes at most 1048576"),
            "{detail}"
        ),
        other => panic!("expected a trap naming the limit, got {other:?}"),
    }
    assert_fail_safe(&e);
    next_decision_succeeds();
}

/// Host calls in a loop: each one's work is charged to the decision's fuel, so the
/// decision ends at its fuel budget (without the charge the guest's own instructions
/// between calls would take minutes to spend it); with fuel to spare, at its deadline.
#[test]
fn host_calls_are_charged_fuel_and_held_to_the_deadline() {
    let limits = Limits {
        deadline_ms: 60_000,
        ..Limits::default()
    };
    let (e, took) = attack("stats-loop", limits, &Metrics::new());
    assert_eq!(
        e.failure,
        Some(CallFailure::OutOfFuel { fuel: limits.fuel })
    );
    assert!(took < Duration::from_secs(10), "ended by fuel: {took:?}");
    assert_fail_safe(&e);
    let limits = Limits {
        fuel: u64::MAX / 4,
        deadline_ms: 50,
        ..Limits::default()
    };
    let (e, _) = attack("stats-loop", limits, &Metrics::new());
    assert_eq!(e.failure, Some(CallFailure::Deadline { deadline_ms: 50 }));
    next_decision_succeeds();
}
