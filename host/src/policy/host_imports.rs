//! The host functions every policy imports: `sluice:policy/stats` (computed natively
//! by `sluice-stats`, each call bounded in size and charged to the decision's fuel and
//! deadline) and `sluice:policy/log` (kept with the decision record).

use std::time::{Duration, Instant};

use wasmtime::component::{Linker, WasmList};
use wasmtime::{AsContextMut as _, StoreContextMut, Trap};

use super::bindings::retrain_world::sluice::policy::{log, stats, types};
use super::limits::{
    FUEL_PER_HOST_CALL, FUEL_PER_HOST_SAMPLE, HOST_NANOS_PER_SAMPLE, MAX_HOST_CALL_SAMPLES,
    MAX_LOG_MESSAGE_BYTES,
};
use super::sandbox::{HostState, LogLine};

/// The interface the statistics functions are defined under.
const STATS_INTERFACE: &str = "sluice:policy/stats@0.1.0";

fn alternative(a: stats::Alternative) -> sluice_stats::Alternative {
    match a {
        stats::Alternative::TwoSided => sluice_stats::Alternative::TwoSided,
        stats::Alternative::Less => sluice_stats::Alternative::Less,
        stats::Alternative::Greater => sluice_stats::Alternative::Greater,
    }
}

fn test_result(r: sluice_stats::TestResult) -> stats::TestResult {
    stats::TestResult {
        statistic: r.statistic,
        p_value: r.p_value,
        df: r.df,
        n_a: r.n_a,
        n_b: r.n_b,
        dropped: r.dropped,
        exact: r.exact,
    }
}

fn summary(s: sluice_stats::Summary) -> stats::Summary {
    stats::Summary {
        n: s.n,
        non_finite: s.non_finite,
        mean: s.mean,
        sd: s.sd,
        min: s.min,
        max: s.max,
        p50: s.p50,
        p90: s.p90,
        p95: s.p95,
        p99: s.p99,
    }
}

/// `types` declares no functions.
impl types::Host for HostState {}

/// Why a statistics call trapped without computing anything.
#[derive(Debug, thiserror::Error)]
pub enum HostCallError {
    /// The call passed more samples than one call may.
    #[error(
        "stats::{function} was given {samples} samples; one call takes at most {MAX_HOST_CALL_SAMPLES} (limits: host calls)"
    )]
    TooManySamples {
        /// The WIT function.
        function: &'static str,
        /// Samples passed (all lists together).
        samples: usize,
    },
}

/// Charges a statistics call on `samples` values before its work: refuses inputs over
/// [`MAX_HOST_CALL_SAMPLES`], takes [`FUEL_PER_HOST_CALL`] plus
/// [`FUEL_PER_HOST_SAMPLE`] per value from the decision's fuel (trapping as out of
/// fuel when that is more than is left), and traps as past the deadline when the
/// deadline has passed or the work, at [`HOST_NANOS_PER_SAMPLE`], would end past it.
/// The guest's own loop is stopped by fuel and the epoch deadline; this holds the same
/// limits for work done on its behalf in the host, where neither reaches.
fn charge(
    store: &mut StoreContextMut<'_, HostState>,
    function: &'static str,
    samples: usize,
) -> wasmtime::Result<()> {
    if samples > MAX_HOST_CALL_SAMPLES {
        return Err(HostCallError::TooManySamples { function, samples }.into());
    }
    let cost =
        FUEL_PER_HOST_CALL.saturating_add((samples as u64).saturating_mul(FUEL_PER_HOST_SAMPLE));
    let left = store.get_fuel()?;
    if cost > left {
        store.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    store.set_fuel(left - cost)?;
    let work = Duration::from_nanos((samples as u64).saturating_mul(HOST_NANOS_PER_SAMPLE));
    if Instant::now() + work > store.data().deadline() {
        return Err(Trap::Interrupt.into());
    }
    Ok(())
}

/// Traps as past the deadline when the work overran it after all.
fn within_deadline(store: &StoreContextMut<'_, HostState>) -> wasmtime::Result<()> {
    if Instant::now() > store.data().deadline() {
        return Err(Trap::Interrupt.into());
    }
    Ok(())
}

/// The values of a list the guest passed, read only after `charge` accepted its size.
fn values(
    store: &mut StoreContextMut<'_, HostState>,
    list: &WasmList<f64>,
) -> wasmtime::Result<Vec<f64>> {
    list.iter(store.as_context_mut())?.collect()
}

type Store<'a> = StoreContextMut<'a, HostState>;

/// Defines `sluice:policy/stats` in `linker`: each function is charged by [`charge`]
/// before it runs and checked against the deadline after.
///
/// # Errors
/// When the linker already defines the interface.
pub(crate) fn add_stats_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut i = linker.instance(STATS_INTERFACE)?;
    i.func_wrap(
        "compare",
        |mut s: Store<'_>,
         (a, b, filter, test, alt): (
            WasmList<f64>,
            WasmList<f64>,
            stats::OutlierFilter,
            stats::TestKind,
            stats::Alternative,
        )| {
            charge(&mut s, "compare", a.len() + b.len())?;
            let (a, b) = (values(&mut s, &a)?, values(&mut s, &b)?);
            let filter = match filter {
                stats::OutlierFilter::None => sluice_stats::OutlierFilter::None,
                stats::OutlierFilter::Iqr(k) => sluice_stats::OutlierFilter::Iqr(k),
                stats::OutlierFilter::Mad(t) => sluice_stats::OutlierFilter::Mad(t),
            };
            let test = match test {
                stats::TestKind::Welch => sluice_stats::TestKind::Welch,
                stats::TestKind::MannWhitney => sluice_stats::TestKind::MannWhitney,
            };
            let c = sluice_stats::compare(&a, &b, filter, test, alternative(alt));
            within_deadline(&s)?;
            Ok((stats::Comparison {
                a: summary(c.a),
                b: summary(c.b),
                outliers_a: c.outliers_a,
                outliers_b: c.outliers_b,
                significance: test_result(c.significance),
                cohens_d: c.cohens_d,
            },))
        },
    )?;
    i.func_wrap("summarize", |mut s: Store<'_>, (x,): (WasmList<f64>,)| {
        charge(&mut s, "summarize", x.len())?;
        let x = values(&mut s, &x)?;
        let r = summary(sluice_stats::summarize(&x));
        within_deadline(&s)?;
        Ok((r,))
    })?;
    i.func_wrap(
        "welch-t-test",
        |mut s: Store<'_>, (a, b, alt): (WasmList<f64>, WasmList<f64>, stats::Alternative)| {
            charge(&mut s, "welch-t-test", a.len() + b.len())?;
            let (a, b) = (values(&mut s, &a)?, values(&mut s, &b)?);
            let r = test_result(sluice_stats::welch_t_test(&a, &b, alternative(alt)));
            within_deadline(&s)?;
            Ok((r,))
        },
    )?;
    i.func_wrap(
        "mann-whitney-u",
        |mut s: Store<'_>, (a, b, alt): (WasmList<f64>, WasmList<f64>, stats::Alternative)| {
            charge(&mut s, "mann-whitney-u", a.len() + b.len())?;
            let (a, b) = (values(&mut s, &a)?, values(&mut s, &b)?);
            let r = test_result(sluice_stats::mann_whitney_u(&a, &b, alternative(alt)));
            within_deadline(&s)?;
            Ok((r,))
        },
    )?;
    i.func_wrap(
        "cohens-d",
        |mut s: Store<'_>, (a, b): (WasmList<f64>, WasmList<f64>)| {
            charge(&mut s, "cohens-d", a.len() + b.len())?;
            let (a, b) = (values(&mut s, &a)?, values(&mut s, &b)?);
            let r = sluice_stats::cohens_d(&a, &b);
            within_deadline(&s)?;
            Ok((r,))
        },
    )?;
    i.func_wrap(
        "mean-confidence-interval",
        |mut s: Store<'_>, (x, level): (WasmList<f64>, f64)| {
            charge(&mut s, "mean-confidence-interval", x.len())?;
            let x = values(&mut s, &x)?;
            let r = sluice_stats::mean_confidence_interval(&x, level);
            within_deadline(&s)?;
            Ok((stats::Interval {
                mean: r.mean,
                low: r.low,
                high: r.high,
            },))
        },
    )?;
    i.func_wrap(
        "filter-outliers-iqr",
        |mut s: Store<'_>, (x, k): (WasmList<f64>, f64)| {
            charge(&mut s, "filter-outliers-iqr", x.len())?;
            let x = values(&mut s, &x)?;
            let r = sluice_stats::filter_outliers_iqr(&x, k);
            within_deadline(&s)?;
            Ok((r,))
        },
    )?;
    i.func_wrap(
        "filter-outliers-mad",
        |mut s: Store<'_>, (x, t): (WasmList<f64>, f64)| {
            charge(&mut s, "filter-outliers-mad", x.len())?;
            let x = values(&mut s, &x)?;
            let r = sluice_stats::filter_outliers_mad(&x, t);
            within_deadline(&s)?;
            Ok((r,))
        },
    )?;
    Ok(())
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, mut message: String) {
        if message.len() > MAX_LOG_MESSAGE_BYTES {
            let mut end = MAX_LOG_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.push_log(LogLine { level, message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::engine::{PolicyEngine, Tier};
    use wasmtime::Store as WasmStore;

    fn store(
        fuel: u64,
        deadline_in: Duration,
    ) -> (std::sync::Arc<PolicyEngine>, WasmStore<HostState>) {
        let engine = PolicyEngine::new(Default::default()).expect("engine");
        let state = HostState::new(
            std::time::SystemTime::now(),
            0,
            1 << 20,
            Instant::now() + deadline_in,
        );
        let mut store = WasmStore::new(engine.engine(Tier::Optimized), state);
        store.set_fuel(fuel).expect("fuel");
        (engine, store)
    }

    fn trap(r: wasmtime::Result<()>) -> Option<Trap> {
        r.err().and_then(|e| e.downcast_ref::<Trap>().copied())
    }

    #[test]
    fn a_call_is_charged_per_sample_and_refused_what_it_cannot_pay() {
        let (_e, mut s) = store(1_000_000, Duration::from_secs(60));
        charge(&mut s.as_context_mut(), "summarize", 100).expect("affordable");
        assert_eq!(s.get_fuel().expect("fuel"), 1_000_000 - 1_000 - 100 * 64);
        let (_e, mut s) = store(5_000, Duration::from_secs(60));
        assert_eq!(
            trap(charge(&mut s.as_context_mut(), "summarize", 100)),
            Some(Trap::OutOfFuel)
        );
        assert_eq!(s.get_fuel().expect("fuel"), 0, "the rest is spent");
        let too_many = charge(
            &mut s.as_context_mut(),
            "compare",
            MAX_HOST_CALL_SAMPLES + 1,
        );
        let e = too_many.expect_err("too many");
        assert!(
            e.to_string()
                .contains("stats::compare was given 1048577 samples"),
            "{e}"
        );
    }

    #[test]
    fn a_call_whose_work_would_end_past_the_deadline_is_not_started() {
        let (_e, mut s) = store(u64::MAX / 4, Duration::from_millis(5));
        // 1M samples at 100 ns each is 100 ms of work: past a 5 ms deadline.
        assert_eq!(
            trap(charge(&mut s.as_context_mut(), "compare", 1 << 20)),
            Some(Trap::Interrupt)
        );
        charge(&mut s.as_context_mut(), "compare", 1_000).expect("100 µs of work fits");
        let (_e, mut s) = store(u64::MAX / 4, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(
            trap(charge(&mut s.as_context_mut(), "summarize", 1)),
            Some(Trap::Interrupt)
        );
        assert_eq!(
            trap(within_deadline(&s.as_context_mut())),
            Some(Trap::Interrupt)
        );
    }
}
