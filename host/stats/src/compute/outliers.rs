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

    /// Where the survivors are within the ascending values `s`: they are one
    /// run of `s`, as each rule keeps an interval. For `NearMedian` that holds in
    /// floating point too: rounding is monotone, so |x − median| / scale does not
    /// decrease moving away from the median on either side.
    pub(crate) fn run_range(self, s: &[f64]) -> std::ops::Range<usize> {
        let start = s.iter().position(|&x| self.keeps(x)).unwrap_or(s.len());
        let end = s
            .iter()
            .rposition(|&x| self.keeps(x))
            .map_or(start, |i| i + 1);
        start..end
    }
    /// Whether `x` survives the filter.
    pub(crate) fn keeps(self, x: f64) -> bool {
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
    let (low, high) = tukey_fences(percentile_sorted(s, 0.25), percentile_sorted(s, 0.75), k);
    Some(Keep::Between { low, high })
}

/// Tukey's fences `(Q1 − k·IQR, Q3 + k·IQR)` for finite quartiles and `k ≥ 0`.
pub(crate) fn tukey_fences(q1: f64, q3: f64, k: f64) -> (f64, f64) {
    // An IQR beyond f64::MAX (quartiles near ±1e308) is taken in halves, so k = 0
    // still gives [Q1, Q3] rather than 0·∞ = NaN fences that keep nothing.
    let iqr = q3 - q1;
    let reach = if iqr.is_finite() {
        k * iqr
    } else {
        2.0 * k * (q3 / 2.0 - q1 / 2.0)
    };
    (q1 - reach, q3 + reach)
}

/// The robust z-score rule for finite values `xs` with ascending copy `s`; `None`
/// keeps everything (fewer than two values, a zero or overflowing MAD, or a non-finite
/// or negative `threshold`).
pub(crate) fn mad_rule(xs: &[f64], s: &[f64], threshold: f64) -> Option<Keep> {
    if xs.len() < 2 || !threshold.is_finite() || threshold < 0.0 {
        return None;
    }
    let median = percentile_sorted(s, 0.5);
    let deviations: Vec<f64> = xs.iter().map(|x| (x - median).abs()).collect();
    let scale = MAD_TO_SIGMA * percentile_sorted(&sorted(&deviations), 0.5);
    // A zero MAD leaves the scale unknown; an infinite one (deviations beyond
    // f64::MAX) would make every score 0 or NaN. Either way: keep everything.
    if scale == 0.0 || !scale.is_finite() {
        return None;
    }
    Some(Keep::NearMedian {
        median,
        scale,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_scales_beyond_f64_max_keep_what_the_rule_says() {
        let wide = [-1e308, -1.5e308, 0.0, 1e308, 1.7e308, 1.6e308];
        // k = 0 keeps exactly [Q1, Q3], even though Q3 − Q1 overflows.
        let q1 = percentile_sorted(&sorted(&wide), 0.25);
        let q3 = percentile_sorted(&sorted(&wide), 0.75);
        let kept = filter_outliers_iqr(&wide, 0.0);
        let want: Vec<f64> = wide
            .iter()
            .copied()
            .filter(|x| (q1..=q3).contains(x))
            .collect();
        assert_eq!(kept, want);
        assert!(!kept.is_empty());
        // k = 1.5: the fences overflow to ±∞ and keep everything.
        assert_eq!(filter_outliers_iqr(&wide, 1.5), wide.to_vec());
        // Deviations from the median beyond f64::MAX: the MAD is infinite, keep all.
        let spread = [-1.7e308, -1.6e308, -1.5e308, 1.5e308, 1.6e308, 1.7e308];
        assert_eq!(filter_outliers_mad(&spread, 3.5), spread.to_vec());
        // Negative and NaN parameters keep every finite value.
        let xs = [1.0, 2.0, 3.0, 100.0, f64::NAN];
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(filter_outliers_iqr(&xs, bad), vec![1.0, 2.0, 3.0, 100.0]);
            assert_eq!(filter_outliers_mad(&xs, bad), vec![1.0, 2.0, 3.0, 100.0]);
        }
    }

    /// The run found in the sorted window is exactly what filtering it keeps.
    fn assert_run_is_filter(keep: Keep, xs: &[f64]) {
        let s = sorted(xs);
        assert_eq!(
            &s[keep.run_range(&s)],
            keep.apply(&s).as_slice(),
            "{keep:?} on {xs:?}"
        );
    }

    #[test]
    fn survivors_of_a_sorted_window_are_one_run() {
        // Deterministic pseudo-random windows (an LCG), skewed and with planted outliers.
        let mut state: u64 = 7;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for round in 0..200 {
            let n = 2 + round % 60;
            let mut xs: Vec<f64> = (0..n).map(|_| (next() * 10.0).powi(3) - 50.0).collect();
            xs[round % n] = 1e6 * (next() - 0.5);
            for keep in [
                iqr_rule(&sorted(&xs), 1.5),
                mad_rule(&xs, &sorted(&xs), 3.5),
                mad_rule(&xs, &sorted(&xs), 0.1),
            ]
            .into_iter()
            .flatten()
            {
                assert_run_is_filter(keep, &xs);
            }
        }
        // Ties, and rules that keep nothing.
        let ties = [3.0, 1.0, 3.0, 3.0, 2.0, 3.0, 9.0];
        assert_run_is_filter(iqr_rule(&sorted(&ties), 0.0).expect("a rule"), &ties);
        let none = Keep::Between {
            low: 100.0,
            high: 200.0,
        };
        assert_run_is_filter(none, &ties);
        assert!(none.run_range(&sorted(&ties)).is_empty());
    }
}
