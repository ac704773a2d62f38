//! Wiring one pipeline from its config: data source, executor, deploy repo, Argo CD,
//! rollout (metric sources and traffic targets), webhook. The same for a pipeline of the
//! config file and the spec of a `ModelPipeline`; `field` is where its config is
//! (`pipelines[0]`, `spec`), for errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DATA_POOL_CONNECTIONS, StartError};
use crate::argocd::ArgoCd;
use crate::config::rollout::{ProviderChoice, RolloutConfig};
use crate::config::{DatabaseConfig, ExecutorChoice, GitOpsConfig, PipelineConfig};
use crate::controller::{ArgoTarget, Pipeline, PolicySlot};
use crate::datasource::DataSource;
use crate::executor::kubernetes::KubernetesExecutor;
use crate::executor::local::LocalExecutor;
use crate::gitops::{DeployRepo, GitAuth, RepoSettings, Target};
use crate::http::HttpClient;
use crate::metrics::Metrics;
use crate::metrics_source::prometheus::PrometheusAuth;
use crate::metrics_source::{MetricsSource, Prometheus, SqlSource};
use crate::notify::Notifier;
use crate::rollout::{RolloutPlan, WatchedMetric};
use crate::traffic::{KubeTraffic, Traffic};

/// Builds pipelines while the host runs, sharing one pool per data-source database.
pub struct PipelineBuilder {
    /// The config file's directory.
    pub base: PathBuf,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The store's URL (the default data source).
    pub store_url: String,
    /// Counters.
    pub metrics: Arc<Metrics>,
    pools: tokio::sync::Mutex<HashMap<String, sqlx::AnyPool>>,
}

impl PipelineBuilder {
    /// A builder for pipelines whose relative paths are relative to `base`.
    pub fn new(
        base: PathBuf,
        state_dir: PathBuf,
        store_url: String,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            base,
            state_dir,
            store_url,
            metrics,
            pools: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Wires `pc`, whose config is at `field`.
    ///
    /// # Errors
    /// See [`StartError`].
    pub async fn build(&self, pc: &PipelineConfig, field: &str) -> Result<Pipeline, StartError> {
        let mut pools = self.pools.lock().await;
        pipeline(
            pc,
            field,
            &self.base,
            &self.state_dir,
            &self.store_url,
            &mut pools,
            &self.metrics,
        )
        .await
    }
}

/// The URL of a database section; `default` when it gives none.
pub(super) fn database_url(
    db: &DatabaseConfig,
    base: &Path,
    default: &str,
    field: &str,
) -> Result<String, StartError> {
    let url = match (&db.url, &db.url_secret) {
        (_, Some(s)) => s
            .read(base)
            .map_err(|source| StartError::Secret {
                field: format!("{field}.url_secret"),
                source,
            })?
            .expose()
            .to_owned(),
        (Some(u), None) => u.clone(),
        (None, None) => default.to_owned(),
    };
    // Relative SQLite paths are relative to the config file.
    Ok(match url.strip_prefix("sqlite:") {
        Some(path) if !path.starts_with('/') && !path.starts_with(':') => {
            format!(
                "sqlite:{}",
                base.join(path.trim_start_matches("//")).display()
            )
        }
        _ => url,
    })
}

async fn pipeline(
    pc: &PipelineConfig,
    field: &str,
    base: &Path,
    state_dir: &Path,
    store_url: &str,
    pools: &mut HashMap<String, sqlx::AnyPool>,
    metrics: &Arc<Metrics>,
) -> Result<Pipeline, StartError> {
    let data_url = database_url(
        &pc.data_source.database,
        base,
        store_url,
        &format!("{field}.data_source.database"),
    )?;
    let pool = shared_pool(&data_url, pools).await?;
    let data = DataSource::new(pool, pc.data_source.statements(), &pc.name);
    let executor: Arc<dyn crate::executor::Executor> = match pc.executor.choice() {
        Some(ExecutorChoice::Local(l)) => {
            Arc::new(LocalExecutor::new(l, base, state_dir.join("runs")))
        }
        Some(ExecutorChoice::Kubernetes(k)) => Arc::new(
            KubernetesExecutor::connect(k, base)
                .await
                .map_err(|source| StartError::Kube {
                    pipeline: pc.name.clone(),
                    source,
                })?,
        ),
        None => {
            return Err(StartError::Executor {
                pipeline: pc.name.clone(),
            });
        }
    };
    let repo = deploy_repo(pc, field, base, state_dir.join("repos").join(&pc.name))?;
    let argo = match &pc.argocd {
        None => None,
        Some(a) => {
            let token = a.token.read(base).map_err(|source| StartError::Secret {
                field: format!("{field}.argocd.token"),
                source,
            })?;
            let ca = a.ca_file.as_ref().map(|c| base.join(c));
            let client = ArgoCd::new(&a.server, token, ca.as_deref()).map_err(|source| {
                StartError::Argo {
                    pipeline: pc.name.clone(),
                    source,
                }
            })?;
            Some(ArgoTarget {
                client,
                application: a.application.clone(),
                refresh: a.refresh,
                sync: a.sync,
                timeout: a.timeout.0,
            })
        }
    };
    Ok(Pipeline {
        name: pc.name.clone(),
        data,
        executor,
        repo,
        argo,
        interval: pc.interval.0,
        production: pc.production.clone(),
        retrain: PolicySlot {
            module: pc.policies.retrain.module.clone(),
            limits: pc.policies.retrain.limits,
            fail_safe: pc.policies.retrain.fail_safe,
        },
        promotion: PolicySlot {
            module: pc.policies.promotion.module.clone(),
            limits: pc.policies.promotion.limits,
            fail_safe: pc.policies.promotion.fail_safe,
        },
        rollout: match &pc.rollout {
            Some(r) => Some(rollout_plan(pc, r, field, base, store_url, pools).await?),
            None => None,
        },
        notifier: match &pc.notify {
            Some(n) => {
                let token = match &n.token {
                    Some(t) => Some(t.read(base).map_err(|source| StartError::Secret {
                        field: format!("{field}.notify.token"),
                        source,
                    })?),
                    None => None,
                };
                let ca = n.ca_file.as_ref().map(|c| base.join(c));
                let client = HttpClient::new(ca.as_deref()).map_err(|source| StartError::Http {
                    field: format!("{field}.notify.ca_file"),
                    source,
                })?;
                Some(Notifier::start(
                    n.url.clone(),
                    token,
                    client,
                    Arc::clone(metrics),
                ))
            }
            None => None,
        },
        ticked: None,
        events: None,
    })
}

/// The pool for the database at `url`, shared with the pipelines already using it.
async fn shared_pool(
    url: &str,
    pools: &mut HashMap<String, sqlx::AnyPool>,
) -> Result<sqlx::AnyPool, StartError> {
    if let Some(p) = pools.get(url) {
        return Ok(p.clone());
    }
    let (p, _) = crate::store::pool(url, DATA_POOL_CONNECTIONS).await?;
    pools.insert(url.to_owned(), p.clone());
    Ok(p)
}

/// The rollout of `pc`, wired: metric sources, traffic targets, policy slots.
async fn rollout_plan(
    pc: &PipelineConfig,
    r: &RolloutConfig,
    field: &str,
    base: &Path,
    store_url: &str,
    pools: &mut HashMap<String, sqlx::AnyPool>,
) -> Result<RolloutPlan, StartError> {
    let mut sources: HashMap<&str, Arc<dyn MetricsSource>> = HashMap::new();
    for (name, provider) in &r.analysis.providers {
        let f = format!("{field}.rollout.analysis.providers.{name}");
        let source: Arc<dyn MetricsSource> = match provider.choice() {
            None => continue,
            Some(ProviderChoice::Sql(sql)) => {
                let url =
                    database_url(&sql.database, base, store_url, &format!("{f}.sql.database"))?;
                Arc::new(SqlSource::new(name, shared_pool(&url, pools).await?))
            }
            Some(ProviderChoice::Prometheus(prom)) => {
                let secret = |s: &crate::secret::SecretRef, which: &str| {
                    s.read(base).map_err(|source| StartError::Secret {
                        field: format!("{f}.prometheus.{which}"),
                        source,
                    })
                };
                let auth = match (&prom.token, &prom.username, &prom.password) {
                    (Some(t), _, _) => PrometheusAuth::Bearer(secret(t, "token")?),
                    (None, Some(u), Some(pw)) => PrometheusAuth::Basic {
                        username: u.clone(),
                        password: secret(pw, "password")?,
                    },
                    _ => PrometheusAuth::None,
                };
                let ca = prom.ca_file.as_ref().map(|c| base.join(c));
                let client = HttpClient::new(ca.as_deref()).map_err(|source| StartError::Http {
                    field: format!("{f}.prometheus.ca_file"),
                    source,
                })?;
                Arc::new(Prometheus::new(
                    name,
                    &prom.url,
                    auth,
                    client,
                    prom.timeout.0,
                    prom.step.0,
                ))
            }
        };
        sources.insert(name.as_str(), source);
    }
    let metrics = r
        .analysis
        .metrics
        .iter()
        // Every metric names a provider (checked at load).
        .filter_map(|m| {
            sources
                .get(m.provider.as_str())
                .map(|source| WatchedMetric {
                    name: m.name.clone(),
                    direction: m.direction,
                    source: Arc::clone(source),
                    baseline: m.baseline.clone(),
                    canary: m.canary.clone(),
                })
        })
        .collect();
    let (Some(regression), Some(rollout)) = (&pc.policies.regression, &pc.policies.rollout) else {
        return Err(StartError::RolloutPolicies {
            pipeline: pc.name.clone(),
        });
    };
    let kube = match &r.traffic.kubernetes {
        Some(k) => Some(
            KubeTraffic::connect(k.kubeconfig.as_deref(), base, &k.targets)
                .await
                .map_err(|source| StartError::KubeTraffic {
                    pipeline: pc.name.clone(),
                    source: Box::new(source),
                })?,
        ),
        None => None,
    };
    Ok(RolloutPlan {
        traffic: Traffic::new(r),
        kube,
        metrics,
        interval: r.analysis.interval.0,
        window: r.analysis.window.0,
        max_samples: r.analysis.max_samples,
        regression: PolicySlot {
            module: regression.module.clone(),
            limits: regression.limits,
            fail_safe: regression.fail_safe,
        },
        rollout: PolicySlot {
            module: rollout.module.clone(),
            limits: rollout.limits,
            fail_safe: rollout.fail_safe,
        },
    })
}

/// The deploy repository of pipeline `pc` (the `i`-th in the config), kept cloned in
/// `clone_dir`.
///
/// # Errors
/// When a secret it names cannot be read.
pub fn deploy_repo(
    pc: &PipelineConfig,
    field: &str,
    base: &Path,
    clone_dir: PathBuf,
) -> Result<DeployRepo, StartError> {
    let settings = repo_settings(&pc.gitops, base, field)?;
    Ok(DeployRepo::new(settings, clone_dir))
}

fn repo_settings(g: &GitOpsConfig, base: &Path, field: &str) -> Result<RepoSettings, StartError> {
    let auth = match (&g.ssh, &g.https) {
        (Some(ssh), _) => GitAuth::Ssh {
            key_file: base.join(&ssh.key_file),
            known_hosts: if ssh.insecure_skip_host_key_check {
                None
            } else {
                ssh.known_hosts.as_ref().map(|k| base.join(k))
            },
        },
        (None, Some(t)) => GitAuth::Token {
            username: t.username.clone(),
            token: t.token.read(base).map_err(|source| StartError::Secret {
                field: format!("{field}.gitops.https.token"),
                source,
            })?,
        },
        (None, None) => GitAuth::None,
    };
    let url = if g.repo.starts_with('/') {
        format!("file://{}", g.repo)
    } else {
        g.repo.clone()
    };
    Ok(RepoSettings {
        url,
        branch: g.branch.clone(),
        auth,
        tls_ca: g.ca_file.as_ref().map(|c| base.join(c)),
        targets: g
            .targets
            .iter()
            .filter_map(|t| {
                // Selectors were checked at load.
                t.field.parse().ok().map(|selector| Target {
                    file: t.file.clone(),
                    selector,
                })
            })
            .collect(),
        author_name: g.author_name.clone(),
        author_email: g.author_email.clone(),
        message: g.message.clone(),
        retries: g.push.retries,
        backoff: g.push.backoff.0,
    })
}
