//! The configuration file: typed, with unknown fields refused, defaults written down in
//! [`defaults`], and checked once at load — including every pipeline's policy module and
//! parameters — so a bad config fails when it is deployed, not at 3 a.m.
//!
//! The sections for the side effects (data source, executor, GitOps, Argo CD) are in
//! [`sections`].

pub mod rollout;
pub mod sections;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decision::{
    DecisionPoint, PromotionFailSafe, RawParams, RegressionFailSafe, RetrainFailSafe,
    RolloutFailSafe,
};
use crate::gitops::{Selector, locate};
use crate::policy::{EngineSettings, Limits, PolicyEngine, PolicyModule, PolicyUse, check_use};
use crate::stock;

/// Every default of the configuration, in one place (the side-effect sections' defaults
/// are re-exported from [`sections::defaults`]).
pub mod defaults {
    pub use super::sections::defaults::*;
    /// Directory of policy modules, relative to the config file.
    pub const POLICY_DIR: &str = "policies";
    /// Name of the leader-election Lease.
    pub const LEASE: &str = "sluice";
    /// How long the leader's lease lasts without renewal.
    pub const LEASE_DURATION: &str = "15s";
}

pub use sections::{
    ArgoConfig, DataSourceConfig, DatabaseConfig, ExecutorChoice, ExecutorConfig, GitOpsConfig,
    Interval, PushConfig, SshConfig, TargetConfig, TokenConfig,
};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings of the host process.
    #[serde(default)]
    pub host: HostConfig,
    /// One entry per model lifecycle (may be empty when `host.resources` is set).
    #[serde(default)]
    pub pipelines: Vec<PipelineConfig>,
}

/// Settings of the host process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Where policy modules (`<name>.wasm`) are loaded from and watched; relative paths
    /// are relative to the config file. Default [`defaults::POLICY_DIR`].
    #[serde(default = "default_policy_dir")]
    pub policy_dir: PathBuf,
    /// WebAssembly engine settings.
    #[serde(default)]
    pub engine: EngineSettings,
    /// sluice's SQLite database, deploy-repo clones and local runs live here; relative
    /// to the config file. Default [`defaults::STATE_DIR`].
    #[serde(default = "sections::d_state_dir")]
    pub state_dir: PathBuf,
    /// sluice's own database; default SQLite at `<state_dir>/sluice.db`.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Address of `/healthz`, `/readyz`, `/metrics`. Default [`defaults::LISTEN`].
    #[serde(default = "sections::d_listen")]
    pub listen: String,
    /// The policy upload API (`/v1/policies`) on the same listener; off without it.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// Run the `ModelPipeline` resources of these namespaces too; off without it.
    #[serde(default)]
    pub resources: Option<ResourcesConfig>,
    /// Leader election for several replicas on one store; off without it (one host).
    #[serde(default)]
    pub leader_election: Option<LeaderElectionConfig>,
}

/// Leader election: only the holder of a `coordination.k8s.io/v1` Lease runs pipelines;
/// the others stand by with their policy modules compiled.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderElectionConfig {
    /// The Lease's namespace (the Role must let sluice get, create and patch Leases).
    pub namespace: String,
    /// The Lease's name. Default [`defaults::LEASE`].
    #[serde(default = "default_lease")]
    pub lease: String,
    /// How long a lease lasts without renewal: the longest a dead leader's pipelines
    /// wait for another host. Default [`defaults::LEASE_DURATION`]; at least 3 s.
    #[serde(default = "default_lease_duration")]
    pub lease_duration: Interval,
    /// This host's identity in the Lease; default `$POD_NAME`, else host name and pid.
    #[serde(default)]
    pub identity: Option<String>,
    /// A kubeconfig file; default in-cluster, else `$KUBECONFIG`.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
}

fn default_lease() -> String {
    defaults::LEASE.into()
}

fn default_lease_duration() -> Interval {
    sections::interval(defaults::LEASE_DURATION)
}

/// Where `ModelPipeline` resources are watched.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesConfig {
    /// The namespaces (the Role must let sluice read `modelpipelines` there).
    pub namespaces: Vec<String>,
    /// A kubeconfig file; default in-cluster, else `$KUBECONFIG`.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
}

/// The admin API: who may call it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// A directory of bearer tokens, one per file, named by the file's name (the
    /// audit's "who"): a mounted Secret. Read at every request, so tokens rotate
    /// without a restart. Relative to the config file.
    pub tokens_dir: PathBuf,
}

fn default_policy_dir() -> PathBuf {
    PathBuf::from(defaults::POLICY_DIR)
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            policy_dir: default_policy_dir(),
            engine: EngineSettings::default(),
            state_dir: sections::d_state_dir(),
            database: DatabaseConfig::default(),
            listen: sections::d_listen(),
            admin: None,
            resources: None,
            leader_election: None,
        }
    }
}

/// One model's lifecycle: an entry of the config file's `pipelines`, and the `spec` of a
/// `ModelPipeline` resource (the CRD is derived from this type; `sluice crd` prints it).
///
/// In a resource the name is the resource's own (`metadata.name`), so `name` is left out
/// of the CRD's schema and filled in from the metadata.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, CustomResource)]
// Several printer columns share `type_ = "string"`; clippy reads them as one attribute.
#[allow(clippy::duplicated_attributes)]
#[kube(
    group = "sluice.dev",
    version = "v1alpha1",
    kind = "ModelPipeline",
    namespaced,
    shortname = "mp",
    status = "crate::resource::ModelPipelineStatus",
    doc = "One model's lifecycle managed by sluice: retrain when data arrives, promote through GitOps, roll out gradually, roll back on regression. The spec has the fields of a pipeline in sluice's config file.",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Where the pipeline is"
    ),
    printcolumn(
        name = "Production",
        type_ = "string",
        json_path = ".status.production",
        description = "The version serving production"
    ),
    printcolumn(
        name = "Candidate",
        type_ = "string",
        json_path = ".status.candidate",
        description = "The version being trained, evaluated or rolled out"
    ),
    printcolumn(
        name = "Weight",
        type_ = "integer",
        json_path = ".status.weight",
        description = "Percent of traffic on the candidate during a rollout"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Unique name; a DNS label (it names Kubernetes Jobs). Required in the config file;
    /// a resource's name is its `metadata.name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(skip)]
    pub name: String,
    /// The policy deciding at each decision point.
    pub policies: PipelinePolicies,
    /// Where new labelled rows are counted and claimed; default: the `annotations`
    /// table in sluice's own database.
    #[serde(default)]
    pub data_source: DataSourceConfig,
    /// How training runs.
    pub executor: ExecutorConfig,
    /// The deploy repository.
    pub gitops: GitOpsConfig,
    /// Argo CD application to sync after a push.
    #[serde(default)]
    pub argocd: Option<ArgoConfig>,
    /// Time between ticks; default [`defaults::INTERVAL`].
    #[serde(default = "sections::d_interval")]
    pub interval: Interval,
    /// The model in production when sluice first sees this pipeline.
    #[serde(default)]
    pub production: Option<crate::decision::ModelReport>,
    /// Progressive rollout after promotion; without it the promotion is the deploy.
    #[serde(default)]
    pub rollout: Option<rollout::RolloutConfig>,
    /// A webhook for promotions, rollout steps, completions, rollbacks, failed runs.
    #[serde(default)]
    pub notify: Option<sections::NotifyConfig>,
}

/// The policies of one pipeline.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePolicies {
    /// When to retrain.
    pub retrain: PolicyConfig<RetrainFailSafe>,
    /// Whether to promote.
    pub promotion: PolicyConfig<PromotionFailSafe>,
    /// Whether the canary regressed (needed once rollouts are configured).
    #[serde(default)]
    pub regression: Option<PolicyConfig<RegressionFailSafe>>,
    /// The next rollout step (needed once rollouts are configured).
    #[serde(default)]
    pub rollout: Option<PolicyConfig<RolloutFailSafe>>,
}

/// One decision point's policy.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(bound = "F: JsonSchema + Default + Serialize")]
pub struct PolicyConfig<F> {
    /// A module name in the policy directory (`<name>.wasm`), or `stock:<name>`.
    pub module: String,
    /// Parameters, checked against the module's self-description.
    #[serde(default)]
    #[schemars(schema_with = "params_schema")]
    pub params: RawParams,
    /// Limits per call; defaults in `policy::limits`.
    #[serde(default)]
    pub limits: Limits,
    /// The answer used when the policy fails.
    #[serde(default)]
    pub fail_safe: F,
    /// Pins the module to these bytes (sha256, hex): any other bytes under the module's
    /// name are refused for this pipeline — at start-up, from the policy directory and
    /// from the upload API alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl PipelineConfig {
    /// Checks this pipeline on its own — everything but its policy modules, which
    /// [`check_modules`] loads. The config file and a `ModelPipeline`'s spec are checked
    /// by this same code.
    pub fn check(&self) -> PipelineCheck {
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut at = |field: &str, message: String| problems.push((field.to_owned(), message));
        if self.name.is_empty() {
            at(
                "name",
                "every pipeline needs a `name` (a DNS label; it names Kubernetes Jobs)".into(),
            );
        } else if !is_dns_label(&self.name) {
            at(
                "name",
                format!(
                    "`{}` is not a DNS label (lowercase letters, digits and `-`, at most 40 characters, starting with a letter); it names Kubernetes Jobs",
                    self.name
                ),
            );
        }
        let mut section = |prefix: &str, found: Vec<(String, String)>| {
            for (f, m) in found {
                at(&format!("{prefix}.{f}"), m);
            }
        };
        section("data_source", self.data_source.problems());
        section("gitops", self.gitops.problems());
        section("executor", self.executor.problems());
        if let Some(a) = &self.argocd {
            section("argocd", a.problems());
        }
        if let Some(n) = &self.notify {
            section("notify", n.problems());
        }
        let pol = &self.policies;
        if let Some(r) = &self.rollout {
            section("rollout", r.problems());
            if pol.regression.is_none() || pol.rollout.is_none() {
                at(
                    "policies",
                    "a pipeline with `rollout` needs `regression` and `rollout` policies (for example `module: stock:stat-regression` and `module: stock:canary-steps`)".into(),
                );
            }
            if let Some(v) = self.production.as_ref().map(|m| &m.version)
                && !rollout::is_safe_version(v)
            {
                at(
                    "production.version",
                    format!(
                        "`{v}` cannot be put into a metric query; a version with a rollout uses letters, digits and . _ - + : only"
                    ),
                );
            }
        }
        let mut uses = Vec::new();
        let mut add = |point: DecisionPoint,
                       module: &str,
                       params: &RawParams,
                       limits: &Limits,
                       pin: &Option<String>| {
            let field = format!("policies.{point}");
            if let Some(p) = pin
                && !crate::policy::is_sha256_hex(p)
            {
                at(
                    &format!("{field}.sha256"),
                    format!("`{p}` is not a sha256 digest (64 hex digits, as `sha256sum` prints)"),
                );
                return;
            }
            if let Err(m) = limits.check() {
                // The module is not tried under limits that are themselves wrong.
                at(&format!("{field}.limits"), m);
                return;
            }
            uses.push((
                field,
                PolicyUse {
                    pipeline: self.name.clone(),
                    module: module.to_owned(),
                    point,
                    params: params.clone(),
                    limits: *limits,
                    pin: pin.clone(),
                },
            ));
        };
        add(
            DecisionPoint::Retrain,
            &pol.retrain.module,
            &pol.retrain.params,
            &pol.retrain.limits,
            &pol.retrain.sha256,
        );
        add(
            DecisionPoint::Promotion,
            &pol.promotion.module,
            &pol.promotion.params,
            &pol.promotion.limits,
            &pol.promotion.sha256,
        );
        if let Some(r) = &pol.regression {
            add(
                DecisionPoint::Regression,
                &r.module,
                &r.params,
                &r.limits,
                &r.sha256,
            );
        }
        if let Some(r) = &pol.rollout {
            add(
                DecisionPoint::Rollout,
                &r.module,
                &r.params,
                &r.limits,
                &r.sha256,
            );
        }
        PipelineCheck { problems, uses }
    }
}

/// What [`PipelineConfig::check`] found. Field paths are below the pipeline
/// (`policies.retrain.limits`).
#[derive(Debug, Clone)]
pub struct PipelineCheck {
    /// Every problem, as (field, message).
    pub problems: Vec<(String, String)>,
    /// How the pipeline uses each policy module, with the field of each use.
    pub uses: Vec<(String, PolicyUse)>,
}

/// Loads each used module (from `policy_dir`, or the stock set) into `engine` and checks
/// the use's parameters against it: every problem as (field, message), the field being
/// the use's own with `.module` (or `.params`, `.sha256`) added. With `uploads` (the
/// admin API is on), a module the directory lacks may have been uploaded: it is left
/// to the start-up load, which sees the store's uploads.
pub fn check_modules(
    engine: &PolicyEngine,
    policy_dir: &Path,
    uses: &[(String, PolicyUse)],
    uploads: bool,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (field, u) in uses {
        let in_directory = policy_dir.join(format!("{}.wasm", u.module)).is_file();
        if uploads && !in_directory && !stock::is_reference(&u.module) {
            continue;
        }
        match module_for(engine, policy_dir, &u.module, u.point) {
            Err(message) => problems.push((format!("{field}.module"), message)),
            Ok(module) => {
                if let Err(e) = check_use(engine, &module, u) {
                    let at = match e {
                        crate::policy::CheckError::Pinned { .. } => "sha256",
                        _ => "params",
                    };
                    problems.push((format!("{field}.{at}"), e.to_string()));
                }
            }
        }
    }
    problems
}

/// In a CRD: any map, since which parameters exist is the module's to say (they are
/// checked against its self-description when the resource is loaded).
fn params_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Parameters, checked against the module's self-description.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct ConfigProblem {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// The field path, e.g. `pipelines[0].policies.retrain.params`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// A config file that cannot be used: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} in the configuration:\n{}", if problems.len() == 1 { "1 problem".to_owned() } else { format!("{} problems", problems.len()) }, problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// The problems.
    pub problems: Vec<ConfigProblem>,
}

/// A loaded and checked configuration.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The configuration as written.
    pub config: Config,
    /// The config file's directory: relative paths in the config are relative to it.
    pub base: PathBuf,
    /// The policy directory, resolved against the config file's directory.
    pub policy_dir: PathBuf,
    /// How each pipeline uses each policy module, checked.
    pub uses: Vec<PolicyUse>,
}

/// The engine settings written in the config at `path` (defaults when the file cannot
/// be read or parsed — [`load`] then reports the problem). The engine must exist before
/// the config's policies can be checked, hence this first, lenient look.
pub fn engine_settings(path: &Path) -> EngineSettings {
    #[derive(Deserialize, Default)]
    struct Host {
        #[serde(default)]
        engine: EngineSettings,
    }
    #[derive(Deserialize, Default)]
    struct Outer {
        #[serde(default)]
        host: Host,
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_yaml_ng::from_str::<Outer>(&t).ok())
        .map(|o| o.host.engine)
        .unwrap_or_default()
}

/// Reads, parses and checks the config at `path`, loading every policy it names into
/// `engine` and checking each pipeline's parameters against its module.
///
/// # Errors
/// Every problem found, each with file, line, column and field path.
pub fn load(path: &Path, engine: &PolicyEngine) -> Result<LoadedConfig, ConfigError> {
    load_checking(path, Some(engine))
}

/// Reads, parses and checks the config at `path` like [`load`] but without loading its
/// policy modules (no compilation, no trial decisions): for the commands that only
/// read sluice's store (`status`, `decisions`, `approve`). Module and parameter
/// problems go unreported here; `sluice config check` and `sluice run` find them.
///
/// # Errors
/// Every problem found outside the policy modules, with file, line, column and field.
pub fn load_without_policies(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load_checking(path, None)
}

fn load_checking(path: &Path, engine: Option<&PolicyEngine>) -> Result<LoadedConfig, ConfigError> {
    let file = path.display().to_string();
    let one = |line, column, field: &str, message: String| ConfigError {
        problems: vec![ConfigProblem {
            file: file.clone(),
            line,
            column,
            field: field.to_owned(),
            message,
        }],
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| one(0, 0, "(file)", format!("cannot read the file: {e}")))?;
    let config: Config = crate::cli::input::parse(path, &text).map_err(|e| match e {
        crate::cli::input::InputError::Parse {
            line,
            column,
            message,
            ..
        } => {
            let (field, message) = split_field(&message);
            one(line, column, &field, message)
        }
        other => one(0, 0, "(file)", other.to_string()),
    })?;
    // Relative paths in the config are relative to the file's directory, whatever form
    // the file was named in: `sluice.yaml` has the empty parent, which names no
    // directory to a child process, so the base is made absolute once, here.
    let absolute = std::path::absolute(path).map_err(|e| {
        one(
            0,
            0,
            "(file)",
            format!("cannot resolve the file's directory: {e}"),
        )
    })?;
    let base = absolute.parent().unwrap_or(Path::new("/"));
    let policy_dir = base.join(&config.host.policy_dir);
    let mut problems = Vec::new();
    let mut at = |field: String, message: String| {
        let (line, column) = position(&file, &text, &field);
        problems.push(ConfigProblem {
            file: file.clone(),
            line,
            column,
            field,
            message,
        });
    };
    for (f, m) in config.host.database.problems() {
        at(format!("host.database.{f}"), m);
    }
    for (f, m) in config.host.engine.problems() {
        at(format!("host.engine.{f}"), m);
    }
    if let Some(l) = &config.host.leader_election {
        if l.lease_duration.0.as_secs() < 3 {
            at(
                "host.leader_election.lease_duration".into(),
                "must be at least 3s: the leader renews a third of the way before expiry".into(),
            );
        }
        if l.namespace.is_empty() || l.lease.is_empty() {
            at(
                "host.leader_election".into(),
                "`namespace` and `lease` name the Lease; neither may be empty".into(),
            );
        }
    }
    if let Some(a) = &config.host.admin
        && !base.join(&a.tokens_dir).is_dir()
    {
        at(
            "host.admin.tokens_dir".into(),
            format!(
                "{} is not a directory; mount the Secret holding the API's tokens there (one file per token)",
                base.join(&a.tokens_dir).display()
            ),
        );
    }
    match &config.host.resources {
        None if config.pipelines.is_empty() => at(
            "pipelines".into(),
            "no pipelines are configured; add at least one, or watch ModelPipeline resources (`host.resources`)".into(),
        ),
        Some(r) if r.namespaces.is_empty() => at(
            "host.resources.namespaces".into(),
            "name at least one namespace to watch for ModelPipeline resources".into(),
        ),
        Some(r) => {
            for (i, ns) in r.namespaces.iter().enumerate() {
                let label = ns.len() <= 63
                    && ns.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && !ns.ends_with('-')
                    && ns
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !label {
                    at(
                        format!("host.resources.namespaces[{i}]"),
                        format!("`{ns}` is not a namespace name"),
                    );
                }
            }
        }
        None => {}
    }
    let mut names = BTreeSet::new();
    let mut uses = Vec::new();
    for (i, p) in config.pipelines.iter().enumerate() {
        let PipelineCheck {
            problems: own,
            uses: used,
        } = p.check();
        for (f, m) in own {
            at(format!("pipelines[{i}].{f}"), m);
        }
        if !p.name.is_empty() && !names.insert(p.name.clone()) {
            at(
                format!("pipelines[{i}].name"),
                format!("pipeline `{}` is defined twice", p.name),
            );
        }
        uses.extend(
            used.into_iter()
                .map(|(f, u)| (format!("pipelines[{i}].{f}"), u)),
        );
    }
    if let Some(engine) = engine {
        let uploads = config.host.admin.is_some();
        for (f, m) in check_modules(engine, &policy_dir, &uses, uploads) {
            at(f, m);
        }
    }
    if problems.is_empty() {
        Ok(LoadedConfig {
            config,
            base: base.to_owned(),
            policy_dir,
            uses: uses.into_iter().map(|(_, u)| u).collect(),
        })
    } else {
        problems.sort_by_key(|p| (p.line, p.column));
        Err(ConfigError { problems })
    }
}

/// Loads the module a config names: `stock:<name>` or `<policy_dir>/<name>.wasm`.
fn module_for(
    engine: &PolicyEngine,
    dir: &Path,
    name: &str,
    point: DecisionPoint,
) -> Result<Arc<PolicyModule>, String> {
    if let Some(found) = stock::resolve(name) {
        let s = found.map_err(|e| e.to_string())?;
        return PolicyModule::load_bytes(engine, name, s.wasm, Some(point))
            .map_err(|e| crate::error_chain(&e));
    }
    let path = dir.join(format!("{name}.wasm"));
    if !path.is_file() {
        return Err(format!(
            "no module `{name}`: {} does not exist (or use `stock:<name>`)",
            path.display()
        ));
    }
    // With its causes: "does not compile" alone does not say what to change.
    PolicyModule::load_file(engine, &path, Some(point)).map_err(|e| crate::error_chain(&e))
}

/// Where `field` is in the file; for a field that is absent (a parameter problem when no
/// `params` were written), where its nearest written parent is. (0, 0) if nowhere.
fn position(file: &str, text: &str, field: &str) -> (usize, usize) {
    let Ok(selector) = field.parse::<Selector>() else {
        return (0, 0);
    };
    (1..=selector.steps().len())
        .rev()
        .filter_map(|n| selector.prefix(n).parse::<Selector>().ok())
        .find_map(|s| locate(file, text, &s).ok().flatten())
        .unwrap_or((0, 0))
}

/// serde_yaml messages start with the field path (`pipelines[0].name: …`).
fn split_field(message: &str) -> (String, String) {
    match message.split_once(": ") {
        Some((field, rest)) if !field.contains(' ') => (field.to_owned(), rest.to_owned()),
        _ => ("(document)".to_owned(), message.to_owned()),
    }
}

fn is_dns_label(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("fraud-v2"));
        for bad in ["", "Fraud", "2fraud", "fraud-", "fr_aud", &"a".repeat(41)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn absent_fields_point_at_their_nearest_parent() {
        let text = "pipelines:\n  - name: a\n    policies:\n      retrain: { module: x }\n";
        assert_eq!(
            position("f", text, "pipelines[0].policies.retrain.module"),
            (4, 26)
        );
        assert_eq!(
            position("f", text, "pipelines[0].policies.retrain.params"),
            (4, 16)
        );
        assert_eq!(position("f", text, "nowhere.at.all"), (0, 0));
    }

    #[test]
    fn field_paths_are_split_from_serde_messages() {
        assert_eq!(
            split_field("pipelines[0]: unknown field `nmae`, expected `name` or `policies`"),
            (
                "pipelines[0]".to_owned(),
                "unknown field `nmae`, expected `name` or `policies`".to_owned()
            )
        );
        assert_eq!(split_field("invalid type: map").0, "(document)");
    }
}
