//! `metric-gate` — the stock promotion policy.
//!
//! Each rule names a metric, its direction, optional floor/ceiling and a tolerance
//! against production:
//!
//! ```text
//! accuracy higher min 0.90 tolerance 0.01
//! latency_p99_ms lower max 250 tolerance 5
//! ```
//!
//! Promote when every rule holds; reject naming the first rule that fails. A metric
//! missing from the candidate (or NaN) is a rejection, never a pass.

#![cfg_attr(target_arch = "wasm32", no_std)]

use sluice_policy_sdk::prelude::*;

use sluice_policy_sdk::{
    Description, ModelReport, ParamSpec, ParamValue, Params, PromotionContext, PromotionDecision,
};

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Metric name.
    pub metric: String,
    /// `true` when larger is better.
    pub higher_is_better: bool,
    /// Floor the candidate must reach.
    pub min: Option<f64>,
    /// Ceiling the candidate must not exceed.
    pub max: Option<f64>,
    /// How much worse than production is still acceptable.
    pub tolerance: f64,
}

/// Parses `<metric> higher|lower [min X] [max X] [tolerance X]`.
///
/// # Errors
/// A sentence saying what is wrong with `text`.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    let mut words = text.split_whitespace();
    let metric = words.next().ok_or("a rule is empty")?.to_owned();
    let higher_is_better = match words.next() {
        Some("higher") => true,
        Some("lower") => false,
        other => {
            return Err(format!(
                "rule `{text}`: expected `higher` or `lower` after the metric name, found {other:?}"
            ));
        }
    };
    let mut rule = Rule {
        metric,
        higher_is_better,
        min: None,
        max: None,
        tolerance: 0.0,
    };
    while let Some(key) = words.next() {
        let value: f64 = words
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("rule `{text}`: `{key}` needs a finite number after it"))?;
        match key {
            "min" => rule.min = Some(value),
            "max" => rule.max = Some(value),
            "tolerance" if value >= 0.0 => rule.tolerance = value,
            "tolerance" => return Err(format!("rule `{text}`: tolerance must not be negative")),
            _ => {
                return Err(format!(
                    "rule `{text}`: unknown keyword `{key}`; use min, max or tolerance"
                ));
            }
        }
    }
    Ok(rule)
}

/// The policy's self-description.
pub fn describe() -> Description {
    Description {
        name: "metric-gate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        summary: "Promote when every metric rule holds (floor/ceiling, and not worse than \
                  production beyond its tolerance); a missing metric rejects."
            .into(),
        params: vec![
            ParamSpec::optional(
                "rules",
                ParamValue::TextList(vec!["accuracy higher".into()]),
                "One rule per metric: `<metric> higher|lower [min X] [max X] [tolerance X]`.",
            ),
            ParamSpec::optional(
                "require_approval",
                ParamValue::Boolean(false),
                "When true, a candidate that passes waits for an operator instead of promoting.",
            ),
        ],
    }
}

/// Checks every rule parses and that there is at least one.
pub fn validate(params: &Params) -> Vec<String> {
    let rules: Vec<String> = params.get_or("rules", Vec::new());
    if rules.is_empty() {
        return vec!["rules must list at least one metric rule".into()];
    }
    rules.iter().filter_map(|r| parse_rule(r).err()).collect()
}

fn check(
    rule: &Rule,
    candidate: &ModelReport,
    production: Option<&ModelReport>,
) -> Result<String, String> {
    let name = &rule.metric;
    let value = candidate
        .metric(name)
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("candidate {} reports no finite `{name}`", candidate.version))?;
    if let Some(min) = rule.min
        && value < min
    {
        return Err(format!("{name} {value} is below the floor {min}"));
    }
    if let Some(max) = rule.max
        && value > max
    {
        return Err(format!("{name} {value} is above the ceiling {max}"));
    }
    let Some(prod) = production
        .and_then(|p| p.metric(name))
        .filter(|v| v.is_finite())
    else {
        return Ok(format!("{name} {value}"));
    };
    let worse_by = if rule.higher_is_better {
        prod - value
    } else {
        value - prod
    };
    if worse_by > rule.tolerance {
        return Err(format!(
            "{name} {value} is worse than production's {prod} by {worse_by:.6}, more than the tolerance {}",
            rule.tolerance
        ));
    }
    Ok(format!("{name} {value} (production {prod})"))
}

/// The decision.
pub fn decide(ctx: &PromotionContext) -> PromotionDecision {
    let texts: Vec<String> = ctx.param_or("rules", vec!["accuracy higher".into()]);
    let mut passed = Vec::new();
    for text in &texts {
        let rule = match parse_rule(text) {
            Ok(r) => r,
            Err(e) => return PromotionDecision::Reject(e),
        };
        match check(&rule, &ctx.candidate, ctx.production.as_ref()) {
            Ok(s) => passed.push(s),
            Err(why) => return PromotionDecision::Reject(why),
        }
    }
    let reason = format!("all {} rules hold: {}", passed.len(), passed.join(", "));
    if ctx.param_or("require_approval", false) {
        PromotionDecision::AwaitApproval(reason)
    } else {
        PromotionDecision::Promote(reason)
    }
}

sluice_policy_sdk::export_promotion!(describe: describe, decide: decide, validate: validate);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(
        candidate: &[(&str, f64)],
        production: Option<&[(&str, f64)]>,
        rules: &[&str],
    ) -> PromotionContext {
        PromotionContext {
            pipeline: "p".into(),
            params: Params::new().with(
                "rules",
                ParamValue::TextList(rules.iter().map(|s| s.to_string()).collect()),
            ),
            candidate: ModelReport::new("v2", candidate),
            production: production.map(|m| ModelReport::new("v1", m)),
        }
    }

    #[test]
    fn parses_rules_and_reports_bad_ones() {
        let r = parse_rule("latency lower max 250 tolerance 5").expect("valid");
        assert!(!r.higher_is_better);
        assert_eq!(r.max, Some(250.0));
        assert_eq!(r.tolerance, 5.0);
        assert!(parse_rule("accuracy sideways").is_err());
        assert!(parse_rule("accuracy higher min").is_err());
        assert!(parse_rule("accuracy higher floor 3").is_err());
    }

    #[test]
    fn promotes_when_better_and_above_floor() {
        let d = decide(&ctx(
            &[("accuracy", 0.93)],
            Some(&[("accuracy", 0.91)]),
            &["accuracy higher min 0.9"],
        ));
        assert!(matches!(d, PromotionDecision::Promote(_)), "{d:?}");
    }

    #[test]
    fn rejects_below_floor_and_beyond_tolerance() {
        let d = decide(&ctx(
            &[("accuracy", 0.85)],
            None,
            &["accuracy higher min 0.9"],
        ));
        assert!(
            matches!(d, PromotionDecision::Reject(ref r) if r.contains("below the floor")),
            "{d:?}"
        );
        let d = decide(&ctx(
            &[("accuracy", 0.90)],
            Some(&[("accuracy", 0.95)]),
            &["accuracy higher tolerance 0.01"],
        ));
        assert!(
            matches!(d, PromotionDecision::Reject(ref r) if r.contains("worse than production")),
            "{d:?}"
        );
    }

    #[test]
    fn lower_is_better_metrics_use_the_ceiling() {
        let d = decide(&ctx(
            &[("latency", 300.0)],
            None,
            &["latency lower max 250"],
        ));
        assert!(matches!(d, PromotionDecision::Reject(_)));
        let d = decide(&ctx(
            &[("latency", 240.0)],
            Some(&[("latency", 238.0)]),
            &["latency lower tolerance 5"],
        ));
        assert!(matches!(d, PromotionDecision::Promote(_)));
    }

    #[test]
    fn missing_or_nan_metric_rejects() {
        let d = decide(&ctx(&[("loss", 0.1)], None, &["accuracy higher"]));
        assert!(
            matches!(d, PromotionDecision::Reject(ref r) if r.contains("no finite `accuracy`"))
        );
        let d = decide(&ctx(&[("accuracy", f64::NAN)], None, &["accuracy higher"]));
        assert!(matches!(d, PromotionDecision::Reject(_)));
    }

    #[test]
    fn approval_can_be_required() {
        let mut c = ctx(&[("accuracy", 0.93)], None, &["accuracy higher"]);
        c.params = c.params.with("require_approval", ParamValue::Boolean(true));
        assert!(matches!(decide(&c), PromotionDecision::AwaitApproval(_)));
    }

    #[test]
    fn validation_lists_every_bad_rule() {
        let p = Params::new().with(
            "rules",
            ParamValue::TextList(vec![
                "a higher".into(),
                "b up".into(),
                "c lower max x".into(),
            ]),
        );
        assert_eq!(validate(&p).len(), 2);
        let p = Params::new().with("rules", ParamValue::TextList(vec![]));
        assert_eq!(validate(&p).len(), 1);
    }
}
