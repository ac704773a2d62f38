//! `sluice run`: builds every pipeline from a checked config — store, data sources,
//! executors, deploy repos, Argo CD clients, policies — and runs the controller with
//! the HTTP endpoints until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

mod acting;
pub mod wiring;

use wiring::database_url;
pub use wiring::{PipelineBuilder, deploy_repo};

use crate::argocd::ArgoError;
use crate::config::LoadedConfig;
use crate::controller::{Context, Observer, Pipeline};
use crate::metrics::Metrics;
use crate::policy::{PolicyEngine, PolicyRegistry, RegistryError, RegistryNews};
use crate::secret::SecretError;
pub use crate::server::Role;
use crate::server::{self, Probe};
use crate::store::{Store, StoreError};
use acting::{Acting, CurrentResources, lead_when_elected, sync_uploads};

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
    /// The API server for `host.resources` cannot be reached or configured.
    #[error("host.resources: {message}")]
    Resources {
        /// Why.
        message: String,
    },
    /// The API server for `host.leader_election` cannot be reached or configured.
    #[error("host.leader_election: {0}")]
    LeaderElection(#[source] crate::leader::ElectionError),
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
    /// Wires pipelines; used again for `ModelPipeline` resources while the host runs.
    pub builder: Arc<PipelineBuilder>,
    /// The API server and the namespaces whose `ModelPipeline`s run, when configured.
    pub resources: Option<(kube::Client, Vec<String>)>,
    /// Leader election, when configured: the pipelines run only while this host leads.
    pub election: Option<crate::leader::Election>,
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
    let builder = PipelineBuilder::new(base.clone(), state_dir, store_url, Arc::clone(&metrics));
    for (i, pc) in loaded.config.pipelines.iter().enumerate() {
        pipelines.push(Arc::new(
            builder.build(pc, &format!("pipelines[{i}]")).await?,
        ));
    }
    let election = match &loaded.config.host.leader_election {
        None => None,
        Some(l) => Some(
            crate::leader::Election::connect(l, &base)
                .await
                .map_err(StartError::LeaderElection)?,
        ),
    };
    let resources = match &loaded.config.host.resources {
        None => None,
        Some(r) => {
            let kubeconfig = r.kubeconfig.as_ref().map(|k| base.join(k));
            let client = crate::kube_client::connect(kubeconfig.as_deref())
                .await
                .map_err(|message| StartError::Resources { message })?;
            Some((client, r.namespaces.clone()))
        }
    };
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
        builder: Arc::new(builder),
        resources,
        election,
    })
}

/// Runs `lp` with the HTTP endpoints on `listen` until SIGTERM/Ctrl-C or `stop`: its
/// pipelines at once, or — with leader election — while this host holds the lease.
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
    let (role_tx, role) = watch::channel(match lp.election {
        None => Role::Single,
        Some(_) => Role::Standby,
    });
    let server = tokio::spawn(server::serve(
        listener,
        Probe {
            metrics: Arc::clone(&lp.ctx.metrics),
            store: lp.ctx.store.clone(),
            admin: lp.admin.clone(),
            role,
        },
        rx.clone(),
    ));
    let watcher = if lp.policy_dir.is_dir() {
        Some(lp.ctx.registry.watch(rx.clone())?)
    } else {
        None
    };
    let acting = Acting {
        ctx: lp.ctx.clone(),
        pipelines: lp.pipelines,
        builder: lp.builder,
        resources: lp.resources,
        current: Arc::default(),
    };
    let news = tokio::spawn(tracing::Instrument::instrument(
        record_policy_news(
            lp.ctx.store.clone(),
            lp.policy_news,
            Arc::clone(&acting.current),
            rx.clone(),
        ),
        tracing::info_span!("policy-news"),
    ));
    let uploads = tokio::spawn(sync_uploads(
        lp.ctx.store.clone(),
        Arc::clone(&lp.ctx.registry),
        rx.clone(),
    ));
    let signals = tokio::spawn(async move {
        wait_for_stop(stop).await;
        tracing::info!("stopping: finishing the current step of each pipeline");
        let _ = tx.send(true);
    });
    match lp.election {
        None => acting.act(rx.clone()).await,
        Some(election) => lead_when_elected(&election, &acting, &role_tx, rx.clone()).await,
    }
    signals.abort();
    let _ = news.await;
    let _ = uploads.await;
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
    resources: CurrentResources,
    mut shutdown: watch::Receiver<bool>,
) {
    let record = async |n: RegistryNews| {
        let current = resources.read().await.clone();
        if let (RegistryNews::Refused(r), Some(res)) = (&n, current) {
            res.policy_refused(&r.module, &r.message).await;
        }
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
