//! The host's statistics (`sluice:policy/stats`).
//!
//! In a WebAssembly build these call the host; in a native build (your unit tests)
//! they call the very same Rust implementation the host uses, so tests see production
//! numbers. See `wit/stats.wit` for the rules on NaN, small samples and ties.

use alloc::vec::Vec;

pub use sluice_stats::{
    Alternative, Comparison, Interval, OutlierFilter, Summary, TestKind, TestResult,
};

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use sluice_stats::{
        cohens_d, compare, filter_outliers_iqr, filter_outliers_mad, mann_whitney_u,
        mean_confidence_interval, summarize, welch_t_test,
    };
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use alloc::vec::Vec;

    use super::{Alternative, Comparison, Interval, OutlierFilter, Summary, TestKind, TestResult};
    use crate::bindings::sluice::policy::stats as host;

    fn alt(a: Alternative) -> host::Alternative {
        match a {
            Alternative::TwoSided => host::Alternative::TwoSided,
            Alternative::Less => host::Alternative::Less,
            Alternative::Greater => host::Alternative::Greater,
        }
    }

    fn test(r: host::TestResult) -> TestResult {
        TestResult {
            statistic: r.statistic,
            p_value: r.p_value,
            df: r.df,
            n_a: r.n_a,
            n_b: r.n_b,
            dropped: r.dropped,
            exact: r.exact,
        }
    }

    fn summary(s: host::Summary) -> Summary {
        Summary {
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

    pub fn summarize(samples: &[f64]) -> Summary {
        summary(host::summarize(samples))
    }

    pub fn compare(
        a: &[f64],
        b: &[f64],
        filter: OutlierFilter,
        kind: TestKind,
        alternative: Alternative,
    ) -> Comparison {
        let filter = match filter {
            OutlierFilter::None => host::OutlierFilter::None,
            OutlierFilter::Iqr(k) => host::OutlierFilter::Iqr(k),
            OutlierFilter::Mad(t) => host::OutlierFilter::Mad(t),
        };
        let kind = match kind {
            TestKind::Welch => host::TestKind::Welch,
            TestKind::MannWhitney => host::TestKind::MannWhitney,
        };
        let c = host::compare(a, b, filter, kind, alt(alternative));
        Comparison {
            a: summary(c.a),
            b: summary(c.b),
            outliers_a: c.outliers_a,
            outliers_b: c.outliers_b,
            significance: test(c.significance),
            cohens_d: c.cohens_d,
        }
    }

    pub fn welch_t_test(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
        test(host::welch_t_test(a, b, alt(alternative)))
    }

    pub fn mann_whitney_u(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
        test(host::mann_whitney_u(a, b, alt(alternative)))
    }

    pub fn cohens_d(a: &[f64], b: &[f64]) -> f64 {
        host::cohens_d(a, b)
    }

    pub fn mean_confidence_interval(samples: &[f64], level: f64) -> Interval {
        let i = host::mean_confidence_interval(samples, level);
        Interval {
            mean: i.mean,
            low: i.low,
            high: i.high,
        }
    }

    pub fn filter_outliers_iqr(samples: &[f64], k: f64) -> Vec<f64> {
        host::filter_outliers_iqr(samples, k)
    }

    pub fn filter_outliers_mad(samples: &[f64], threshold: f64) -> Vec<f64> {
        host::filter_outliers_mad(samples, threshold)
    }
}

/// Canary against baseline in one host call: each window filtered with `filter`, both
/// summarized, then the test of kind `test` and Cohen's d of `a` against `b` on what
/// survived. The same numbers as the filter, [`summarize`], the test and [`cohens_d`]
/// called one by one (each summary's `non_finite` counts the window's non-finite
/// values), at a fraction of the cost: the windows cross into the host once.
pub fn compare(
    a: &[f64],
    b: &[f64],
    filter: OutlierFilter,
    test: TestKind,
    alternative: Alternative,
) -> Comparison {
    imp::compare(a, b, filter, test, alternative)
}

/// Summary statistics (n, mean, sd, min, max, p50, p90, p95, p99) of the finite values.
pub fn summarize(samples: &[f64]) -> Summary {
    imp::summarize(samples)
}

/// Welch's t-test of mean(a) against mean(b).
pub fn welch_t_test(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
    imp::welch_t_test(a, b, alternative)
}

/// Mann–Whitney U test of `a` against `b`.
pub fn mann_whitney_u(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
    imp::mann_whitney_u(a, b, alternative)
}

/// Cohen's d of `a` against `b` (pooled sd).
pub fn cohens_d(a: &[f64], b: &[f64]) -> f64 {
    imp::cohens_d(a, b)
}

/// Student-t confidence interval for the mean at `level` (for example 0.95).
pub fn mean_confidence_interval(samples: &[f64], level: f64) -> Interval {
    imp::mean_confidence_interval(samples, level)
}

/// Values inside Tukey's fences with factor `k`, in input order.
pub fn filter_outliers_iqr(samples: &[f64], k: f64) -> Vec<f64> {
    imp::filter_outliers_iqr(samples, k)
}

/// Values with robust z-score ≤ `threshold`, in input order.
pub fn filter_outliers_mad(samples: &[f64], threshold: f64) -> Vec<f64> {
    imp::filter_outliers_mad(samples, threshold)
}
