//! Runs the `ModelPipeline` resources of the watched namespaces: kube's watcher feeds
//! [`Resources::apply`] and [`Resources::delete`], which start, replace and stop the
//! pipelines' tasks without a restart; each running resource gets a status writer
//! (after every tick) and an event publisher.
//!
//! A spec is checked like a pipeline of the config file ([`PipelineConfig::check`], then
//! its modules against the registry). A spec that fails is not run: its status says
//! `invalid` with the first located error and a `Degraded` condition, and the pipeline
//! it replaced (if any) stops. A name the config file (or another namespace) already
//! runs is such an error too.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource as _, ResourceExt as _};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;

use super::{ModelPipeline, ModelPipelineStatus, status};
use crate::clock::now_ms;
use crate::config::PipelineConfig;
use crate::controller::Supervisor;
use crate::controller::events::{EventSink, PipelineEvent};
use crate::daemon::PipelineBuilder;
use crate::policy::PolicyRegistry;
use crate::store::Store;

/// The field manager sluice's status writes carry.
pub const FIELD_MANAGER: &str = "sluice";

/// What the resource controller works with.
pub struct Resources {
    /// The API server.
    pub client: kube::Client,
    /// Live modules; resource pipelines' uses are added and removed here.
    pub registry: Arc<PolicyRegistry>,
    /// State, for the status.
    pub store: Store,
    /// Wires a checked spec.
    pub builder: Arc<PipelineBuilder>,
    /// The running pipelines (the config file's too).
    pub supervisor: Arc<Mutex<Supervisor>>,
    /// Names the config file defines.
    pub file_pipelines: BTreeSet<String>,
    /// Publishes Kubernetes Events.
    pub recorder: Recorder,
    managed: Mutex<HashMap<String, Managed>>,
}

/// One resource this host knows.
struct Managed {
    /// The pipeline name (the resource's name).
    name: String,
    /// The generation last acted on.
    generation: Option<i64>,
    /// Whether its pipeline runs (false: invalid).
    running: bool,
    /// The resource, as its Events name it.
    reference: ObjectReference,
    /// Its status writer and event publisher.
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Managed {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn key(mp: &ModelPipeline) -> String {
    format!("{}/{}", mp.namespace().unwrap_or_default(), mp.name_any())
}

impl Resources {
    /// A controller for resources; `instance` names this host in events (its pod).
    pub fn new(
        client: kube::Client,
        registry: Arc<PolicyRegistry>,
        store: Store,
        builder: Arc<PipelineBuilder>,
        supervisor: Arc<Mutex<Supervisor>>,
        file_pipelines: BTreeSet<String>,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: "sluice".into(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            registry,
            store,
            builder,
            supervisor,
            file_pipelines,
            managed: Mutex::new(HashMap::new()),
        }
    }

    /// Watches `namespaces` until `shutdown` turns true (kube's watcher, with its
    /// default backoff on errors). After every (re)list, a resource that is gone is
    /// stopped, since its deletion may have happened while the watch was down.
    pub async fn watch(
        self: Arc<Self>,
        namespaces: Vec<String>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        use kube::runtime::WatchStreamExt as _;
        let streams = namespaces.iter().map(|ns| {
            let api: Api<ModelPipeline> = Api::namespaced(self.client.clone(), ns);
            let ns = ns.clone();
            watcher(api, watcher::Config::default())
                .default_backoff()
                .map(move |e| (ns.clone(), e))
                .boxed()
        });
        let mut events = futures_util::stream::select_all(streams);
        let mut listing: HashMap<String, BTreeSet<String>> = HashMap::new();
        loop {
            let next = tokio::select! {
                n = events.next() => n,
                _ = shutdown.changed() => break,
            };
            let Some((ns, event)) = next else { break };
            match event {
                Ok(watcher::Event::Init) => {
                    listing.insert(ns, BTreeSet::new());
                }
                Ok(watcher::Event::InitApply(mp)) => {
                    listing.entry(ns).or_default().insert(key(&mp));
                    self.apply(&mp).await;
                }
                Ok(watcher::Event::InitDone) => {
                    let seen = listing.remove(&ns).unwrap_or_default();
                    let gone: Vec<String> = self
                        .managed
                        .lock()
                        .await
                        .keys()
                        .filter(|k| k.starts_with(&format!("{ns}/")) && !seen.contains(*k))
                        .cloned()
                        .collect();
                    for k in gone {
                        self.forget(&k).await;
                    }
                }
                Ok(watcher::Event::Apply(mp)) => self.apply(&mp).await,
                Ok(watcher::Event::Delete(mp)) => self.forget(&key(&mp)).await,
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e, "watching ModelPipelines failed; retrying with backoff");
                }
            }
        }
        let keys: Vec<String> = self.managed.lock().await.keys().cloned().collect();
        for k in keys {
            self.forget(&k).await;
        }
    }

    /// Acts on a created or changed resource: nothing when its spec's generation was
    /// acted on already (a status write, a label change), else check, wire and (re)start
    /// its pipeline — or report why not.
    pub async fn apply(&self, mp: &ModelPipeline) {
        let k = key(mp);
        let name = mp.name_any();
        let generation = mp.metadata.generation;
        if self
            .managed
            .lock()
            .await
            .get(&k)
            .is_some_and(|m| m.generation == generation && generation.is_some())
        {
            return;
        }
        match self.prepare(mp, &k, &name).await {
            Ok(pc) => self.start(mp, &k, pc).await,
            Err(problems) => self.refuse(mp, &k, &problems).await,
        }
    }

    /// The checked config of `mp`'s spec, with its uses registered.
    async fn prepare(
        &self,
        mp: &ModelPipeline,
        k: &str,
        name: &str,
    ) -> Result<PipelineConfig, Vec<(String, String)>> {
        if self.file_pipelines.contains(name) {
            return Err(vec![(
                "metadata.name".into(),
                format!(
                    "pipeline `{name}` is also defined in the config file; define it in one place"
                ),
            )]);
        }
        let taken = self
            .managed
            .lock()
            .await
            .iter()
            .find(|(other, m)| other.as_str() != k && m.name == name && m.running)
            .map(|(other, _)| other.clone());
        if let Some(other) = taken {
            return Err(vec![(
                "metadata.name".into(),
                format!(
                    "pipeline `{name}` already runs as {other}; pipeline names are unique across namespaces"
                ),
            )]);
        }
        let mut pc = mp.spec.clone();
        pc.name = name.to_owned();
        let check = pc.check();
        let located = |f: &str| {
            if f == "name" {
                "metadata.name".to_owned()
            } else {
                format!("spec.{f}")
            }
        };
        if !check.problems.is_empty() {
            return Err(check
                .problems
                .iter()
                .map(|(f, m)| (located(f), m.clone()))
                .collect());
        }
        let uses: Vec<_> = check
            .uses
            .into_iter()
            .map(|(f, u)| (located(&f), u))
            .collect();
        let registry = Arc::clone(&self.registry);
        let pipeline = name.to_owned();
        tokio::task::spawn_blocking(move || registry.set_uses(&pipeline, &uses))
            .await
            .map_err(|e| {
                vec![(
                    "spec.policies".to_owned(),
                    format!("checking the policies panicked: {e}"),
                )]
            })??;
        Ok(pc)
    }

    async fn start(&self, mp: &ModelPipeline, k: &str, pc: PipelineConfig) {
        let mut p = match self.builder.build(&pc, "spec").await {
            Ok(p) => p,
            Err(e) => {
                self.registry.remove_uses(&pc.name);
                let problem = ("spec".to_owned(), crate::error_chain(&e));
                return self.refuse(mp, k, &[problem]).await;
            }
        };
        let (ticked, ticks) = watch::channel(0u64);
        let (sink, queue) = EventSink::new(&pc.name);
        p.ticked = Some(ticked);
        p.events = Some(sink.clone());
        let generation = mp.metadata.generation;
        let restarted = self
            .managed
            .lock()
            .await
            .remove(k)
            .is_some_and(|m| m.running);
        self.supervisor.lock().await.start(Arc::new(p)).await;
        let api: Api<ModelPipeline> =
            Api::namespaced(self.client.clone(), &mp.namespace().unwrap_or_default());
        let writer = tokio::spawn(write_status(
            api,
            self.store.clone(),
            pc.name.clone(),
            generation,
            mp.status.clone(),
            ticks,
        ));
        let reference = mp.object_ref(&());
        let publisher = tokio::spawn(publish_events(
            self.recorder.clone(),
            reference.clone(),
            queue,
        ));
        sink.emit(PipelineEvent::started(&format!(
            "generation {} {}",
            generation.unwrap_or(0),
            if restarted {
                "applied; the pipeline restarted"
            } else {
                "started"
            }
        )));
        tracing::info!(resource = %k, generation, "ModelPipeline started");
        self.managed.lock().await.insert(
            k.to_owned(),
            Managed {
                name: pc.name,
                generation,
                running: true,
                reference,
                tasks: vec![writer, publisher],
            },
        );
    }

    /// Reports `problems` on `mp` and stops the pipeline it replaced, if any.
    async fn refuse(&self, mp: &ModelPipeline, k: &str, problems: &[(String, String)]) {
        let name = mp.name_any();
        let previous = self.managed.lock().await.remove(k);
        if previous.as_ref().is_some_and(|m| m.running) {
            self.supervisor.lock().await.stop(&name).await;
            self.registry.remove_uses(&name);
        }
        drop(previous);
        let text = status::describe(problems);
        tracing::warn!(resource = %k, problems = %text, "ModelPipeline refused; it does not run until its spec is fixed");
        let generation = mp.metadata.generation;
        let s = status::invalid(problems, generation, mp.status.as_ref(), now_ms());
        let api: Api<ModelPipeline> =
            Api::namespaced(self.client.clone(), &mp.namespace().unwrap_or_default());
        if let Err(e) = patch_status(&api, &name, &s).await {
            tracing::warn!(resource = %k, error = %e, "cannot write the ModelPipeline's status");
        }
        let reference = mp.object_ref(&());
        publish(&self.recorder, &PipelineEvent::invalid(&text), &reference).await;
        self.managed.lock().await.insert(
            k.to_owned(),
            Managed {
                name,
                generation,
                running: false,
                reference,
                tasks: Vec::new(),
            },
        );
    }

    /// Stops the pipeline of resource `k` (deleted, or gone from a relist).
    async fn forget(&self, k: &str) {
        let Some(m) = self.managed.lock().await.remove(k) else {
            return;
        };
        if m.running {
            self.supervisor.lock().await.stop(&m.name).await;
            self.registry.remove_uses(&m.name);
            tracing::info!(resource = %k, "ModelPipeline deleted; its pipeline stopped");
        }
    }

    /// Tells the resources using module `module` that new bytes for it were refused.
    pub async fn policy_refused(&self, module: &str, why: &str) {
        let users: Vec<String> = self
            .registry
            .get(module)
            .map(|a| a.params.keys().cloned().collect())
            .unwrap_or_default();
        let ev = PipelineEvent::policy_refused(module, why);
        let managed = self.managed.lock().await;
        for m in managed.values().filter(|m| users.contains(&m.name)) {
            publish(&self.recorder, &ev, &m.reference).await;
        }
    }
}

fn to_kube(e: &PipelineEvent) -> KubeEvent {
    KubeEvent {
        type_: if e.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: e.reason.to_owned(),
        note: Some(e.note.clone()),
        action: e.reason.to_owned(),
        secondary: None,
    }
}

/// Publishes `e` on `reference`; a failure is logged (an Event is worth no retry).
async fn publish(recorder: &Recorder, e: &PipelineEvent, reference: &ObjectReference) {
    if let Err(err) = recorder.publish(&to_kube(e), reference).await {
        let object = reference.name.as_deref().unwrap_or_default();
        tracing::warn!(%object, reason = e.reason, error = %err, "cannot publish a Kubernetes Event");
    }
}

async fn publish_events(
    recorder: Recorder,
    reference: ObjectReference,
    mut queue: mpsc::Receiver<PipelineEvent>,
) {
    while let Some(e) = queue.recv().await {
        publish(&recorder, &e, &reference).await;
    }
}

/// Writes the status after each tick when it changed.
async fn write_status(
    api: Api<ModelPipeline>,
    store: Store,
    name: String,
    generation: Option<i64>,
    mut last: Option<ModelPipelineStatus>,
    mut ticks: watch::Receiver<u64>,
) {
    loop {
        let state = match store.load_state(&name).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(pipeline = %name, error = %crate::error_chain(&e), "cannot read the pipeline's state for its status");
                None
            }
        };
        if let Some(state) = state {
            let decision = store
                .decisions(Some(&name), 1)
                .await
                .ok()
                .and_then(|d| d.into_iter().next())
                .map(|d| status::LastDecision {
                    reason: d.reason().unwrap_or_default(),
                    point: d.point,
                    outcome: d.outcome,
                    module_sha256: Some(d.module_sha256),
                    at: crate::clock::rfc3339(u64::try_from(d.decided_ms).unwrap_or(0)),
                });
            let next = status::running(&state, generation, last.as_ref(), decision, now_ms());
            if last.as_ref() != Some(&next) {
                match patch_status(&api, &name, &next).await {
                    Ok(()) => last = Some(next),
                    Err(e) => {
                        tracing::warn!(pipeline = %name, error = %e, "cannot write the ModelPipeline's status; trying again after the next tick");
                    }
                }
            }
        }
        if ticks.changed().await.is_err() {
            return;
        }
    }
}

/// Writes `s` as the whole status: a merge patch naming every field (absent ones as
/// `null`), so fields of an earlier phase do not linger.
async fn patch_status(
    api: &Api<ModelPipeline>,
    name: &str,
    s: &ModelPipelineStatus,
) -> Result<(), kube::Error> {
    let mut value = serde_json::to_value(s).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        for field in [
            "observedGeneration",
            "phase",
            "production",
            "candidate",
            "weight",
            "lastDecision",
            "error",
            "conditions",
        ] {
            map.entry(field).or_insert(serde_json::Value::Null);
        }
    }
    let patch = serde_json::json!({ "status": value });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}
