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
    match iqr_rule(&sorted(&xs), k) {
        Some(keep) => keep.apply(&xs),
        None => xs.into_owned(),
    }
}

/// Keeps values whose robust z-score |x − median| / (1.4826 · MAD) is ≤ `threshold`.
///
/// When the MAD is zero the scale is unknown and every finite value is kept; a
/// non-finite or negative `threshold` keeps every finite value too.
pub fn filter_outliers_mad(samples: &[f64], threshold: f64) -> Vec<f64> {
    let (xs, _) = finite(samples);
    match mad_rule(&xs, &sorted(&xs), threshold) {
        Some(keep) => keep.apply(&xs),
        None => xs.into_owned(),
    }
}

/// Which finite values an outlier filter keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep {
    /// Values in [low, high].
    Between { low: f64, high: f64 },
    /// Values with |x − median| / scale ≤ threshold.
    NearMedian {
        median: f64,
        scale: f64,
        threshold: f64,
    },
}

impl Keep {
    /// The values of `xs` that survive, in order. Allocated once at full size: a
    /// filtered iterator gives `collect` no size, and growing 4 → 8 → … → 64 cost
    /// more than the filtering.
    pub(crate) fn apply(self, xs: &[f64]) -> Vec<f64> {
        let mut kept = Vec::with_capacity(xs.len());
        kept.extend(xs.iter().copied().filter(|&x| self.keeps(x)));
        kept
    }

    /// Whether `x` survives the filter.
    fn keeps(self, x: f64) -> bool {
        match self {
            Keep::Between { low, high } => (low..=high).contains(&x),
            Keep::NearMedian {
                median,
                scale,
                threshold,
            } => (x - median).abs() / scale <= threshold,
        }
    }
}

/// Tukey's fences for the ascending finite values `s`; `None` keeps everything (fewer
/// than two values, or a non-finite or negative `k`).
pub(crate) fn iqr_rule(s: &[f64], k: f64) -> Option<Keep> {
    if s.len() < 2 || !k.is_finite() || k < 0.0 {
        return None;
    }
    let (q1, q3) = (percentile_sorted(s, 0.25), percentile_sorted(s, 0.75));
    Some(Keep::Between {
        low: q1 - k * (q3 - q1),
        high: q3 + k * (q3 - q1),
    })
}

/// The robust z-score rule for finite values `xs` with ascending copy `s`; `None`
/// keeps everything (fewer than two values, a zero MAD, or a non-finite or negative
/// `threshold`).
pub(crate) fn mad_rule(xs: &[f64], s: &[f64], threshold: f64) -> Option<Keep> {
    if xs.len() < 2 || !threshold.is_finite() || threshold < 0.0 {
        return None;
    }
    let median = percentile_sorted(s, 0.5);
    let deviations: Vec<f64> = xs.iter().map(|x| (x - median).abs()).collect();
    let scale = MAD_TO_SIGMA * percentile_sorted(&sorted(&deviations), 0.5);
    if scale == 0.0 {
        return None;
    }
    Some(Keep::NearMedian {
        median,
        scale,
        threshold,
    })
}
