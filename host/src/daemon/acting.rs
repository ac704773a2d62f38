//! What a host does while it may act — run the config file's pipelines and the
//! `ModelPipeline` resources — and, with leader election, the loop that lets it act
//! only while it holds the lease: on election it fences the store with its term and
//! starts everything; on losing the lease it stops everything (after each pipeline's
//! current tick) and stands by. Every host, leader or not, keeps its uploaded modules
//! in step with the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{RwLock, watch};

use super::PipelineBuilder;
use crate::controller::{Context, Pipeline, Supervisor};
use crate::leader::Election;
use crate::policy::PolicyRegistry;
use crate::resource::controller::Resources;
use crate::server::Role;
use crate::store::{Fence, Store};

/// How often every host compares its uploaded modules with the store's.
pub const UPLOAD_SYNC_EVERY: Duration = Duration::from_secs(10);

/// The resource controller of the current term, if any (policy refusals are told to it).
pub type CurrentResources = Arc<RwLock<Option<Arc<Resources>>>>;

/// Everything a host runs while it acts.
pub struct Acting {
    /// Shared context.
    pub ctx: Context,
    /// The config file's pipelines.
    pub pipelines: Vec<Arc<Pipeline>>,
    /// Wires resource pipelines.
    pub builder: Arc<PipelineBuilder>,
    /// The API server and namespaces of `ModelPipeline` resources, if configured.
    pub resources: Option<(kube::Client, Vec<String>)>,
    /// The resource controller of the current term.
    pub current: CurrentResources,
}

impl Acting {
    /// Runs every pipeline until `stop` turns true, then waits for each to finish its
    /// current tick.
    pub async fn act(&self, stop: watch::Receiver<bool>) {
        let supervisor = Arc::new(tokio::sync::Mutex::new(Supervisor::new(
            self.ctx.clone(),
            stop.clone(),
        )));
        let file_pipelines = self.pipelines.iter().map(|p| p.name.clone()).collect();
        for p in &self.pipelines {
            supervisor.lock().await.start(Arc::clone(p)).await;
        }
        let watching = self.resources.clone().map(|(client, namespaces)| {
            let r = Arc::new(Resources::new(
                client,
                Arc::clone(&self.ctx.registry),
                self.ctx.store.clone(),
                Arc::clone(&self.builder),
                Arc::clone(&supervisor),
                file_pipelines,
                std::env::var("POD_NAME").ok(),
            ));
            let task = tokio::spawn(tracing::Instrument::instrument(
                Arc::clone(&r).watch(namespaces, stop.clone()),
                tracing::info_span!("resources"),
            ));
            (r, task)
        });
        if let Some((r, _)) = &watching {
            *self.current.write().await = Some(Arc::clone(r));
        }
        let mut stopping = stop;
        while !*stopping.borrow() {
            if stopping.changed().await.is_err() {
                break;
            }
        }
        if let Some((_, task)) = watching {
            let _ = task.await;
        }
        *self.current.write().await = None;
        supervisor.lock().await.wait().await;
    }
}

/// Acts while `election` says this host leads, until `shutdown`.
pub async fn lead_when_elected(
    election: &Election,
    acting: &Acting,
    role: &watch::Sender<Role>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut leading, task) = election.run(shutdown.clone());
    'terms: loop {
        tracing::info!(identity = %election.identity, "standing by for the leader lease");
        while !*leading.borrow() {
            tokio::select! {
                changed = leading.changed() => if changed.is_err() { break 'terms },
                _ = shutdown.changed() => if *shutdown.borrow() { break 'terms },
            }
        }
        let term = match election.term().await {
            Ok(Some(t)) => t,
            Ok(None) | Err(_) => {
                // Not readable as ours yet: look again shortly.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        acting.ctx.store.set_fence(Fence {
            holder: election.identity.clone(),
            term,
        });
        sync_once(&acting.ctx.store, &acting.ctx.registry).await;
        tracing::info!(identity = %election.identity, term, "elected leader: running the pipelines");
        let _ = role.send(Role::Leader);
        acting
            .ctx
            .metrics
            .set(crate::metrics::names::LEADER, &[], 1);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut run = std::pin::pin!(acting.act(stop_rx));
        let ended = loop {
            tokio::select! {
                () = &mut run => break true,
                changed = leading.changed() => {
                    if changed.is_err() || !*leading.borrow() {
                        break false;
                    }
                }
                _ = shutdown.changed() => if *shutdown.borrow() { break false },
            }
        };
        if !ended {
            tracing::warn!(identity = %election.identity, "leader lease lost or shutting down: stopping every pipeline after its current step");
            let _ = stop_tx.send(true);
            run.await;
        }
        let _ = role.send(Role::Standby);
        acting
            .ctx
            .metrics
            .set(crate::metrics::names::LEADER, &[], 0);
        if *shutdown.borrow() {
            break;
        }
    }
    drop(leading);
    let _ = task.await;
}

/// Makes every stored upload live where its digest differs from the live module's
/// (an upload sent to another host), every [`UPLOAD_SYNC_EVERY`] until `shutdown`.
pub async fn sync_uploads(
    store: Store,
    registry: Arc<PolicyRegistry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(UPLOAD_SYNC_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => sync_once(&store, &registry).await,
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
    }
}

async fn sync_once(store: &Store, registry: &Arc<PolicyRegistry>) {
    let Ok(digests) = store.upload_digests().await else {
        return;
    };
    for (name, sha256) in digests {
        let live = registry.get(&name);
        // Live already, the directory's name, or refused here before: nothing to do
        // (a refusal is not compiled again every round).
        if live.as_ref().is_some_and(|a| a.module.sha256 == sha256)
            || live.is_some_and(|a| a.origin != crate::policy::Origin::Upload)
            || registry.already_refused(&name, &sha256)
        {
            continue;
        }
        let Ok(Some(upload)) = store.upload(&name).await else {
            continue;
        };
        let r = Arc::clone(registry);
        let installed =
            tokio::task::spawn_blocking(move || r.install(&upload.name, upload.wasm)).await;
        match installed {
            Ok(Ok(_)) => {
                tracing::info!(module = %name, %sha256, "an upload received by another host is live here too")
            }
            Ok(Err(e)) => {
                tracing::warn!(module = %name, error = %e, "an upload received by another host is refused here")
            }
            Err(e) => tracing::warn!(module = %name, error = %e, "checking an upload panicked"),
        }
    }
}
