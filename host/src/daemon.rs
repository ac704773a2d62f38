//! `sluice run`: builds every pipeline from a checked config — store, data sources,
//! executors, deploy repos, Argo CD clients, policies — and runs the controller with
//! the HTTP endpoints until SIGTERM or Ctrl-C.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use crate::argocd::{ArgoCd, ArgoError};
use crate::config::rollout::{ProviderChoice, RolloutConfig};
use crate::config::{DatabaseConfig, ExecutorChoice, GitOpsConfig, LoadedConfig, PipelineConfig};
use crate::controller::{self, ArgoTarget, Context, Observer, Pipeline, PolicySlot};
use crate::datasource::DataSource;
use crate::executor::kubernetes::KubernetesExecutor;
use crate::executor::local::LocalExecutor;
use crate::gitops::{DeployRepo, GitAuth, RepoSettings, Target};
use crate::http::HttpClient;
use crate::metrics::Metrics;
use crate::metrics_source::prometheus::PrometheusAuth;
use crate::metrics_source::{MetricsSource, Prometheus, SqlSource};
use crate::notify::Notifier;
use crate::policy::{PolicyEngine, PolicyRegistry, RegistryError, RegistryNews};
use crate::rollout::{RolloutPlan, WatchedMetric};
use crate::secret::SecretError;
use crate::server::{self, Probe};
use crate::store::{Store, StoreError};
use crate::traffic::{KubeTraffic, Traffic};

/// Connections per data-source database (shared by the pipelines that use it).
const DATA_POOL_CONNECTIONS: u32 = 4;

/// Why the loop cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store or a data source cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A policy module is not usable.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A secret cannot be read.
    #[error("{field}: {source}")]
    Secret {
        /// Which config field.
        field: String,
        /// Why.
        #[source]
        source: SecretError,
    },
    /// The Argo CD client cannot be built.
    #[error("pipeline `{pipeline}`: {source}")]
    Argo {
        /// The pipeline.
        pipeline: String,
        /// Why.
        #[source]
        source: ArgoError,
    },
    /// The Kubernetes client cannot be set up.
    #[error("pipeline `{pipeline}`: {source}")]
    Kube {
        /// The pipeline.
        pipeline: String,
        /// Why.
        #[source]
        source: crate::executor::ExecutorError,
    },
    /// No executor configured (`config::load` refuses this; a guard for callers that
    /// build a config in code).
    #[error("pipeline `{pipeline}` has no executor")]
    Executor {
        /// The pipeline.
        pipeline: String,
    },
    /// An HTTP client (a metric source's) cannot be set up.
    #[error("{field}: {source}")]
    Http {
        /// Which config field.
        field: String,
        /// Why.
        #[source]
        source: crate::http::HttpError,
    },
    /// The Kubernetes traffic actuator cannot be set up.
    #[error("pipeline `{pipeline}`: {source}")]
    KubeTraffic {
        /// The pipeline.
        pipeline: String,
        /// Why.
        #[source]
        source: Box<crate::traffic::KubeTrafficError>,
    },
    /// A rollout without its policies (`config::load` refuses this).
    #[error("pipeline `{pipeline}` has a rollout but no regression or rollout policy")]
    RolloutPolicies {
        /// The pipeline.
        pipeline: String,
    },
    /// The state directory cannot be created.
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP endpoint cannot listen.
    #[error("cannot listen on {addr} for /healthz, /readyz and /metrics: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
}

/// Everything built from the config, ready to run.
pub struct Loop {
    /// Shared context.
    pub ctx: Context,
    /// The pipelines.
    pub pipelines: Vec<Arc<Pipeline>>,
    /// The policy directory (watched when it exists).
    pub policy_dir: PathBuf,
    /// Refusals and swaps the registry reports, to be recorded in the store.
    pub policy_news: tokio::sync::mpsc::UnboundedReceiver<RegistryNews>,
    /// The policy upload API, when configured.
    pub admin: Option<Arc<crate::admin::Admin>>,
}

/// The URL of a database section; `default` when it gives none.
fn database_url(
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

/// Opens (creating and migrating if needed) the store the config names.
///
/// # Errors
/// State directory, secret or database failures.
pub async fn open_store(loaded: &LoadedConfig) -> Result<Store, StartError> {
    Ok(open_store_at(loaded).await?.0)
}

async fn open_store_at(loaded: &LoadedConfig) -> Result<(Store, String, PathBuf), StartError> {
    let base = &loaded.base;
    let state_dir = base.join(&loaded.config.host.state_dir);
    std::fs::create_dir_all(&state_dir).map_err(|source| StartError::StateDir {
        path: state_dir.display().to_string(),
        source,
    })?;
    let default_db = format!("sqlite:{}", state_dir.join("sluice.db").display());
    let url = database_url(
        &loaded.config.host.database,
        base,
        &default_db,
        "host.database",
    )?;
    let store = Store::open(&url).await?;
    Ok((store, url, state_dir))
}

/// Builds the loop from a checked config. `observer` receives narration (the demo).
///
/// # Errors
/// See [`StartError`].
pub async fn build(
    loaded: &LoadedConfig,
    engine: Arc<PolicyEngine>,
    observer: Option<Observer>,
) -> Result<Loop, StartError> {
    let base = loaded.base.clone();
    let (store, store_url, state_dir) = open_store_at(loaded).await?;
    let metrics = Arc::new(Metrics::new());
    // Modules uploaded earlier are live again (the directory wins a name both hold).
    let uploads = store
        .uploads()
        .await?
        .into_iter()
        .map(|u| (u.name, u.wasm))
        .collect();
    let registry = PolicyRegistry::open_with_uploads(
        Arc::clone(&engine),
        &loaded.policy_dir,
        loaded.uses.clone(),
        uploads,
        Arc::clone(&metrics),
    )?;
    let admin = loaded.config.host.admin.as_ref().map(|a| {
        Arc::new(crate::admin::Admin {
            registry: Arc::clone(&registry),
            store: store.clone(),
            tokens_dir: base.join(&a.tokens_dir),
            max_bytes: engine.settings().max_module_bytes,
            uploading: tokio::sync::Mutex::new(()),
        })
    });
    let (news, policy_news) = tokio::sync::mpsc::unbounded_channel();
    registry.set_observer(Arc::new(move |n| {
        let _ = news.send(n);
    }));
    let mut pipelines = Vec::new();
    // Pipelines reading the same database share one pool.
    let mut pools = HashMap::new();
    for (i, pc) in loaded.config.pipelines.iter().enumerate() {
        pipelines.push(Arc::new(
            pipeline(pc, i, &base, &state_dir, &store_url, &mut pools, &metrics).await?,
        ));
    }
    Ok(Loop {
        ctx: Context {
            store,
            engine,
            registry,
            metrics,
            observer,
        },
        pipelines,
        policy_dir: loaded.policy_dir.clone(),
        policy_news,
        admin,
    })
}

async fn pipeline(
    pc: &PipelineConfig,
    i: usize,
    base: &Path,
    state_dir: &Path,
    store_url: &str,
    pools: &mut HashMap<String, sqlx::AnyPool>,
    metrics: &Arc<Metrics>,
) -> Result<Pipeline, StartError> {
    let field = format!("pipelines[{i}]");
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
    let repo = deploy_repo(pc, i, base, state_dir.join("repos").join(&pc.name))?;
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
            Some(r) => Some(rollout_plan(pc, r, &field, base, store_url, pools).await?),
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
    i: usize,
    base: &Path,
    clone_dir: PathBuf,
) -> Result<DeployRepo, StartError> {
    let settings = repo_settings(&pc.gitops, base, &format!("pipelines[{i}]"))?;
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

/// Runs `lp` with the HTTP endpoints on `listen` until SIGTERM/Ctrl-C or `stop`.
///
/// # Errors
/// When the endpoint cannot listen or the policy directory cannot be watched.
pub async fn run(
    lp: Loop,
    listen: &str,
    stop: Option<watch::Receiver<bool>>,
) -> Result<(), StartError> {
    let (tx, rx) = watch::channel(false);
    let listen_err = |message: String| StartError::Listen {
        addr: listen.to_owned(),
        message,
    };
    let addr: SocketAddr = listen.parse().map_err(|e| listen_err(format!("{e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| listen_err(e.to_string()))?;
    tracing::info!(%addr, pipelines = lp.pipelines.len(), "sluice is running");
    let server = tokio::spawn(server::serve(
        listener,
        Probe {
            metrics: Arc::clone(&lp.ctx.metrics),
            store: lp.ctx.store.clone(),
            admin: lp.admin.clone(),
        },
        rx.clone(),
    ));
    let watcher = if lp.policy_dir.is_dir() {
        Some(lp.ctx.registry.watch(rx.clone())?)
    } else {
        None
    };
    let news = tokio::spawn(tracing::Instrument::instrument(
        record_policy_news(lp.ctx.store.clone(), lp.policy_news, rx.clone()),
        tracing::info_span!("policy-news"),
    ));
    let signals = tokio::spawn(async move {
        wait_for_stop(stop).await;
        tracing::info!("stopping: finishing the current step of each pipeline");
        let _ = tx.send(true);
    });
    controller::run(lp.ctx, lp.pipelines, rx).await;
    signals.abort();
    let _ = news.await;
    let _ = server.await;
    if let Some(w) = watcher {
        let _ = w.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Records the registry's refusals and swaps in the store (for `sluice status`) until
/// `shutdown`, then records what is still queued.
async fn record_policy_news(
    store: Store,
    mut news: tokio::sync::mpsc::UnboundedReceiver<RegistryNews>,
    mut shutdown: watch::Receiver<bool>,
) {
    let record = async |n: RegistryNews| {
        let result = match &n {
            RegistryNews::Refused(r) => {
                store
                    .record_refusal(&crate::store::StoredRefusal {
                        module: r.module.clone(),
                        sha256: r.sha256.clone(),
                        reason: r.reason.to_owned(),
                        message: r.message.clone(),
                        refused_ms: r.at_ms,
                    })
                    .await
            }
            RegistryNews::Live { module, .. } => store.clear_refusal(module).await,
        };
        if let Err(e) = result {
            tracing::warn!(error = %crate::error_chain(&e), "cannot record a policy refusal or swap in the store; `sluice status` may not show it");
        }
    };
    loop {
        tokio::select! {
            n = news.recv() => match n {
                Some(n) => record(n).await,
                None => return,
            },
            _ = shutdown.changed() => break,
        }
    }
    while let Ok(n) = news.try_recv() {
        record(n).await;
    }
}

async fn wait_for_stop(stop: Option<watch::Receiver<bool>>) {
    let external = async {
        match stop {
            Some(mut s) => {
                while !*s.borrow() {
                    if s.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
            None => std::future::pending().await,
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = external => {}
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
