//! The two distributions the tests rest on — the standard normal and Student's t —
//! written for accuracy where statrs 0.18/0.19 lose it (far tails, degrees of freedom in
//! the hundreds of thousands, central intervals at tiny levels).
//!
//! Every function is checked against values computed once with mpmath at 40 digits and
//! committed (`tests/fixtures/distributions.json`), beside SciPy's values for the same
//! points: the tests require ours to be at least as close to the exact value.
//!
//! Method, in short:
//! - `erfc` by its power series below 0.5 and above by the continued fraction of the
//!   upper incomplete gamma Γ(½, x²), evaluated backwards (a few ulps, where a forward
//!   Lentz evaluation drifts by ~1e-14) and scaled by an `exp(−x²)` computed from an
//!   exact split of x².
//! - Student's t through the regularised incomplete beta `I(ν/2, ½)`, whose prefactor is
//!   built from logarithms that never cancel: `ln(1 + t²/ν)` by `ln_1p`, and
//!   `ln B(ν/2, ½)` from the Stirling series of `ln Γ(a + ½) − ln Γ(a)` (no difference of
//!   two large `ln Γ`, which is where statrs loses 1e-9 at ν ≈ 2e5).
//! - The t quantile by safeguarded Newton steps in `ln t` on those functions, solving for
//!   the central probability itself below 0.5, so a 1e-12 interval is as exact as a 95 %
//!   one.

mod incomplete_beta;
pub mod normal;
pub mod students_t;
