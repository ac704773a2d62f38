//! The `rollout:` section of a pipeline: where the traffic weight lives, which metrics
//! the regression policy judges and where they come from, and the commit messages of
//! the rollout's Git writes. Without it, promotion is the whole deploy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sections::{DatabaseConfig, Interval};
use crate::decision::Direction;
use crate::gitops::Selector;
use crate::secret::SecretRef;

/// Defaults of the rollout section, in one place.
pub mod defaults {
    /// Time between two analyses of a rolling-out candidate (Argo Rollouts' default).
    pub const ANALYSIS_INTERVAL: &str = "60s";
    /// The longest stretch of samples one analysis reads, counted back from now; the
    /// window starts no earlier than when traffic reached the current weight.
    pub const ANALYSIS_WINDOW: &str = "10m";
    /// Most samples one arm of one metric contributes to an analysis; the rest of what
    /// the source returns is not read.
    pub const MAX_SAMPLES: usize = 100_000;
    /// Prometheus: how long a query may take.
    pub const PROMETHEUS_TIMEOUT: &str = "10s";
    /// Prometheus: the resolution of `query_range`.
    pub const PROMETHEUS_STEP: &str = "15s";
    /// Subject of a traffic shift commit.
    pub const SHIFT_MESSAGE: &str = "chore: shift {weight}% of traffic to model {candidate}";
    /// Subject of the commit that makes the candidate stable.
    pub const COMPLETE_MESSAGE: &str = "chore: complete rollout of model {candidate}";
    /// Subject of a rollback's revert commit.
    pub const REVERT_MESSAGE: &str = "revert: roll back model {candidate} to {stable} — {reason}";
}

/// A pipeline's progressive rollout.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// Where the weight lives.
    pub traffic: TrafficConfig,
    /// What is measured.
    pub analysis: AnalysisConfig,
    /// Commit subjects.
    #[serde(default)]
    pub messages: RolloutMessages,
}

/// Where the traffic weight lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// Fields in the deploy repository, rewritten (one commit per step) whenever the
    /// weight or the versions change. Git is always written: it is the durable record.
    pub git: Vec<TrafficTarget>,
    /// Optionally, the same kind of fields on cluster objects, written first (one API
    /// call per object): a shift takes effect without waiting for Git and Argo CD, and
    /// a rollback cuts the candidate's traffic before the revert is committed.
    #[serde(default)]
    pub kubernetes: Option<KubeTrafficConfig>,
}

/// The fast actuator: fields on named cluster objects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeTrafficConfig {
    /// A kubeconfig file (relative to the config file); default: in-cluster or
    /// `$KUBECONFIG`.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// The fields.
    pub targets: Vec<KubeTrafficTarget>,
}

/// One field of one cluster object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeTrafficTarget {
    /// `group/version` (`serving.kserve.io/v1beta1`), or `version` for the core group.
    pub api_version: String,
    /// The kind (`InferenceService`, `HTTPRoute`).
    pub kind: String,
    /// The resource's plural name; default: the kind in lower case plus `s`.
    #[serde(default)]
    pub plural: Option<String>,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// Selector such as `spec.predictor.canaryTrafficPercent`.
    pub field: String,
    /// Value template, as for Git targets. A value that reads as a number or
    /// `true`/`false` is sent as one.
    pub value: String,
}

impl KubeTrafficTarget {
    /// The plural name used in the API path.
    pub fn plural(&self) -> String {
        self.plural
            .clone()
            .unwrap_or_else(|| format!("{}s", self.kind.to_ascii_lowercase()))
    }
}

/// One field whose value follows the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficTarget {
    /// Path inside the repository.
    pub file: String,
    /// Selector such as `spec.rules[0].backendRefs[1].weight`.
    pub field: String,
    /// The value, a template over `{candidate}`, `{stable}`, `{weight}` (the
    /// candidate's percentage), `{stable_weight}` (100 − weight) and `{latest_weight}`
    /// (the weight while rolling out, 100 at rest: KServe's `canaryTrafficPercent`).
    pub value: String,
}

/// What the regression policy judges, and how often.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Time between analyses; default [`defaults::ANALYSIS_INTERVAL`].
    #[serde(default = "d_interval")]
    pub interval: Interval,
    /// Longest window read; default [`defaults::ANALYSIS_WINDOW`].
    #[serde(default = "d_window")]
    pub window: Interval,
    /// Most samples per arm and metric; default [`defaults::MAX_SAMPLES`].
    #[serde(default = "d_max_samples")]
    pub max_samples: usize,
    /// Named metric sources.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// The metrics, each with a query per arm.
    pub metrics: Vec<MetricConfig>,
}

fn d_interval() -> Interval {
    super::sections::interval(defaults::ANALYSIS_INTERVAL)
}
fn d_window() -> Interval {
    super::sections::interval(defaults::ANALYSIS_WINDOW)
}
fn d_max_samples() -> usize {
    defaults::MAX_SAMPLES
}

/// A metric source: exactly one of `sql` or `prometheus`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// A SQL database (PostgreSQL or SQLite); each query returns one numeric column,
    /// one row per observation.
    #[serde(default)]
    pub sql: Option<SqlProviderConfig>,
    /// A Prometheus server's HTTP API (`query_range`); every sample of every returned
    /// series is one observation.
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
}

/// The kind of source a provider config selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice<'a> {
    /// SQL.
    Sql(&'a SqlProviderConfig),
    /// Prometheus.
    Prometheus(&'a PrometheusConfig),
}

impl ProviderConfig {
    /// The one kind configured (checked at load).
    pub fn choice(&self) -> Option<ProviderChoice<'_>> {
        match (&self.sql, &self.prometheus) {
            (Some(s), None) => Some(ProviderChoice::Sql(s)),
            (None, Some(p)) => Some(ProviderChoice::Prometheus(p)),
            _ => None,
        }
    }
}

/// A SQL metric source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlProviderConfig {
    /// The database; default sluice's own.
    #[serde(default)]
    pub database: DatabaseConfig,
}

/// A Prometheus metric source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Server URL, e.g. `http://prometheus.monitoring:9090`.
    pub url: String,
    /// A bearer token.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// Basic auth user name (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// Basic auth password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// CA certificates (PEM) the server must chain to, instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long a query may take; default [`defaults::PROMETHEUS_TIMEOUT`].
    #[serde(default = "d_prom_timeout")]
    pub timeout: Interval,
    /// Resolution of `query_range`; default [`defaults::PROMETHEUS_STEP`].
    #[serde(default = "d_prom_step")]
    pub step: Interval,
}

fn d_prom_timeout() -> Interval {
    super::sections::interval(defaults::PROMETHEUS_TIMEOUT)
}
fn d_prom_step() -> Interval {
    super::sections::interval(defaults::PROMETHEUS_STEP)
}

/// One watched metric.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// Name shown to the regression policy and in the audit log.
    pub name: String,
    /// Which way it is good.
    pub direction: Direction,
    /// A key of `providers`.
    pub provider: String,
    /// Query for the stable arm. Templates: `{stable}`, `{candidate}`, `{weight}`,
    /// `{stable_weight}`, and `{since_ms}` / `{until_ms}` (the window, Unix ms; SQL).
    pub baseline: String,
    /// Query for the candidate arm; same templates.
    pub canary: String,
}

/// Commit subjects of the rollout's Git writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutMessages {
    /// Default [`defaults::SHIFT_MESSAGE`].
    #[serde(default = "d_shift")]
    pub shift: String,
    /// Default [`defaults::COMPLETE_MESSAGE`].
    #[serde(default = "d_complete")]
    pub complete: String,
    /// Default [`defaults::REVERT_MESSAGE`].
    #[serde(default = "d_revert")]
    pub revert: String,
}

fn d_shift() -> String {
    defaults::SHIFT_MESSAGE.into()
}
fn d_complete() -> String {
    defaults::COMPLETE_MESSAGE.into()
}
fn d_revert() -> String {
    defaults::REVERT_MESSAGE.into()
}

impl Default for RolloutMessages {
    fn default() -> Self {
        Self {
            shift: d_shift(),
            complete: d_complete(),
            revert: d_revert(),
        }
    }
}

/// The names a traffic value template may use.
const TRAFFIC_NAMES: &[&str] = &[
    "candidate",
    "stable",
    "weight",
    "stable_weight",
    "latest_weight",
];

/// The names a metric query may use.
const QUERY_NAMES: &[&str] = &[
    "candidate",
    "stable",
    "weight",
    "stable_weight",
    "since_ms",
    "until_ms",
];

/// The names a commit subject may use.
const MESSAGE_NAMES: &[&str] = &[
    "candidate",
    "stable",
    "weight",
    "stable_weight",
    "latest_weight",
    "reason",
    "pipeline",
];

/// `{name}` placeholders in `text` that are not among `allowed`. A placeholder is `{`,
/// letters, digits or `_`, `}`; other braces (PromQL's `{job="api"}`) are left alone.
fn unknown_placeholders(text: &str, allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('{') {
        let after = &text[i + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..len];
        if !name.is_empty() && after[len..].starts_with('}') && !allowed.contains(&name) {
            out.push(format!("{{{name}}}"));
        }
    }
    out
}

impl RolloutConfig {
    /// Problems, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let traffic_names = TRAFFIC_NAMES;
        if self.traffic.git.is_empty() {
            out.push((
                "traffic.git".into(),
                "list at least one {file, field, value} that carries the weight".into(),
            ));
        }
        for (i, t) in self.traffic.git.iter().enumerate() {
            if let Err(e) = t.field.parse::<Selector>() {
                out.push((format!("traffic.git[{i}].field"), e.to_string()));
            }
            if t.file.starts_with('/') || t.file.split('/').any(|c| c == "..") {
                out.push((
                    format!("traffic.git[{i}].file"),
                    "must be a path inside the repository".into(),
                ));
            }
            for bad in unknown_placeholders(&t.value, traffic_names) {
                out.push((
                    format!("traffic.git[{i}].value"),
                    format!("unknown placeholder {bad}; use {{candidate}}, {{stable}}, {{weight}}, {{stable_weight}} or {{latest_weight}}"),
                ));
            }
            if t.value.trim().is_empty() {
                out.push((
                    format!("traffic.git[{i}].value"),
                    "must not be empty".into(),
                ));
            }
        }
        if let Some(k) = &self.traffic.kubernetes {
            if k.targets.is_empty() {
                out.push((
                    "traffic.kubernetes.targets".into(),
                    "list at least one object field, or remove `kubernetes`".into(),
                ));
            }
            for (i, t) in k.targets.iter().enumerate() {
                let f = format!("traffic.kubernetes.targets[{i}]");
                if let Err(e) = t.field.parse::<Selector>() {
                    out.push((format!("{f}.field"), e.to_string()));
                }
                if t.api_version.is_empty() || t.api_version.matches('/').count() > 1 {
                    out.push((
                        format!("{f}.api_version"),
                        "expected `group/version` or `version`".into(),
                    ));
                }
                for (field, v) in [
                    ("kind", &t.kind),
                    ("namespace", &t.namespace),
                    ("name", &t.name),
                ] {
                    if v.trim().is_empty() {
                        out.push((format!("{f}.{field}"), "must not be empty".into()));
                    }
                }
                for bad in unknown_placeholders(&t.value, traffic_names) {
                    out.push((
                        format!("{f}.value"),
                        format!("unknown placeholder {bad}; use {{candidate}}, {{stable}}, {{weight}}, {{stable_weight}} or {{latest_weight}}"),
                    ));
                }
            }
        }
        let a = &self.analysis;
        if a.interval.0.is_zero() {
            out.push(("analysis.interval".into(), "must be at least 1s".into()));
        }
        if a.window.0.is_zero() {
            out.push(("analysis.window".into(), "must be at least 1s".into()));
        }
        if a.max_samples == 0 || a.max_samples > 1 << 20 {
            out.push((
                "analysis.max_samples".into(),
                "must be between 1 and 1048576 (the most a statistics call takes)".into(),
            ));
        }
        if a.metrics.is_empty() {
            out.push((
                "analysis.metrics".into(),
                "list at least one metric for the regression policy to judge".into(),
            ));
        }
        for (name, p) in &a.providers {
            if p.choice().is_none() {
                out.push((
                    format!("analysis.providers.{name}"),
                    "configure exactly one of `sql: {database: …}` or `prometheus: {url: …}`"
                        .into(),
                ));
            }
            if let Some(ProviderChoice::Prometheus(p)) = p.choice() {
                let f = format!("analysis.providers.{name}.prometheus");
                if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                    out.push((format!("{f}.url"), "expected http(s)://HOST:PORT".into()));
                }
                if p.token.is_some() && (p.username.is_some() || p.password.is_some()) {
                    out.push((
                        format!("{f}.token"),
                        "give a bearer `token` or `username` + `password`, not both".into(),
                    ));
                }
                if p.username.is_some() != p.password.is_some() {
                    out.push((
                        format!("{f}.username"),
                        "basic auth needs both `username` and `password`".into(),
                    ));
                }
                for (field, secret) in [("token", &p.token), ("password", &p.password)] {
                    if let Some(Err(e)) = secret.as_ref().map(SecretRef::check) {
                        out.push((format!("{f}.{field}"), e.to_string()));
                    }
                }
                if p.step.0.is_zero() || p.timeout.0.is_zero() {
                    out.push((
                        format!("{f}.step"),
                        "step and timeout must be at least 1s".into(),
                    ));
                }
            }
            if let Some(ProviderChoice::Sql(s)) = p.choice() {
                for (f, m) in s.database.problems() {
                    out.push((format!("analysis.providers.{name}.sql.database.{f}"), m));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in a.metrics.iter().enumerate() {
            let f = format!("analysis.metrics[{i}]");
            if m.name.trim().is_empty() || m.name.len() > 128 {
                out.push((
                    format!("{f}.name"),
                    "give a name of 1 to 128 characters".into(),
                ));
            }
            if !seen.insert(&m.name) {
                out.push((
                    format!("{f}.name"),
                    format!("metric `{}` is listed twice", m.name),
                ));
            }
            if !a.providers.contains_key(&m.provider) {
                out.push((
                    format!("{f}.provider"),
                    format!(
                        "no provider `{}` in analysis.providers (known: {})",
                        m.provider,
                        a.providers.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            for (field, q) in [("baseline", &m.baseline), ("canary", &m.canary)] {
                if q.trim().is_empty() {
                    out.push((format!("{f}.{field}"), "give the query for this arm".into()));
                }
                for bad in unknown_placeholders(q, QUERY_NAMES) {
                    out.push((
                        format!("{f}.{field}"),
                        format!("unknown placeholder {bad}; use {{stable}}, {{candidate}}, {{weight}}, {{stable_weight}}, {{since_ms}} or {{until_ms}}"),
                    ));
                }
            }
        }
        let msgs = [
            ("shift", &self.messages.shift, "{weight}"),
            ("complete", &self.messages.complete, "{candidate}"),
            ("revert", &self.messages.revert, "{candidate}"),
        ];
        for (field, text, needed) in msgs {
            if !text.contains(needed) {
                out.push((
                    format!("messages.{field}"),
                    format!("must contain `{needed}`"),
                ));
            }
            for bad in unknown_placeholders(text, MESSAGE_NAMES) {
                out.push((
                    format!("messages.{field}"),
                    format!("unknown placeholder {bad}"),
                ));
            }
        }
        out
    }
}

/// Whether `version` may be put into a query or a field value: letters, digits and
/// `.` `_` `-` `+` `:`, 1 to 128 characters. Anything else could change the meaning
/// of a SQL or PromQL query it is substituted into.
pub fn is_safe_version(version: &str) -> bool {
    (1..=128).contains(&version.len())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_the_list_are_found() {
        assert_eq!(
            unknown_placeholders("{candidate}-{weigth} {x y}", TRAFFIC_NAMES),
            vec!["{weigth}".to_owned()]
        );
        assert_eq!(
            unknown_placeholders(r#"lat{job="api",v="{canddate}"}"#, QUERY_NAMES),
            vec!["{canddate}".to_owned()]
        );
        assert!(unknown_placeholders("rate(x[5m]) {stable}", QUERY_NAMES).is_empty());
    }

    #[test]
    fn only_plain_versions_are_safe_to_substitute() {
        assert!(is_safe_version("v12"));
        assert!(is_safe_version("2026-12-01_rc.1+build:3"));
        for bad in ["", "v1' OR '1'='1", "v1\"}", "a b", &"v".repeat(129)] {
            assert!(!is_safe_version(bad), "{bad}");
        }
    }
}
