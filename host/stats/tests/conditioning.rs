//! Exactness where floating point makes it hard, tested by invariances whose reference
//! answers are exact by construction:
//!
//! - **Translation.** Groups `1e9 + k·2⁻²⁰` (integers `k`; every such value is exact at
//!   1e9) must give the t statistic, p-value, degrees of freedom, Cohen's d and interval
//!   width of the offsets `k·2⁻²⁰` alone — the ill-conditioned case where a
//!   left-to-right sum lost 2.4e-3 relative.
//! - **Scale.** Integer groups multiplied by `2^e` (exact, down to the subnormals and up
//!   to 1e300) must give the same t, p, df and d, and a standard deviation and interval
//!   scaled by exactly `2^e` — where squaring underflowed to 0 (NaN test, zero-width
//!   interval) or overflowed (d = −0).

use proptest::prelude::*;
use sluice_stats::{Alternative, cohens_d, mean_confidence_interval, summarize, welch_t_test};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) || (a.is_nan() && b.is_nan())
}

/// Equal to within `rel`, or within `ulps` units in the last place of `at` — for
/// results whose precision is capped by their own representation (a subnormal, or a
/// bound written at 1e9).
fn near(got: f64, want: f64, rel: f64, at: f64, ulps: f64) -> bool {
    let ulp = f64::from_bits(at.abs().to_bits() + 1) - at.abs();
    close(got, want, rel) || (got - want).abs() <= ulps * ulp
}

fn group() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(-1000i32..1000, 2..40)
        .prop_filter("not constant", |v| v.iter().any(|x| *x != v[0]))
}

proptest! {
    #[test]
    fn shifting_both_groups_by_1e9_changes_nothing(a in group(), b in group()) {
        let unit = 2f64.powi(-20);
        let offsets = |g: &[i32]| g.iter().map(|k| f64::from(*k) * unit).collect::<Vec<_>>();
        let shifted = |g: &[i32]| g.iter().map(|k| 1e9 + f64::from(*k) * unit).collect::<Vec<_>>();
        let (oa, ob, sa, sb) = (offsets(&a), offsets(&b), shifted(&a), shifted(&b));
        for alt in [Alternative::TwoSided, Alternative::Less, Alternative::Greater] {
            let (want, got) = (welch_t_test(&oa, &ob, alt), welch_t_test(&sa, &sb, alt));
            prop_assert!(close(got.statistic, want.statistic, 1e-9), "t {} vs {}", got.statistic, want.statistic);
            prop_assert!(close(got.p_value, want.p_value, 1e-8), "p {} vs {}", got.p_value, want.p_value);
            prop_assert!(close(got.df, want.df, 1e-9), "df {} vs {}", got.df, want.df);
        }
        prop_assert!(close(cohens_d(&sa, &sb), cohens_d(&oa, &ob), 1e-9));
        let (wi, gi) = (mean_confidence_interval(&oa, 0.95), mean_confidence_interval(&sa, 0.95));
        // The bounds are written at 1e9, so they are as exact as its last place.
        prop_assert!(near(gi.high - gi.mean, wi.high - wi.mean, 1e-9, 1e9, 2.0), "half-width");
        prop_assert!(close(summarize(&sa).sd, summarize(&oa).sd, 1e-9));
    }

    #[test]
    fn scaling_by_a_power_of_two_changes_only_the_units(
        a in group(),
        b in group(),
        e in prop::sample::select(vec![-1060, -1000, -500, -20, 20, 500, 1000]),
    ) {
        let s = 2f64.powf(f64::from(e));
        let plain = |g: &[i32]| g.iter().map(|k| f64::from(*k)).collect::<Vec<_>>();
        let scaled = |g: &[i32]| g.iter().map(|k| f64::from(*k) * s).collect::<Vec<_>>();
        let (pa, pb, xa, xb) = (plain(&a), plain(&b), scaled(&a), scaled(&b));
        let (want, got) = (
            welch_t_test(&pa, &pb, Alternative::TwoSided),
            welch_t_test(&xa, &xb, Alternative::TwoSided),
        );
        prop_assert!(close(got.statistic, want.statistic, 1e-12), "t {} vs {} at 2^{e}", got.statistic, want.statistic);
        prop_assert!(close(got.p_value, want.p_value, 1e-10), "p {} vs {} at 2^{e}", got.p_value, want.p_value);
        prop_assert!(close(got.df, want.df, 1e-12), "df {} vs {} at 2^{e}", got.df, want.df);
        let (dw, dg) = (cohens_d(&pa, &pb), cohens_d(&xa, &xb));
        prop_assert!(close(dg, dw, 1e-12), "d {dg} vs {dw} at 2^{e}");
        // Below 2^-1022 results are subnormal: exact to their last place, not to 1e-12.
        let sd = summarize(&pa).sd;
        prop_assert!(near(summarize(&xa).sd, sd * s, 1e-12, sd * s, 1.0), "sd at 2^{e}");
        let (wi, gi) = (mean_confidence_interval(&pa, 0.9), mean_confidence_interval(&xa, 0.9));
        let half = (wi.high - wi.mean) * s;
        prop_assert!(near(gi.high - gi.mean, half, 1e-9, gi.mean.abs().max(half), 2.0), "interval at 2^{e}");
    }
}

/// The cases the field report named, with the answers that do not depend on scale.
#[test]
fn values_near_1e_300_and_1e300_get_the_answer_of_their_unscaled_selves() {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0];
    let b = [3.0, 4.0, 5.0, 6.0, 8.0];
    let want = welch_t_test(&a, &b, Alternative::TwoSided);
    for s in [1e-300, 1e-150, 1e300] {
        let (xa, xb) = (a.map(|x| x * s), b.map(|x| x * s));
        let got = welch_t_test(&xa, &xb, Alternative::TwoSided);
        assert!(
            close(got.p_value, want.p_value, 1e-9),
            "{s}: {got:?} vs {want:?}"
        );
        assert!(close(got.df, want.df, 1e-9), "{s}: df {}", got.df);
        assert!(
            got.p_value > 0.0 && got.p_value < 0.1,
            "{s}: a real p-value"
        );
        let d = cohens_d(&xa, &xb);
        assert!(d < 0.0 && close(d, cohens_d(&a, &b), 1e-9), "{s}: d {d}");
        let ci = mean_confidence_interval(&xa, 0.95);
        assert!(ci.high > ci.low, "{s}: the interval has a width");
    }
}
