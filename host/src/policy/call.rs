//! Running one call in a fresh, limited store and classifying how it ended.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Store, Trap};

use super::bindings::InstantiationFailed;
use super::engine::{PolicyEngine, Tier};
use super::error::CallFailure;
use super::limits::Limits;
use super::sandbox::{HostState, LogLine};

/// What one sandboxed call produced besides its result.
#[derive(Debug, Clone)]
pub struct CallStats {
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Whether `fuel_used` is the whole count. When the deadline interrupts a loop,
    /// the fuel it burned since its last call is not reported to the host (wasmtime
    /// keeps it in a register), so the count is a lower bound.
    pub fuel_exact: bool,
    /// Wall time including instantiation.
    pub wall: Duration,
    /// Messages the policy logged.
    pub logs: Vec<LogLine>,
    /// Messages dropped over the per-decision limit.
    pub logs_dropped: u32,
    /// What the guest wrote to stdout/stderr (bounded).
    pub guest_output: String,
}

/// Runs `f` in a fresh store of `tier`'s engine with `limits`, the clock frozen at
/// `time` and randomness seeded from `seed`. Never panics: a panic inside becomes
/// [`CallFailure::HostPanic`].
pub fn run<R>(
    engine: &PolicyEngine,
    tier: Tier,
    limits: &Limits,
    time: SystemTime,
    seed: u64,
    f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> (Result<R, CallFailure>, CallStats) {
    let started = Instant::now();
    let state = HostState::new(time, seed, limits.memory_bytes, started + limits.deadline());
    let mut store = Store::new(engine.engine(tier), state);
    store.limiter(|s| s);
    let fuel_set = store.set_fuel(limits.fuel);
    store.set_epoch_deadline(PolicyEngine::deadline_ticks(limits.deadline()));
    store.epoch_deadline_trap();
    let outcome = match fuel_set {
        Err(e) => Err(CallFailure::Instantiate {
            detail: format!("cannot set fuel: {e:#}"),
            transient: false,
        }),
        Ok(()) => match catch_unwind(AssertUnwindSafe(|| f(&mut store))) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(classify(&e, &store, limits)),
            Err(panic) => Err(CallFailure::HostPanic {
                detail: panic_message(&panic),
            }),
        },
    };
    let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let fuel_exact = !matches!(outcome, Err(CallFailure::Deadline { .. }));
    let state = store.data();
    let stats = CallStats {
        fuel_used,
        fuel_exact,
        wall: started.elapsed(),
        logs: state.logs.clone(),
        logs_dropped: state.logs_dropped,
        guest_output: state.captured_output(),
    };
    (outcome, stats)
}

/// A seed for a decision's randomness: reproducible from the record (time and pipeline).
pub fn seed_for(pipeline: &str, time: SystemTime) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    pipeline.hash(&mut h);
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .hash(&mut h);
    h.finish()
}

fn classify(e: &wasmtime::Error, store: &Store<HostState>, limits: &Limits) -> CallFailure {
    if store.data().memory_cap_hit {
        return CallFailure::MemoryCap {
            memory_bytes: limits.memory_bytes,
        };
    }
    if e.downcast_ref::<InstantiationFailed>().is_some() {
        return CallFailure::Instantiate {
            detail: describe(e),
            transient: host_resource_failure(e),
        };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallFailure::OutOfFuel { fuel: limits.fuel },
        Some(Trap::Interrupt) => CallFailure::Deadline {
            deadline_ms: limits.deadline_ms,
        },
        Some(Trap::StackOverflow) => CallFailure::StackOverflow,
        _ if is_instantiation_error(e) => CallFailure::Instantiate {
            detail: describe(e),
            transient: true,
        },
        _ => CallFailure::Trap {
            detail: describe(e),
            guest_output: store.data().failure_output(),
        },
    }
}

/// The error's cause chain without wasmtime's multi-line wasm backtrace, which would
/// bloat every audit record (the module digest identifies the code instead).
fn describe(e: &wasmtime::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| c.to_string())
        .filter(|c| !c.starts_with("error while executing at wasm backtrace"))
        .collect();
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Whether an instantiation failed for want of a host resource: a pool slot, or an
/// operating-system call (seen: sealing a module's memory image failed with EBUSY
/// while the machine was busy). A module's own faults — a trapping start function,
/// an out-of-bounds data segment — carry no such cause.
fn host_resource_failure(e: &wasmtime::Error) -> bool {
    // The chain starts with `e` itself and passes through every context layer.
    e.chain().any(|cause| {
        cause.is::<std::io::Error>() || cause.is::<wasmtime::PoolConcurrencyLimitError>()
    })
}

fn is_instantiation_error(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::error::CheckError;

    fn instantiation(cause: wasmtime::Error) -> CallFailure {
        let e = cause.context(InstantiationFailed);
        CallFailure::Instantiate {
            detail: describe(&e),
            transient: host_resource_failure(&e),
        }
    }

    #[test]
    fn instantiation_failures_for_want_of_host_resources_are_transient_and_module_faults_are_not() {
        let busy = std::io::Error::from_raw_os_error(16);
        let sealing = wasmtime::Error::new(busy).context("cannot add seals to the memfd");
        let from_os = instantiation(sealing);
        assert!(matches!(
            from_os,
            CallFailure::Instantiate {
                transient: true,
                ..
            }
        ));
        assert!(
            from_os.to_string().contains("cannot add seals"),
            "{from_os}"
        );
        let own_fault = instantiation(wasmtime::Error::msg("out of bounds memory access"));
        assert!(matches!(
            own_fault,
            CallFailure::Instantiate {
                transient: false,
                ..
            }
        ));

        let trial = |failure| CheckError::Trial {
            pipeline: "p".into(),
            failure,
        };
        assert!(trial(from_os).is_transient());
        assert!(!trial(own_fault).is_transient());
        assert!(!trial(CallFailure::OutOfFuel { fuel: 1 }).is_transient());
        // The audit record does not carry the flag: it describes the call, not the retry.
        let json = serde_json::to_value(CallFailure::Instantiate {
            detail: "d".into(),
            transient: true,
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({ "kind": "instantiate", "detail": "d" })
        );
    }
}
