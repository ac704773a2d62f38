//! Canary against baseline in one call: filter, summarize, test, effect size.

use std::borrow::Cow;

use super::mann_whitney::mann_whitney_sorted;
use super::outliers::{iqr_rule, mad_rule};
use super::{Moments, cohens_d_of, count_u32, finite, sorted, summary_of, welch_of};
use crate::{Alternative, Comparison, OutlierFilter, Summary, TestKind};

/// Filters each window with `filter`, then summarizes both and runs `test` and Cohen's
/// d of `a` against `b` on what survived.
///
/// The numbers are those of calling the filter, `summarize`, the test and `cohens_d`
/// one by one, except that each summary's `non_finite` counts the window's non-finite
/// values (the filters drop them). Each window is sorted once (the survivors of either
/// filter are a run of the sorted window, so their percentiles need no second sort) and
/// its moments are computed once for the summary, the t-test and Cohen's d.
pub fn compare(
    a: &[f64],
    b: &[f64],
    filter: OutlierFilter,
    test: TestKind,
    alternative: Alternative,
) -> Comparison {
    let (wa, wb) = (Window::new(a, filter), Window::new(b, filter));
    let significance = match test {
        // 0 dropped: the windows' non-finite values were removed before the moments.
        TestKind::Welch => welch_of(wa.moments, wb.moments, 0, alternative),
        // The survivors are already in order: ranks come from one merge.
        TestKind::MannWhitney => {
            mann_whitney_sorted(wa.ascending(), wb.ascending(), 0, alternative)
        }
    };
    Comparison {
        a: wa.summary,
        b: wb.summary,
        outliers_a: wa.outliers,
        outliers_b: wb.outliers,
        significance,
        cohens_d: cohens_d_of(wa.moments, wb.moments),
    }
}

/// One window after filtering.
struct Window {
    /// Every finite value in ascending order, and where the survivors are in it.
    sorted: Vec<f64>,
    survivors: std::ops::Range<usize>,
    moments: Moments,
    summary: Summary,
    outliers: u32,
}

impl Window {
    fn new(samples: &[f64], filter: OutlierFilter) -> Self {
        let (xs, non_finite) = finite(samples);
        let ascending = sorted(&xs);
        let rule = match filter {
            OutlierFilter::None => None,
            OutlierFilter::Iqr(k) => iqr_rule(&ascending, k),
            OutlierFilter::Mad(threshold) => mad_rule(&xs, &ascending, threshold),
        };
        let Some(keep) = rule else {
            let moments = Moments::of(&xs);
            return Self {
                summary: summary_of(moments, &ascending, non_finite),
                survivors: 0..ascending.len(),
                sorted: ascending,
                moments,
                outliers: 0,
            };
        };
        let run = keep.run_range(&ascending);
        let survivors = &ascending[run.clone()];
        let outliers = count_u32(xs.len() - survivors.len());
        // Input order for the moments, as the one-by-one functions sum them; a window
        // the rule left whole is used as it is, not copied.
        let kept = if survivors.len() == xs.len() {
            xs
        } else {
            Cow::Owned(keep.apply(&xs))
        };
        let moments = Moments::of(&kept);
        Self {
            summary: summary_of(moments, survivors, non_finite),
            outliers,
            survivors: run,
            sorted: ascending,
            moments,
        }
    }

    /// The survivors in ascending order.
    fn ascending(&self) -> &[f64] {
        &self.sorted[self.survivors.clone()]
    }
}
