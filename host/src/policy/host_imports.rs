//! The host functions every policy imports: `sluice:policy/stats` (computed natively
//! by `sluice-stats`) and `sluice:policy/log` (kept with the decision record).

use super::bindings::retrain_world::sluice::policy::{log, stats, types};
use super::limits::MAX_LOG_MESSAGE_BYTES;
use super::sandbox::{HostState, LogLine};

fn alternative(a: stats::Alternative) -> sluice_stats::Alternative {
    match a {
        stats::Alternative::TwoSided => sluice_stats::Alternative::TwoSided,
        stats::Alternative::Less => sluice_stats::Alternative::Less,
        stats::Alternative::Greater => sluice_stats::Alternative::Greater,
    }
}

fn test_result(r: sluice_stats::TestResult) -> stats::TestResult {
    stats::TestResult {
        statistic: r.statistic,
        p_value: r.p_value,
        df: r.df,
        n_a: r.n_a,
        n_b: r.n_b,
        dropped: r.dropped,
        exact: r.exact,
    }
}

fn summary(s: sluice_stats::Summary) -> stats::Summary {
    stats::Summary {
        n: s.n,
        non_finite: s.non_finite,
        mean: s.mean,
        sd: s.sd,
        min: s.min,
        max: s.max,
        p50: s.p50,
        p90: s.p90,
        p95: s.p95,
        p99: s.p99,
    }
}

/// `types` declares no functions.
impl types::Host for HostState {}

impl stats::Host for HostState {
    fn compare(
        &mut self,
        a: Vec<f64>,
        b: Vec<f64>,
        filter: stats::OutlierFilter,
        test: stats::TestKind,
        alt: stats::Alternative,
    ) -> stats::Comparison {
        let filter = match filter {
            stats::OutlierFilter::None => sluice_stats::OutlierFilter::None,
            stats::OutlierFilter::Iqr(k) => sluice_stats::OutlierFilter::Iqr(k),
            stats::OutlierFilter::Mad(t) => sluice_stats::OutlierFilter::Mad(t),
        };
        let test = match test {
            stats::TestKind::Welch => sluice_stats::TestKind::Welch,
            stats::TestKind::MannWhitney => sluice_stats::TestKind::MannWhitney,
        };
        let c = sluice_stats::compare(&a, &b, filter, test, alternative(alt));
        stats::Comparison {
            a: summary(c.a),
            b: summary(c.b),
            outliers_a: c.outliers_a,
            outliers_b: c.outliers_b,
            significance: test_result(c.significance),
            cohens_d: c.cohens_d,
        }
    }

    fn summarize(&mut self, samples: Vec<f64>) -> stats::Summary {
        summary(sluice_stats::summarize(&samples))
    }

    fn welch_t_test(
        &mut self,
        a: Vec<f64>,
        b: Vec<f64>,
        alt: stats::Alternative,
    ) -> stats::TestResult {
        test_result(sluice_stats::welch_t_test(&a, &b, alternative(alt)))
    }

    fn mann_whitney_u(
        &mut self,
        a: Vec<f64>,
        b: Vec<f64>,
        alt: stats::Alternative,
    ) -> stats::TestResult {
        test_result(sluice_stats::mann_whitney_u(&a, &b, alternative(alt)))
    }

    fn cohens_d(&mut self, a: Vec<f64>, b: Vec<f64>) -> f64 {
        sluice_stats::cohens_d(&a, &b)
    }

    fn mean_confidence_interval(&mut self, samples: Vec<f64>, level: f64) -> stats::Interval {
        let i = sluice_stats::mean_confidence_interval(&samples, level);
        stats::Interval {
            mean: i.mean,
            low: i.low,
            high: i.high,
        }
    }

    fn filter_outliers_iqr(&mut self, samples: Vec<f64>, k: f64) -> Vec<f64> {
        sluice_stats::filter_outliers_iqr(&samples, k)
    }

    fn filter_outliers_mad(&mut self, samples: Vec<f64>, threshold: f64) -> Vec<f64> {
        sluice_stats::filter_outliers_mad(&samples, threshold)
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, mut message: String) {
        if message.len() > MAX_LOG_MESSAGE_BYTES {
            let mut end = MAX_LOG_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.push_log(LogLine { level, message });
    }
}
