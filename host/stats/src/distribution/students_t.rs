//! Student's t distribution with ν > 0 degrees of freedom: tails, the central
//! probability, the density and the two-sided quantile.

use statrs::distribution::{ContinuousCDF, Normal};

use super::incomplete_beta::{LARGE_A, LARGE_A_LN_X_FROM, beta_cf, ln_beta_half, tail_large_a};
use super::normal::erfc;

/// The probabilities of `|T| > t` (two tails) and `|T| ≤ t` (central) for `t ≥ 0`,
/// each computed directly where it is the smaller, so neither is a difference of
/// nearly equal numbers. NaN for NaN input or a non-positive or NaN ν.
fn tails_and_central(t: f64, df: f64) -> (f64, f64) {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let t = t.abs();
    if t == 0.0 {
        return (1.0, 0.0);
    }
    if t == f64::INFINITY {
        return (0.0, 1.0);
    }
    if df == f64::INFINITY {
        let tail = erfc(t * std::f64::consts::FRAC_1_SQRT_2);
        return (tail, 1.0 - tail);
    }
    let a = df / 2.0;
    let ln_beta = ln_beta_half(a);
    // r = t²/ν; x = 1/(1 + r) = ν/(ν + t²), y = 1 − x = r/(1 + r), their logs by ln_1p.
    let r = t * t / df;
    let (x, y, ln_x, ln_y) = if r.is_finite() {
        let ln_1p_r = r.ln_1p();
        (1.0 / (1.0 + r), r / (1.0 + r), -ln_1p_r, r.ln() - ln_1p_r)
    } else {
        // t² overflowed: x = ν/t² to within 1 + 1e-300.
        let ln_r = 2.0 * t.ln() - df.ln();
        ((-ln_r).exp(), 1.0, -ln_r, 0.0)
    };
    // The central probability is computed directly (fraction in y) while it is the
    // smaller and the fraction is well conditioned; the tails by the large-a expansion
    // or, far out, by the fraction in x. Near the median both fractions are differences
    // of nearly equal numbers, which is what the expansion avoids for large ν.
    let central_first = if a >= LARGE_A {
        t * t <= 0.5
    } else {
        x >= (a + 1.0) / (a + 2.5)
    };
    if a >= LARGE_A && !central_first && ln_x > LARGE_A_LN_X_FROM {
        let tail = tail_large_a(a, ln_x);
        return (tail, 1.0 - tail);
    }
    if !central_first {
        match beta_cf(a, 0.5, x, ln_x, ln_y, ln_beta) {
            Some(tail) => (tail, 1.0 - tail),
            None => (f64::NAN, f64::NAN),
        }
    } else {
        match beta_cf(0.5, a, y, ln_y, ln_x, ln_beta) {
            Some(central) => (1.0 - central, central),
            None => (f64::NAN, f64::NAN),
        }
    }
}

/// `P(|T| > |t|)`: the two-sided p-value of a t statistic.
pub fn two_sided_tail(t: f64, df: f64) -> f64 {
    tails_and_central(t, df).0
}

/// `P(T > t)`.
pub fn sf(t: f64, df: f64) -> f64 {
    let (tail, central) = tails_and_central(t, df);
    if t >= 0.0 {
        tail / 2.0
    } else {
        0.5 + central / 2.0
    }
}

/// `P(T ≤ t)`.
pub fn cdf(t: f64, df: f64) -> f64 {
    sf(-t, df)
}

/// The density at `t`.
fn pdf(t: f64, df: f64) -> f64 {
    let r = t * t / df;
    let ln = -(df + 1.0) / 2.0 * r.ln_1p() - 0.5 * df.ln() - ln_beta_half(df / 2.0);
    ln.exp()
}

/// The `t ≥ 0` with `P(|T| ≤ t) = level`: the half-width, in standard errors, of a
/// two-sided confidence interval at `level`. NaN unless `0 < level < 1` and ν > 0.
///
/// Newton steps in `ln t` on the central probability itself (level ≤ ½) or on the two
/// tails (level > ½, where `1 − level` is exact), kept inside a shrinking bracket.
pub fn two_sided_quantile(level: f64, df: f64) -> f64 {
    if !(level > 0.0 && level < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let use_central = level <= 0.5;
    let target = if use_central { level } else { 1.0 - level };
    let ln_target = target.ln();
    // g(s) = ln P(s) − ln target with s = ln t, P the central or the tail probability;
    // g' = ±2 pdf(t)·t / P.
    let eval = |s: f64| -> (f64, f64) {
        let t = s.exp();
        let (tail, central) = tails_and_central(t, df);
        let p = if use_central { central } else { tail };
        let sign = if use_central { 1.0 } else { -1.0 };
        (p.ln() - ln_target, sign * 2.0 * pdf(t, df) * t / p)
    };
    let mut s = initial_guess(level, target, use_central, df).ln();
    // g is increasing in s for the central probability, decreasing for the tails.
    let (mut below, mut above) = (f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..100 {
        let (g, slope) = eval(s);
        if g == 0.0 {
            break;
        }
        let s_is_low = (g < 0.0) == use_central;
        if s_is_low {
            below = below.max(s);
        } else {
            above = above.min(s);
        }
        let mut next = s - g / slope;
        if !next.is_finite() || next <= below || next >= above {
            next = match (below.is_finite(), above.is_finite()) {
                (true, true) => 0.5 * (below + above),
                (true, false) => s + 2.0,
                (false, true) => s - 2.0,
                (false, false) => s,
            };
        }
        let step = (next - s).abs();
        s = next;
        if step <= 4.0 * f64::EPSILON * s.abs().max(1.0) {
            break;
        }
        if above - below <= 2.0 * f64::EPSILON * s.abs().max(1.0) {
            break;
        }
    }
    s.exp()
}

/// A start for the quantile search: the central probability's linear behaviour near 0
/// for small levels, a Cornish–Fisher correction of the normal quantile otherwise.
fn initial_guess(level: f64, target: f64, use_central: bool, df: f64) -> f64 {
    if use_central {
        // P(|T| ≤ t) ≈ 2 pdf(0) t, which underestimates t (the central probability is
        // concave), never by much below ½.
        return (level / (2.0 * pdf(0.0, df))).max(f64::MIN_POSITIVE);
    }
    let z = Normal::standard().inverse_cdf(target / 2.0).abs();
    let cf = z + (z * z * z + z) / (4.0 * df);
    if cf.is_finite() && cf > 0.0 { cf } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        // ν = 1 (Cauchy): P(T > 1) = ¼; ν = 2: P(T > t) = ½ − t/(2√(2 + t²)).
        let close = |got: f64, want: f64| (got - want).abs() <= 4.0 * f64::EPSILON * want;
        assert!(close(sf(1.0, 1.0), 0.25));
        assert!(close(cdf(-1.0, 1.0), 0.25));
        assert!(close(sf(-1.0, 1.0), 0.75));
        let t = 3.0f64;
        assert!(close(sf(t, 2.0), 0.5 - t / (2.0 * (2.0 + t * t).sqrt())));
        // Cauchy quantile: tan(π·level/2).
        let q = two_sided_quantile(0.5, 1.0);
        assert!(close(q, 1.0), "{q}");
        assert!(two_sided_quantile(0.0, 3.0).is_nan());
        assert!(two_sided_quantile(1.0, 3.0).is_nan());
        assert!(two_sided_tail(1.0, -1.0).is_nan());
        assert_eq!(two_sided_tail(0.0, 5.0), 1.0);
        assert_eq!(two_sided_tail(f64::INFINITY, 5.0), 0.0);
    }
}
