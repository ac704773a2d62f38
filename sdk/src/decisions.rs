//! The four decision points: what a policy is asked ([`RetrainContext`], …) and what it
//! may answer ([`RetrainDecision`], …). Mirrors `wit/decisions.wit`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::types::{FromParam, Metric, ModelReport, ParamError, Params, Verdict};

macro_rules! param_access {
    ($($ctx:ty),+) => {$(
        impl $ctx {
            /// The parameter `name` as `T` (configured value or declared default).
            ///
            /// # Errors
            /// When the description declares no such parameter or another type.
            pub fn param<T: FromParam>(&self, name: &str) -> Result<T, ParamError> {
                self.params.get(name)
            }

            /// The parameter `name` as `T`, or `default`.
            pub fn param_or<T: FromParam>(&self, name: &str, default: T) -> T {
                self.params.get_or(name, default)
            }
        }
    )+};
}

param_access!(
    RetrainContext,
    PromotionContext,
    RegressionContext,
    RolloutContext
);

/// How the last training run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingOutcome {
    /// Promoted.
    Promoted,
    /// Rejected by the promotion policy.
    Rejected,
    /// The Job failed or produced no valid report.
    Failed,
}

/// What the host knows when it asks the retrain policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetrainContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    pub params: Params,
    /// Verified samples not yet used for training.
    pub new_samples: u64,
    /// All verified samples.
    pub total_samples: u64,
    /// Seconds since the last training run started, if any.
    pub seconds_since_last_training: Option<u64>,
    /// How the last run ended, if any.
    pub last_outcome: Option<TrainingOutcome>,
    /// Whether a run is active.
    pub run_active: bool,
    /// The production model, if any.
    pub production: Option<ModelReport>,
}

/// The retrain policy's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrainDecision {
    /// Do nothing this tick.
    Wait(String),
    /// Start training, with a reason and extra trainer arguments.
    Train {
        /// Why.
        reason: String,
        /// Extra arguments for the trainer (at most 32, each ≤ 1 KiB).
        args: Vec<String>,
    },
}

/// What the host knows when it asks the promotion policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromotionContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    pub params: Params,
    /// The candidate just trained.
    pub candidate: ModelReport,
    /// The production model, if any.
    pub production: Option<ModelReport>,
}

/// The promotion policy's answer; each carries the reason.
#[derive(Debug, Clone, PartialEq)]
pub enum PromotionDecision {
    /// Promote the candidate.
    Promote(String),
    /// Reject it; it is never promoted automatically.
    Reject(String),
    /// Wait for an operator.
    AwaitApproval(String),
}

/// Which way a metric is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Larger is better.
    HigherIsBetter,
    /// Smaller is better.
    LowerIsBetter,
}

/// Baseline and canary samples of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricWindow {
    /// Metric name.
    pub name: String,
    /// Which way it is good.
    pub direction: Direction,
    /// Baseline samples.
    pub baseline: Vec<f64>,
    /// Canary samples.
    pub canary: Vec<f64>,
}

/// What the host knows when it asks the regression policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegressionContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    pub params: Params,
    /// One window per watched metric.
    pub metrics: Vec<MetricWindow>,
}

/// The verdict for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricVerdict {
    /// Metric name (matches an input window).
    pub name: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// Statistics used, recorded in the audit log.
    pub statistics: Vec<Metric>,
}

/// The regression policy's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionDecision {
    /// Overall verdict.
    pub overall: Verdict,
    /// Why.
    pub reason: String,
    /// One entry per input window.
    pub metrics: Vec<MetricVerdict>,
}

/// What the host knows when it asks the rollout policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RolloutContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    pub params: Params,
    /// Version serving the rest of the traffic.
    pub stable_version: String,
    /// Version being rolled out.
    pub candidate_version: String,
    /// Candidate's share of traffic, 0..=100.
    pub current_weight: u8,
    /// Zero-based step index.
    pub step_index: u32,
    /// Seconds at the current weight.
    pub seconds_at_step: u64,
    /// Consecutive `hold` answers at this step.
    pub holds_at_step: u32,
    /// Latest regression verdict at this step.
    pub verdict: Option<Verdict>,
}

/// The rollout policy's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutDecision {
    /// Shift to a higher weight.
    Advance {
        /// New weight, greater than the current one, at most 100.
        weight: u8,
        /// Why.
        reason: String,
    },
    /// Stay; ask again next interval.
    Hold(String),
    /// All traffic back to stable, then revert Git.
    Rollback(String),
    /// The candidate becomes stable.
    Complete(String),
}
