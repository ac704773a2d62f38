//! The regularised incomplete beta function `I_x(p, q)` for the pairs Student's t
//! needs — `(a, ½)` and `(½, a)` — with `ln B(a, ½)` computed without cancellation.

/// `ln √π`.
const LN_SQRT_PI: f64 = 0.572_364_942_924_700_087_071_713_675_677;

/// Stirling-series coefficients `B₂ₖ / (2k (2k − 1))`, k = 1…8.
const STIRLING: [f64; 8] = [
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360_360.0,
    1.0 / 156.0,
    -3617.0 / 122_400.0,
];

/// Where the Stirling series takes over (its 9th term is below 1e-17 from here).
const STIRLING_FROM: f64 = 10.0;

/// `ln B(a, ½) = ln Γ(a) + ln √π − ln Γ(a + ½)` for `a > 0`, to a few ulps of its
/// absolute value — which is what `exp` of a sum of logarithms needs.
pub(crate) fn ln_beta_half(a: f64) -> f64 {
    LN_SQRT_PI - ln_gamma_ratio_half(a)
}

/// `ln (Γ(a + ½) / Γ(a))` for `a > 0`.
///
/// From a ≥ 10 by the Stirling series of both terms, whose leading parts are combined
/// analytically: `½ ln a + a (ln(1 + 1/(2a)) − 1/(2a))` plus the series' differences.
/// Below, by the recurrence `r(a) = r(a + k) · Π (a + j)/(a + j + ½)`.
fn ln_gamma_ratio_half(a: f64) -> f64 {
    if a < STIRLING_FROM {
        let steps = (STIRLING_FROM - a).ceil();
        let mut product = 1.0;
        let mut j = 0.0;
        while j < steps {
            product *= (a + j) / (a + j + 0.5);
            j += 1.0;
        }
        return ln_gamma_ratio_half(a + steps) + product.ln();
    }
    let u = 0.5 / a;
    let mut series = 0.0;
    let (inv_hi, inv_lo) = (1.0 / (a + 0.5), 1.0 / a);
    let (sq_hi, sq_lo) = (inv_hi * inv_hi, inv_lo * inv_lo);
    let (mut p_hi, mut p_lo) = (inv_hi, inv_lo);
    for c in STIRLING {
        series += c * (p_hi - p_lo);
        p_hi *= sq_hi;
        p_lo *= sq_lo;
    }
    0.5 * a.ln() + a * ln_1p_minus_x(u) + series
}

/// `ln(1 + u) − u` for `0 ≤ u ≤ 0.05`, by its series (no cancellation).
fn ln_1p_minus_x(u: f64) -> f64 {
    let mut sum = 0.0;
    let mut power = u * u;
    for k in 2u32..40 {
        let term = power / f64::from(k);
        sum += if k.is_multiple_of(2) { -term } else { term };
        if term < 1e-18 * sum.abs() {
            break;
        }
        power *= u;
    }
    sum
}

/// From here on [`tail_large_a`] is used (its series converges to full precision).
pub(crate) const LARGE_A: f64 = 15.0;

/// …and while `ln x` is above this (x > 0.6): further out its terms grow with
/// `(ln x / 2)^{2n}`, and the continued fraction, far from its ill-conditioned middle,
/// is exact there.
pub(crate) const LARGE_A_LN_X_FROM: f64 = -0.5;

/// The coefficients `pₙ` of the large-a expansion for `b = ½`, computed at compile time:
/// `p₀ = 1`, `pₙ = (b − 1)/(2n + 1)! + (1/n) Σ_{m=1}^{n−1} (m b − n) p_{n−m} / (2m + 1)!`.
const P_HALF: [f64; 31] = p_coefficients(0.5);

const fn p_coefficients(b: f64) -> [f64; 31] {
    let mut odd_factorial = [1.0f64; 31]; // (2m + 1)!
    let mut m = 1;
    while m < 31 {
        odd_factorial[m] = odd_factorial[m - 1] * (2 * m) as f64 * (2 * m + 1) as f64;
        m += 1;
    }
    let mut p = [0.0f64; 31];
    p[0] = 1.0;
    let mut n = 1;
    while n < 31 {
        let mut sum = 0.0;
        let mut m = 1;
        while m < n {
            sum += (m as f64 * b - n as f64) * p[n - m] / odd_factorial[m];
            m += 1;
        }
        p[n] = sum / n as f64 + (b - 1.0) / odd_factorial[n];
        n += 1;
    }
    p
}

/// `I_x(a, ½)` for `a ≥` [`LARGE_A`] and `ln x >` [`LARGE_A_LN_X_FROM`], given `ln x` (accurate near
/// 1, where x is): the asymptotic expansion for large `a` and small `b` of DiDonato and
/// Morris (ACM TOMS 708, "BGRAT"), which for `b = ½` needs only `erfc`.
///
/// With `T = a − ¼` and `u = −T ln x`: `I = Γ(a + ½)/(Γ(a) √T) · Σ pₙ Jₙ`, where
/// `J₀ = erfc(√u)` and `Jₙ` follows `4T² Jₙ = (2n − 1.5)(2n − 0.5) Jₙ₋₁ +
/// (u + 2n − 0.5) (ln x / 2)^{2n−2} e^{−u} √(u/π)`. Unlike the continued fraction, it
/// stays well conditioned where `I` is near its median — the continued fraction there
/// is a difference of nearly equal numbers (3e-12 relative at ν = 2e5, t = 1.96).
pub(crate) fn tail_large_a(a: f64, ln_x: f64) -> f64 {
    const B: f64 = 0.5;
    let t = a + (B - 1.0) / 2.0;
    let u = -t * ln_x;
    let ratio = ln_gamma_ratio_half(a).exp() / t.sqrt();
    let h = (-u).exp() * (u / std::f64::consts::PI).sqrt();
    let mut j = super::normal::erfc(u.sqrt());
    let mut sum = j;
    let lx2 = (ln_x / 2.0) * (ln_x / 2.0);
    let t4 = 4.0 * t * t;
    let (mut lx_power, mut b2n) = (1.0, B);
    for &pn in &P_HALF[1..] {
        j = (b2n * (b2n + 1.0) * j + (u + b2n + 1.0) * lx_power * h) / t4;
        lx_power *= lx2;
        b2n += 2.0;
        let term = pn * j;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    ratio * sum
}

/// `I_x(p, q)` by the continued fraction `x^p y^q / (p B(p, q)) · 1/(1 + d₁/(1 + d₂/…))`,
/// given `ln x`, `ln y` (y = 1 − x, both accurate) and `ln B(p, q)`. Meant for
/// `x < (p + 1)/(p + q + 2)`, where it converges in O(√max(p, q)) terms; `None` if it
/// does not converge within a generous bound.
pub(crate) fn beta_cf(p: f64, q: f64, x: f64, ln_x: f64, ln_y: f64, ln_beta: f64) -> Option<f64> {
    let ln_prefactor = p * ln_x + q * ln_y - ln_beta;
    if ln_prefactor < -760.0 {
        // The result is far below the smallest subnormal (the fraction is < p + 1).
        return Some(0.0);
    }
    let terms = cf_terms(p, q, x)?;
    // Backwards: f = 1 + d_j / f from the last term to the first.
    let mut f = 1.0;
    for j in (1..=terms).rev() {
        f = 1.0 + cf_coefficient(j, p, q, x) / f;
        if f == 0.0 {
            f = 1e-300;
        }
    }
    Some(ln_prefactor.exp() / (p * f))
}

/// `d_j` of the incomplete beta continued fraction.
fn cf_coefficient(j: usize, p: f64, q: f64, x: f64) -> f64 {
    let m = (j / 2) as f64;
    if j.is_multiple_of(2) {
        m * (q - m) * x / ((p + 2.0 * m - 1.0) * (p + 2.0 * m))
    } else {
        -(p + m) * (p + q + m) * x / ((p + 2.0 * m) * (p + 2.0 * m + 1.0))
    }
}

/// Terms the fraction needs: run forwards (modified Lentz) until a step changes
/// nothing, plus a margin.
fn cf_terms(p: f64, q: f64, x: f64) -> Option<usize> {
    const TINY: f64 = 1e-300;
    let limit = 1000 + (40.0 * p.max(q).sqrt()) as usize;
    let (mut c, mut d) = (1.0, 0.0);
    for j in 1..=limit {
        let coefficient = cf_coefficient(j, p, q, x);
        d = 1.0 + coefficient * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + coefficient / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        if (c * d - 1.0).abs() < 1e-17 {
            return Some(2 * j + 8);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_beta_half_known_values() {
        // B(½, ½) = π and B(1, ½) = 2 exactly; the rest is checked against mpmath in
        // tests/distributions.rs.
        let close =
            |got: f64, want: f64| (got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1.0);
        assert!(close(ln_beta_half(0.5), std::f64::consts::PI.ln()));
        assert!(close(ln_beta_half(1.0), 2f64.ln()));
        // Either side of the switch agree.
        let (below, at) = (
            ln_beta_half(STIRLING_FROM - 1e-9),
            ln_beta_half(STIRLING_FROM),
        );
        assert!((below - at).abs() < 1e-9, "{below} {at}");
    }
}
