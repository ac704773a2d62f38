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
    /// Modules refused by the pre-swap checks, by `module` and `reason`.
    pub const POLICY_REFUSALS: &str = "sluice_policy_refusals_total";
}

type Labels = Vec<(&'static str, String)>;

/// A set of counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
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
            let rendered: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {value}", rendered.join(","));
        }
        out
    }
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
    }
}
