//! Outlier filters. Both keep the surviving values in their original order and drop
//! every non-finite value.

use super::{finite, percentile_sorted, sorted};

/// Scale that makes the MAD a consistent estimator of σ for normal data.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// Keeps values inside Tukey's fences [Q1 − k·IQR, Q3 + k·IQR].
///
/// A non-finite or negative `k` keeps every finite value.
pub fn filter_outliers_iqr(samples: &[f64], k: f64) -> Vec<f64> {
    let (xs, _) = finite(samples);
    if xs.len() < 2 || !k.is_finite() || k < 0.0 {
        return xs.into_owned();
    }
    let s = sorted(&xs);
    let (q1, q3) = (percentile_sorted(&s, 0.25), percentile_sorted(&s, 0.75));
    let (low, high) = (q1 - k * (q3 - q1), q3 + k * (q3 - q1));
    xs.iter()
        .copied()
        .filter(|x| (low..=high).contains(x))
        .collect()
}

/// Keeps values whose robust z-score |x − median| / (1.4826 · MAD) is ≤ `threshold`.
///
/// When the MAD is zero the scale is unknown and every finite value is kept; a
/// non-finite or negative `threshold` keeps every finite value too.
pub fn filter_outliers_mad(samples: &[f64], threshold: f64) -> Vec<f64> {
    let (xs, _) = finite(samples);
    if xs.len() < 2 || !threshold.is_finite() || threshold < 0.0 {
        return xs.into_owned();
    }
    let median = percentile_sorted(&sorted(&xs), 0.5);
    let deviations: Vec<f64> = xs.iter().map(|x| (x - median).abs()).collect();
    let scale = MAD_TO_SIGMA * percentile_sorted(&sorted(&deviations), 0.5);
    if scale == 0.0 {
        return xs.into_owned();
    }
    xs.iter()
        .copied()
        .filter(|x| (x - median).abs() / scale <= threshold)
        .collect()
}
