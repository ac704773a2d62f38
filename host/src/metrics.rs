//! Counters exported in Prometheus text format. A tiny registry: names and label
//! sets are fixed by the code that increments them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Counter names used by sluice, in one place.
pub mod names {
    /// Decisions made, by `point` and `outcome`.
    pub const DECISIONS: &str = "sluice_policy_decisions_total";
    /// Policy calls that failed and used the fail-safe, by `point`, `policy`, `kind`.
    pub const POLICY_FAILURES: &str = "sluice_policy_failures_total";
    /// Modules swapped in, by `module`.
    pub const POLICY_SWAPS: &str = "sluice_policy_swaps_total";
    /// Modules swapped in on baseline code whose optimized build then replaced them, by
    /// `module` (a failed optimized build counts as a refusal instead).
    pub const POLICY_UPGRADES: &str = "sluice_policy_upgrades_total";
    /// Swaps that waited for the optimized build because the baseline build's trial
    /// decisions took over a quarter of their deadline, by `module`.
    pub const POLICY_BASELINE_SKIPPED: &str = "sluice_policy_baseline_skipped_total";
    /// Modules refused by the pre-swap checks, by `module` and `reason`.
    pub const POLICY_REFUSALS: &str = "sluice_policy_refusals_total";
    /// Training runs by `pipeline` and `outcome` (`started`, `promoted`, `rejected`, `failed`).
    pub const RUNS: &str = "sluice_runs_total";
    /// Promotions completed, by `pipeline`.
    pub const PROMOTIONS: &str = "sluice_promotions_total";
    /// Git push attempts repeated (after an error or a concurrent push), by `pipeline`.
    pub const PUSH_RETRIES: &str = "sluice_git_push_retries_total";
    /// Tick duration, by `pipeline` (a summary: `_sum` and `_count`).
    pub const TICK_SECONDS: &str = "sluice_tick_duration_seconds";
    /// Ticks that could not read or write the state, by `pipeline`.
    pub const TICK_ERRORS: &str = "sluice_tick_errors_total";
    /// A gauge: 1 while this host holds the leader lease, 0 while it stands by (absent
    /// without leader election).
    pub const LEADER: &str = "sluice_leader";
    /// A gauge: 1 while the file of `module` holds bytes that were refused (the
    /// previous version stays live), 0 once it holds a version that went live.
    pub const POLICY_REFUSED: &str = "sluice_policy_refused";
    /// A gauge: the candidate's traffic weight (0..=100) by `pipeline`; 0 at rest.
    pub const ROLLOUT_WEIGHT: &str = "sluice_rollout_weight";
    /// Regression verdicts by `pipeline` and `verdict` (`pass`, `regressed`,
    /// `inconclusive`, or `none` when a metric source could not answer).
    pub const VERDICTS: &str = "sluice_rollout_verdicts_total";
    /// Rollbacks carried out (traffic back on stable, the revert in Git, the version
    /// rejected), by `pipeline`.
    pub const ROLLBACKS: &str = "sluice_rollbacks_total";
    /// Notifications dropped (the receiver failed every attempt, or the queue was
    /// full), by `pipeline`.
    pub const NOTIFICATIONS_DROPPED: &str = "sluice_notifications_dropped_total";
    /// Rollout analysis duration (collect + both decisions), by `pipeline` (a summary).
    pub const ANALYSIS_SECONDS: &str = "sluice_rollout_analysis_duration_seconds";
}

type Labels = Vec<(&'static str, String)>;
/// A summary's running (sum, count).
type Summaries = BTreeMap<(&'static str, Labels), (f64, u64)>;

/// A set of counters, summaries and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    summaries: Mutex<Summaries>,
    gauges: Mutex<BTreeMap<(&'static str, Labels), i64>>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one to `name{labels}`.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        );
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry(key).or_insert(0) += 1;
    }

    /// Sets the gauge `name{labels}` to `value`.
    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], value: i64) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        );
        let mut g = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        g.insert(key, value);
    }

    /// Adds one observation of `d` to the summary `name{labels}`.
    pub fn add_seconds(
        &self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        d: std::time::Duration,
    ) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        );
        let mut s = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        let e = s.entry(key).or_insert((0.0, 0));
        e.0 += d.as_secs_f64();
        e.1 += 1;
    }

    /// The value of `name{labels}` (0 if never incremented).
    pub fn get(&self, name: &'static str, labels: &[(&'static str, &str)]) -> u64 {
        let key: (&'static str, Labels) = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        );
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.get(&key).copied().unwrap_or(0)
    }

    /// Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut last = "";
        for ((name, labels), value) in c.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{}}} {value}", render_labels(labels));
        }
        drop(c);
        let s = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = "";
        for ((name, labels), (sum, count)) in s.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} summary");
                last = name;
            }
            let l = render_labels(labels);
            let _ = writeln!(out, "{name}_sum{{{l}}} {sum}");
            let _ = writeln!(out, "{name}_count{{{l}}} {count}");
        }
        drop(s);
        let g = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = "";
        for ((name, labels), value) in g.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} gauge");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{}}} {value}", render_labels(labels));
        }
        out
    }
}

fn render_labels(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders_with_escaped_labels() {
        let m = Metrics::new();
        m.inc(
            names::DECISIONS,
            &[("point", "retrain"), ("outcome", "wait")],
        );
        m.inc(
            names::DECISIONS,
            &[("point", "retrain"), ("outcome", "wait")],
        );
        m.inc(
            names::POLICY_REFUSALS,
            &[("module", "a\"b"), ("reason", "trial")],
        );
        assert_eq!(
            m.get(
                names::DECISIONS,
                &[("point", "retrain"), ("outcome", "wait")]
            ),
            2
        );
        let text = m.render();
        assert!(
            text.contains("sluice_policy_decisions_total{point=\"retrain\",outcome=\"wait\"} 2")
        );
        assert!(text.contains("module=\"a\\\"b\""));
        m.set(names::POLICY_REFUSED, &[("module", "gate")], 1);
        m.set(names::POLICY_REFUSED, &[("module", "gate")], 0);
        let text = m.render();
        assert!(
            text.contains(
                "# TYPE sluice_policy_refused gauge\nsluice_policy_refused{module=\"gate\"} 0\n"
            ),
            "{text}"
        );
    }
}
