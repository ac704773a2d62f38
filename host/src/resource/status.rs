//! What a `ModelPipeline`'s `status` says: the phase machine's position, the last
//! decision, the current error, and the conditions `kubectl wait` and dashboards read.
//! Field names follow Kubernetes conventions (camelCase); conditions have the shape of
//! `metav1.Condition`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `status` subresource of a `ModelPipeline`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelPipelineStatus {
    /// The `metadata.generation` of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the pipeline is: `idle`, `training`, `evaluating`, `awaiting-approval`,
    /// `promoting`, `syncing`, `rolling-out`, `rolling-back`; `invalid` when the spec
    /// fails its checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The model version serving production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<String>,
    /// The version being trained, evaluated, promoted or rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// Percent of traffic on the candidate while a rollout runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// The most recent policy decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decision: Option<LastDecision>,
    /// What is failing now, if anything, and when it is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StatusError>,
    /// `Ready`, `Progressing` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// One policy decision as the status reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastDecision {
    /// The decision point: `retrain`, `promotion`, `regression` or `rollout`.
    pub point: String,
    /// What was decided (`train`, `wait`, `promote`, `reject`, …).
    pub outcome: String,
    /// The policy's reason, or why the fail-safe answered.
    pub reason: String,
    /// sha256 of the module that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_sha256: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// The error a pipeline is stuck on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusError {
    /// What went wrong and what to do.
    pub message: String,
    /// The spec field at fault, when the error is in the spec (`spec.executor.kubernetes.image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// When the failed step is tried again (RFC 3339); absent when only a spec change helps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<String>,
}

/// A condition in the shape of `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Progressing` or `Degraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// The generation this condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
    /// A CamelCase word for programs.
    pub reason: String,
    /// A sentence for people.
    pub message: String,
}

/// Condition types.
pub mod condition {
    /// The pipeline runs and nothing is failing.
    pub const READY: &str = "Ready";
    /// A run is under way (training, evaluation, promotion, rollout, rollback).
    pub const PROGRESSING: &str = "Progressing";
    /// Something needs attention: an invalid spec, a failing step, a stopped pipeline.
    pub const DEGRADED: &str = "Degraded";
}

/// Sets condition `type_` in `conditions`, keeping its `lastTransitionTime` when its
/// status did not change (as `meta.SetStatusCondition` does).
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) {
    let status = if status { "True" } else { "False" };
    let message = crate::decision::excerpt(message, 1024);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.status = status.to_owned();
                c.last_transition_time = now.to_owned();
            }
            c.reason = reason.to_owned();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            observed_generation: generation,
            last_transition_time: now.to_owned(),
            reason: reason.to_owned(),
            message,
        }),
    }
}

/// The status of a running pipeline in `state`, for the spec at `generation`, built on
/// `previous` (whose condition times it keeps). `now_ms` is the time of this look.
pub fn running(
    state: &crate::controller::PipelineState,
    generation: Option<i64>,
    previous: Option<&ModelPipelineStatus>,
    last_decision: Option<LastDecision>,
    now_ms: u64,
) -> ModelPipelineStatus {
    use crate::controller::Phase;
    let now = crate::clock::rfc3339(now_ms);
    let mut conditions = previous.map(|p| p.conditions.clone()).unwrap_or_default();
    let phase = &state.phase;
    let candidate = phase.run().map(|r| r.version.clone());
    let weight = match phase {
        Phase::RollingOut { progress, .. } => Some(u32::from(progress.weight)),
        _ => None,
    };
    let progressing = !matches!(phase, Phase::Idle);
    // What is failing, why (the `Degraded` reason) and when it is tried again.
    let failing = match (&state.last_error, &state.stopped) {
        (Some(e), _) => Some((
            "StepFailing",
            e.as_str(),
            (state.next_attempt_ms > 0).then(|| crate::clock::rfc3339(state.next_attempt_ms)),
        )),
        (None, Some(stop)) => Some(("Stopped", stop.reason.as_str(), None)),
        (None, None) => None,
    };
    let (degraded_reason, degraded_message) = failing
        .as_ref()
        .map_or(("AsExpected", "nothing is failing"), |(r, m, _)| (*r, *m));
    let error = failing.map(|(_, message, next_retry)| StatusError {
        message: crate::decision::excerpt(message, 2048),
        field: None,
        next_retry,
    });
    let degraded = error.is_some();
    set_condition(
        &mut conditions,
        condition::DEGRADED,
        degraded,
        degraded_reason,
        degraded_message,
        generation,
        &now,
    );
    let phase_name = phase.name();
    set_condition(
        &mut conditions,
        condition::PROGRESSING,
        progressing,
        if progressing { "RunInProgress" } else { "Idle" },
        &match &candidate {
            Some(v) => format!("{phase_name} {v}"),
            None => "waiting for enough new data".to_owned(),
        },
        generation,
        &now,
    );
    set_condition(
        &mut conditions,
        condition::READY,
        !degraded,
        if degraded { degraded_reason } else { "Running" },
        if degraded {
            degraded_message
        } else {
            "the pipeline runs"
        },
        generation,
        &now,
    );
    ModelPipelineStatus {
        observed_generation: generation,
        phase: Some(phase_name.to_owned()),
        production: state.production.as_ref().map(|m| m.version.clone()),
        candidate,
        weight,
        last_decision: last_decision.or_else(|| previous.and_then(|p| p.last_decision.clone())),
        error,
        conditions,
    }
}

/// Located problems as one line: `field: message; field: message`.
pub fn describe(problems: &[(String, String)]) -> String {
    problems
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The status of a spec that failed its checks: not run; the first problem is the
/// error (with its field), all of them are in the `Degraded` message.
pub fn invalid(
    problems: &[(String, String)],
    generation: Option<i64>,
    previous: Option<&ModelPipelineStatus>,
    now_ms: u64,
) -> ModelPipelineStatus {
    let now = crate::clock::rfc3339(now_ms);
    let mut conditions = previous.map(|p| p.conditions.clone()).unwrap_or_default();
    let all = describe(problems);
    set_condition(
        &mut conditions,
        condition::DEGRADED,
        true,
        "InvalidSpec",
        &all,
        generation,
        &now,
    );
    set_condition(
        &mut conditions,
        condition::READY,
        false,
        "InvalidSpec",
        &all,
        generation,
        &now,
    );
    set_condition(
        &mut conditions,
        condition::PROGRESSING,
        false,
        "InvalidSpec",
        "the spec is not run until it is fixed",
        generation,
        &now,
    );
    ModelPipelineStatus {
        observed_generation: generation,
        phase: Some("invalid".to_owned()),
        production: previous.and_then(|p| p.production.clone()),
        candidate: None,
        weight: None,
        last_decision: previous.and_then(|p| p.last_decision.clone()),
        error: problems.first().map(|(field, message)| StatusError {
            message: crate::decision::excerpt(message, 2048),
            field: Some(field.clone()),
            next_retry: None,
        }),
        conditions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::{Phase, PipelineState, RunRef};
    use crate::decision::ModelReport;

    fn cond<'a>(s: &'a ModelPipelineStatus, t: &str) -> &'a Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition")
    }

    #[test]
    fn an_idle_healthy_pipeline_is_ready_and_not_progressing() {
        let state = PipelineState::new(Some(ModelReport {
            version: "v7".into(),
            metrics: vec![],
        }));
        let s = running(&state, Some(3), None, None, 0);
        assert_eq!(s.phase.as_deref(), Some("idle"));
        assert_eq!(s.production.as_deref(), Some("v7"));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(cond(&s, "Ready").status, "True");
        assert_eq!(cond(&s, "Progressing").status, "False");
        assert_eq!(cond(&s, "Degraded").status, "False");
        assert!(s.error.is_none());
    }

    #[test]
    fn a_failing_step_degrades_with_its_retry_time_and_transition_times_move_only_on_change() {
        let mut state = PipelineState::new(None);
        state.phase = Phase::Training {
            run: RunRef {
                id: "r1".into(),
                job: "fraud-r1".into(),
                version: "v8".into(),
            },
            args: vec![],
            dispatched: true,
        };
        let first = running(&state, Some(1), None, None, 1_000);
        assert_eq!(first.candidate.as_deref(), Some("v8"));
        assert_eq!(cond(&first, "Progressing").status, "True");
        state.last_error = Some("git push refused".into());
        state.next_attempt_ms = 61_000;
        let second = running(&state, Some(1), Some(&first), None, 60_000);
        assert_eq!(cond(&second, "Degraded").status, "True");
        assert_eq!(cond(&second, "Ready").status, "False");
        assert_eq!(
            cond(&second, "Degraded").last_transition_time,
            "1970-01-01T00:01:00Z"
        );
        assert_eq!(
            cond(&second, "Progressing").last_transition_time,
            "1970-01-01T00:00:01Z",
            "unchanged status keeps its transition time"
        );
        let e = second.error.as_ref().expect("error");
        assert_eq!(e.next_retry.as_deref(), Some("1970-01-01T00:01:01Z"));
    }

    #[test]
    fn an_invalid_spec_names_its_first_field_and_is_not_ready() {
        let problems = vec![
            (
                "spec.executor".to_owned(),
                "give exactly one executor".to_owned(),
            ),
            ("spec.name".to_owned(), "bad".to_owned()),
        ];
        let s = invalid(&problems, Some(2), None, 0);
        assert_eq!(s.phase.as_deref(), Some("invalid"));
        let e = s.error.expect("error");
        assert_eq!(e.field.as_deref(), Some("spec.executor"));
        assert_eq!(cond_of(&s.conditions, "Degraded").reason, "InvalidSpec");
        assert!(
            cond_of(&s.conditions, "Degraded")
                .message
                .contains("spec.name: bad")
        );
    }

    fn cond_of<'a>(c: &'a [Condition], t: &str) -> &'a Condition {
        c.iter().find(|c| c.type_ == t).expect("condition")
    }
}
