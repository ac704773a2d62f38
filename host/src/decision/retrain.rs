//! The retrain decision point.

use serde::{Deserialize, Serialize};

use super::{ModelReport, Param, Point, bounded, check_reason};

/// Most extra trainer arguments a policy may request.
pub const MAX_TRAIN_ARGS: usize = 32;
/// Longest extra trainer argument, in bytes.
pub const MAX_TRAIN_ARG_BYTES: usize = 1024;

/// Marker for the retrain decision point.
#[derive(Debug)]
pub enum Retrain {}

/// How the last training run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainingOutcome {
    /// Promoted.
    Promoted,
    /// Rejected by the promotion policy.
    Rejected,
    /// Failed.
    Failed,
}

/// What the retrain policy is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters (filled in by the host from config and declared defaults).
    #[serde(skip_deserializing)]
    pub params: Vec<Param>,
    /// Verified samples not yet used for training.
    pub new_samples: u64,
    /// All verified samples.
    #[serde(default)]
    pub total_samples: u64,
    /// Seconds since the last training started.
    #[serde(default)]
    pub seconds_since_last_training: Option<u64>,
    /// How the last run ended.
    #[serde(default)]
    pub last_outcome: Option<TrainingOutcome>,
    /// Whether a run is active.
    #[serde(default)]
    pub run_active: bool,
    /// The production model.
    #[serde(default)]
    pub production: Option<ModelReport>,
}

/// The retrain policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum RetrainDecision {
    /// Do nothing now.
    Wait {
        /// Why.
        reason: String,
    },
    /// Start training.
    Train {
        /// Why.
        reason: String,
        /// Extra trainer arguments.
        #[serde(default)]
        args: Vec<String>,
    },
}

/// What to answer when the retrain policy fails: always wait.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RetrainFailSafe {
    /// Do not train.
    #[default]
    Wait,
}

impl Point for Retrain {
    const POINT: super::DecisionPoint = super::DecisionPoint::Retrain;
    type Context = RetrainContext;
    type Decision = RetrainDecision;
    type FailSafe = RetrainFailSafe;

    fn validate(_: &RetrainContext, decision: &RetrainDecision) -> Result<(), String> {
        match decision {
            RetrainDecision::Wait { reason } => check_reason("the wait reason", reason),
            RetrainDecision::Train { reason, args } => {
                check_reason("the train reason", reason)?;
                if args.len() > MAX_TRAIN_ARGS {
                    return Err(format!(
                        "train asks for {} arguments; at most {MAX_TRAIN_ARGS} are allowed",
                        args.len()
                    ));
                }
                if let Some(a) = args.iter().find(|a| a.len() > MAX_TRAIN_ARG_BYTES) {
                    return Err(format!(
                        "a train argument is {} bytes; at most {MAX_TRAIN_ARG_BYTES} are allowed",
                        a.len()
                    ));
                }
                Ok(())
            }
        }
    }

    fn fail_safe(_: RetrainFailSafe, _: &RetrainContext, why: &str) -> RetrainDecision {
        RetrainDecision::Wait {
            reason: bounded(format!("fail-safe: {why}")),
        }
    }

    fn outcome_label(decision: &RetrainDecision) -> &'static str {
        match decision {
            RetrainDecision::Wait { .. } => "wait",
            RetrainDecision::Train { .. } => "train",
        }
    }

    fn trial_context(pipeline: &str, params: Vec<Param>) -> RetrainContext {
        RetrainContext {
            pipeline: pipeline.to_owned(),
            params,
            new_samples: 0,
            total_samples: 0,
            seconds_since_last_training: None,
            last_outcome: None,
            run_active: false,
            production: None,
        }
    }

    fn pipeline(ctx: &RetrainContext) -> &str {
        &ctx.pipeline
    }

    fn params_mut(ctx: &mut RetrainContext) -> &mut Vec<Param> {
        &mut ctx.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_or_too_long_args_are_invalid() {
        let ctx = Retrain::trial_context("p", vec![]);
        let many = RetrainDecision::Train {
            reason: "r".into(),
            args: vec!["a".into(); MAX_TRAIN_ARGS + 1],
        };
        assert!(Retrain::validate(&ctx, &many).is_err());
        let long = RetrainDecision::Train {
            reason: "r".into(),
            args: vec!["a".repeat(MAX_TRAIN_ARG_BYTES + 1)],
        };
        assert!(Retrain::validate(&ctx, &long).is_err());
    }

    #[test]
    fn fail_safe_waits_and_stays_valid_for_huge_reasons() {
        let ctx = Retrain::trial_context("p", vec![]);
        let d = Retrain::fail_safe(RetrainFailSafe::Wait, &ctx, &"x".repeat(10_000));
        assert!(matches!(d, RetrainDecision::Wait { .. }));
        assert!(Retrain::validate(&ctx, &d).is_ok());
    }
}
