//! The decision points as plain data: what a policy is asked, what it may answer,
//! how an answer is checked and what the fail-safe answer is. Nothing here knows
//! WebAssembly, Kubernetes or Git.

mod params;
mod promotion;
mod recorded;
mod regression;
mod retrain;
mod rollout;

use serde::{Deserialize, Serialize};

pub use params::{
    Description, Param, ParamError, ParamSpec, ParamType, ParamValue, RawParams, parse_duration,
    resolve_params,
};
pub use promotion::{Promotion, PromotionContext, PromotionDecision, PromotionFailSafe};
pub use recorded::{AnyContext, AnyDecision};
pub use regression::{
    Direction, MetricVerdict, MetricWindow, Regression, RegressionContext, RegressionDecision,
    RegressionFailSafe,
};
pub use retrain::{Retrain, RetrainContext, RetrainDecision, RetrainFailSafe, TrainingOutcome};
pub use rollout::{Rollout, RolloutContext, RolloutDecision, RolloutFailSafe};

/// Longest reason string a policy may return, in bytes.
pub const MAX_REASON_BYTES: usize = 4096;

/// `text` with its control characters (escape sequences, carriage returns, line
/// breaks) written escaped, as `\u{1b}`: text from a policy or a deploy repo cannot
/// rewrite a terminal or forge a log line. Borrowed when there is nothing to escape.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The start of `text` (at most `max_bytes`, cut at a character boundary) with control
/// characters escaped ([`escape_controls`]), and how much was left out: for putting
/// text that came from a policy into an error message or a log line without letting it
/// grow the line without bound or forge new ones.
pub fn excerpt(text: &str, max_bytes: usize) -> String {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = escape_controls(&text[..end]).into_owned();
    if end < text.len() {
        out.push_str(&format!("… ({} more bytes)", text.len() - end));
    }
    out
}

/// The four places where sluice asks a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionPoint {
    /// Start training now?
    Retrain,
    /// Promote the candidate?
    Promotion,
    /// Did the canary regress?
    Regression,
    /// What next in the rollout?
    Rollout,
}

impl DecisionPoint {
    /// Every decision point.
    pub const ALL: [DecisionPoint; 4] = [
        Self::Retrain,
        Self::Promotion,
        Self::Regression,
        Self::Rollout,
    ];

    /// The name used in WIT, config and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retrain => "retrain",
            Self::Promotion => "promotion",
            Self::Regression => "regression",
            Self::Rollout => "rollout",
        }
    }

    /// The WIT interface a module targeting this point exports.
    pub fn interface(self) -> &'static str {
        match self {
            Self::Retrain => "sluice:policy/decide-retrain@0.1.0",
            Self::Promotion => "sluice:policy/decide-promotion@0.1.0",
            Self::Regression => "sluice:policy/decide-regression@0.1.0",
            Self::Rollout => "sluice:policy/decide-rollout@0.1.0",
        }
    }
}

impl std::fmt::Display for DecisionPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DecisionPoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown decision point `{s}`; expected retrain, promotion, regression or rollout"))
    }
}

/// Runs `$body` with the type alias `$P` set to the marker type of `$point`
/// ([`Retrain`], [`Promotion`], [`Regression`] or [`Rollout`]): the one place where a
/// runtime decision point becomes a compile-time one.
#[macro_export]
macro_rules! for_point {
    ($point:expr, $P:ident => $body:expr) => {
        match $point {
            $crate::decision::DecisionPoint::Retrain => {
                type $P = $crate::decision::Retrain;
                $body
            }
            $crate::decision::DecisionPoint::Promotion => {
                type $P = $crate::decision::Promotion;
                $body
            }
            $crate::decision::DecisionPoint::Regression => {
                type $P = $crate::decision::Regression;
                $body
            }
            $crate::decision::DecisionPoint::Rollout => {
                type $P = $crate::decision::Rollout;
                $body
            }
        }
    };
}

/// One named measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// Name.
    pub name: String,
    /// Value; may be NaN.
    #[serde(with = "nan_as_null")]
    #[schemars(with = "Option<f64>")]
    pub value: f64,
}

/// A model version and its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelReport {
    /// Version, for example `v7`.
    pub version: String,
    /// Metrics by name; JSON input may also give them as a `{name: value}` map.
    #[serde(default, with = "metric_map")]
    #[schemars(with = "Vec<Metric>")]
    pub metrics: Vec<Metric>,
}

/// A regression verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Not measurably worse.
    Pass,
    /// Measurably worse.
    Regressed,
    /// The data cannot tell.
    Inconclusive,
}

impl Verdict {
    /// The name used in WIT, metrics labels and status output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Regressed => "regressed",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// A decision point's types, checks and fail-safe — everything the engine needs that
/// is not WebAssembly.
pub trait Point {
    /// Which point this is.
    const POINT: DecisionPoint;
    /// What the policy is asked.
    type Context: Serialize
        + for<'de> Deserialize<'de>
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + Into<AnyContext>;
    /// What it answers.
    type Decision: Serialize + Clone + std::fmt::Debug + PartialEq + Send + Sync + Into<AnyDecision>;
    /// The configured fail-safe choice.
    type FailSafe: Copy + std::fmt::Debug + Default + Send + Sync;

    /// Checks an answer against its context (bounds, sizes, consistency).
    ///
    /// # Errors
    /// A sentence saying what is wrong with the answer.
    fn validate(ctx: &Self::Context, decision: &Self::Decision) -> Result<(), String>;

    /// The answer used when the policy fails; `why` explains the failure.
    fn fail_safe(choice: Self::FailSafe, ctx: &Self::Context, why: &str) -> Self::Decision;

    /// A label for metrics: the decision's variant (`train`, `wait`, `promote`, …).
    fn outcome_label(decision: &Self::Decision) -> &'static str;

    /// A context for the trial decision made before a module goes live.
    fn trial_context(pipeline: &str, params: Vec<Param>) -> Self::Context;

    /// The pipeline a context belongs to.
    fn pipeline(ctx: &Self::Context) -> &str;

    /// The parameters inside a context.
    fn params_mut(ctx: &mut Self::Context) -> &mut Vec<Param>;
}

/// Checks a reason string's size.
pub(crate) fn check_reason(what: &str, reason: &str) -> Result<(), String> {
    if reason.len() > MAX_REASON_BYTES {
        return Err(format!(
            "{what} is {} bytes; at most {MAX_REASON_BYTES} are allowed",
            reason.len()
        ));
    }
    Ok(())
}

/// Shortens `reason` for a fail-safe message so it always passes [`check_reason`].
pub(crate) fn bounded(reason: String) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES - 3;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &reason[..end])
}

/// JSON has no NaN: write it as `null` and read `null` back as NaN.
pub(crate) mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Lists of samples where `null` stands for NaN.
pub(crate) mod samples {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let out: Vec<Option<f64>> = v.iter().map(|x| x.is_finite().then_some(*x)).collect();
        out.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let raw = Vec::<Option<f64>>::deserialize(d)?;
        Ok(raw.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

/// Metrics as a list of `{name, value}` or as a `{name: value}` map.
mod metric_map {
    use super::Metric;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<Metric>),
        Map(indexmap_like::OrderedMap),
    }

    mod indexmap_like {
        use serde::de::{MapAccess, Visitor};
        use serde::{Deserialize, Deserializer};

        /// A map that keeps the input order.
        pub struct OrderedMap(pub Vec<(String, Option<f64>)>);

        impl<'de> Deserialize<'de> for OrderedMap {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = OrderedMap;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a map of metric name to number")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut m: A,
                    ) -> Result<OrderedMap, A::Error> {
                        let mut out = Vec::new();
                        while let Some((k, v)) = m.next_entry::<String, Option<f64>>()? {
                            out.push((k, v));
                        }
                        Ok(OrderedMap(out))
                    }
                }
                d.deserialize_map(V)
            }
        }
    }

    pub fn serialize<S: Serializer>(v: &[Metric], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Metric>, D::Error> {
        Ok(match Either::deserialize(d)? {
            Either::List(l) => l,
            Either::Map(m) => {
                m.0.into_iter()
                    .map(|(name, value)| Metric {
                        name,
                        value: value.unwrap_or(f64::NAN),
                    })
                    .collect()
            }
        })
    }
}
