//! The functions, over the distributions of [`crate::distribution`].

mod compare;
mod mann_whitney;
mod moments;
mod order;
mod outliers;

use std::borrow::Cow;

use crate::distribution::students_t;
use crate::{Alternative, Interval, Summary, TestResult};

pub use compare::compare;
pub use mann_whitney::mann_whitney_u;
pub(crate) use moments::Moments;
use moments::{common_unit, mean_difference_in};
pub use outliers::{filter_outliers_iqr, filter_outliers_mad};

/// Finite values of `samples`, and how many were not finite. Borrows `samples` when
/// every value is finite (the usual case), so a clean window is never copied.
pub(crate) fn finite(samples: &[f64]) -> (Cow<'_, [f64]>, u32) {
    // Counted without an early exit, so the test runs on vector lanes: windows are
    // nearly always entirely finite.
    if samples.iter().filter(|x| !x.is_finite()).count() == 0 {
        return (Cow::Borrowed(samples), 0);
    }
    let kept: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    let dropped = count_u32(samples.len() - kept.len());
    (Cow::Owned(kept), dropped)
}

/// Converts a length to `u32`, saturating (sample windows never approach 2³²).
pub(crate) fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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

/// An ascending copy of `xs` (in IEEE 754 total order).
pub(crate) fn sorted(xs: &[f64]) -> Vec<f64> {
    // Sorting integer keys with the order of `f64::total_cmp` is 2–3× faster than
    // sorting the floats with it; unstable is enough, as equal keys are equal values.
    // (An MSD radix sort measured no faster on 100,000 clustered samples: their
    // buckets still need sorting, see BENCHMARKS.md.)
    let mut keys: Vec<u64> = xs.iter().map(|&x| unsigned_order_key(x)).collect();
    keys.sort_unstable();
    keys.into_iter().map(from_unsigned_order_key).collect()
}

/// A `u64` whose order is `f64::total_cmp`'s: the sign bit flipped for positive
/// floats, every bit flipped for negative ones.
pub(crate) fn unsigned_order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    // All ones for a negative float (0 − 1), else 0; with the sign bit set either way.
    // Logical shifts and a subtraction, which vector units have for 64-bit lanes.
    bits ^ ((bits >> 63).wrapping_neg() | (1 << 63))
}

/// The float whose key is `key`.
pub(crate) fn from_unsigned_order_key(key: u64) -> f64 {
    let bits = if key >> 63 == 1 {
        key ^ (1 << 63)
    } else {
        !key
    };
    f64::from_bits(bits)
}

/// Summary statistics of the finite values in `samples`.
pub fn summarize(samples: &[f64]) -> Summary {
    let (xs, non_finite) = finite(samples);
    summary_of(Moments::of(&xs), &sorted(&xs), non_finite)
}

/// The summary of a group with moments `m` whose ascending finite values are `s`,
/// reporting `non_finite` ignored values.
pub(crate) fn summary_of(m: Moments, s: &[f64], non_finite: u32) -> Summary {
    Summary {
        n: count_u32(m.len),
        non_finite,
        mean: m.mean,
        sd: m.sd(),
        min: s.first().copied().unwrap_or(f64::NAN),
        max: s.last().copied().unwrap_or(f64::NAN),
        p50: percentile_sorted(s, 0.50),
        p90: percentile_sorted(s, 0.90),
        p95: percentile_sorted(s, 0.95),
        p99: percentile_sorted(s, 0.99),
    }
}

/// Welch's unequal-variance t-test of mean(a) against mean(b).
///
/// NaN statistic and p-value when a group has fewer than two finite values or both
/// variances are zero.
pub fn welch_t_test(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
    let (xa, da) = finite(a);
    let (xb, db) = finite(b);
    welch_of(Moments::of(&xa), Moments::of(&xb), da + db, alternative)
}

/// Welch's t-test of groups with moments `a` and `b`; `dropped` non-finite values.
pub(crate) fn welch_of(
    a: Moments,
    b: Moments,
    dropped: u32,
    alternative: Alternative,
) -> TestResult {
    let (na, nb) = (a.len as f64, b.len as f64);
    // In a common unit (a power of two), so groups of values near 1e-300 or 1e300
    // give the representable t and df their variances alone would not.
    let unit = common_unit(&a, &b);
    let (va, vb) = (a.variance_in(unit), b.variance_in(unit));
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    let usable = se2 > 0.0 && se2.is_finite();
    let (statistic, df, p_value) = if a.len < 2 || b.len < 2 || !usable {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        let t = mean_difference_in(&a, &b, unit) / se2.sqrt();
        // Welch–Satterthwaite, each term divided by the larger so nothing underflows.
        let big = sa.max(sb);
        let (ra, rb) = (sa / big, sb / big);
        let df = (ra + rb) * (ra + rb) / (ra * ra / (na - 1.0) + rb * rb / (nb - 1.0));
        let p = match alternative {
            Alternative::TwoSided => students_t::two_sided_tail(t, df),
            Alternative::Greater => students_t::sf(t, df),
            Alternative::Less => students_t::cdf(t, df),
        };
        (t, df, p)
    };
    TestResult {
        statistic,
        p_value,
        df,
        n_a: count_u32(a.len),
        n_b: count_u32(b.len),
        dropped,
        exact: false,
    }
}

/// Cohen's d: (mean(a) − mean(b)) / pooled sample standard deviation.
///
/// NaN when a group has fewer than two finite values or the pooled sd is zero.
pub fn cohens_d(a: &[f64], b: &[f64]) -> f64 {
    let (xa, _) = finite(a);
    let (xb, _) = finite(b);
    cohens_d_of(Moments::of(&xa), Moments::of(&xb))
}

/// Cohen's d of groups with moments `a` and `b`.
pub(crate) fn cohens_d_of(a: Moments, b: Moments) -> f64 {
    if a.len < 2 || b.len < 2 {
        return f64::NAN;
    }
    let (na, nb) = (a.len as f64, b.len as f64);
    let unit = common_unit(&a, &b);
    let pooled = (((na - 1.0) * a.variance_in(unit) + (nb - 1.0) * b.variance_in(unit))
        / (na + nb - 2.0))
        .sqrt();
    if pooled.is_nan() || pooled <= 0.0 {
        return f64::NAN;
    }
    mean_difference_in(&a, &b, unit) / pooled
}

/// Two-sided confidence interval for the mean with Student's t (n − 1 df).
///
/// NaN bounds when fewer than two finite values or `level` is outside (0, 1).
pub fn mean_confidence_interval(samples: &[f64], level: f64) -> Interval {
    let (xs, _) = finite(samples);
    let moments = Moments::of(&xs);
    let m = moments.mean;
    let nan = Interval {
        mean: m,
        low: f64::NAN,
        high: f64::NAN,
    };
    if xs.len() < 2 || !(level > 0.0 && level < 1.0) {
        return nan;
    }
    // The standard error as scale × √(scaled variance / n): representable for values
    // near 1e-300, whose variance is not.
    let se = moments.scale * (moments.scaled_variance / xs.len() as f64).sqrt();
    let half = students_t::two_sided_quantile(level, (xs.len() - 1) as f64) * se;
    if !half.is_finite() {
        return nan;
    }
    Interval {
        mean: m,
        low: m - half,
        high: m + half,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_by_integer_key_is_total_cmp_order() {
        let xs = [
            3.5,
            -0.0,
            f64::INFINITY,
            0.0,
            -1e-310,
            f64::MIN,
            1e-310,
            -2.25,
            f64::NEG_INFINITY,
            f64::MAX,
            -f64::NAN,
            f64::NAN,
            7.0,
            -2.25,
        ];
        let mut expected = xs.to_vec();
        expected.sort_by(f64::total_cmp);
        let got = sorted(&xs);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
    }

    proptest::proptest! {
        /// The key order is `total_cmp`'s for any bit patterns: both signs, zeros,
        /// subnormals, infinities, NaNs, and windows sharing their high bits.
        #[test]
        fn sorted_windows_are_total_cmp_ordered(
            bits in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..3000),
            shared_high in proptest::prelude::any::<bool>(),
        ) {
            let xs: Vec<f64> = bits
                .iter()
                .map(|&b| f64::from_bits(if shared_high { 0x4059_0000_0000_0000 | (b & 0xffff_ffff) } else { b }))
                .collect();
            let mut expected = xs.clone();
            expected.sort_by(f64::total_cmp);
            let got = sorted(&xs);
            let as_bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(as_bits(&got), as_bits(&expected));
        }
    }

    #[test]
    fn a_clean_window_is_borrowed_and_a_dirty_one_copied_without_the_bad_values() {
        let clean = [1.0, 2.0];
        assert!(matches!(finite(&clean), (Cow::Borrowed(_), 0)));
        let (kept, dropped) = finite(&[1.0, f64::NAN, 2.0, f64::INFINITY]);
        assert_eq!((&*kept, dropped), (&[1.0, 2.0][..], 2));
    }
}
