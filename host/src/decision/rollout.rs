//! The rollout decision point.

use serde::{Deserialize, Serialize};

use super::{Param, Point, Verdict, bounded, check_reason};

/// Marker for the rollout decision point.
#[derive(Debug)]
pub enum Rollout {}

/// What the rollout policy is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    #[serde(skip_deserializing)]
    pub params: Vec<Param>,
    /// Stable version.
    pub stable_version: String,
    /// Candidate version.
    pub candidate_version: String,
    /// Candidate's traffic share, 0..=100.
    pub current_weight: u8,
    /// Zero-based step index.
    #[serde(default)]
    pub step_index: u32,
    /// Seconds at the current weight.
    #[serde(default)]
    pub seconds_at_step: u64,
    /// Consecutive holds at this step.
    #[serde(default)]
    pub holds_at_step: u32,
    /// Latest regression verdict at this step.
    #[serde(default)]
    pub verdict: Option<Verdict>,
}

/// The rollout policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum RolloutDecision {
    /// Shift to a higher weight.
    Advance {
        /// New weight.
        weight: u8,
        /// Why.
        reason: String,
    },
    /// Stay.
    Hold {
        /// Why.
        reason: String,
    },
    /// Back to stable, at once.
    Rollback {
        /// Why.
        reason: String,
    },
    /// The candidate becomes stable.
    Complete {
        /// Why.
        reason: String,
    },
}

/// What to answer when the rollout policy fails.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutFailSafe {
    /// Stay at the current weight (the controller's progress deadline still applies).
    #[default]
    Hold,
    /// Roll back.
    Rollback,
}

impl Point for Rollout {
    const POINT: super::DecisionPoint = super::DecisionPoint::Rollout;
    type Context = RolloutContext;
    type Decision = RolloutDecision;
    type FailSafe = RolloutFailSafe;

    fn validate(ctx: &RolloutContext, d: &RolloutDecision) -> Result<(), String> {
        match d {
            RolloutDecision::Advance { weight, reason } => {
                check_reason("the reason", reason)?;
                if *weight > 100 {
                    return Err(format!("advance to weight {weight}; weights are 0..=100"));
                }
                if *weight <= ctx.current_weight {
                    return Err(format!(
                        "advance to weight {weight}, which is not above the current weight {}",
                        ctx.current_weight
                    ));
                }
                Ok(())
            }
            RolloutDecision::Complete { reason } => {
                check_reason("the reason", reason)?;
                if ctx.current_weight != 100 {
                    return Err(format!(
                        "complete at weight {}; a rollout completes only at 100",
                        ctx.current_weight
                    ));
                }
                Ok(())
            }
            RolloutDecision::Hold { reason } | RolloutDecision::Rollback { reason } => {
                check_reason("the reason", reason)
            }
        }
    }

    fn fail_safe(choice: RolloutFailSafe, _: &RolloutContext, why: &str) -> RolloutDecision {
        let reason = bounded(format!("fail-safe: {why}"));
        match choice {
            RolloutFailSafe::Hold => RolloutDecision::Hold { reason },
            RolloutFailSafe::Rollback => RolloutDecision::Rollback { reason },
        }
    }

    fn outcome_label(d: &RolloutDecision) -> &'static str {
        match d {
            RolloutDecision::Advance { .. } => "advance",
            RolloutDecision::Hold { .. } => "hold",
            RolloutDecision::Rollback { .. } => "rollback",
            RolloutDecision::Complete { .. } => "complete",
        }
    }

    fn trial_context(pipeline: &str, params: Vec<Param>) -> RolloutContext {
        RolloutContext {
            pipeline: pipeline.to_owned(),
            params,
            stable_version: "trial-stable".into(),
            candidate_version: "trial-candidate".into(),
            current_weight: 0,
            step_index: 0,
            seconds_at_step: 0,
            holds_at_step: 0,
            verdict: None,
        }
    }

    fn pipeline(ctx: &RolloutContext) -> &str {
        &ctx.pipeline
    }

    fn params_mut(ctx: &mut RolloutContext) -> &mut Vec<Param> {
        &mut ctx.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(weight: u8) -> RolloutContext {
        let mut c = Rollout::trial_context("p", vec![]);
        c.current_weight = weight;
        c
    }

    #[test]
    fn advance_must_go_up_and_stay_in_range() {
        let up = |w| RolloutDecision::Advance {
            weight: w,
            reason: String::new(),
        };
        assert!(Rollout::validate(&ctx(10), &up(25)).is_ok());
        assert!(Rollout::validate(&ctx(10), &up(10)).is_err());
        assert!(Rollout::validate(&ctx(50), &up(101)).is_err());
    }

    #[test]
    fn complete_only_at_full_traffic() {
        let done = RolloutDecision::Complete {
            reason: String::new(),
        };
        assert!(Rollout::validate(&ctx(50), &done).is_err());
        assert!(Rollout::validate(&ctx(100), &done).is_ok());
    }
}
