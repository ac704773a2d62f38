//! The Mann–Whitney U test: exact whenever the exact null distribution is cheap to
//! build (`m · n ≤ 1,000`: 1 vs 1,000, 20 vs 50, 31 vs 32) — without ties the classic
//! distribution of U, with ties the exact permutation distribution of the mid-rank U
//! given the tie groups (what `scipy.stats.permutation_test` enumerates) — otherwise
//! the normal approximation with tie and continuity correction (SciPy's
//! `mannwhitneyu`, `method='asymptotic'`).

use super::{count_u32, finite, sorted};
use crate::distribution::normal::normal_sf;
use crate::{Alternative, TestResult};

/// Largest `m · n` for which the exact null distribution is built. Without ties that
/// takes about (m · n)² / 4 additions (≈ 250,000 at this bound, well under a
/// millisecond); with ties about (m + n) · min(m, n) · 2mn (≤ 4 million: a few
/// milliseconds at worst, 31 vs 32). Small groups — where the normal approximation is
/// worst (1 vs 21: 0.0575 against the exact 1/22) — are all exact.
const EXACT_MAX_PRODUCT: usize = 1_000;

/// Mann–Whitney U test of `a` against `b`.
///
/// The statistic is U of group `a` (the number of pairs where `a` wins, ties counting
/// one half). NaN when either group has no finite value.
pub fn mann_whitney_u(a: &[f64], b: &[f64], alternative: Alternative) -> TestResult {
    let (xa, da) = finite(a);
    let (xb, db) = finite(b);
    mann_whitney_sorted(&sorted(&xa), &sorted(&xb), da + db, alternative)
}

/// [`mann_whitney_u`] of finite groups given in ascending order; `dropped` non-finite
/// values were removed before.
pub(crate) fn mann_whitney_sorted(
    xa: &[f64],
    xb: &[f64],
    dropped: u32,
    alternative: Alternative,
) -> TestResult {
    let (n1, n2) = (xa.len(), xb.len());
    let mut result = TestResult {
        statistic: f64::NAN,
        p_value: f64::NAN,
        df: f64::NAN,
        n_a: count_u32(n1),
        n_b: count_u32(n2),
        dropped,
        exact: false,
    };
    if n1 == 0 || n2 == 0 {
        return result;
    }
    let (rank_sum_a, tie_term) = rank_sum_and_ties(xa, xb);
    let exact = n1 * n2 <= EXACT_MAX_PRODUCT;
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = rank_sum_a - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    result.statistic = u1;
    result.exact = exact;
    if exact && tie_term != 0.0 {
        // With ties the permutation distribution need not be symmetric: two-sided is
        // twice the smaller one-sided p-value (scipy.stats.permutation_test's rule).
        let (greater, less) = tied_exact_tails(u1, xa, xb);
        let p = match alternative {
            Alternative::Greater => greater,
            Alternative::Less => less,
            Alternative::TwoSided => 2.0 * greater.min(less),
        };
        result.p_value = p.clamp(0.0, 1.0);
        return result;
    }
    // The statistic whose upper tail is the p-value, and the two-sided factor.
    let (u, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let upper_tail = if exact {
        exact_sf(u, n1, n2)
    } else {
        let n = f1 + f2;
        let sigma = (f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        let z = (u - f1 * f2 / 2.0 - 0.5) / sigma;
        if sigma > 0.0 { normal_sf(z) } else { f64::NAN }
    };
    result.p_value = (upper_tail * factor).clamp(0.0, 1.0);
    result
}

/// Sum of the (mid-)ranks of `a` in the pooled sample, and Σ(t³ − t) over tie groups,
/// for ascending `a` and `b`: one merge, no sort. Both are sums of integers (twice a
/// mid-rank is one), added exactly and rounded once at the end.
fn rank_sum_and_ties(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (mut twice_rank_sum_a, mut tie_term) = (0u128, 0u128);
    // Ranks taken so far (1-based ranks start after them).
    let mut before = 0u64;
    for_each_tie_group(a, b, |group, from_a| {
        // The tie group takes ranks before + 1 … before + group; each gets their mean,
        // (2·before + group + 1) / 2.
        let (g, from_a) = (group as u64, from_a as u64);
        twice_rank_sum_a += u128::from(from_a) * u128::from(2 * before + g + 1);
        tie_term += u128::from(g) * u128::from(g * g) - u128::from(g);
        before += g;
    });
    (twice_rank_sum_a as f64 / 2.0, tie_term as f64)
}

/// Calls `f(size, from_a)` for each group of equal values of the pooled sample in
/// ascending order (ascending `a` and `b`), with how many of them come from `a`.
fn for_each_tie_group(a: &[f64], b: &[f64], mut f: impl FnMut(usize, usize)) {
    // The length of the run of values equal to `v` at the start of `xs`.
    let run = |xs: &[f64], v: f64| xs.iter().take_while(|&&x| x == v).count();
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        // −0 and +0 are one group, as `==` has it.
        if x < y {
            let from_a = 1 + run(&a[i + 1..], x);
            f(from_a, from_a);
            i += from_a;
        } else if y < x {
            let from_b = 1 + run(&b[j + 1..], y);
            f(from_b, 0);
            j += from_b;
        } else {
            let (from_a, from_b) = (1 + run(&a[i + 1..], x), 1 + run(&b[j + 1..], x));
            f(from_a + from_b, from_a);
            i += from_a;
            j += from_b;
        }
    }
    // One group is used up: the other's values follow, group by group.
    while let Some(&x) = a.get(i) {
        let from_a = 1 + run(&a[i + 1..], x);
        f(from_a, from_a);
        i += from_a;
    }
    while let Some(&y) = b.get(j) {
        let from_b = 1 + run(&b[j + 1..], y);
        f(from_b, 0);
        j += from_b;
    }
}

/// `(P(U ≥ u₁), P(U ≤ u₁))` for U of group `a` under the null hypothesis, given the
/// tie groups of the pooled sample (ascending `xa`, `xb`): the exact permutation
/// distribution of the mid-rank U over all C(m + n, m) ways to label `m` values `a`.
fn tied_exact_tails(u1: f64, xa: &[f64], xb: &[f64]) -> (f64, f64) {
    let (m, n) = (xa.len(), xb.len());
    let mut sizes = Vec::new();
    for_each_tie_group(xa, xb, |size, _| sizes.push(size));
    // Built for the smaller group (cheaper); U of `a` is m·n − U of `b`.
    let small = m.min(n);
    let mut counts = tied_u2_distribution(&sizes, small, m + n);
    if small != m {
        counts.reverse();
    }
    // counts[k] now counts labellings where `a` has 2U = k.
    let total: f64 = counts.iter().sum();
    let two_u = (2.0 * u1).round() as usize;
    let upper: f64 = counts.iter().skip(two_u).sum();
    let lower: f64 = counts.iter().take(two_u + 1).sum();
    (upper / total, lower / total)
}

/// `counts[k]` = number of ways to pick `m` of `total` pooled values (tie groups of
/// `sizes`, in ascending order) whose mid-rank U is `k / 2`.
///
/// Knapsack over the tie groups: taking `k` of a group whose ranks are
/// `before + 1 … before + size` adds `k · (2·before + size + 1)` to twice the rank sum,
/// in `C(size, k)` ways.
fn tied_u2_distribution(sizes: &[usize], m: usize, total: usize) -> Vec<f64> {
    // Twice the rank sum of m values is at most m (2·total − m + 1).
    let max_sum = m * (2 * total - m + 1);
    let mut ways = vec![vec![0.0f64; max_sum + 1]; m + 1];
    ways[0][0] = 1.0;
    let mut before = 0usize;
    for &size in sizes {
        let weight = 2 * before + size + 1;
        // Binomial coefficients C(size, k), k = 0..=min(size, m).
        let top = size.min(m);
        let mut choose = vec![1.0f64; top + 1];
        for k in 1..=top {
            choose[k] = choose[k - 1] * (size + 1 - k) as f64 / k as f64;
        }
        // Descending `j`, so every source row is read before it is written.
        for j in (0..=before.min(m)).rev() {
            for (k, &c) in choose.iter().enumerate().take(top.min(m - j) + 1).skip(1) {
                let (lower, upper) = ways.split_at_mut(j + k);
                let (from, to) = (&lower[j], &mut upper[0]);
                let shift = k * weight;
                for (s, &w) in from.iter().enumerate() {
                    if w != 0.0 && s + shift <= max_sum {
                        to[s + shift] += w * c;
                    }
                }
            }
        }
        before += size;
    }
    // 2U = 2R − m(m + 1).
    let offset = m * (m + 1);
    let mut counts: Vec<f64> = ways[m].iter().skip(offset).copied().collect();
    counts.truncate(2 * m * (total - m) + 1);
    counts
}

/// P(U ≥ u) under the null hypothesis for group sizes `m` and `n`, from the exact
/// distribution of U (counts of arrangements, built by the usual recurrence).
fn exact_sf(u: f64, m: usize, n: usize) -> f64 {
    let counts = u_distribution(m, n);
    let total: f64 = counts.iter().sum();
    let from = u.ceil().max(0.0) as usize;
    let tail: f64 = counts.iter().skip(from).sum();
    tail / total
}

/// `counts[k]` = number of orderings of `m` a's and `n` b's with U = k.
///
/// Recurrence: the largest element is either an `a` (it beats all `n` b's) or a `b`.
fn u_distribution(m: usize, n: usize) -> Vec<f64> {
    // table[i][j] is the distribution for sizes (i, j); built row by row.
    let max_u = m * n;
    let mut previous_row: Vec<Vec<f64>> = (0..=n).map(|_| vec![1.0]).collect();
    for i in 1..=m {
        let mut row: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
        row.push(vec![1.0]);
        for j in 1..=n {
            let mut dist = vec![0.0; i * j + 1];
            // Largest is an `a`: U grows by j.
            for (k, c) in previous_row[j].iter().enumerate() {
                dist[k + j] += c;
            }
            // Largest is a `b`: U unchanged.
            for (k, c) in row[j - 1].iter().enumerate() {
                dist[k] += c;
            }
            row.push(dist);
        }
        previous_row = row;
    }
    let mut dist = previous_row.swap_remove(n);
    dist.resize(max_u + 1, 0.0);
    dist
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_counts_sum_to_binomial() {
        let d = u_distribution(3, 4);
        assert_eq!(d.len(), 13);
        assert_eq!(d.iter().sum::<f64>(), 35.0); // C(7, 3)
        // Symmetric around m·n / 2.
        for k in 0..=12 {
            assert_eq!(d[k], d[12 - k]);
        }
    }

    #[test]
    fn one_against_twenty_one_is_exact() {
        let b: Vec<f64> = (1..=21).map(f64::from).collect();
        let r = mann_whitney_u(&[100.0], &b, Alternative::Greater);
        assert!(r.exact);
        assert!((r.p_value - 1.0 / 22.0).abs() < 1e-15, "{}", r.p_value);
        // Exact by enumeration for a size the old rule (both ≤ 20) left approximate.
        let a: Vec<f64> = (0..25).map(|i| f64::from(i) * 2.0 + 0.5).collect();
        let b: Vec<f64> = (0..30)
            .map(|i| f64::from(i) * 1.732_050_8 + 0.012_3)
            .collect();
        assert!(mann_whitney_u(&a, &b, Alternative::TwoSided).exact);
        let big: Vec<f64> = (0..40).map(f64::from).collect();
        let other: Vec<f64> = (0..30).map(|i| f64::from(i) + 0.5).collect();
        assert!(
            !mann_whitney_u(&big, &other, Alternative::TwoSided).exact,
            "1,200 > 1,000"
        );
    }

    #[test]
    fn the_exact_tail_matches_brute_force_enumeration() {
        // Every way to pick which 3 of 8 ranks belong to `a`: U of a = Σ ranks − 6.
        let (m, n) = (3usize, 5usize);
        let mut counts = vec![0.0; m * n + 1];
        for mask in 0u32..(1 << (m + n)) {
            if mask.count_ones() as usize == m {
                let rank_sum: usize = (0..m + n)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| i + 1)
                    .sum();
                counts[rank_sum - m * (m + 1) / 2] += 1.0;
            }
        }
        assert_eq!(u_distribution(m, n), counts);
    }

    /// U of `a` by counting pairs (ties count ½): the definition, for the enumeration.
    fn u_by_pairs(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .flat_map(|x| b.iter().map(move |y| (x, y)))
            .map(|(x, y)| match x.partial_cmp(y) {
                Some(std::cmp::Ordering::Greater) => 1.0,
                Some(std::cmp::Ordering::Equal) => 0.5,
                _ => 0.0,
            })
            .sum()
    }

    proptest::proptest! {
        /// With ties, the exact p-values equal those of enumerating every labelling of
        /// the pooled values (the permutation test), for every alternative.
        #[test]
        fn tied_exact_p_values_match_enumeration(
            a in proptest::collection::vec(0u8..4, 1..7),
            b in proptest::collection::vec(0u8..4, 1..7),
        ) {
            let a: Vec<f64> = a.into_iter().map(f64::from).collect();
            let b: Vec<f64> = b.into_iter().map(f64::from).collect();
            let pooled: Vec<f64> = a.iter().chain(&b).copied().collect();
            let (m, total) = (a.len(), pooled.len());
            let observed = u_by_pairs(&a, &b);
            let (mut ge, mut le, mut all) = (0.0f64, 0.0f64, 0.0f64);
            for mask in 0u32..(1 << total) {
                if mask.count_ones() as usize != m {
                    continue;
                }
                let chosen = |i: &usize| mask & (1 << i) != 0;
                let pa: Vec<f64> = (0..total).filter(chosen).map(|i| pooled[i]).collect();
                let pb: Vec<f64> = (0..total).filter(|i| !chosen(i)).map(|i| pooled[i]).collect();
                let u = u_by_pairs(&pa, &pb);
                all += 1.0;
                if u >= observed { ge += 1.0; }
                if u <= observed { le += 1.0; }
            }
            let has_ties = {
                let mut s = pooled.clone();
                s.sort_by(f64::total_cmp);
                s.windows(2).any(|w| w[0] == w[1])
            };
            for (alternative, want) in [
                (Alternative::Greater, ge / all),
                (Alternative::Less, le / all),
                (Alternative::TwoSided, (2.0 * (ge / all).min(le / all)).min(1.0)),
            ] {
                let r = mann_whitney_u(&a, &b, alternative);
                proptest::prop_assert!(r.exact);
                proptest::prop_assert_eq!(r.statistic, observed);
                if has_ties || alternative != Alternative::TwoSided {
                    proptest::prop_assert!((r.p_value - want).abs() <= 1e-12, "{:?}: {} vs {}", alternative, r.p_value, want);
                }
            }
        }
    }

    #[test]
    fn ties_get_mid_ranks() {
        let (r, t) = rank_sum_and_ties(&[1.0, 2.0], &[2.0, 3.0]);
        assert_eq!(r, 1.0 + 2.5);
        assert_eq!(t, 6.0);
    }
}
