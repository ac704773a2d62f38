//! `compare` gives, bit for bit, the numbers of the filter, `summarize`, the test and
//! `cohens_d` called one by one — on generated windows of every shape the fast paths
//! treat differently: clustered with outliers, heavy ties, signed zeros, extreme
//! magnitudes, sizes from empty to beyond the sampling thresholds.

use proptest::prelude::*;
use sluice_stats::*;

/// A window: `shape` picks how values are made from the generated integers.
fn window() -> impl Strategy<Value = Vec<f64>> {
    let sizes = prop_oneof![
        0usize..40,
        40usize..600,
        3000usize..9000,
        16_384usize..40_000
    ];
    (sizes, 0u8..6, any::<u64>()).prop_map(|(n, shape, seed)| {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift64*: deterministic from the seed, so failures shrink and replay.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        (0..n)
            .map(|i| {
                let r = next();
                let u = (r >> 11) as f64 / (1u64 << 53) as f64;
                match shape {
                    // Latency-like, an outlier now and then.
                    0 => 100.0 + 20.0 * (u - 0.5) + if r % 97 == 0 { 400.0 } else { 0.0 },
                    // Heavy ties.
                    1 => (r % 7) as f64,
                    // Signed zeros among small values.
                    2 => match r % 4 {
                        0 => 0.0,
                        1 => -0.0,
                        _ => u - 0.5,
                    },
                    // Tiny and huge magnitudes.
                    3 => (u - 0.5) * 1e-300,
                    4 => (u - 0.5) * 1e300 + if i % 50 == 0 { 1.7e308 } else { 0.0 },
                    // Non-finite values mixed in.
                    _ => match r % 13 {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        _ => u * 10.0,
                    },
                }
            })
            .collect()
    })
}

fn filter() -> impl Strategy<Value = OutlierFilter> {
    prop_oneof![
        Just(OutlierFilter::None),
        Just(OutlierFilter::Iqr(1.5)),
        Just(OutlierFilter::Iqr(0.0)),
        Just(OutlierFilter::Iqr(3.0)),
        Just(OutlierFilter::Mad(3.5)),
    ]
}

fn same(got: f64, want: f64) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn compare_is_the_functions_one_by_one(
        a in window(),
        b in window(),
        filter in filter(),
        mann_whitney in any::<bool>(),
    ) {
        let test = if mann_whitney { TestKind::MannWhitney } else { TestKind::Welch };
        let keep = |xs: &[f64]| -> Vec<f64> {
            match filter {
                OutlierFilter::None => xs.iter().copied().filter(|x| x.is_finite()).collect(),
                OutlierFilter::Iqr(k) => filter_outliers_iqr(xs, k),
                OutlierFilter::Mad(t) => filter_outliers_mad(xs, t),
            }
        };
        let (ka, kb) = (keep(&a), keep(&b));
        let c = compare(&a, &b, filter, test, Alternative::TwoSided);
        for (got, kept) in [(c.a, &ka), (c.b, &kb)] {
            let want = summarize(kept);
            prop_assert_eq!(got.n, want.n);
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
                prop_assert!(same(g, w), "{}: {} vs {}", field, g, w);
            }
        }
        let t = match test {
            TestKind::Welch => welch_t_test(&ka, &kb, Alternative::TwoSided),
            TestKind::MannWhitney => mann_whitney_u(&ka, &kb, Alternative::TwoSided),
        };
        prop_assert!(same(c.significance.statistic, t.statistic));
        prop_assert!(same(c.significance.p_value, t.p_value));
        prop_assert!(same(c.cohens_d, cohens_d(&ka, &kb)));
    }
}
