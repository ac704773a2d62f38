//! Golden cases: a file of contexts with the decision each must produce, run against a
//! module by `sluice policy test`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Deserialize;

use crate::decision::{RawParams, Verdict};
use crate::metrics::Metrics;
use crate::policy::{Binding, PolicyEngine, PolicyModule, WitPoint, decide};

/// A cases file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesFile<C> {
    /// The cases, run in order.
    pub cases: Vec<Case<C>>,
}

/// One golden case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case<C> {
    /// Shown in the output.
    pub name: String,
    /// Parameters (checked against the module's description; defaults fill in).
    #[serde(default)]
    pub params: RawParams,
    /// The context.
    pub context: C,
    /// What must come out.
    pub expect: Expect,
}

/// Expectations on a decision; every given field must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The decision's variant: `wait`, `train`, `promote`, `reject`,
    /// `await-approval`, `pass`, `regressed`, `inconclusive`, `advance`, `hold`,
    /// `rollback` or `complete`.
    pub outcome: String,
    /// A substring the reason must contain.
    #[serde(default)]
    pub reason_contains: Option<String>,
    /// For `advance`: the new weight.
    #[serde(default)]
    pub weight: Option<u8>,
    /// For regression: the verdict per metric.
    #[serde(default)]
    pub metrics: BTreeMap<String, Verdict>,
}

/// The result of one case.
#[derive(Debug)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// `None` when it passed; otherwise what differed.
    pub mismatch: Option<String>,
    /// Fuel used.
    pub fuel: u64,
    /// Wall time in microseconds.
    pub micros: u64,
}

/// Runs every case against `module`.
pub fn run<P: WitPoint>(
    engine: &PolicyEngine,
    module: &PolicyModule,
    file: CasesFile<P::Context>,
) -> Vec<CaseResult> {
    let metrics = Metrics::new();
    file.cases
        .into_iter()
        .map(|case| {
            let binding = match Binding::<P>::with_defaults(&module.description, &case.params) {
                Ok(b) => b,
                Err(e) => {
                    return CaseResult {
                        name: case.name,
                        mismatch: Some(e.to_string()),
                        fuel: 0,
                        micros: 0,
                    };
                }
            };
            let eval = decide::<P>(
                engine,
                module,
                &binding,
                case.context,
                SystemTime::now(),
                &metrics,
            );
            let mismatch = match &eval.failure {
                Some(f) => Some(format!("the policy failed: {f}")),
                None => match serde_json::to_value(&eval.record.output) {
                    Ok(output) => compare(&case.expect, &output, P::outcome_label(&eval.decision)),
                    Err(e) => Some(format!("the decision cannot be written as JSON: {e}")),
                },
            };
            CaseResult {
                name: case.name,
                mismatch,
                fuel: eval.stats.fuel_used,
                micros: eval.record.wall_micros,
            }
        })
        .collect()
}

/// Compares a decision (as recorded JSON) with the expectation.
fn compare(expect: &Expect, output: &serde_json::Value, outcome: &str) -> Option<String> {
    let mut problems = Vec::new();
    if expect.outcome != outcome {
        problems.push(format!(
            "expected outcome `{}`, got `{outcome}`",
            expect.outcome
        ));
    }
    let reason = find_str(output, "reason").unwrap_or_default();
    if let Some(want) = &expect.reason_contains
        && !reason.contains(want.as_str())
    {
        problems.push(format!("reason {reason:?} does not contain {want:?}"));
    }
    if let Some(w) = expect.weight {
        let got = find_u64(output, "weight");
        if got != Some(u64::from(w)) {
            problems.push(format!("expected weight {w}, got {got:?}"));
        }
    }
    for (name, verdict) in &expect.metrics {
        let got = output
            .get("metrics")
            .and_then(|m| m.as_array())
            .and_then(|list| {
                list.iter()
                    .find(|m| m.get("name").and_then(|n| n.as_str()) == Some(name))
            })
            .and_then(|m| m.get("verdict").cloned());
        let want = serde_json::to_value(verdict).ok();
        if got != want {
            problems.push(format!("metric `{name}`: expected {want:?}, got {got:?}"));
        }
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!("{} (decision: {output})", problems.join("; ")))
    }
}

/// The first string field `key` at the top level or one level down (variants nest).
fn find_str(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .or_else(|| {
            v.as_object()
                .and_then(|o| o.values().find_map(|inner| inner.get(key)))
        })
        .and_then(|s| s.as_str())
        .map(str::to_owned)
}

fn find_u64(v: &serde_json::Value, key: &str) -> Option<u64> {
    v.get(key)
        .or_else(|| {
            v.as_object()
                .and_then(|o| o.values().find_map(|inner| inner.get(key)))
        })
        .and_then(serde_json::Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compare_checks_every_given_field() {
        let expect = Expect {
            outcome: "advance".into(),
            reason_contains: Some("pass".into()),
            weight: Some(25),
            metrics: BTreeMap::new(),
        };
        let ok = json!({"advance": {"weight": 25, "reason": "pass at 10%"}});
        assert_eq!(compare(&expect, &ok, "advance"), None);
        let wrong = json!({"advance": {"weight": 50, "reason": "pass at 25%"}});
        let msg = compare(&expect, &wrong, "advance").expect("mismatch");
        assert!(msg.contains("expected weight 25, got Some(50)"), "{msg}");
    }
}
