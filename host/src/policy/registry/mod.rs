//! The policy registry: modules loaded from a directory, checked before they go live,
//! swapped atomically while decisions run, and watched for changes — including the
//! atomic `..data` symlink swap Kubernetes uses for mounted ConfigMaps. Modules may
//! also be uploaded ([`upload`]); every way in passes the same checks.

pub mod pipelines;
pub mod upload;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock, Weak, mpsc};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc as async_mpsc, watch};

use super::check::{PolicyUse, check_use_timed};
use super::engine::{Build, PolicyEngine, Tier};
use super::error::{CheckError, LoadError};
use super::module::{PolicyModule, check_size, sha256_hex};
use crate::decision::Param;
use crate::metrics::{Metrics, names};

/// How long to wait after a change event for more events before rescanning.
pub const DEBOUNCE: Duration = Duration::from_millis(20);
/// Rescan interval that catches changes whose events were missed.
pub const FALLBACK_RESCAN: Duration = Duration::from_secs(10);
/// A swapped-in baseline build goes live only if each trial decision took at most this
/// share of its pipeline's deadline. A slower one — an interpreter on Winch code, where
/// a Python decision takes 50–100 ms — waits for its optimized build while the old
/// version keeps serving, so a swap never makes decisions miss their deadline.
pub const BASELINE_DEADLINE_SHARE: f64 = 0.25;

/// Whether a baseline build is too slow to serve, given each trial decision's time
/// and its pipeline's deadline (see [`BASELINE_DEADLINE_SHARE`]).
pub fn too_slow_for_baseline(trials: &[Trial]) -> bool {
    trials
        .iter()
        .any(|t| t.took.as_secs_f64() > t.deadline.as_secs_f64() * BASELINE_DEADLINE_SHARE)
}

/// One pipeline's trial decision during a module's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trial {
    /// How long it took, instantiation included.
    pub took: Duration,
    /// The pipeline's deadline per decision.
    pub deadline: Duration,
}

/// A module that passed every check, with the parameters resolved for each pipeline
/// that uses it. Replaced as a whole on swap; holders of an `Arc` keep the old one.
#[derive(Debug)]
pub struct ActivePolicy {
    /// The module.
    pub module: Arc<PolicyModule>,
    /// Resolved parameters by pipeline.
    pub params: HashMap<String, Vec<Param>>,
    /// Where its bytes came from.
    pub origin: Origin,
    /// When this version went live (Unix ms).
    pub loaded_ms: u64,
    /// How many times the name was swapped to new bytes since the process started.
    pub swaps: u64,
}

impl ActivePolicy {
    /// The same live module with `params` as its pipelines' parameters.
    fn with_params(&self, params: HashMap<String, Vec<Param>>) -> Self {
        Self {
            module: Arc::clone(&self.module),
            params,
            origin: self.origin,
            loaded_ms: self.loaded_ms,
            swaps: self.swaps,
        }
    }
}

/// Where a live module's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the binary (`stock:<name>`).
    Stock,
    /// The policy directory (`<name>.wasm`).
    Directory,
    /// The admin API (`PUT /v1/policies/{name}`), kept in the store.
    Upload,
}

impl Origin {
    /// The name shown by the API and `sluice status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Directory => "directory",
            Self::Upload => "upload",
        }
    }
}

/// A module file whose current bytes were refused. They are not compiled or checked
/// again until the file's bytes change; the previous version stays live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Module name (the file name without `.wasm`).
    pub module: String,
    /// sha256 of the refused bytes.
    pub sha256: String,
    /// Stable label of the reason.
    pub reason: &'static str,
    /// The reason, at most [`REFUSAL_MESSAGE_BYTES`] (it may quote the module).
    pub message: String,
    /// When (Unix ms).
    pub at_ms: u64,
}

/// Longest refusal message kept and logged, in bytes.
pub const REFUSAL_MESSAGE_BYTES: usize = 2048;

/// What the registry tells its observer (the daemon records it in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryNews {
    /// A module file's bytes were refused.
    Refused(Refusal),
    /// A version of `module` went live.
    Live {
        /// Module name.
        module: String,
        /// Its digest.
        sha256: String,
    },
}

/// Receives [`RegistryNews`]; called on the rescanning thread, so it must not block.
pub type RegistryObserver = Arc<dyn Fn(RegistryNews) + Send + Sync>;

/// The outcome of one directory scan.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Modules that went live (new or changed).
    pub swapped: Vec<String>,
    /// Modules refused, with why; the previous version (if any) stays active.
    pub refused: Vec<(String, CheckError)>,
    /// Swapped modules running baseline code whose optimized build is being compiled
    /// in the background; it replaces them when it is ready and has passed the same checks.
    pub upgrading: Vec<String>,
    /// Modules whose checks failed for want of a host resource (the instance pool
    /// exhausted, an operating-system error): not refused, tried again at the next
    /// rescan; the previous version stays active meanwhile.
    pub retrying: Vec<(String, CheckError)>,
}

/// Errors opening a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The directory cannot be read.
    #[error("cannot read the policy directory {}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A module failed its checks at start-up.
    #[error("policy module `{module}` is not usable")]
    Module {
        /// The module name.
        module: String,
        /// Why.
        #[source]
        source: CheckError,
    },
    /// A pipeline names a module the directory does not hold.
    #[error("pipeline `{pipeline}` uses policy module `{module}`, but {} has no `{module}.wasm` and no module of that name was uploaded", dir.display())]
    Missing {
        /// The pipeline.
        pipeline: String,
        /// The module name.
        module: String,
        /// The directory.
        dir: PathBuf,
    },
    /// The directory watcher could not start.
    #[error("cannot watch the policy directory {}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: notify::Error,
    },
}

/// Policy modules by name, hot-swappable.
pub struct PolicyRegistry {
    engine: Arc<PolicyEngine>,
    dir: PathBuf,
    uses: RwLock<Vec<PolicyUse>>,
    active: RwLock<HashMap<String, Arc<ActivePolicy>>>,
    metrics: Arc<Metrics>,
    /// The queue of the one background thread that compiles optimized builds, one at a
    /// time (Cranelift already uses every core per module); started on first use.
    upgrades: OnceLock<mpsc::Sender<Upgrade>>,
    /// Files whose current bytes were refused, by module name.
    refused: std::sync::Mutex<HashMap<String, Refusal>>,
    observer: OnceLock<RegistryObserver>,
}

/// A module live on baseline code whose optimized build is wanted.
struct Upgrade {
    name: String,
    path: PathBuf,
    sha256: String,
    bytes: Vec<u8>,
}

impl PolicyRegistry {
    /// Loads every `*.wasm` in `dir` and every stock module (`stock:<name>`) the `uses`
    /// name, and checks each against the `uses` that name it. `dir` may be absent when
    /// only stock modules are used.
    ///
    /// # Errors
    /// Any module failing its checks, or a used module missing: at start-up a bad
    /// policy stops the host, so it fails at deploy time and not at 3 a.m.
    pub fn open(
        engine: Arc<PolicyEngine>,
        dir: &Path,
        uses: Vec<PolicyUse>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, RegistryError> {
        Self::open_with_uploads(engine, dir, uses, Vec::new(), metrics)
    }

    /// [`open`](Self::open), also loading the modules uploaded earlier (name and bytes,
    /// as the store keeps them). The directory wins a name both hold: its file is
    /// loaded and the upload is ignored, with a warning.
    ///
    /// # Errors
    /// As [`open`](Self::open); a stored upload that fails its checks stops the start
    /// like a bad file does.
    pub fn open_with_uploads(
        engine: Arc<PolicyEngine>,
        dir: &Path,
        uses: Vec<PolicyUse>,
        uploads: Vec<(String, Vec<u8>)>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, RegistryError> {
        let registry = Self {
            engine,
            dir: dir.to_owned(),
            uses: RwLock::new(uses),
            active: RwLock::new(HashMap::new()),
            metrics,
            upgrades: OnceLock::new(),
            refused: std::sync::Mutex::new(HashMap::new()),
            observer: OnceLock::new(),
        };
        // Every module to load: the stock ones the uses name (embedded in the binary,
        // they never change while it runs) and the directory's.
        let mut sources: Vec<(String, PathBuf, Cow<'static, [u8]>, Origin)> = Vec::new();
        for u in registry.uses().iter() {
            let Some(found) = crate::stock::resolve(&u.module) else {
                continue;
            };
            if sources.iter().any(|(name, ..)| *name == u.module) {
                continue;
            }
            let stock = found.map_err(|e| RegistryError::Module {
                module: u.module.clone(),
                source: CheckError::Load(e.into_load_error(&u.module)),
            })?;
            sources.push((
                u.module.clone(),
                PathBuf::from(&u.module),
                Cow::Borrowed(stock.wasm),
                Origin::Stock,
            ));
        }
        let needs_dir = registry
            .uses()
            .iter()
            .any(|u| !crate::stock::is_reference(&u.module));
        if needs_dir || registry.dir.is_dir() {
            for (name, path) in registry.list()? {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                check_size(&registry.engine, &path.display().to_string(), size).map_err(|e| {
                    RegistryError::Module {
                        module: name.clone(),
                        source: CheckError::Load(e),
                    }
                })?;
                let bytes = std::fs::read(&path).map_err(|source| RegistryError::Module {
                    module: name.clone(),
                    source: CheckError::Load(LoadError::Read {
                        source_name: path.display().to_string(),
                        source,
                    }),
                })?;
                sources.push((name, path, Cow::Owned(bytes), Origin::Directory));
            }
        }
        for (name, bytes) in uploads {
            if sources.iter().any(|(n, ..)| *n == name) {
                tracing::warn!(module = %name, dir = %registry.dir.display(), "an uploaded policy module has the name of a file in the policy directory; the file wins and the upload is ignored");
                continue;
            }
            sources.push((
                name.clone(),
                upload::source_path(&name),
                Cow::Owned(bytes),
                Origin::Upload,
            ));
        }
        for (name, path, bytes, origin) in sources {
            let mut active = registry
                .load_checked(&name, &path, &bytes, sha256_hex(&bytes), Build::Optimized)
                .map_err(|source| RegistryError::Module {
                    module: name.clone(),
                    source,
                })?
                .0;
            active.origin = origin;
            registry.write().insert(name, Arc::new(active));
        }
        for u in registry.uses().iter() {
            if !registry.read().contains_key(&u.module) {
                return Err(RegistryError::Missing {
                    pipeline: u.pipeline.clone(),
                    module: u.module.clone(),
                    dir: registry.dir.clone(),
                });
            }
        }
        Ok(Arc::new(registry))
    }

    /// The live version of module `name`. Keep the `Arc` for the whole decision: a
    /// swap during it does not affect it.
    pub fn get(&self, name: &str) -> Option<Arc<ActivePolicy>> {
        self.read().get(name).cloned()
    }

    /// Files whose current bytes are refused, by module name.
    pub fn refusals(&self) -> Vec<Refusal> {
        let mut v: Vec<Refusal> = self.refused().values().cloned().collect();
        v.sort_by(|a, b| a.module.cmp(&b.module));
        v
    }

    /// Sets who hears of refusals and swaps (once; later calls are ignored).
    pub fn set_observer(&self, observer: RegistryObserver) {
        let _ = self.observer.set(observer);
    }

    fn tell(&self, news: RegistryNews) {
        if let Some(o) = self.observer.get() {
            o(news);
        }
    }

    /// Frees the compiled code of a replaced module unless another name still uses it
    /// (decisions in flight keep what they hold until they finish).
    fn retire(&self, sha256: &str) {
        if !self.read().values().any(|a| a.module.sha256 == sha256) {
            self.engine.retire(sha256);
        }
    }

    /// Whether the bytes with digest `identity` were refused as module `name` (and
    /// nothing went live under the name since): a caller offering them again — a
    /// rescan of the same file, a stored upload — skips them.
    pub fn already_refused(&self, name: &str, identity: &str) -> bool {
        self.refused()
            .get(name)
            .is_some_and(|r| r.sha256 == identity)
    }

    fn refused(&self) -> std::sync::MutexGuard<'_, HashMap<String, Refusal>> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names of the loaded modules.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read().keys().cloned().collect();
        v.sort();
        v
    }

    /// Rescans the directory: changed modules are checked and swapped in; failures
    /// are refused, logged and counted, and the old version stays. A module new to
    /// the process goes live with baseline code, and a background thread swaps in
    /// its optimized build when that is compiled and checked.
    pub fn rescan(self: &Arc<Self>) -> ScanReport {
        let mut report = ScanReport::default();
        let entries = match self.list() {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "policy rescan failed; keeping every active module");
                return report;
            }
        };
        for (name, path) in entries {
            let current = self.get(&name).map(|a| a.module.sha256.clone());
            // A file may vanish between listing and reading during a swap; the next
            // event rescans. A file over the size limit is refused unread.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if let Err(too_large) =
                check_size(&self.engine, &path.display().to_string(), meta.len())
            {
                // Not hashed (that means reading it): its size and time stand in.
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                let identity = format!("unread:{}:{modified}", meta.len());
                self.refuse(&name, identity, CheckError::Load(too_large), &mut report);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let sha256 = sha256_hex(&bytes);
            if current.as_ref() == Some(&sha256) {
                continue;
            }
            // Refused bytes are tried again only when they change: a module that runs
            // to its deadline in the trial must not keep a core busy, nor the log full.
            if self.already_refused(&name, &sha256) {
                continue;
            }
            match self.swap_in(&name, &path, bytes, &sha256, Origin::Directory) {
                Ok(upgrading) => {
                    if upgrading {
                        report.upgrading.push(name.clone());
                    }
                    report.swapped.push(name);
                }
                Err(e) if e.is_transient() => {
                    // Not the module's fault: try the same bytes at the next rescan
                    // (at most every FALLBACK_RESCAN) rather than refuse them for good.
                    let message =
                        crate::decision::excerpt(&crate::error_chain(&e), REFUSAL_MESSAGE_BYTES);
                    tracing::warn!(module = %name, %sha256, error = %message, "policy module could not be checked for want of a host resource; the previous version stays active and the swap is tried again at the next rescan");
                    self.metrics.inc(
                        names::POLICY_REFUSALS,
                        &[("module", &name), ("reason", "transient")],
                    );
                    report.retrying.push((name, e));
                }
                Err(e) => self.refuse(&name, sha256, e, &mut report),
            }
        }
        report
    }

    /// Checks `bytes` (digest `sha256`) as the new version of `name` and, when they
    /// pass, puts them live atomically: counted, told to the observer, any refusal of
    /// the name cleared, and an optimized build queued when they went live on baseline
    /// code. Returns whether that upgrade was queued. On error nothing changed.
    fn swap_in(
        self: &Arc<Self>,
        name: &str,
        path: &Path,
        bytes: Vec<u8>,
        sha256: &str,
        origin: Origin,
    ) -> Result<bool, CheckError> {
        let mut active = self.load_for_swap(name, path, &bytes, sha256)?;
        active.origin = origin;
        let module = Arc::clone(&active.module);
        let (tier, optimizable) = (module.tier, module.optimizable);
        tracing::info!(module = %name, sha256 = %module.sha256, origin = origin.as_str(), ?tier, load_ms = module.load_time.as_secs_f64() * 1e3, "policy module swapped in");
        self.metrics.inc(names::POLICY_SWAPS, &[("module", name)]);
        let replaced = {
            let mut live = self.write();
            active.swaps = live.get(name).map_or(0, |old| old.swaps + 1);
            live.insert(name.to_owned(), Arc::new(active))
        };
        if let Some(old) = replaced {
            self.retire(&old.module.sha256);
        }
        if self.refused().remove(name).is_some() {
            self.metrics
                .set(names::POLICY_REFUSED, &[("module", name)], 0);
        }
        self.tell(RegistryNews::Live {
            module: name.to_owned(),
            sha256: sha256.to_owned(),
        });
        let upgrading = tier == Tier::Baseline && optimizable;
        if upgrading {
            self.queue_upgrade(name, path, sha256, bytes);
        }
        Ok(upgrading)
    }

    /// Refuses the file of `name` whose bytes are `sha256` (or, for a file too large to
    /// read, its size and time): logged and counted once, remembered so those bytes
    /// are not tried again, reported to the observer.
    fn refuse(&self, name: &str, sha256: String, e: CheckError, report: &mut ScanReport) {
        if self.already_refused(name, &sha256) {
            return;
        }
        let message = crate::decision::excerpt(&crate::error_chain(&e), REFUSAL_MESSAGE_BYTES);
        tracing::error!(module = %name, %sha256, reason = e.label(), error = %message, "policy module refused; the previous version stays active, and these bytes are not tried again until the file changes");
        self.record_refusal(name, sha256, &e, message);
        report.refused.push((name.to_owned(), e));
    }

    /// Counts a refusal, remembers it for `sluice status` and tells the observer.
    fn record_refusal(&self, name: &str, sha256: String, e: &CheckError, message: String) {
        self.metrics.inc(
            names::POLICY_REFUSALS,
            &[("module", name), ("reason", e.label())],
        );
        self.metrics
            .set(names::POLICY_REFUSED, &[("module", name)], 1);
        let refusal = Refusal {
            module: name.to_owned(),
            sha256,
            reason: e.label(),
            message,
            at_ms: crate::clock::now_ms(),
        };
        self.refused().insert(name.to_owned(), refusal.clone());
        self.tell(RegistryNews::Refused(refusal));
    }

    /// Watches the directory and rescans on change until `shutdown` turns true.
    ///
    /// # Errors
    /// When the watcher cannot be set up.
    pub fn watch(
        self: &Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<tokio::task::JoinHandle<()>, RegistryError> {
        let (tx, mut rx) = async_mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
                let _ = tx.send(());
            })
            .map_err(|source| RegistryError::Watch {
                path: self.dir.clone(),
                source,
            })?;
        watcher
            .watch(&self.dir, RecursiveMode::NonRecursive)
            .map_err(|source| RegistryError::Watch {
                path: self.dir.clone(),
                source,
            })?;
        let registry = Arc::clone(self);
        let span = tracing::info_span!("policy-watch", dir = %self.dir.display());
        let task = async move {
            let _watcher = watcher; // dropped (and stopped) when the task ends
            let mut fallback = tokio::time::interval(FALLBACK_RESCAN);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    Some(()) = rx.recv() => {
                        tokio::time::sleep(DEBOUNCE).await;
                        while rx.try_recv().is_ok() {}
                    }
                    _ = fallback.tick() => {}
                }
                let r = Arc::clone(&registry);
                if tokio::task::spawn_blocking(move || r.rescan())
                    .await
                    .is_err()
                {
                    tracing::error!("policy rescan panicked; keeping every active module");
                }
            }
        };
        Ok(tokio::spawn(tracing::Instrument::instrument(task, span)))
    }

    /// Queues the optimized build of module `name`, live on baseline code as `sha256`.
    fn queue_upgrade(self: &Arc<Self>, name: &str, path: &Path, sha256: &str, bytes: Vec<u8>) {
        let job = Upgrade {
            name: name.to_owned(),
            path: path.to_owned(),
            sha256: sha256.to_owned(),
            bytes,
        };
        let queued = self
            .upgrades
            .get_or_init(|| start_upgrader(Arc::downgrade(self)))
            .send(job);
        if queued.is_err() {
            tracing::warn!(module = %name, "the optimizing compiler thread is gone; the module keeps running baseline code");
        }
    }

    /// Compiles the optimized build of `job`, checks it like any swap, and replaces the
    /// live baseline build with it — unless the module changed again meanwhile (then
    /// nothing is compiled). Returns whether it replaced it.
    fn upgrade(&self, job: &Upgrade) -> bool {
        let still_baseline = |active: &HashMap<String, Arc<ActivePolicy>>| {
            active
                .get(&job.name)
                .is_some_and(|a| a.module.sha256 == job.sha256 && a.module.tier == Tier::Baseline)
        };
        if !still_baseline(&self.read()) {
            return false;
        }
        let optimized = match self.load_checked(
            &job.name,
            &job.path,
            &job.bytes,
            job.sha256.clone(),
            Build::Optimized,
        ) {
            Ok((active, _)) => active,
            Err(e) => {
                // The same module passed these checks as baseline code; failing now
                // means the two compilers disagree. Keep what runs and say so.
                tracing::error!(module = %job.name, reason = e.label(), error = %e, "the optimized build of a policy module failed its checks; the baseline build stays active");
                self.metrics.inc(
                    names::POLICY_REFUSALS,
                    &[("module", &job.name), ("reason", e.label())],
                );
                return false;
            }
        };
        let mut active = self.write();
        let replace = still_baseline(&active);
        if !replace {
            // Replaced while it compiled: its optimized build is wanted by no one.
            drop(active);
            self.retire(&job.sha256);
            return false;
        }
        tracing::info!(module = %job.name, sha256 = %job.sha256, load_ms = optimized.module.load_time.as_secs_f64() * 1e3, "policy module now runs optimized code");
        let mut optimized = optimized;
        if let Some(baseline) = active.get(&job.name) {
            // The same version on better code: where it came from, when it went live
            // and the swap count stay.
            optimized.origin = baseline.origin;
            optimized.loaded_ms = baseline.loaded_ms;
            optimized.swaps = baseline.swaps;
        }
        active.insert(job.name.clone(), Arc::new(optimized));
        self.metrics
            .inc(names::POLICY_UPGRADES, &[("module", &job.name)]);
        true
    }

    /// Loads and checks a changed module for a swap: its baseline build unless an
    /// optimized one is at hand, or its optimized build when the baseline build's
    /// trial decisions were too slow for their deadlines (the caller's live version
    /// serves meanwhile).
    fn load_for_swap(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<ActivePolicy, CheckError> {
        let (quick, trials) =
            self.load_checked(name, path, bytes, sha256.to_owned(), Build::Quick)?;
        let module = &quick.module;
        if module.tier != Tier::Baseline || !module.optimizable || !too_slow_for_baseline(&trials) {
            return Ok(quick);
        }
        let slowest = trials.iter().max_by_key(|t| t.took).copied();
        tracing::info!(
            module = %name,
            trial_ms = slowest.map_or(0.0, |t| t.took.as_secs_f64() * 1e3),
            deadline_ms = slowest.map_or(0.0, |t| t.deadline.as_secs_f64() * 1e3),
            "baseline code decides too slowly for this module's deadline; the live version serves until the optimized build is compiled and checked"
        );
        drop(quick);
        self.metrics
            .inc(names::POLICY_BASELINE_SKIPPED, &[("module", name)]);
        Ok(self
            .load_checked(name, path, bytes, sha256.to_owned(), Build::Optimized)?
            .0)
    }

    fn load_checked(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        sha256: String,
        build: Build,
    ) -> Result<(ActivePolicy, Vec<Trial>), CheckError> {
        let uses: Vec<PolicyUse> = self
            .uses()
            .iter()
            .filter(|u| u.module == name)
            .cloned()
            .collect();
        let expected = uses.first().map(|u| u.point);
        let module = PolicyModule::load_hashed(
            &self.engine,
            &path.display().to_string(),
            bytes,
            sha256,
            expected,
            build,
        )?;
        if let Some(old) = self.get(name)
            && old.module.point != module.point
        {
            return Err(CheckError::Load(LoadError::WrongWorld {
                source_name: module.source.clone(),
                expected: old.module.point,
                found: module.point,
            }));
        }
        let mut params = HashMap::new();
        let mut trials = Vec::new();
        for u in &uses {
            let (resolved, took) = check_use_timed(&self.engine, &module, u)?;
            params.insert(u.pipeline.clone(), resolved);
            trials.push(Trial {
                took,
                deadline: u.limits.deadline(),
            });
        }
        let active = ActivePolicy {
            module,
            params,
            origin: Origin::Directory,
            loaded_ms: crate::clock::now_ms(),
            swaps: 0,
        };
        Ok((active, trials))
    }

    /// `(name, path)` of every `*.wasm` entry, skipping Kubernetes' `..data` entries.
    fn list(&self) -> Result<Vec<(String, PathBuf)>, RegistryError> {
        let read_err = |source| RegistryError::ReadDir {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if file_name.starts_with("..") {
                continue;
            }
            if let Some(stem) = file_name.strip_suffix(".wasm") {
                out.push((stem.to_owned(), entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    fn uses(&self) -> std::sync::RwLockReadGuard<'_, Vec<PolicyUse>> {
        self.uses.read().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<ActivePolicy>>> {
        self.active.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<ActivePolicy>>> {
        self.active.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the thread that works through the upgrade queue; it ends with the registry.
fn start_upgrader(registry: Weak<PolicyRegistry>) -> mpsc::Sender<Upgrade> {
    let (tx, rx) = mpsc::channel::<Upgrade>();
    let spawned = std::thread::Builder::new()
        .name("sluice-policy-upgrade".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                let Some(registry) = registry.upgrade() else {
                    break;
                };
                registry.upgrade(&job);
            }
        });
    if let Err(e) = spawned {
        // The receiver is dropped with the closure, so every send reports the failure.
        tracing::warn!(error = %e, "cannot start the optimizing compiler thread");
    }
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(took_ms: u64, deadline_ms: u64) -> Trial {
        Trial {
            took: Duration::from_millis(took_ms),
            deadline: Duration::from_millis(deadline_ms),
        }
    }

    #[test]
    fn a_baseline_build_serves_unless_a_trial_took_over_a_quarter_of_its_deadline() {
        assert!(
            !too_slow_for_baseline(&[]),
            "no pipeline uses it: nothing to miss"
        );
        assert!(!too_slow_for_baseline(&[trial(1, 100)]));
        assert!(
            !too_slow_for_baseline(&[trial(25, 100)]),
            "exactly a quarter"
        );
        assert!(too_slow_for_baseline(&[trial(26, 100)]));
        // Python on Winch code beside a pipeline with a relaxed deadline: each
        // pipeline's own deadline counts, and the tightest decides.
        assert!(!too_slow_for_baseline(&[trial(80, 5_000)]));
        assert!(too_slow_for_baseline(&[trial(80, 5_000), trial(80, 100)]));
    }
}
