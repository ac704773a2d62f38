//! Order statistics without a full sort: the values at a few ranks of a window, by
//! recursive selection (each `select_nth_unstable` splits the keys around one wanted
//! rank; the ranks below it are looked for on the left, the rest on the right, and a
//! later search only looks between the ranks already found around it). A
//! Welch `compare` needs ten or so ranks — the quartiles for Tukey's fences, then the
//! survivors' minimum, maximum and percentiles — and finds them in a few linear passes
//! where sorting 100,000 samples cost a millisecond.

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
    let mid = ranks.len() / 2;
    let r = ranks[mid] - offset;
    let (left, nth, right) = keys.select_nth_unstable(r);
    out.insert(ranks[mid], from_unsigned_order_key(*nth));
    select_into(left, offset, &ranks[..mid], out);
    select_into(right, offset + r + 1, &ranks[mid + 1..], out);
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
    }
}
