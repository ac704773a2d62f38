//! sluice-stats against reference values computed with SciPy/NumPy
//! (`tests/fixtures/generate.py`, committed output `tests/fixtures/reference.json`).

use serde_json::Value;
use sluice_stats::*;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/reference.json")).expect("valid fixture")
}

fn data(f: &Value, name: &str) -> Vec<f64> {
    f["data"][name]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-9_f64.max(want.abs() * 1e-7);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

const ALTS: [(&str, Alternative); 3] = [
    ("two-sided", Alternative::TwoSided),
    ("less", Alternative::Less),
    ("greater", Alternative::Greater),
];

#[test]
fn summaries_match_numpy() {
    let f = fixture();
    for name in ["a", "big_b"] {
        let s = summarize(&data(&f, name));
        let r = &f["summary"][name];
        assert_eq!(u64::from(s.n), r["n"].as_u64().expect("n"));
        for (got, key) in [
            (s.mean, "mean"),
            (s.sd, "sd"),
            (s.min, "min"),
            (s.max, "max"),
            (s.p50, "p50"),
            (s.p90, "p90"),
            (s.p95, "p95"),
            (s.p99, "p99"),
        ] {
            close(got, num(&r[key]), &format!("{name}.{key}"));
        }
    }
}

#[test]
fn welch_matches_scipy() {
    let f = fixture();
    for (case, a, b) in [("a_b", "a", "b"), ("big", "big_a", "big_b")] {
        for (alt_name, alt) in ALTS {
            let r = welch_t_test(&data(&f, a), &data(&f, b), alt);
            let want = &f["welch"][case][alt_name];
            close(
                r.statistic,
                num(&want["statistic"]),
                &format!("{case} {alt_name} t"),
            );
            close(
                r.p_value,
                num(&want["p_value"]),
                &format!("{case} {alt_name} p"),
            );
            close(r.df, num(&want["df"]), &format!("{case} {alt_name} df"));
        }
    }
}

#[test]
fn mann_whitney_matches_scipy_exact_and_asymptotic() {
    let f = fixture();
    for (case, a, b, exact) in [
        ("a_b_exact", "a", "b", true),
        ("ties_exact", "small_ties_a", "small_ties_b", true),
        ("ties_asymptotic", "ties_a2", "ties_b", false),
        ("big_asymptotic", "big_a", "big_b", false),
    ] {
        for (alt_name, alt) in ALTS {
            let r = mann_whitney_u(&data(&f, a), &data(&f, b), alt);
            let want = &f["mann_whitney"][case][alt_name];
            assert_eq!(r.exact, exact, "{case}");
            close(
                r.statistic,
                num(&want["statistic"]),
                &format!("{case} {alt_name} U"),
            );
            close(
                r.p_value,
                num(&want["p_value"]),
                &format!("{case} {alt_name} p"),
            );
        }
    }
}

#[test]
fn effect_size_and_interval_match() {
    let f = fixture();
    close(
        cohens_d(&data(&f, "a"), &data(&f, "b")),
        num(&f["cohens_d"]["a_b"]),
        "d a_b",
    );
    close(
        cohens_d(&data(&f, "big_a"), &data(&f, "big_b")),
        num(&f["cohens_d"]["big"]),
        "d big",
    );
    for (name, key, level) in [("a", "a_95", 0.95), ("big_b", "big_b_99", 0.99)] {
        let i = mean_confidence_interval(&data(&f, name), level);
        close(i.low, num(&f["ci"][key]["low"]), key);
        close(i.high, num(&f["ci"][key]["high"]), key);
    }
}

#[test]
fn outlier_filters_match() {
    let f = fixture();
    let want = |k: &str, c: &str| -> Vec<f64> {
        f[k][c].as_array().expect("array").iter().map(num).collect()
    };
    assert_eq!(
        filter_outliers_iqr(&data(&f, "outliers"), 1.5),
        want("iqr", "outliers_1_5")
    );
    assert_eq!(
        filter_outliers_mad(&data(&f, "outliers"), 3.5),
        want("mad", "outliers_3_5")
    );
}

#[test]
fn non_finite_and_empty_inputs_have_defined_results() {
    let s = summarize(&[]);
    assert_eq!(s.n, 0);
    assert!(s.mean.is_nan() && s.p99.is_nan());
    let s = summarize(&[1.0, f64::NAN, f64::INFINITY, 3.0]);
    assert_eq!((s.n, s.non_finite), (2, 2));
    assert_eq!(s.mean, 2.0);
    let r = welch_t_test(&[1.0], &[1.0, 2.0], Alternative::TwoSided);
    assert!(r.p_value.is_nan() && r.statistic.is_nan());
    let r = welch_t_test(&[2.0, 2.0, 2.0], &[2.0, 2.0], Alternative::TwoSided);
    assert!(
        r.p_value.is_nan(),
        "zero variance in both groups is not computable"
    );
    let r = welch_t_test(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0], Alternative::Less);
    assert_eq!((r.n_a, r.dropped), (2, 1));
    assert!(
        mann_whitney_u(&[], &[1.0], Alternative::TwoSided)
            .p_value
            .is_nan()
    );
    assert!(cohens_d(&[1.0, 1.0], &[1.0, 1.0]).is_nan());
    let i = mean_confidence_interval(&[1.0, 2.0, 3.0], 1.5);
    assert!(i.low.is_nan() && i.high.is_nan());
    assert_eq!(
        filter_outliers_mad(&[5.0, 5.0, 5.0, 9.0], 3.5),
        vec![5.0, 5.0, 5.0, 9.0],
        "MAD 0 keeps all"
    );
    assert_eq!(
        filter_outliers_iqr(&[1.0, f64::NAN, 2.0], 1.5),
        vec![1.0, 2.0]
    );
}

/// Exact equality, NaN equal to NaN.
fn same(got: f64, want: f64, what: &str) {
    assert!(
        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn compare_gives_the_numbers_of_the_functions_one_by_one() {
    let f = fixture();
    let mut with_bad = data(&f, "outliers");
    with_bad.extend([f64::NAN, f64::INFINITY]);
    let pairs = [
        (data(&f, "a"), data(&f, "b")),
        (data(&f, "big_a"), data(&f, "big_b")),
        (data(&f, "ties_a"), data(&f, "ties_b")),
        (with_bad, data(&f, "big_a")),
        (vec![1.0], vec![]),
    ];
    let filters = [
        OutlierFilter::None,
        OutlierFilter::Iqr(1.5),
        OutlierFilter::Iqr(0.0),
        OutlierFilter::Mad(3.5),
        OutlierFilter::Mad(0.5),
        OutlierFilter::Iqr(f64::NAN),
    ];
    for (a, b) in &pairs {
        for filter in filters {
            for test in [TestKind::Welch, TestKind::MannWhitney] {
                for (alt_name, alt) in ALTS {
                    let what = format!("{filter:?} {test:?} {alt_name}");
                    let keep = |xs: &[f64]| -> Vec<f64> {
                        match filter {
                            OutlierFilter::None => {
                                xs.iter().copied().filter(|x| x.is_finite()).collect()
                            }
                            OutlierFilter::Iqr(k) => filter_outliers_iqr(xs, k),
                            OutlierFilter::Mad(t) => filter_outliers_mad(xs, t),
                        }
                    };
                    let (ka, kb) = (keep(a), keep(b));
                    let c = compare(a, b, filter, test, alt);
                    let non_finite =
                        |xs: &[f64]| xs.iter().filter(|x| !x.is_finite()).count() as u32;
                    let mut sa = summarize(&ka);
                    sa.non_finite = non_finite(a);
                    let mut sb = summarize(&kb);
                    sb.non_finite = non_finite(b);
                    for (got, want, side) in [(c.a, sa, "a"), (c.b, sb, "b")] {
                        assert_eq!(
                            (got.n, got.non_finite),
                            (want.n, want.non_finite),
                            "{what} {side}"
                        );
                        for (g, w, field) in [
                            (got.mean, want.mean, "mean"),
                            (got.sd, want.sd, "sd"),
                            (got.min, want.min, "min"),
                            (got.max, want.max, "max"),
                            (got.p50, want.p50, "p50"),
                            (got.p90, want.p90, "p90"),
                            (got.p95, want.p95, "p95"),
                            (got.p99, want.p99, "p99"),
                        ] {
                            same(g, w, &format!("{what} {side}.{field}"));
                        }
                    }
                    let finite_len = |xs: &[f64]| xs.len() as u32 - non_finite(xs);
                    assert_eq!(c.outliers_a, finite_len(a) - ka.len() as u32, "{what}");
                    assert_eq!(c.outliers_b, finite_len(b) - kb.len() as u32, "{what}");
                    let t = match test {
                        TestKind::Welch => welch_t_test(&ka, &kb, alt),
                        TestKind::MannWhitney => mann_whitney_u(&ka, &kb, alt),
                    };
                    same(
                        c.significance.statistic,
                        t.statistic,
                        &format!("{what} statistic"),
                    );
                    same(c.significance.p_value, t.p_value, &format!("{what} p"));
                    same(c.significance.df, t.df, &format!("{what} df"));
                    assert_eq!(
                        (c.significance.n_a, c.significance.n_b, c.significance.exact),
                        (t.n_a, t.n_b, t.exact),
                        "{what}"
                    );
                    same(c.cohens_d, cohens_d(&ka, &kb), &format!("{what} d"));
                }
            }
        }
    }
}
