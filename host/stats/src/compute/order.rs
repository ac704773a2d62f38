//! Order statistics without a full sort: the values at a few ranks of a window, by
//! recursive selection. Each step splits the keys around the middle wanted rank — in
//! large windows first into three parts around a bracket from sampled pivots, in small
//! ones with `select_nth_unstable` — and looks for the other ranks in the parts that
//! hold them; a later search only looks between the ranks already found around it. A
//! Welch `compare` needs ten or so ranks — the quartiles for Tukey's fences, then the
//! survivors' minimum, maximum and percentiles — and finds them in a few linear passes
//! where sorting 100,000 samples costs most of a millisecond.

use std::collections::BTreeMap;

use super::{from_unsigned_order_key, unsigned_order_key};

/// A window's values as keys in `f64::total_cmp` order, partially ordered by the
/// selections made so far.
pub(crate) struct Ranked {
    keys: Vec<u64>,
    found: BTreeMap<usize, f64>,
}

impl Ranked {
    /// The window `xs` (finite values).
    pub(crate) fn new(xs: &[f64]) -> Self {
        Self {
            keys: xs.iter().map(|&x| unsigned_order_key(x)).collect(),
            found: BTreeMap::new(),
        }
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Finds the values at `ranks` (0-based, ascending order; out-of-range ranks are
    /// ignored) so that [`Ranked::at`] answers them.
    pub(crate) fn select(&mut self, ranks: &[usize]) {
        let mut wanted: Vec<usize> = ranks
            .iter()
            .copied()
            .filter(|r| *r < self.keys.len() && !self.found.contains_key(r))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        // Each rank found so far split the keys: everything left of it is smaller,
        // everything right of it larger. A wanted rank is searched for only between
        // the found ranks around it.
        let mut i = 0;
        while i < wanted.len() {
            let r = wanted[i];
            let from = self.found.range(..r).next_back().map_or(0, |(&f, _)| f + 1);
            let to = self
                .found
                .range(r..)
                .next()
                .map_or(self.keys.len(), |(&t, _)| t);
            let group = wanted[i..].iter().take_while(|&&w| w < to).count();
            let mut found = BTreeMap::new();
            select_into(
                &mut self.keys[from..to],
                from,
                &wanted[i..i + group],
                &mut found,
            );
            self.found.extend(found);
            i += group;
        }
    }

    /// The ranks `start..end` of the values `x` with `low ≤ x ≤ high` (as `f64`
    /// compares, so −0 = +0). Counted only between the ranks already found around
    /// each fence: after the quartiles, a quarter of the window each.
    pub(crate) fn ranks_between(&self, low: f64, high: f64) -> std::ops::Range<usize> {
        // The first key at or above `low`, and the first key above `high`.
        let from = unsigned_order_key(if low == 0.0 { -0.0 } else { low });
        let past = unsigned_order_key(if high == 0.0 { 0.0 } else { high }).saturating_add(1);
        let (start, end) = (self.count_below(from), self.count_below(past));
        start..end.max(start)
    }

    /// How many keys are below `key`. Every found rank splits the keys (smaller or
    /// equal ones left of it, larger or equal right), so only the keys between the
    /// found ranks around `key` are looked at.
    fn count_below(&self, key: u64) -> usize {
        let is_below = |v: &f64| unsigned_order_key(*v) < key;
        let from = self
            .found
            .iter()
            .take_while(|(_, v)| is_below(v))
            .last()
            .map_or(0, |(&r, _)| r + 1);
        let to = self
            .found
            .iter()
            .find(|(_, v)| !is_below(v))
            .map_or(self.keys.len(), |(&r, _)| r);
        from + self.keys[from..to].iter().filter(|&&k| k < key).count()
    }

    /// The value at `rank`, which [`Ranked::select`] was asked for.
    pub(crate) fn at(&self, rank: usize) -> f64 {
        self.found.get(&rank).copied().unwrap_or(f64::NAN)
    }

    /// Percentile `q` of the values at ranks `from..to`, interpolated as
    /// `percentile_sorted` does (the ranks it needs must have been selected).
    pub(crate) fn percentile(&self, from: usize, to: usize, q: f64) -> f64 {
        let (lo, hi, frac) = match percentile_ranks(to - from, q) {
            // One value is its own percentile (as is, keeping the sign of a zero).
            Some((0, 0, _)) if to - from == 1 => return self.at(from),
            Some(r) => r,
            None => return f64::NAN,
        };
        let (a, b) = (self.at(from + lo), self.at(from + hi));
        a + frac * (b - a)
    }
}

/// For a percentile `q` of `n` ordered values: the two ranks it interpolates between
/// and the fraction (NumPy `linear`); `None` for no values.
pub(crate) fn percentile_ranks(n: usize, q: f64) -> Option<(usize, usize, f64)> {
    match n {
        0 => None,
        1 => Some((0, 0, 0.0)),
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            Some((lo, (lo + 1).min(n - 1), h - lo as f64))
        }
    }
}

fn select_into(keys: &mut [u64], offset: usize, ranks: &[usize], out: &mut BTreeMap<usize, f64>) {
    if ranks.is_empty() {
        return;
    }
    let n = keys.len();
    let mid = ranks.len() / 2;
    let r = ranks[mid] - offset;
    // Large, and not a lone extreme (the standard library finds those in one scan):
    // cut the keys into three parts around a bracket of the middle rank, and go on in
    // each part with the ranks it holds — the ranks near the middle one (a
    // percentile's two neighbours) are then found in the small bracket.
    let lone_extreme = ranks.len() == 1 && (r == 0 || r + 1 == n);
    if n >= SAMPLED_FROM && !lone_extreme {
        let (below, upto) = bracket(keys, r);
        if upto - below < n {
            let (low, rest) = keys.split_at_mut(below);
            let (inside, high) = rest.split_at_mut(upto - below);
            let split = |at: usize| ranks.partition_point(|&x| x < offset + at);
            let (b, u) = (split(below), split(upto));
            select_into(low, offset, &ranks[..b], out);
            select_into(inside, offset + below, &ranks[b..u], out);
            select_into(high, offset + upto, &ranks[u..], out);
            return;
        }
        // The pivots did not split the keys (all equal to them): introselect below.
    }
    let (left, nth, right) = keys.select_nth_unstable(r);
    out.insert(ranks[mid], from_unsigned_order_key(*nth));
    select_into(left, offset, &ranks[..mid], out);
    select_into(right, offset + r + 1, &ranks[mid + 1..], out);
}

/// From this many keys on, a selection first cuts the keys down to a narrow bracket
/// around the wanted rank with pivots from a sample (Floyd and Rivest's idea);
/// below it, the standard library's introselect does all the work.
const SAMPLED_FROM: usize = 4096;

/// At most this many keys are drawn to estimate where a rank lies (an eighth of the
/// keys below 8,192).
const SAMPLE: usize = 1024;

/// Partitions `keys` (at least [`SAMPLED_FROM`] of them) into the keys below a low
/// pivot, those between the pivots, and those above the high pivot, the pivots drawn
/// from a sample so that rank `k` most likely falls between them, and returns where
/// the middle part starts and ends.
///
/// Introselect partitions ~2.5 times the keys on average (pivots from three or nine
/// keys land anywhere); here one pass partitions every key around the pivot farther
/// from the rank and one pass the side holding the rank: n + min(k, n − k) keys. A
/// sample that misses (unlucky or adversarial data) only costs time.
fn bracket(keys: &mut [u64], k: usize) -> (usize, usize) {
    let n = keys.len();
    let size = SAMPLE.min(n / 8);
    let stride = n / size;
    let mut sample: Vec<u64> = (0..size).map(|i| keys[i * stride + stride / 2]).collect();
    // The rank's position in the sample has a standard deviation of at most
    // √size / 2; pivots 3 of those away miss it in about 1 of 400 selections, and the
    // bracket holds 3/√size of the keys (9 % for 1,024).
    let margin = 3 * size.isqrt() / 2;
    let at = k * size / n;
    let low_at = at.checked_sub(margin);
    let low = low_at.map(|p| *sample.select_nth_unstable(p).1);
    // The sample is split at the low pivot already: the high one is to its right.
    let high = (at + margin < size).then(|| {
        let from = low_at.map_or(0, |p| p + 1);
        *sample[from..].select_nth_unstable(at + margin - from).1
    });
    if k < n / 2 {
        let upto = high.map_or(n, |h| partition(keys, |x| x <= h));
        let below = low.map_or(0, |l| partition(&mut keys[..upto], |x| x < l));
        (below, upto)
    } else {
        let below = low.map_or(0, |l| partition(keys, |x| x < l));
        let above = high.map_or(n - below, |h| partition(&mut keys[below..], |x| x <= h));
        (below, below + above)
    }
}

/// Moves the keys for which `left` holds to the front (in no particular order) and
/// returns how many there are: one branch-free pass, each key swapped with the first
/// one not yet known to belong left.
fn partition(keys: &mut [u64], left: impl Fn(u64) -> bool) -> usize {
    let mut boundary = 0;
    for i in 0..keys.len() {
        let x = keys[i];
        keys.swap(i, boundary);
        boundary += usize::from(left(x));
    }
    boundary
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any set of ranks gets the values a full sort puts there.
        #[test]
        fn selected_ranks_match_the_sorted_window(
            xs in proptest::collection::vec(-1e6f64..1e6, 1..400),
            picks in proptest::collection::vec(0usize..400, 0..12),
        ) {
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let mut r = Ranked::new(&xs);
            // In two rounds: the second searches between the ranks the first found.
            let (first, second) = picks.split_at(picks.len() / 2);
            r.select(first);
            r.select(second);
            for p in picks.into_iter().filter(|p| *p < xs.len()) {
                proptest::prop_assert_eq!(r.at(p).to_bits(), sorted[p].to_bits());
            }
        }

        /// The same on windows large enough for sampled brackets, in shapes that make
        /// the sample miss or the pivots fail to split: few distinct values, all
        /// equal, sorted either way, a period equal to the sample's stride, and
        /// signed zeros among negative and positive values.
        #[test]
        fn sampled_selection_matches_the_sorted_window(
            shape in 0u8..6,
            len in SAMPLED_FROM..3 * SAMPLED_FROM,
            seed in proptest::prelude::any::<u64>(),
            picks in proptest::collection::vec(0.0f64..1.0, 1..12),
        ) {
            let xs = window(shape, len, seed);
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let mut r = Ranked::new(&xs);
            let ranks: Vec<usize> = picks.iter().map(|q| (q * len as f64) as usize).collect();
            // Percentile pairs, as `compare` asks: each rank with its neighbour.
            let (first, second) = ranks.split_at(ranks.len() / 2);
            r.select(&first.iter().flat_map(|&k| [k, k + 1]).collect::<Vec<_>>());
            r.select(second);
            for k in first.iter().flat_map(|&k| [k, k + 1]).chain(second.iter().copied()) {
                if k < len {
                    proptest::prop_assert_eq!(r.at(k).to_bits(), sorted[k].to_bits(), "rank {}", k);
                }
            }
            // Every found rank splits the keys, as `ranks_between` relies on.
            let (low, high) = (sorted[len / 5], sorted[len - 1 - len / 7]);
            let expected = sorted.iter().filter(|&&x| low <= x && x <= high).count();
            proptest::prop_assert_eq!(r.ranks_between(low, high).len(), expected);
        }
    }

    proptest::proptest! {
        /// The ranks on both edges of the bracket the first split makes — the keys
        /// that belong to the part below, the bracket and the part above — each get
        /// the value a full sort puts there.
        #[test]
        fn ranks_at_the_bracket_edges_are_told_apart(
            shape in 0u8..6,
            len in SAMPLED_FROM..3 * SAMPLED_FROM,
            seed in proptest::prelude::any::<u64>(),
            q in 0.0f64..1.0,
        ) {
            let xs = window(shape, len, seed);
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let mut r = Ranked::new(&xs);
            let k = ((q * len as f64) as usize).min(len - 1);
            // `bracket` is deterministic: on a copy it cuts where `select` will.
            let (below, upto) = bracket(&mut r.keys.clone(), k);
            let edges = [below.wrapping_sub(1), below, k, upto.wrapping_sub(1), upto];
            let ranks: Vec<usize> = edges.into_iter().filter(|&e| e < len).collect();
            r.select(&ranks);
            for e in ranks {
                proptest::prop_assert_eq!(r.at(e).to_bits(), sorted[e].to_bits(), "rank {}", e);
            }
        }
    }

    /// A window of `len` values in one of six shapes.
    fn window(shape: u8, len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift64*: enough to scatter values, reproducible from the seed.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        // The stride `bracket` samples at.
        let stride = len / SAMPLE.min(len / 8);
        (0..len)
            .map(|i| match shape {
                0 => (next() >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0,
                1 => (next() % 5) as f64,
                2 => 7.5,
                3 => i as f64,
                4 => (len - i) as f64,
                // Periodic with the sample's stride: every sampled key is the same.
                _ => match (i % stride == stride / 2, next() % 3) {
                    (true, _) => 0.0,
                    (_, 0) => -0.0,
                    (_, 1) => -((next() % 1000) as f64),
                    _ => (next() % 1000) as f64,
                },
            })
            .collect()
    }
}
