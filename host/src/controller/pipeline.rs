//! What the controller needs to run one pipeline and what it shares between pipelines.

use std::sync::Arc;
use std::time::Duration;

use crate::argocd::ArgoCd;
use crate::datasource::DataSource;
use crate::decision::{ModelReport, PromotionFailSafe, RetrainFailSafe};
use crate::executor::Executor;
use crate::gitops::DeployRepo;
use crate::metrics::Metrics;
use crate::policy::{Limits, PolicyEngine, PolicyRegistry};
use crate::store::Store;

/// Which module decides at one point, under which limits, with which fail-safe.
#[derive(Debug, Clone)]
pub struct PolicySlot<F> {
    /// Registry name (`<name>` from the policy directory, or `stock:<name>`).
    pub module: String,
    /// Limits per call.
    pub limits: Limits,
    /// Answer when the policy fails.
    pub fail_safe: F,
}

/// The Argo CD application of a pipeline.
#[derive(Debug, Clone)]
pub struct ArgoTarget {
    /// The client.
    pub client: ArgoCd,
    /// Application name.
    pub application: String,
    /// Ask for a hard refresh after the push.
    pub refresh: bool,
    /// Ask for a sync to the pushed revision.
    pub sync: bool,
    /// How long to wait for Synced + Healthy.
    pub timeout: Duration,
}

/// Where a pushed commit is in Argo CD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgoProgress {
    /// The refresh and sync were requested just now.
    Requested,
    /// The application runs the commit, Synced and Healthy.
    Done(String),
    /// Not yet; the application's status.
    Waiting(String),
    /// Not within the timeout; why, with the last status seen.
    TimedOut(String),
}

impl ArgoTarget {
    /// One look at `commit`, pushed at `pushed_ms`: when the sync was not `requested`
    /// yet, request it (a hard refresh first when configured); else read the status.
    ///
    /// # Errors
    /// Argo CD unreachable or answering with an error.
    pub async fn progress(
        &self,
        commit: &str,
        pushed_ms: u64,
        requested: bool,
        now_ms: u64,
    ) -> Result<ArgoProgress, crate::argocd::ArgoError> {
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        if now_ms.saturating_sub(pushed_ms) > timeout_ms {
            let last = self
                .client
                .status(&self.application, false)
                .await
                .map(|s| s.summary())
                .unwrap_or_else(|e| e.to_string());
            return Ok(ArgoProgress::TimedOut(format!(
                "Argo CD did not report application `{}` Synced and Healthy at {commit} within {}s (last seen: {last})",
                self.application,
                self.timeout.as_secs()
            )));
        }
        if !requested {
            if self.refresh {
                self.client.status(&self.application, true).await?;
            }
            if self.sync {
                self.client.sync(&self.application, commit).await?;
            }
            crate::failpoint::hit("after-sync-request");
            return Ok(ArgoProgress::Requested);
        }
        let status = self.client.status(&self.application, false).await?;
        Ok(if status.is_done(commit) {
            ArgoProgress::Done(format!("`{}` {}", self.application, status.summary()))
        } else {
            ArgoProgress::Waiting(format!("`{}`: {}", self.application, status.summary()))
        })
    }
}

/// One pipeline, wired.
pub struct Pipeline {
    /// Name.
    pub name: String,
    /// Data source.
    pub data: DataSource,
    /// Executor.
    pub executor: Arc<dyn Executor>,
    /// Deploy repository.
    pub repo: DeployRepo,
    /// Argo CD, if configured.
    pub argo: Option<ArgoTarget>,
    /// Time between ticks.
    pub interval: Duration,
    /// Production model at first start.
    pub production: Option<ModelReport>,
    /// The retrain policy.
    pub retrain: PolicySlot<RetrainFailSafe>,
    /// The promotion policy.
    pub promotion: PolicySlot<PromotionFailSafe>,
    /// The progressive rollout after promotion, if configured.
    pub rollout: Option<crate::rollout::RolloutPlan>,
    /// The webhook, if configured.
    pub notifier: Option<crate::notify::Notifier>,
    /// Bumped after every tick, for a status writer to look at the state.
    pub ticked: Option<tokio::sync::watch::Sender<u64>>,
    /// Where the pipeline's events go (Kubernetes Events on its `ModelPipeline`).
    pub events: Option<crate::controller::events::EventSink>,
}

impl Pipeline {
    /// Queues a notification (when a webhook is configured); never waits.
    pub fn notify(
        &self,
        event: crate::notify::Kind,
        version: &str,
        weight: Option<u8>,
        reason: Option<&str>,
        text: String,
    ) {
        if let Some(e) = &self.events {
            e.emit(crate::controller::events::PipelineEvent::of(
                event, reason, &text,
            ));
        }
        if let Some(n) = &self.notifier {
            n.send(crate::notify::Notification {
                text: format!("{}: {text}", self.name),
                pipeline: self.name.clone(),
                event,
                version: version.to_owned(),
                weight,
                reason: reason.map(str::to_owned),
            });
        }
    }
}

/// A message about a pipeline's progress, for a human watching (`sluice demo`).
pub type Observer = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// What every pipeline shares.
#[derive(Clone)]
pub struct Context {
    /// sluice's store.
    pub store: Store,
    /// The WebAssembly engine.
    pub engine: Arc<PolicyEngine>,
    /// Live policy modules.
    pub registry: Arc<PolicyRegistry>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Narration callback.
    pub observer: Option<Observer>,
}

impl Context {
    /// Logs `message` about `pipeline` and tells the observer.
    pub fn note(&self, pipeline: &str, message: &str) {
        tracing::info!(pipeline, "{message}");
        if let Some(o) = &self.observer {
            o(pipeline, message);
        }
    }
}
