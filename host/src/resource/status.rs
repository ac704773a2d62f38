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
