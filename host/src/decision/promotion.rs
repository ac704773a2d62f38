//! The promotion decision point.

use serde::{Deserialize, Serialize};

use super::{ModelReport, Param, Point, bounded, check_reason};

/// Marker for the promotion decision point.
#[derive(Debug)]
pub enum Promotion {}

/// What the promotion policy is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters.
    #[serde(skip_deserializing)]
    pub params: Vec<Param>,
    /// The candidate.
    pub candidate: ModelReport,
    /// The production model, if any.
    #[serde(default)]
    pub production: Option<ModelReport>,
}

/// The promotion policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum PromotionDecision {
    /// Promote.
    Promote {
        /// Why.
        reason: String,
    },
    /// Reject.
    Reject {
        /// Why.
        reason: String,
    },
    /// Wait for an operator.
    AwaitApproval {
        /// Why.
        reason: String,
    },
}

impl PromotionDecision {
    /// The reason, whatever the variant.
    pub fn reason(&self) -> &str {
        match self {
            Self::Promote { reason } | Self::Reject { reason } | Self::AwaitApproval { reason } => {
                reason
            }
        }
    }
}

/// What to answer when the promotion policy fails.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionFailSafe {
    /// Reject the candidate.
    #[default]
    Reject,
    /// Hold it for an operator.
    AwaitApproval,
}

impl Point for Promotion {
    const POINT: super::DecisionPoint = super::DecisionPoint::Promotion;
    type Context = PromotionContext;
    type Decision = PromotionDecision;
    type FailSafe = PromotionFailSafe;

    fn validate(_: &PromotionContext, decision: &PromotionDecision) -> Result<(), String> {
        check_reason("the reason", decision.reason())
    }

    fn fail_safe(choice: PromotionFailSafe, _: &PromotionContext, why: &str) -> PromotionDecision {
        let reason = bounded(format!("fail-safe: {why}"));
        match choice {
            PromotionFailSafe::Reject => PromotionDecision::Reject { reason },
            PromotionFailSafe::AwaitApproval => PromotionDecision::AwaitApproval { reason },
        }
    }

    fn outcome_label(decision: &PromotionDecision) -> &'static str {
        match decision {
            PromotionDecision::Promote { .. } => "promote",
            PromotionDecision::Reject { .. } => "reject",
            PromotionDecision::AwaitApproval { .. } => "await-approval",
        }
    }

    fn trial_context(pipeline: &str, params: Vec<Param>) -> PromotionContext {
        PromotionContext {
            pipeline: pipeline.to_owned(),
            params,
            candidate: ModelReport {
                version: "trial".into(),
                metrics: Vec::new(),
            },
            production: None,
        }
    }

    fn pipeline(ctx: &PromotionContext) -> &str {
        &ctx.pipeline
    }

    fn params_mut(ctx: &mut PromotionContext) -> &mut Vec<Param> {
        &mut ctx.params
    }
}
