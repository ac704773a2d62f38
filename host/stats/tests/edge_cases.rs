//! The edge-case table of `wit/stats.wit`, row by row: what the policy-facing
//! documentation promises is what the functions do.

use sluice_stats::*;

const ALTERNATIVES: [Alternative; 3] = [
    Alternative::TwoSided,
    Alternative::Less,
    Alternative::Greater,
];

#[test]
fn an_empty_group() {
    let s = summarize(&[f64::NAN, f64::INFINITY]);
    assert_eq!((s.n, s.non_finite), (0, 2));
    assert!(s.mean.is_nan() && s.sd.is_nan() && s.p50.is_nan() && s.min.is_nan());
    for alt in ALTERNATIVES {
        let w = welch_t_test(&[], &[1.0, 2.0], alt);
        assert!(w.statistic.is_nan() && w.p_value.is_nan() && w.df.is_nan());
        let m = mann_whitney_u(&[1.0], &[f64::NAN], alt);
        assert!(m.statistic.is_nan() && m.p_value.is_nan());
    }
    assert!(cohens_d(&[], &[1.0, 2.0]).is_nan());
    let ci = mean_confidence_interval(&[], 0.95);
    assert!(ci.mean.is_nan() && ci.low.is_nan() && ci.high.is_nan());
}

#[test]
fn one_value() {
    assert!(summarize(&[3.0]).sd.is_nan());
    let w = welch_t_test(&[3.0], &[1.0, 2.0, 4.0], Alternative::TwoSided);
    assert!(w.statistic.is_nan() && w.p_value.is_nan() && w.df.is_nan());
    let m = mann_whitney_u(&[3.0], &[1.0, 2.0, 4.0], Alternative::TwoSided);
    assert!(m.exact && m.p_value.is_finite());
    assert!(cohens_d(&[3.0], &[1.0, 2.0]).is_nan());
    let ci = mean_confidence_interval(&[3.0], 0.95);
    assert_eq!(ci.mean, 3.0);
    assert!(ci.low.is_nan() && ci.high.is_nan());
}

#[test]
fn constant_groups() {
    let constant = [5.0; 8];
    let varied = [1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.5];
    assert_eq!(summarize(&constant).sd, 0.0);
    // One constant group: everything is computed.
    let w = welch_t_test(&constant, &varied, Alternative::TwoSided);
    assert!(w.statistic.is_finite() && w.p_value.is_finite() && w.df.is_finite());
    assert!(cohens_d(&constant, &varied).is_finite());
    let ci = mean_confidence_interval(&constant, 0.95);
    assert_eq!((ci.low, ci.mean, ci.high), (5.0, 5.0, 5.0));
    // Both constant: no variance to test against.
    let other = [6.0; 8];
    let w = welch_t_test(&constant, &other, Alternative::TwoSided);
    assert!(w.statistic.is_nan() && w.p_value.is_nan() && w.df.is_nan());
    assert!(cohens_d(&constant, &other).is_nan());
    // ... but ranks still separate them.
    let m = mann_whitney_u(&constant, &other, Alternative::Less);
    assert!(m.exact && m.p_value < 0.001, "{m:?}");
}

#[test]
fn all_values_tied() {
    // Exact path (8 · 8 ≤ 1,000): every labelling has the same U, p = 1.
    for alt in ALTERNATIVES {
        let m = mann_whitney_u(&[2.0; 8], &[2.0; 8], alt);
        assert!(m.exact);
        assert_eq!((m.statistic, m.p_value), (32.0, 1.0));
    }
    // Approximate path (40 · 40 > 1,000): zero variance, NaN.
    let m = mann_whitney_u(&[2.0; 40], &[2.0; 40], Alternative::TwoSided);
    assert!(!m.exact && m.p_value.is_nan());
}

#[test]
fn levels_out_of_range() {
    let xs = [1.0, 2.0, 3.5, 4.0];
    for level in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        let ci = mean_confidence_interval(&xs, level);
        assert!(ci.low.is_nan() && ci.high.is_nan(), "{level}");
    }
    // Extreme levels inside (0, 1) get finite, ordered bounds.
    let narrow = mean_confidence_interval(&xs, 1e-12);
    let wide = mean_confidence_interval(&xs, 1.0 - 1e-12);
    assert!(narrow.low < narrow.mean && narrow.mean < narrow.high);
    assert!(wide.low < narrow.low && narrow.high < wide.high);
}

#[test]
fn compare_filters_overflowing_spreads_as_the_filter_does() {
    let wide = [-1e308, -1.5e308, 0.0, 1e308, 1.7e308, 1.6e308];
    let other = [1.0, 2.0, 3.0, 4.0];
    for k in [0.0, 1.5] {
        let c = compare(
            &wide,
            &other,
            OutlierFilter::Iqr(k),
            TestKind::Welch,
            Alternative::TwoSided,
        );
        let kept = filter_outliers_iqr(&wide, k);
        assert_eq!(c.a.n as usize, kept.len(), "k = {k}");
        assert_eq!(c.a.min.to_bits(), summarize(&kept).min.to_bits());
        assert_eq!(c.a.max.to_bits(), summarize(&kept).max.to_bits());
    }
}
