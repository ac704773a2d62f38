//! A context or decision of any decision point, kept typed in a decision's record and
//! turned into JSON only when it is written: the audit log's JSON costs more than a
//! small policy's whole decision (120 samples ≈ 3.6 µs of float formatting), so the
//! decision path does not pay for it.

use serde::Serialize;

use super::{
    PromotionContext, PromotionDecision, RegressionContext, RegressionDecision, RetrainContext,
    RetrainDecision, RolloutContext, RolloutDecision,
};

/// What a policy was asked, at any decision point. Serializes exactly as the inner
/// context does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyContext {
    /// A retrain context.
    Retrain(RetrainContext),
    /// A promotion context.
    Promotion(PromotionContext),
    /// A regression context.
    Regression(RegressionContext),
    /// A rollout context.
    Rollout(RolloutContext),
}

/// What was decided, at any decision point. Serializes exactly as the inner decision
/// does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyDecision {
    /// A retrain decision.
    Retrain(RetrainDecision),
    /// A promotion decision.
    Promotion(PromotionDecision),
    /// A regression decision.
    Regression(RegressionDecision),
    /// A rollout decision.
    Rollout(RolloutDecision),
}

macro_rules! from_each {
    ($any:ident: $($variant:ident($ty:ty)),+) => {
        $(impl From<$ty> for $any {
            fn from(v: $ty) -> Self {
                Self::$variant(v)
            }
        })+
    };
}

from_each!(AnyContext: Retrain(RetrainContext), Promotion(PromotionContext),
    Regression(RegressionContext), Rollout(RolloutContext));
from_each!(AnyDecision: Retrain(RetrainDecision), Promotion(PromotionDecision),
    Regression(RegressionDecision), Rollout(RolloutDecision));

impl AnyContext {
    /// The JSON text the audit log stores.
    pub fn to_json(&self) -> String {
        json_text(self)
    }
}

impl AnyDecision {
    /// The JSON text the audit log stores.
    pub fn to_json(&self) -> String {
        json_text(self)
    }
}

/// JSON text of `v`. Serializing these plain data types cannot fail (no maps with
/// non-string keys; NaN becomes `null`); should it, the text says so instead of
/// losing the record.
fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Point, Rollout};

    #[test]
    fn serializes_as_the_inner_value() {
        let ctx = Rollout::trial_context("p", vec![]);
        let any = AnyContext::from(ctx.clone());
        assert_eq!(
            any.to_json(),
            serde_json::to_string(&ctx).expect("context serializes")
        );
        let d = RolloutDecision::Complete {
            reason: "done".into(),
        };
        assert_eq!(
            AnyDecision::from(d.clone()).to_json(),
            serde_json::to_string(&d).expect("decision serializes")
        );
    }
}
