//! Size, mean and variance of a group of finite values, computed so that neither an
//! ill-conditioned group (`1e9 + N(0, 1e-3)`) nor extreme magnitudes (values near
//! 1e-300 or 1e300, subnormals) lose the answer:
//!
//! - the values are scaled by a power of two into (-2, 2) (exact: only the exponent
//!   changes), so no sum or square overflows or underflows;
//! - the mean is the first value plus the compensated (Neumaier) mean of the
//!   differences from it, which are exact for clustered data;
//! - the variance is the corrected two-pass sum about that mean, its deviations scaled
//!   by another power of two before they are squared.
//!
//! The variance is kept as `scale² × scaled_variance`, never multiplied out: for values
//! near 1e-300 it is not representable (1e-600), yet the t statistic, the degrees of
//! freedom and Cohen's d — ratios — are, and are computed from the scaled parts.

use super::outliers::Keep;

/// The moments of a group of finite values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moments {
    /// Number of values.
    pub(crate) len: usize,
    /// The mean; NaN for no values. Rounded to the values' own precision: differences
    /// of means are taken from the exact parts below instead.
    pub(crate) mean: f64,
    /// A power of two with every |value| / `range` in [0, 2).
    range: f64,
    /// The first value / `range` (exact).
    anchor: f64,
    /// The mean of (value / `range` − `anchor`), compensated: small and precise.
    offset: f64,
    /// A power of two: the variance is `scale² × scaled_variance`.
    pub(crate) scale: f64,
    /// The sample variance (n − 1 denominator) in units of `scale²`; NaN below two
    /// values, 0 for a constant group.
    pub(crate) scaled_variance: f64,
}

/// The power of two at or below `x` (> 0, finite), so `x / p` is in [1, 2): exactly
/// representable for every such `x`, subnormals included; 1 for 0.
fn power_of_two_below(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 1.0;
    }
    let bits = x.to_bits();
    let exponent = (bits >> 52) & 0x7ff;
    if exponent == 0 {
        // Subnormal: its highest mantissa bit is the power of two below it.
        let mantissa = bits & ((1 << 52) - 1);
        return f64::from_bits(1 << (63 - mantissa.leading_zeros()));
    }
    f64::from_bits(exponent << 52)
}

/// Values fed to the sums in blocks, in order; every block but the last has a length
/// divisible by 4, so lane `i mod 4` of a four-lane sum sees the same values whether
/// they come as one slice or as blocks.
pub(crate) trait Blocks {
    /// Calls `f` with each block in turn.
    fn each_block(&self, f: &mut dyn FnMut(&[f64]));

    /// The first value, if any.
    fn first_value(&self) -> Option<f64>;
}

impl Blocks for [f64] {
    fn each_block(&self, f: &mut dyn FnMut(&[f64])) {
        f(self);
    }

    fn first_value(&self) -> Option<f64> {
        self.first().copied()
    }
}

/// The values of `xs` an outlier filter keeps, in order, read in place, so they are
/// never collected into a window-sized copy. Where the dropped values are is found
/// once, so the sums (two passes) only walk the runs between them.
pub(crate) struct Within<'a> {
    /// The window.
    xs: &'a [f64],
    /// The positions in `xs` of the values the filter drops, ascending.
    dropped: Vec<usize>,
}

impl<'a> Within<'a> {
    /// The values of `xs` that `keep` keeps.
    pub(crate) fn new(xs: &'a [f64], keep: Keep) -> Self {
        // One scan per rule, so the rule's test is compiled into the loop (the match
        // inside `keeps` is settled here, not per value).
        let dropped = match keep {
            Keep::Between { low, high } => dropped_by(xs, |x| Keep::Between { low, high }.keeps(x)),
            Keep::NearMedian { .. } => dropped_by(xs, |x| keep.keeps(x)),
        };
        Self { xs, dropped }
    }
}

/// The positions of the values of `xs` that `keeps` drops. Blocks of 16 are counted
/// whole first (a sum of comparisons, no branch per value): dropped values are rare,
/// so most blocks need nothing more.
fn dropped_by(xs: &[f64], keeps: impl Fn(f64) -> bool) -> Vec<usize> {
    let mut dropped = Vec::new();
    let mut blocks = xs.chunks_exact(16);
    let mut from = 0;
    for block in &mut blocks {
        let kept = block.iter().fold(0u32, |n, &x| n + u32::from(keeps(x)));
        if kept < 16 {
            let at = block.iter().enumerate().filter(|(_, x)| !keeps(**x));
            dropped.extend(at.map(|(i, _)| from + i));
        }
        from += 16;
    }
    let rest = blocks.remainder().iter().enumerate();
    dropped.extend(rest.filter(|(_, x)| !keeps(**x)).map(|(i, _)| from + i));
    dropped
}

impl Blocks for Within<'_> {
    fn each_block(&self, f: &mut dyn FnMut(&[f64])) {
        // Runs of survivors go to `f` straight from the window, cut to multiples of 4;
        // across a dropped value a few values are staged until the staged count is a
        // multiple of 4 again. Dropped values are few, so nearly every value is read
        // in place.
        let xs = self.xs;
        let mut staged = [0.0f64; 4];
        let (mut n, mut from) = (0usize, 0usize);
        for &past in self.dropped.iter().chain(std::iter::once(&xs.len())) {
            let mut run = &xs[from..past];
            while n > 0
                && let Some((&x, rest)) = run.split_first()
            {
                staged[n] = x;
                n = (n + 1) % 4;
                if n == 0 {
                    f(&staged);
                }
                run = rest;
            }
            let direct = run.len() / 4 * 4;
            if direct > 0 {
                f(&run[..direct]);
            }
            // Fewer than 4 left, and nothing staged: they start the next stage.
            for &x in &run[direct..] {
                staged[n] = x;
                n += 1;
            }
            from = past + 1;
        }
        f(&staged[..n]);
    }

    fn first_value(&self) -> Option<f64> {
        // The first position not dropped: where the ascending list first skips one.
        let first = self
            .dropped
            .iter()
            .enumerate()
            .find(|(i, d)| *i != **d)
            .map_or(self.dropped.len(), |(i, _)| i);
        self.xs.get(first).copied()
    }
}

/// Neumaier's compensated sum, kept in four independent lanes (so the additions of one
/// lane do not wait for another's) and combined at the end with the same compensation.
fn compensated_sum(values: &(impl Blocks + ?Sized), f: impl Fn(f64) -> f64) -> f64 {
    #[inline(always)]
    fn add(sum: &mut f64, compensation: &mut f64, v: f64) {
        let t = *sum + v;
        *compensation += if sum.abs() >= v.abs() {
            (*sum - t) + v
        } else {
            (v - t) + *sum
        };
        *sum = t;
    }
    let (mut sums_out, mut comps_out) = ([0.0f64; 4], [0.0f64; 4]);
    values.each_block(&mut |block| {
        // Locals, so the lanes live in registers rather than behind the captures.
        let (mut sums, mut comps) = (sums_out, comps_out);
        let mut chunks = block.chunks_exact(4);
        for c in &mut chunks {
            for lane in 0..4 {
                add(&mut sums[lane], &mut comps[lane], f(c[lane]));
            }
        }
        for (lane, &v) in chunks.remainder().iter().enumerate() {
            add(&mut sums[lane], &mut comps[lane], f(v));
        }
        (sums_out, comps_out) = (sums, comps);
    });
    let (sums, comps) = (sums_out, comps_out);
    let (mut sum, mut compensation) = (0.0, comps.iter().sum::<f64>());
    for s in sums {
        add(&mut sum, &mut compensation, s);
    }
    sum + compensation
}

/// Σd² and Σd over `values`, d = f(x), in four lanes.
fn squares_and_sum(values: &(impl Blocks + ?Sized), f: impl Fn(f64) -> f64) -> (f64, f64) {
    let (mut sq_out, mut sm_out) = ([0.0f64; 4], [0.0f64; 4]);
    values.each_block(&mut |block| {
        let (mut sq, mut sm) = (sq_out, sm_out);
        let mut chunks = block.chunks_exact(4);
        for c in &mut chunks {
            for lane in 0..4 {
                let d = f(c[lane]);
                sq[lane] += d * d;
                sm[lane] += d;
            }
        }
        for &v in chunks.remainder() {
            let d = f(v);
            sq[0] += d * d;
            sm[0] += d;
        }
        (sq_out, sm_out) = (sq, sm);
    });
    (sq_out.iter().sum(), sm_out.iter().sum())
}

/// `x / p` for a power of two `p`, as a multiplication by the exact reciprocal where
/// it is representable (the product is then the same correctly rounded quotient), and
/// a division where it is not (`p` below 2⁻¹⁰²²).
#[derive(Clone, Copy)]
struct Divide(f64, Option<f64>);

impl Divide {
    fn by(p: f64) -> Self {
        let inverse = 1.0 / p;
        Self(p, inverse.is_finite().then_some(inverse))
    }
}

impl Moments {
    /// The moments of finite values `xs`.
    pub(crate) fn of(xs: &[f64]) -> Self {
        // Finite values: plain comparisons (no NaN handling needed).
        let (min, max) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (if x < lo { x } else { lo }, if x > hi { x } else { hi })
            });
        Self::of_blocks(xs, xs.len(), min, max)
    }

    /// The moments of the `len` finite values `values` (fed in blocks), whose smallest
    /// and largest are `min` and `max` — known to a caller that selected them, so no
    /// pass looks for them. The same numbers, bit for bit,
    /// as [`Moments::of`] on the values collected into a slice: the largest |x| and
    /// |x − mean| are at `min` or `max`, as scaling and shifting are monotone.
    pub(crate) fn of_blocks(xs: &(impl Blocks + ?Sized), len: usize, min: f64, max: f64) -> Self {
        let first = if len == 0 { None } else { xs.first_value() };
        let Some(first) = first else {
            return Self {
                len,
                mean: f64::NAN,
                range: 1.0,
                anchor: f64::NAN,
                offset: f64::NAN,
                scale: 1.0,
                scaled_variance: f64::NAN,
            };
        };
        let n = len as f64;
        let range = power_of_two_below(min.abs().max(max.abs()));
        // In (-2, 2): exact, because only exponents change (values near 1e-300 are
        // scaled up; subnormals become normal).
        let anchor = first / range;
        let by_range = Divide::by(range);
        let offset = match by_range {
            Divide(_, Some(inv)) => compensated_sum(xs, |x| x * inv - anchor),
            Divide(r, None) => compensated_sum(xs, |x| x / r - anchor),
        } / n;
        let mean_scaled = anchor + offset;
        let mean = mean_scaled * range;
        if len < 2 {
            return Self {
                len,
                mean,
                range,
                anchor,
                offset,
                scale: 1.0,
                scaled_variance: f64::NAN,
            };
        }
        let deviation = |x: f64| match by_range {
            Divide(_, Some(inv)) => (x * inv - mean_scaled).abs(),
            Divide(r, None) => (x / r - mean_scaled).abs(),
        };
        let spread = power_of_two_below(deviation(min).max(deviation(max)));
        // Corrected two-pass: Σd² − (Σd)²/n, deviations in units of `spread`.
        let by_spread = Divide::by(spread);
        let (squares, sum) = match (by_range, by_spread) {
            (Divide(_, Some(inv)), Divide(_, Some(inv_s))) => {
                squares_and_sum(xs, |x| (x * inv - mean_scaled) * inv_s)
            }
            (Divide(r, _), Divide(sp, _)) => squares_and_sum(xs, |x| (x / r - mean_scaled) / sp),
        };
        let scaled_variance = ((squares - sum * sum / n) / (n - 1.0)).max(0.0);
        Self {
            len,
            mean,
            range,
            anchor,
            offset,
            scale: range * spread,
            scaled_variance,
        }
    }

    /// The sample standard deviation (NaN below two values). Underflows to 0 or
    /// overflows to inf only where the true value is not representable.
    pub(crate) fn sd(&self) -> f64 {
        self.scale * self.scaled_variance.sqrt()
    }

    /// The variance in units of `unit²` (a power of two): `(scale / unit)² ×
    /// scaled_variance`.
    pub(crate) fn variance_in(&self, unit: f64) -> f64 {
        let r = self.scale / unit;
        r * r * self.scaled_variance
    }
}

/// The larger of two groups' scales: a unit in which both variances can be written.
pub(crate) fn common_unit(a: &Moments, b: &Moments) -> f64 {
    a.scale.max(b.scale)
}

/// `(a.mean − b.mean) / unit`, from the exact parts of the means: the anchors' difference
/// (exact for close groups) plus the offsets' difference (small and precise), so two
/// groups near 1e9 whose means differ by 1e-6 — or subnormal groups — keep every digit.
pub(crate) fn mean_difference_in(a: &Moments, b: &Moments, unit: f64) -> f64 {
    let (ra, rb) = (a.range / unit, b.range / unit);
    (a.anchor * ra - b.anchor * rb) + (a.offset * ra - b.offset * rb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_bracket_the_value() {
        for x in [5e-324, 1e-310, 1e-300, 0.75, 1.0, 3.0, 1e300, f64::MAX] {
            let p = power_of_two_below(x);
            assert!(p <= x && x / p < 2.0, "{x}: {p}");
            assert_eq!(p.log2().fract(), 0.0, "{x}: {p} is a power of two");
        }
    }

    #[test]
    fn an_ill_conditioned_group_keeps_its_mean_and_variance() {
        // 1e9 plus offsets exactly representable there: the exact mean and variance
        // are those of the offsets.
        let offsets = [0.0, 1.0, -2.0, 3.5, -1.25, 0.75];
        let unit = 2f64.powi(-20);
        let xs: Vec<f64> = offsets.iter().map(|o| 1e9 + o * unit).collect();
        let m = Moments::of(&xs);
        let exact_mean = offsets.iter().sum::<f64>() / 6.0;
        assert!((m.mean - (1e9 + exact_mean * unit)).abs() <= 1e9 * f64::EPSILON);
        let exact_var = offsets
            .iter()
            .map(|o| (o - exact_mean).powi(2))
            .sum::<f64>()
            / 5.0;
        let sd = m.sd() / unit;
        assert!(
            (sd - exact_var.sqrt()).abs() / exact_var.sqrt() < 1e-12,
            "{sd}"
        );
    }

    #[test]
    fn extreme_magnitudes_keep_a_representable_spread() {
        let base = [1.0, 2.0, 4.0, 3.0];
        for k in [-1070, -1000, 1000, 1020] {
            let s = 2f64.powf(f64::from(k));
            let m = Moments::of(&base.map(|x| x * s));
            let plain = Moments::of(&base);
            let r = m.scale / plain.scale;
            assert_eq!(r, s, "scaled by exactly 2^{k}");
            assert_eq!(m.scaled_variance, plain.scaled_variance, "2^{k}");
        }
        let huge = Moments::of(&[1.7e308, -1.7e308]);
        assert_eq!(huge.mean, 0.0);
        assert!(
            huge.sd().is_infinite(),
            "the sd (2.4e308) is not representable"
        );
    }
}
