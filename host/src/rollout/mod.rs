//! Progressive rollout: the candidate gets traffic in steps decided by the rollout
//! policy, is judged at each analysis by the regression policy on live metrics, and
//! either becomes stable or is rolled back — in Git too.
//!
//! [`state`] is the pure sub-machine; [`analysis`] collects the metric windows;
//! [`step`] performs one side effect per call, like the controller's other steps.

pub mod analysis;
pub mod state;
pub mod step;

use std::time::Duration;

use crate::controller::PolicySlot;
use crate::decision::{RegressionFailSafe, RolloutFailSafe};
use crate::traffic::Traffic;

pub use analysis::WatchedMetric;

/// A pipeline's rollout, wired: traffic targets, metrics and their sources, and the
/// two policies that decide.
#[derive(Debug, Clone)]
pub struct RolloutPlan {
    /// Where the weight lives in Git.
    pub traffic: Traffic,
    /// Where it lives in the cluster, if configured (written first).
    pub kube: Option<crate::traffic::KubeTraffic>,
    /// What is measured.
    pub metrics: Vec<WatchedMetric>,
    /// Time between analyses.
    pub interval: Duration,
    /// The longest window read.
    pub window: Duration,
    /// Most samples per arm and metric.
    pub max_samples: usize,
    /// The regression policy.
    pub regression: PolicySlot<RegressionFailSafe>,
    /// The rollout policy.
    pub rollout: PolicySlot<RolloutFailSafe>,
}
