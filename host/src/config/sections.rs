//! The config sections for the loop's side effects: databases, data source, executor,
//! GitOps target and Argo CD, with their defaults and their checks.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::datasource::{Statements, defaults as sql};
use crate::decision::parse_duration;
use crate::executor::kubernetes::KubernetesConfig;
use crate::executor::local::LocalConfig;
use crate::gitops::Selector;
use crate::secret::{SecretRef, url_has_password};

/// Defaults of these sections, in one place.
pub mod defaults {
    /// Directory for sluice's SQLite database, deploy-repo clones and local runs,
    /// relative to the config file.
    pub const STATE_DIR: &str = ".sluice";
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub const LISTEN: &str = "127.0.0.1:9464";
    /// Time between two ticks of a pipeline.
    pub const INTERVAL: &str = "30s";
    /// Git branch promoted to.
    pub const BRANCH: &str = "main";
    /// Commit subject.
    pub const MESSAGE: &str = "chore: promote model to {version}";
    /// Commit author.
    pub const AUTHOR_NAME: &str = "sluice";
    /// Commit author e-mail.
    pub const AUTHOR_EMAIL: &str = "sluice@localhost";
    /// Push retries after the first attempt.
    pub const PUSH_RETRIES: u32 = 3;
    /// Wait before the first push retry (doubled each time: 1 s, 2 s, 4 s).
    pub const PUSH_BACKOFF: &str = "1s";
    /// Argo CD: how long to wait for Synced + Healthy.
    pub const ARGO_TIMEOUT: &str = "5m";
    /// HTTPS user name sent with a token.
    pub const TOKEN_USER: &str = "sluice";
}

/// A duration written as `90s`, `15m`, `6h`, `7d`, `2w` or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Seconds(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(Self(Duration::from_secs(s))),
            Raw::Text(t) => parse_duration(&t)
                .map(|s| Self(Duration::from_secs(s)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Written back in the largest unit that divides it (`90s`, `15m`, `6h`, `7d`).
impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let secs = self.0.as_secs();
        let text = [(86_400, 'd'), (3_600, 'h'), (60, 'm')]
            .into_iter()
            .find(|(unit, _)| secs > 0 && secs.is_multiple_of(*unit))
            .map_or_else(
                || format!("{secs}s"),
                |(unit, c)| format!("{}{c}", secs / unit),
            );
        s.serialize_str(&text)
    }
}

/// In a CRD: Kubernetes' int-or-string, since both `90` and `90s` are accepted.
impl JsonSchema for Interval {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Interval".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: seconds, or a number with a unit (`90s`, `15m`, `6h`, `7d`, `2w`).",
            "x-kubernetes-int-or-string": true
        })
    }
}

pub(super) fn interval(text: &str) -> Interval {
    Interval(Duration::from_secs(parse_duration(text).unwrap_or(30)))
}

/// A database: a URL without a password, or a secret holding the whole URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:PATH` (relative to the config file) or `postgres://USER@HOST/DB`.
    #[serde(default)]
    pub url: Option<String>,
    /// A secret holding the URL (use this when it has a password).
    #[serde(default)]
    pub url_secret: Option<SecretRef>,
}

impl DatabaseConfig {
    /// Problems with this section, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match (&self.url, &self.url_secret) {
            (Some(_), Some(_)) => out.push(("url".into(), "give `url` or `url_secret`, not both".into())),
            (Some(url), None) if url_has_password(url) => out.push((
                "url".into(),
                "the URL contains a password; put the whole URL in a secret (`url_secret: {env: VAR}` or `{file: PATH}`) instead of the config".into(),
            )),
            (Some(url), None) if crate::store::Backend::of(url).is_err() => out.push((
                "url".into(),
                "expected sqlite:PATH or postgres://USER@HOST/DB".into(),
            )),
            (None, Some(s)) => {
                if let Err(e) = s.check() {
                    out.push(("url_secret".into(), e.to_string()));
                }
            }
            _ => {}
        }
        out
    }
}

pub(super) fn d_state_dir() -> PathBuf {
    PathBuf::from(defaults::STATE_DIR)
}
pub(super) fn d_listen() -> String {
    defaults::LISTEN.into()
}
pub(super) fn d_interval() -> Interval {
    interval(defaults::INTERVAL)
}

/// Where new labelled data is counted and claimed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSourceConfig {
    /// The database holding the annotations; default: sluice's own database.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Default [`sql::COUNT_QUERY`].
    #[serde(default = "d_count")]
    pub count_query: String,
    /// Default [`sql::TOTAL_QUERY`].
    #[serde(default = "d_total")]
    pub total_query: String,
    /// Default [`sql::CLAIM_STATEMENT`]; `$1` is the run id.
    #[serde(default = "d_claim")]
    pub claim_statement: String,
    /// Default [`sql::RELEASE_STATEMENT`]; `$1` is the run id.
    #[serde(default = "d_release")]
    pub release_statement: String,
}

fn d_count() -> String {
    sql::COUNT_QUERY.into()
}
fn d_total() -> String {
    sql::TOTAL_QUERY.into()
}
fn d_claim() -> String {
    sql::CLAIM_STATEMENT.into()
}
fn d_release() -> String {
    sql::RELEASE_STATEMENT.into()
}

impl Default for DataSourceConfig {
    fn default() -> Self {
        Self {
            database: DatabaseConfig::default(),
            count_query: d_count(),
            total_query: d_total(),
            claim_statement: d_claim(),
            release_statement: d_release(),
        }
    }
}

impl DataSourceConfig {
    /// The statements.
    pub fn statements(&self) -> Statements {
        Statements {
            count_query: self.count_query.clone(),
            total_query: self.total_query.clone(),
            claim_statement: self.claim_statement.clone(),
            release_statement: self.release_statement.clone(),
        }
    }

    /// Problems, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .database
            .problems()
            .into_iter()
            .map(|(f, m)| (format!("database.{f}"), m))
            .collect();
        for (field, text) in [
            ("claim_statement", &self.claim_statement),
            ("release_statement", &self.release_statement),
        ] {
            if !text.contains("$1") {
                out.push((
                    field.into(),
                    "must use `$1` (the run id) so each run's rows can be told apart and released"
                        .into(),
                ));
            }
        }
        out
    }
}

/// How training runs: exactly one of the executors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    /// A local process (development, demo).
    #[serde(default)]
    pub local: Option<LocalConfig>,
    /// A Kubernetes Job per run.
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
}

/// The executor a config selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorChoice<'a> {
    /// Local process.
    Local(&'a LocalConfig),
    /// Kubernetes Jobs.
    Kubernetes(&'a KubernetesConfig),
}

impl ExecutorConfig {
    /// The one executor configured (checked at load).
    pub fn choice(&self) -> Option<ExecutorChoice<'_>> {
        match (&self.local, &self.kubernetes) {
            (Some(l), None) => Some(ExecutorChoice::Local(l)),
            (None, Some(k)) => Some(ExecutorChoice::Kubernetes(k)),
            _ => None,
        }
    }

    /// Problems, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        match (&self.local, &self.kubernetes) {
            (None, None) => vec![(
                "kubernetes".into(),
                "configure an executor: `kubernetes: {namespace, template: {image, …}}` or `local: {command: [...]}`".into(),
            )],
            (Some(_), Some(_)) => vec![(
                "local".into(),
                "configure one executor, not both `local` and `kubernetes`".into(),
            )],
            (Some(l), None) if l.command.is_empty() => vec![(
                "local.command".into(),
                "give the trainer's command as a list, e.g. [python3, train.py]".into(),
            )],
            (None, Some(k)) if !is_dns_subdomain(&k.namespace) => vec![(
                "kubernetes.namespace".into(),
                format!("`{}` is not a valid namespace name", k.namespace),
            )],
            (None, Some(k)) if k.template.image.trim().is_empty() => vec![(
                "kubernetes.template.image".into(),
                "give the training image".into(),
            )],
            _ => Vec::new(),
        }
    }
}

fn is_dns_subdomain(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// SSH authentication to the deploy repo.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// The deploy key's private key file (a mounted Secret), relative to the config.
    pub key_file: PathBuf,
    /// The `known_hosts` file the server's host key is checked against.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// Turns the host-key check off. Must be set explicitly when `known_hosts` is absent.
    #[serde(default)]
    pub insecure_skip_host_key_check: bool,
}

/// HTTPS token authentication to the deploy repo.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// User name; default [`defaults::TOKEN_USER`].
    #[serde(default = "d_token_user")]
    pub username: String,
    /// The token.
    pub token: SecretRef,
}

fn d_token_user() -> String {
    defaults::TOKEN_USER.into()
}

/// One field to set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Path inside the repository.
    pub file: String,
    /// Selector such as `images[name=inference].newTag`.
    pub field: String,
}

/// Push retry settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Retries after the first attempt; default [`defaults::PUSH_RETRIES`].
    #[serde(default = "d_retries")]
    pub retries: u32,
    /// First wait, doubled per retry; default [`defaults::PUSH_BACKOFF`].
    #[serde(default = "d_backoff")]
    pub backoff: Interval,
}

fn d_retries() -> u32 {
    defaults::PUSH_RETRIES
}
fn d_backoff() -> Interval {
    interval(defaults::PUSH_BACKOFF)
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            retries: d_retries(),
            backoff: d_backoff(),
        }
    }
}

/// The deploy repository and what to change in it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitOpsConfig {
    /// Remote URL: `ssh://git@host:port/path.git`, `https://host/path.git`, `file:///path`.
    pub repo: String,
    /// Default [`defaults::BRANCH`].
    #[serde(default = "d_branch")]
    pub branch: String,
    /// Fields to set to the new version, in one commit.
    pub targets: Vec<TargetConfig>,
    /// SSH deploy key.
    #[serde(default)]
    pub ssh: Option<SshConfig>,
    /// HTTPS token.
    #[serde(default)]
    pub https: Option<TokenConfig>,
    /// For https remotes: CA certificates (PEM) the server must chain to, instead of the
    /// system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Commit subject; `{version}` and `{pipeline}` are replaced. Default [`defaults::MESSAGE`].
    #[serde(default = "d_message")]
    pub message: String,
    /// Default [`defaults::AUTHOR_NAME`].
    #[serde(default = "d_author_name")]
    pub author_name: String,
    /// Default [`defaults::AUTHOR_EMAIL`].
    #[serde(default = "d_author_email")]
    pub author_email: String,
    /// Push retries.
    #[serde(default)]
    pub push: PushConfig,
}

fn d_branch() -> String {
    defaults::BRANCH.into()
}
fn d_message() -> String {
    defaults::MESSAGE.into()
}
fn d_author_name() -> String {
    defaults::AUTHOR_NAME.into()
}
fn d_author_email() -> String {
    defaults::AUTHOR_EMAIL.into()
}

impl GitOpsConfig {
    /// Problems, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if url_has_password(&self.repo) {
            out.push((
                "repo".into(),
                "the URL contains a credential; use `https.token` (a secret) instead".into(),
            ));
        }
        let ssh_url = self.repo.starts_with("ssh://")
            || self.repo.contains('@') && !self.repo.contains("://");
        let http_url = self.repo.starts_with("https://") || self.repo.starts_with("http://");
        if !(ssh_url || http_url || self.repo.starts_with("file://") || self.repo.starts_with('/'))
        {
            out.push((
                "repo".into(),
                "expected ssh://…, https://…, file://… or an absolute path".into(),
            ));
        }
        if self.ssh.is_some() && !ssh_url {
            out.push((
                "ssh".into(),
                "`ssh` is set but `repo` is not an SSH URL".into(),
            ));
        }
        if self.ca_file.is_some() && !self.repo.starts_with("https://") {
            out.push((
                "ca_file".into(),
                "`ca_file` applies to https:// remotes only".into(),
            ));
        }
        if self.https.is_some() && !http_url {
            out.push((
                "https".into(),
                "`https` is set but `repo` is not an http(s) URL".into(),
            ));
        }
        if let Some(ssh) = &self.ssh
            && ssh.known_hosts.is_none()
            && !ssh.insecure_skip_host_key_check
        {
            out.push((
                "ssh.known_hosts".into(),
                "required: the server's host key is checked against it (set `insecure_skip_host_key_check: true` to turn the check off explicitly)".into(),
            ));
        }
        if let Some(t) = &self.https
            && let Err(e) = t.token.check()
        {
            out.push(("https.token".into(), e.to_string()));
        }
        if self.targets.is_empty() {
            out.push((
                "targets".into(),
                "list at least one {file, field} to set".into(),
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if let Err(e) = t.field.parse::<Selector>() {
                out.push((format!("targets[{i}].field"), e.to_string()));
            }
            if t.file.starts_with('/') || t.file.split('/').any(|c| c == "..") {
                out.push((
                    format!("targets[{i}].file"),
                    "must be a path inside the repository".into(),
                ));
            }
        }
        if !self.message.contains("{version}") {
            out.push(("message".into(), "must contain `{version}`".into()));
        }
        out
    }
}

/// Argo CD application to sync after a push.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgoConfig {
    /// Server URL, e.g. `https://argocd.example.com`.
    pub server: String,
    /// Application name.
    pub application: String,
    /// Bearer token.
    pub token: SecretRef,
    /// CA bundle (PEM) for the server's certificate; default the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Ask for a hard refresh after the push (default true).
    #[serde(default = "d_true")]
    pub refresh: bool,
    /// Ask for a sync to the pushed revision (default true; false waits for auto-sync).
    #[serde(default = "d_true")]
    pub sync: bool,
    /// How long to wait for Synced + Healthy; default [`defaults::ARGO_TIMEOUT`].
    #[serde(default = "d_argo_timeout")]
    pub timeout: Interval,
}

fn d_true() -> bool {
    true
}
fn d_argo_timeout() -> Interval {
    interval(defaults::ARGO_TIMEOUT)
}

impl ArgoConfig {
    /// Problems, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(self.server.starts_with("https://") || self.server.starts_with("http://")) {
            out.push(("server".into(), "expected https://HOST[:PORT]".into()));
        }
        if let Err(e) = self.token.check() {
            out.push(("token".into(), e.to_string()));
        }
        out
    }
}

/// A webhook told about promotions, rollout steps, completions, rollbacks and failed
/// runs (JSON with a Slack-compatible `text` field).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Where to POST.
    pub url: String,
    /// A bearer token, if the receiver wants one.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// CA certificates (PEM) the receiver must chain to, instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl NotifyConfig {
    /// Problems, as (field suffix, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            out.push(("url".into(), "expected http(s)://HOST/PATH".into()));
        }
        if let Some(Err(e)) = self.token.as_ref().map(SecretRef::check) {
            out.push(("token".into(), e.to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Every whole number of seconds is written in one unit and read back as the
        /// same interval.
        #[test]
        fn any_interval_reads_back(secs in 0u64..10_000_000_000) {
            let i = Interval(Duration::from_secs(secs));
            let written = serde_json::to_value(i).expect("serializes");
            let read: Interval = serde_json::from_value(written.clone()).expect("reads back");
            proptest::prop_assert_eq!(read, i, "{}", written);
        }
    }

    #[test]
    fn intervals_are_written_in_their_largest_whole_unit_and_read_back() {
        for (secs, text) in [
            (0, "0s"),
            (90, "90s"),
            (900, "15m"),
            (21_600, "6h"),
            (604_800, "7d"),
            (3_601, "3601s"),
        ] {
            let i = Interval(Duration::from_secs(secs));
            let written = serde_json::to_value(i).expect("serializes");
            assert_eq!(written, serde_json::json!(text));
            let read: Interval = serde_json::from_value(written).expect("reads back");
            assert_eq!(read, i);
        }
    }
}
