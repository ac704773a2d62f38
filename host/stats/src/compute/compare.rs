//! Canary against baseline in one call: filter, summarize, test, effect size.

use super::mann_whitney::mann_whitney_sorted;
use super::moments::Within;
use super::order::{Ranked, percentile_ranks};
use super::outliers::{Keep, iqr_rule, mad_rule, tukey_fences};
use super::{Moments, cohens_d_of, count_u32, finite, sorted, summary_of, welch_of};
use crate::{Alternative, Comparison, OutlierFilter, Summary, TestKind};

/// Filters each window with `filter`, then summarizes both and runs `test` and Cohen's
/// d of `a` against `b` on what survived.
///
/// The numbers are those of calling the filter, `summarize`, the test and `cohens_d`
/// one by one, except that each summary's `non_finite` counts the window's non-finite
/// values (the filters drop them). Its moments are computed once for the summary, the
/// t-test and Cohen's d. For Mann–Whitney (and the MAD filter) each window is sorted
/// once — the survivors of either filter are a run of the sorted window, and the ranks
/// come from merging the two runs. For Welch with the IQR filter or none, nothing is
/// sorted: the quartiles and the survivors' minimum, maximum and percentiles are found
/// by selection ([`super::order`]), the same values a sort puts at those ranks.
pub fn compare(
    a: &[f64],
    b: &[f64],
    filter: OutlierFilter,
    test: TestKind,
    alternative: Alternative,
) -> Comparison {
    let shorter = a.len().min(b.len());
    // 0 dropped below: the windows' non-finite values were removed before the moments.
    if test == TestKind::Welch && !matches!(filter, OutlierFilter::Mad(_)) {
        let parallel = shorter >= PARALLEL_FROM;
        let (wa, wb) = both(
            || Selected::new(a, filter),
            || Selected::new(b, filter),
            parallel,
        );
        return Comparison {
            significance: welch_of(wa.moments, wb.moments, 0, alternative),
            cohens_d: cohens_d_of(wa.moments, wb.moments),
            a: wa.summary,
            b: wb.summary,
            outliers_a: wa.outliers,
            outliers_b: wb.outliers,
        };
    }
    let (wa, wb) = both(
        || Window::new(a, filter),
        || Window::new(b, filter),
        shorter >= PARALLEL_SORTED_FROM,
    );
    let significance = match test {
        TestKind::Welch => welch_of(wa.moments, wb.moments, 0, alternative),
        // The survivors are already in order: ranks come from one merge.
        TestKind::MannWhitney => {
            mann_whitney_sorted(wa.ascending(), wb.ascending(), 0, alternative)
        }
    };
    Comparison {
        a: wa.summary,
        b: wb.summary,
        outliers_a: wa.outliers,
        outliers_b: wb.outliers,
        significance,
        cohens_d: cohens_d_of(wa.moments, wb.moments),
    }
}

/// Windows at least this long on both sides are summarized on two threads by the
/// selection path: at 10,000 samples per arm a Welch `compare` measured 62–67 µs on
/// two threads against 95–97 µs on one CPU (criterion, BENCHMARKS.md).
const PARALLEL_FROM: usize = 8_192;

/// The same for the sorted path (Mann–Whitney, the MAD filter), whose arms cost about
/// twice as much (10,000 per arm: 167–186 µs on two threads, 196–201 µs on one CPU).
const PARALLEL_SORTED_FROM: usize = 4_096;

/// Two threads kept waiting for the two arms of large `compare` calls: starting a
/// thread per call cost 22 µs at best here (hundreds of µs on a loaded machine). A pool of its own, so compiling policy modules on rayon's global pool
/// never delays a decision. `None` on a single CPU or if no thread can be started.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        (cpus >= 2)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(2)
                    .thread_name(|i| format!("sluice-stats-{i}"))
                    .build()
                    .ok()
            })
            .flatten()
    })
    .as_ref()
}

/// `(fa(), fb())`, on the two pool threads when `parallel` (and the pool exists),
/// else one after the other. A panic in either is passed on.
fn both<A: Send, B: Send>(
    fa: impl FnOnce() -> A + Send,
    fb: impl FnOnce() -> B + Send,
    parallel: bool,
) -> (A, B) {
    match pool() {
        Some(pool) if parallel => pool.join(fa, fb),
        _ => (fa(), fb()),
    }
}

/// One window after the IQR filter (or none), found by selection.
struct Selected {
    moments: Moments,
    summary: Summary,
    outliers: u32,
}

impl Selected {
    fn new(samples: &[f64], filter: OutlierFilter) -> Self {
        let (xs, non_finite) = finite(samples);
        let n = xs.len();
        let mut ranked = Ranked::new(&xs);
        // The fences, from the quartiles, as `iqr_rule` computes them.
        let fences = match filter {
            OutlierFilter::Iqr(k) if n >= 2 && k.is_finite() && k >= 0.0 => {
                let quartiles = [0.25, 0.75].map(|q| percentile_ranks(n, q));
                ranked.select(
                    &quartiles
                        .iter()
                        .flatten()
                        .flat_map(|r| [r.0, r.1])
                        .collect::<Vec<_>>(),
                );
                let (q1, q3) = (ranked.percentile(0, n, 0.25), ranked.percentile(0, n, 0.75));
                Some(tukey_fences(q1, q3, k))
            }
            _ => None,
        };
        // The survivors are the ranks start..end of the window, found from the counts;
        // the fences as `Keep::Between` compares them (−0 = +0).
        let run = match fences {
            None => 0..n,
            Some((low, high)) => ranked.ranks_between(low, high),
        };
        let (start, end) = (run.start, run.end);
        let m = end - start;
        let wanted: Vec<usize> = [0.5, 0.9, 0.95, 0.99]
            .iter()
            .filter_map(|&q| percentile_ranks(m, q))
            .flat_map(|(lo, hi, _)| [start + lo, start + hi])
            .chain((m > 0).then(|| [start, end - 1]).into_iter().flatten())
            .collect();
        ranked.select(&wanted);
        let (min, max) = if m > 0 {
            (ranked.at(start), ranked.at(end - 1))
        } else {
            (f64::NAN, f64::NAN)
        };
        // The survivors' moments straight from the window (never copied out), with
        // the extremes just selected.
        let moments = match fences {
            None => Moments::of_blocks(&*xs, n, min, max),
            Some((low, high)) => {
                let within = Within::new(&xs, Keep::Between { low, high });
                Moments::of_blocks(&within, m, min, max)
            }
        };
        let summary = Summary {
            n: count_u32(moments.len),
            non_finite,
            mean: moments.mean,
            sd: moments.sd(),
            min,
            max,
            p50: ranked.percentile(start, end, 0.50),
            p90: ranked.percentile(start, end, 0.90),
            p95: ranked.percentile(start, end, 0.95),
            p99: ranked.percentile(start, end, 0.99),
        };
        debug_assert_eq!(ranked.len(), n);
        Self {
            moments,
            summary,
            outliers: count_u32(n - m),
        }
    }
}

/// One window after filtering.
struct Window {
    /// Every finite value in ascending order, and where the survivors are in it.
    sorted: Vec<f64>,
    survivors: std::ops::Range<usize>,
    moments: Moments,
    summary: Summary,
    outliers: u32,
}

impl Window {
    fn new(samples: &[f64], filter: OutlierFilter) -> Self {
        let (xs, non_finite) = finite(samples);
        let ascending = sorted(&xs);
        let rule = match filter {
            OutlierFilter::None => None,
            OutlierFilter::Iqr(k) => iqr_rule(&ascending, k),
            OutlierFilter::Mad(threshold) => mad_rule(&xs, &ascending, threshold),
        };
        let Some(keep) = rule else {
            let moments = Moments::of(&xs);
            return Self {
                summary: summary_of(moments, &ascending, non_finite),
                survivors: 0..ascending.len(),
                sorted: ascending,
                moments,
                outliers: 0,
            };
        };
        let run = keep.run_range(&ascending);
        let survivors = &ascending[run.clone()];
        let outliers = count_u32(xs.len() - survivors.len());
        // Input order for the moments, as the one-by-one functions sum them, read in
        // place; the extremes are the ends of the sorted survivors.
        let (min, max) = match (survivors.first(), survivors.last()) {
            (Some(&min), Some(&max)) => (min, max),
            _ => (f64::NAN, f64::NAN),
        };
        let within = Within::new(&xs, keep);
        let moments = Moments::of_blocks(&within, survivors.len(), min, max);
        Self {
            summary: summary_of(moments, survivors, non_finite),
            outliers,
            survivors: run,
            sorted: ascending,
            moments,
        }
    }

    /// The survivors in ascending order.
    fn ascending(&self) -> &[f64] {
        &self.sorted[self.survivors.clone()]
    }
}
