//! The Kubernetes executor: one `batch/v1` Job per run, named
//! `<pipeline>-training-<unix ms>`, labelled `app=<pipeline>-training` and
//! `sluice.dev/pipeline=<pipeline>`. The candidate report is read from the training
//! container's termination message (`/dev/termination-log`).
//!
//! Creation is idempotent: a `409 AlreadyExists` adopts the existing Job (the host
//! crashed after creating it, or the response was lost). The Job's state is read on
//! every tick (`GET`), so a restarted host continues where it was.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::batch::v1::{Job, JobSpec as K8sJobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, Pod, PodSpec, PodTemplateSpec, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ExecFuture, Executor, ExecutorError, JobSpec, JobState};

/// Label every sluice Job carries with its pipeline's name.
pub const PIPELINE_LABEL: &str = "sluice.dev/pipeline";
/// Label with the run id.
pub const RUN_LABEL: &str = "sluice.dev/run";

/// Config of the Kubernetes executor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Namespace of the Jobs.
    pub namespace: String,
    /// A kubeconfig file (relative to the config file); default: in-cluster
    /// configuration, else `$KUBECONFIG` / `~/.kube/config`.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// The Job template.
    pub template: JobTemplate,
}

/// What the training Job looks like.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobTemplate {
    /// Container image.
    pub image: String,
    /// Entrypoint override.
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments; the retrain policy's extra arguments are appended.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment (the run contract variables are always set).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Resource requests, e.g. `{cpu: "2", memory: 8Gi}`.
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    /// Resource limits, e.g. `{nvidia.com/gpu: "1"}`.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
    /// Service account.
    #[serde(default)]
    pub service_account: Option<String>,
    /// Node selector.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations, as in a Pod spec.
    #[serde(default)]
    pub tolerations: Vec<TolerationConfig>,
    /// Seconds after finishing until Kubernetes deletes the Job (default 86400).
    #[serde(default = "d_ttl")]
    pub ttl_seconds_after_finished: i32,
    /// Pod retries (default 0: a failed training is a failed run).
    #[serde(default)]
    pub backoff_limit: i32,
    /// Hard deadline for the Job in seconds (default 6 hours).
    #[serde(default = "d_deadline")]
    pub active_deadline_seconds: i64,
}

/// A toleration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TolerationConfig {
    /// Taint key.
    #[serde(default)]
    pub key: Option<String>,
    /// `Equal` or `Exists`.
    #[serde(default)]
    pub operator: Option<String>,
    /// Taint value.
    #[serde(default)]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`.
    #[serde(default)]
    pub effect: Option<String>,
}

fn d_ttl() -> i32 {
    86_400
}
fn d_deadline() -> i64 {
    6 * 3600
}

/// Runs training as Kubernetes Jobs.
#[derive(Clone)]
pub struct KubernetesExecutor {
    jobs: Api<Job>,
    pods: Api<Pod>,
    template: JobTemplate,
    namespace: String,
}

impl std::fmt::Debug for KubernetesExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesExecutor")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ExecutorError {
    let what = what.into();
    move |e| ExecutorError::Kube {
        what,
        source: Box::new(e),
    }
}

impl KubernetesExecutor {
    /// Connects with `config.kubeconfig` (resolved against `base`) or the inferred
    /// configuration.
    ///
    /// # Errors
    /// When no usable Kubernetes configuration is found.
    pub async fn connect(
        config: &KubernetesConfig,
        base: &std::path::Path,
    ) -> Result<Self, ExecutorError> {
        let path = config.kubeconfig.as_ref().map(|p| base.join(p));
        let client = crate::kube_client::connect(path.as_deref())
            .await
            .map_err(ExecutorError::Config)?;
        Ok(Self::new(client, config))
    }

    /// An executor on `client`.
    pub fn new(client: Client, config: &KubernetesConfig) -> Self {
        Self {
            jobs: Api::namespaced(client.clone(), &config.namespace),
            pods: Api::namespaced(client, &config.namespace),
            template: config.template.clone(),
            namespace: config.namespace.clone(),
        }
    }

    /// The Job for `spec`.
    pub fn job(&self, spec: &JobSpec) -> Job {
        build_job(&self.template, spec)
    }

    async fn create(&self, spec: &JobSpec) -> Result<(), ExecutorError> {
        let job = self.job(spec);
        match self.jobs.create(&PostParams::default(), &job).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tracing::info!(job = %spec.job_name, "the Job already exists; adopting it");
                Ok(())
            }
            Err(e) => Err(kube_err(format!(
                "creating Job {}/{}",
                self.namespace, spec.job_name
            ))(e)),
        }
    }

    async fn read_state(&self, name: &str) -> Result<JobState, ExecutorError> {
        let what = format!("reading Job {}/{name}", self.namespace);
        let Some(job) = self.jobs.get_opt(name).await.map_err(kube_err(&what))? else {
            return Ok(JobState::Missing);
        };
        let status = job.status.unwrap_or_default();
        let condition = |t: &str| {
            status
                .conditions
                .as_ref()
                .and_then(|cs| cs.iter().find(|c| c.type_ == t && c.status == "True"))
                .cloned()
        };
        if condition("Complete").is_some() {
            let message = self.termination_message(name, "Succeeded").await?;
            return Ok(match message {
                Some(report) => JobState::Succeeded { report },
                None => JobState::Failed {
                    reason: format!(
                        "Job {name} completed but its container wrote no termination message; the trainer must write the report JSON to /dev/termination-log"
                    ),
                },
            });
        }
        if let Some(c) = condition("Failed") {
            let last = self
                .termination_message(name, "Failed")
                .await
                .ok()
                .flatten()
                .map(|m| format!("; last container message: {m}"))
                .unwrap_or_default();
            return Ok(JobState::Failed {
                reason: format!(
                    "Job {name} failed: {} {}{last}",
                    c.reason.unwrap_or_default(),
                    c.message.unwrap_or_default()
                ),
            });
        }
        Ok(JobState::Running {
            detail: format!(
                "active {} succeeded {} failed {}",
                status.active.unwrap_or(0),
                status.succeeded.unwrap_or(0),
                status.failed.unwrap_or(0)
            ),
        })
    }

    /// The termination message of the newest pod of Job `name` in `phase`.
    async fn termination_message(
        &self,
        name: &str,
        phase: &str,
    ) -> Result<Option<String>, ExecutorError> {
        let pods = self
            .pods
            .list(&ListParams::default().labels(&format!("job-name={name}")))
            .await
            .map_err(kube_err(format!(
                "listing the pods of Job {}/{name}",
                self.namespace
            )))?;
        let mut candidates: Vec<&Pod> = pods
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase))
            .collect();
        candidates.sort_by_key(|p| p.metadata.creation_timestamp.clone());
        Ok(candidates.last().and_then(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .iter()
                .find_map(|c| c.state.as_ref()?.terminated.as_ref()?.message.clone())
                .filter(|m| !m.trim().is_empty())
        }))
    }

    async fn list_active(&self, pipeline: &str) -> Result<Vec<String>, ExecutorError> {
        let jobs = self
            .jobs
            .list(&ListParams::default().labels(&format!("{PIPELINE_LABEL}={pipeline}")))
            .await
            .map_err(kube_err(format!(
                "listing the Jobs of pipeline `{pipeline}` in {}",
                self.namespace
            )))?;
        let mut names: Vec<String> = jobs
            .items
            .into_iter()
            .filter(|j| {
                let done = j
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter().any(|c| {
                            (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                        })
                    });
                !done
            })
            .filter_map(|j| j.metadata.name)
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Builds the Job for `spec` from `t`.
pub fn build_job(t: &JobTemplate, spec: &JobSpec) -> Job {
    let labels: BTreeMap<String, String> = [
        ("app".to_owned(), format!("{}-training", spec.pipeline)),
        (PIPELINE_LABEL.to_owned(), spec.pipeline.clone()),
        (RUN_LABEL.to_owned(), spec.run_id.clone()),
    ]
    .into();
    let mut env: Vec<EnvVar> = t
        .env
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            ..EnvVar::default()
        })
        .collect();
    for (k, v) in [
        ("MODEL_VERSION", &spec.version),
        ("SLUICE_RUN_ID", &spec.run_id),
        ("SLUICE_PIPELINE", &spec.pipeline),
        ("SLUICE_JOB_NAME", &spec.job_name),
    ] {
        env.retain(|e| e.name != k);
        env.push(EnvVar {
            name: k.to_owned(),
            value: Some(v.clone()),
            ..EnvVar::default()
        });
    }
    let quantities = |m: &BTreeMap<String, String>| {
        (!m.is_empty()).then(|| {
            m.iter()
                .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                .collect()
        })
    };
    let mut args = t.args.clone();
    args.extend(spec.extra_args.iter().cloned());
    Job {
        metadata: ObjectMeta {
            name: Some(spec.job_name.clone()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(K8sJobSpec {
            ttl_seconds_after_finished: Some(t.ttl_seconds_after_finished),
            backoff_limit: Some(t.backoff_limit),
            active_deadline_seconds: Some(t.active_deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    service_account_name: t.service_account.clone(),
                    node_selector: (!t.node_selector.is_empty()).then(|| t.node_selector.clone()),
                    tolerations: (!t.tolerations.is_empty()).then(|| {
                        t.tolerations
                            .iter()
                            .map(|x| Toleration {
                                key: x.key.clone(),
                                operator: x.operator.clone(),
                                value: x.value.clone(),
                                effect: x.effect.clone(),
                                ..Toleration::default()
                            })
                            .collect()
                    }),
                    containers: vec![Container {
                        name: "trainer".into(),
                        image: Some(t.image.clone()),
                        command: (!t.command.is_empty()).then(|| t.command.clone()),
                        args: (!args.is_empty()).then_some(args),
                        env: Some(env),
                        resources: Some(ResourceRequirements {
                            requests: quantities(&t.requests),
                            limits: quantities(&t.limits),
                            ..ResourceRequirements::default()
                        }),
                        termination_message_policy: Some("FallbackToLogsOnError".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..K8sJobSpec::default()
        }),
        status: None,
    }
}

impl KubernetesExecutor {
    /// Watches the run's Job (by its run label) from the current resourceVersion until
    /// an event arrives or `timeout` passes.
    async fn watch_job(
        &self,
        run_id: &str,
        timeout: std::time::Duration,
    ) -> Result<(), kube::Error> {
        use futures_util::StreamExt as _;
        let selector = format!("{RUN_LABEL}={run_id}");
        let list = self
            .jobs
            .list(&ListParams::default().labels(&selector))
            .await?;
        let version = list.metadata.resource_version.unwrap_or_default();
        let secs = u32::try_from(timeout.as_secs().max(1)).unwrap_or(u32::MAX);
        let params = kube::api::WatchParams::default()
            .labels(&selector)
            .timeout(secs);
        let mut events = self.jobs.watch(&params, &version).await?.boxed();
        if let Ok(Some(event)) = tokio::time::timeout(timeout, events.next()).await {
            event?;
        }
        Ok(())
    }
}

impl Executor for KubernetesExecutor {
    fn dispatch<'a>(&'a self, spec: &'a JobSpec) -> ExecFuture<'a, ()> {
        Box::pin(self.create(spec))
    }

    fn state<'a>(&'a self, job_name: &'a str) -> ExecFuture<'a, JobState> {
        Box::pin(self.read_state(job_name))
    }

    fn active<'a>(&'a self, pipeline: &'a str) -> ExecFuture<'a, Vec<String>> {
        Box::pin(self.list_active(pipeline))
    }

    fn wait_for_change<'a>(
        &'a self,
        _job_name: &'a str,
        run_id: &'a str,
        timeout: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let started = tokio::time::Instant::now();
            if let Err(e) = self.watch_job(run_id, timeout).await {
                tracing::debug!(error = %e, "watching the Job failed; waiting out the interval");
                tokio::time::sleep(timeout.saturating_sub(started.elapsed())).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_carries_the_contract_labels_and_limits() {
        let t: JobTemplate = serde_yaml_ng::from_str(
            "image: registry/trainer:1\nargs: [--data, s3://x]\nenv: { MODEL_VERSION: overridden }\nrequests: { cpu: '2' }\nlimits: { nvidia.com/gpu: '1' }\nservice_account: trainer\nnode_selector: { pool: gpu }\ntolerations: [{ key: gpu, operator: Exists, effect: NoSchedule }]\nbackoff_limit: 1\n",
        )
        .expect("template");
        let job = build_job(
            &t,
            &JobSpec {
                pipeline: "fraud".into(),
                run_id: "r1".into(),
                job_name: "fraud-training-1".into(),
                version: "v2".into(),
                extra_args: vec!["--epochs=3".into()],
            },
        );
        let v = serde_json::to_value(&job).expect("json");
        assert_eq!(v["metadata"]["labels"]["app"], "fraud-training");
        assert_eq!(v["metadata"]["labels"][PIPELINE_LABEL], "fraud");
        let spec = &v["spec"];
        assert_eq!(spec["ttlSecondsAfterFinished"], 86_400);
        assert_eq!(spec["backoffLimit"], 1);
        assert_eq!(spec["activeDeadlineSeconds"], 21_600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["serviceAccountName"], "trainer");
        assert_eq!(pod["nodeSelector"]["pool"], "gpu");
        assert_eq!(pod["tolerations"][0]["operator"], "Exists");
        let c = &pod["containers"][0];
        assert_eq!(
            c["args"],
            serde_json::json!(["--data", "s3://x", "--epochs=3"])
        );
        assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"], "1");
        let env = c["env"].as_array().expect("env");
        let version: Vec<_> = env
            .iter()
            .filter(|e| e["name"] == "MODEL_VERSION")
            .collect();
        assert_eq!(version.len(), 1);
        assert_eq!(
            version[0]["value"], "v2",
            "the contract wins over the template"
        );
    }

    #[test]
    fn names_and_labels_fit_kubernetes_limits_for_the_longest_pipeline_name() {
        let t: JobTemplate = serde_yaml_ng::from_str("image: i").expect("template");
        let pipeline = "p".repeat(40);
        let name = super::super::job_name(&pipeline, 9_999_999_999_999);
        let job = build_job(
            &t,
            &JobSpec {
                pipeline: pipeline.clone(),
                run_id: name.clone(),
                job_name: name,
                version: "v2".into(),
                extra_args: vec![],
            },
        );
        let meta = &job.metadata;
        assert!(meta.name.as_ref().is_some_and(|n| n.len() <= 63));
        for (k, v) in meta.labels.iter().flatten() {
            assert!(v.len() <= 63, "label {k}={v} is {} characters", v.len());
        }
    }
}
