//! The functions, computed with statrs distributions.

mod mann_whitney;
mod outliers;

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::{Alternative, Interval, Summary, TestResult};

pub use mann_whitney::mann_whitney_u;
pub use outliers::{filter_outliers_iqr, filter_outliers_mad};

/// Finite values of `samples`, and how many were not finite.
pub(crate) fn finite(samples: &[f64]) -> (Vec<f64>, u32) {
    let kept: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    let dropped = count_u32(samples.len() - kept.len());
    (kept, dropped)
}

/// Converts a length to `u32`, saturating (sample windows never approach 2³²).
pub(crate) fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance with the n − 1 denominator; NaN below two values.
fn variance(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

/// Percentile `q` in [0, 1] of an ascending slice, interpolating linearly between
/// order statistics (NumPy `linear`, R type 7). NaN for an empty slice.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

pub(crate) fn sorted(mut xs: Vec<f64>) -> Vec<f64> {
    xs.sort_by(f64::total_cmp);
    xs
}

/// Summary statistics of the finite values in `samples`.
pub fn summarize(samples: &[f64]) -> Summary {
    let (xs, non_finite) = finite(samples);
    let n = count_u32(xs.len());
    let mean = mean(&xs);
    let sd = variance(&xs).sqrt();
    let s = sorted(xs);
    Summary {
        n,
        non_finite,
        mean,
        sd,
        min: s.first().copied().unwrap_or(f64::NAN),
        max: s.last().copied().unwrap_or(f64::NAN),
        p50: percentile_sorted(&s, 0.50),
        p90: percentile_sorted(&s, 0.90),
        p95: percentile_sorted(&s, 0.95),
        p99: percentile_sorted(&s, 0.99),
    }
}

/// Student's t distribution with `df` degrees of freedom; `None` for invalid `df`.
fn students_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

/// Welch's unequal-variance t-test of mean(a) against mean(b).
///
/// NaN statistic and p-value when a group has fewer than two finite values or both
/// variances are zero.
pub fn welch_t_test(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
    let (xa, da) = finite(a);
    let (xb, db) = finite(b);
    let (na, nb) = (xa.len() as f64, xb.len() as f64);
    let (va, vb) = (variance(&xa), variance(&xb));
    let se2 = va / na + vb / nb;
    let (statistic, df, p_value) = if xa.len() < 2 || xb.len() < 2 || se2 <= 0.0 {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        let t = (mean(&xa) - mean(&xb)) / se2.sqrt();
        let df = se2 * se2 / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0));
        let p = students_t(df).map_or(f64::NAN, |dist| match alternative {
            Alternative::TwoSided => (2.0 * dist.sf(t.abs())).min(1.0),
            Alternative::Greater => dist.sf(t),
            Alternative::Less => dist.cdf(t),
        });
        (t, df, p)
    };
    TestResult {
        statistic,
        p_value,
        df,
        n_a: count_u32(xa.len()),
        n_b: count_u32(xb.len()),
        dropped: da + db,
        exact: false,
    }
}

/// Cohen's d: (mean(a) − mean(b)) / pooled sample standard deviation.
///
/// NaN when a group has fewer than two finite values or the pooled sd is zero.
pub fn cohens_d(a: &[f64], b: &[f64]) -> f64 {
    let (xa, _) = finite(a);
    let (xb, _) = finite(b);
    if xa.len() < 2 || xb.len() < 2 {
        return f64::NAN;
    }
    let (na, nb) = (xa.len() as f64, xb.len() as f64);
    let pooled =
        (((na - 1.0) * variance(&xa) + (nb - 1.0) * variance(&xb)) / (na + nb - 2.0)).sqrt();
    if pooled == 0.0 {
        return f64::NAN;
    }
    (mean(&xa) - mean(&xb)) / pooled
}

/// Two-sided confidence interval for the mean with Student's t (n − 1 df).
///
/// NaN bounds when fewer than two finite values or `level` is outside (0, 1).
pub fn mean_confidence_interval(samples: &[f64], level: f64) -> Interval {
    let (xs, _) = finite(samples);
    let m = mean(&xs);
    let nan = Interval {
        mean: m,
        low: f64::NAN,
        high: f64::NAN,
    };
    if xs.len() < 2 || !(level > 0.0 && level < 1.0) {
        return nan;
    }
    let Some(dist) = students_t((xs.len() - 1) as f64) else {
        return nan;
    };
    let half = dist.inverse_cdf(0.5 + level / 2.0) * (variance(&xs) / xs.len() as f64).sqrt();
    Interval {
        mean: m,
        low: m - half,
        high: m + half,
    }
}
