//! The process-wide WebAssembly engines: an optimizing one (Cranelift, pooling
//! allocator) that runs policies in the steady state and a baseline one (Winch) that
//! compiles several times faster so a swapped module goes live quickly while the
//! optimized code is compiled in the background; one [`Linker`] per engine holding
//! WASI and the host imports; the epoch ticker; and the compilation cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy,
};

use super::bindings::retrain_world::sluice::policy::{log, types};
use super::error::{BoxedError, EngineError};
use super::limits::MAX_MEMORY_BYTES;
use super::sandbox::HostState;

/// How often the epoch advances; deadlines are rounded up to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Decisions that may run at the same time with the pooling allocator.
pub const POOL_CONCURRENT_DECISIONS: u32 = 64;

/// Core module instances one component may hold with the pooling allocator. A Rust
/// policy has 1–3; componentize-py's default build 14 and its `--stub-wasi` build 38
/// (each WASI stub is an instance), so 64 leaves room for a Python policy's own
/// dependencies. A slot is bookkeeping, not memory: the linear memories are limited
/// separately (4 per component).
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;

/// Default [`EngineSettings::keep_resident_bytes`]: 4 MiB.
pub const DEFAULT_KEEP_RESIDENT_BYTES: u64 = 4 << 20;

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Where compiled modules are kept between runs, keyed by module sha256 and the
    /// engine's compatibility hash. `None` keeps them in memory only. The directory
    /// must be writable by sluice alone: its files are loaded as native code.
    pub cache_dir: Option<PathBuf>,
    /// Use on-demand allocation instead of the pooling allocator (for hosts that
    /// cannot reserve the pool's virtual memory).
    pub on_demand_allocator: bool,
    /// Compile swapped-in modules with the optimizing compiler only. By default a
    /// module new to the process is first compiled with the baseline compiler (Winch,
    /// several times faster to compile, slower to run), goes live, and is replaced
    /// by its optimized build as soon as that is ready.
    pub single_tier: bool,
    /// Largest module file taken, in bytes; larger ones are refused before anything
    /// is compiled. Default [`DEFAULT_MAX_MODULE_BYTES`].
    pub max_module_bytes: u64,
    /// Modules with more function-body bytes than this run baseline code only: the
    /// optimizing compiler's time and memory grow faster than a module's size.
    /// Default [`DEFAULT_MAX_OPTIMIZED_CODE_BYTES`].
    pub max_optimized_code_bytes: u64,
    /// Modules with more functions than this run baseline code only. Default
    /// [`DEFAULT_MAX_OPTIMIZED_FUNCTIONS`].
    pub max_optimized_functions: u64,
    /// Bytes at the start of each pooled linear memory and table whose pages stay
    /// resident between decisions: the pages a decision dirtied there are reset by
    /// copying the original contents back, so the next decision finds them mapped;
    /// beyond it they are given back to the kernel and fault in again. More trades
    /// memory per pooled instance for fewer page faults (an interpreter's snapshot heap
    /// is 9–13 MB). Default [`DEFAULT_KEEP_RESIDENT_BYTES`].
    pub keep_resident_bytes: u64,
}

/// Default [`EngineSettings::max_module_bytes`]: 64 MiB (a Python policy built with
/// componentize-py is 12–18 MB).
pub const DEFAULT_MAX_MODULE_BYTES: u64 = 64 << 20;
/// Default [`EngineSettings::max_optimized_code_bytes`]: 16 MiB.
pub const DEFAULT_MAX_OPTIMIZED_CODE_BYTES: u64 = 16 << 20;
/// Default [`EngineSettings::max_optimized_functions`].
pub const DEFAULT_MAX_OPTIMIZED_FUNCTIONS: u64 = 40_000;
/// A function body larger than this sends its module to baseline code only: the
/// optimizing compiler is superlinear in a function's size (a 7 MB function took it
/// tens of seconds).
pub const MAX_OPTIMIZED_FUNCTION_BYTES: u64 = 512 << 10;

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            cache_dir: None,
            on_demand_allocator: false,
            single_tier: false,
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_optimized_code_bytes: DEFAULT_MAX_OPTIMIZED_CODE_BYTES,
            max_optimized_functions: DEFAULT_MAX_OPTIMIZED_FUNCTIONS,
            keep_resident_bytes: DEFAULT_KEEP_RESIDENT_BYTES,
        }
    }
}

impl EngineSettings {
    /// What is wrong with the settings, as `(field, message)` pairs.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.max_module_bytes < 1 << 20 {
            out.push((
                "max_module_bytes".to_owned(),
                format!(
                    "{} is below 1 MiB (1048576); even the stock policies would be refused",
                    self.max_module_bytes
                ),
            ));
        }
        for (field, value) in [
            ("max_optimized_code_bytes", self.max_optimized_code_bytes),
            ("max_optimized_functions", self.max_optimized_functions),
        ] {
            if value == 0 {
                out.push((
                    field.to_owned(),
                    "must be greater than 0 (every module would run baseline code only)".to_owned(),
                ));
            }
        }
        if self.keep_resident_bytes > MAX_MEMORY_BYTES {
            out.push((
                "keep_resident_bytes".to_owned(),
                format!(
                    "{} is more than a policy's largest linear memory ({MAX_MEMORY_BYTES} bytes)",
                    self.keep_resident_bytes
                ),
            ));
        }
        out
    }
}

/// The size of a module's code, read before it is compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeShape {
    /// Function bodies, in all its core modules.
    pub functions: u64,
    /// Bytes of those bodies.
    pub code_bytes: u64,
    /// The largest body.
    pub largest_function_bytes: u64,
}

impl CodeShape {
    /// Scans `bytes` (a component) without validating or compiling it; bytes it cannot
    /// parse are left to the compiler to refuse.
    pub fn of(bytes: &[u8]) -> Self {
        use wasmtime::wasmparser::{Parser, Payload};
        let mut shape = Self::default();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload {
                Ok(Payload::CodeSectionEntry(body)) => {
                    let len = body.range().len() as u64;
                    shape.functions += 1;
                    shape.code_bytes += len;
                    shape.largest_function_bytes = shape.largest_function_bytes.max(len);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        shape
    }

    /// Why the optimizing compiler should not compile it, if it should not.
    pub fn too_large_to_optimize(&self, settings: &EngineSettings) -> Option<String> {
        if self.code_bytes > settings.max_optimized_code_bytes {
            Some(format!(
                "{} bytes of function bodies, more than {} (host.engine.max_optimized_code_bytes)",
                self.code_bytes, settings.max_optimized_code_bytes
            ))
        } else if self.functions > settings.max_optimized_functions {
            Some(format!(
                "{} functions, more than {} (host.engine.max_optimized_functions)",
                self.functions, settings.max_optimized_functions
            ))
        } else if self.largest_function_bytes > MAX_OPTIMIZED_FUNCTION_BYTES {
            Some(format!(
                "a function of {} bytes, more than {MAX_OPTIMIZED_FUNCTION_BYTES}",
                self.largest_function_bytes
            ))
        } else {
            None
        }
    }
}

/// Which compiler produced a module's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Winch: compiles quickly, runs slower. Used briefly after a swap.
    Baseline,
    /// Cranelift: the steady state.
    Optimized,
}

/// Which build of a module to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The optimized build (cached, or compiled now): start-up, `sluice policy bench`.
    Optimized,
    /// Whatever is live soonest: the optimized build if a cache has it, else a
    /// baseline compile (or an optimized one if the baseline compiler refuses the
    /// module). Used for swaps; the registry upgrades a baseline build afterwards.
    Quick,
    /// A baseline compile (the optimized one where there is no baseline compiler).
    Baseline,
}

/// Whether a module came from a cache or was compiled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompileSource {
    /// Compiled from the WebAssembly bytes.
    Compiled,
    /// Found in this process's memory.
    MemoryCache,
    /// Loaded from the on-disk cache.
    DiskCache,
}

/// A compiled component and where it came from.
#[derive(Clone)]
pub struct Compiled {
    /// The component, for the engine of its tier.
    pub component: Component,
    /// Compiled now or found in a cache.
    pub source: CompileSource,
    /// Which compiler made it.
    pub tier: Tier,
}

/// One wasmtime engine and the linker for it.
struct TierEngine {
    engine: Engine,
    linker: Linker<HostState>,
}

/// The engines shared by every policy in the process.
pub struct PolicyEngine {
    optimized: TierEngine,
    /// `None` with `single_tier`, or where Winch does not run (not x86-64/aarch64).
    baseline: Option<TierEngine>,
    settings: EngineSettings,
    /// Optimized builds by module sha256 (baseline builds are short-lived, not kept).
    compiled: Mutex<HashMap<String, Component>>,
    ticker: Option<EpochTicker>,
}

impl PolicyEngine {
    /// Builds the engines and linkers and starts the epoch ticker.
    ///
    /// # Errors
    /// When wasmtime rejects the configuration or the cache directory cannot be made.
    pub fn new(settings: EngineSettings) -> Result<Arc<Self>, EngineError> {
        let optimized = TierEngine::new(&optimized_config(&settings))?;
        let baseline = if settings.single_tier {
            None
        } else {
            match baseline_config() {
                Some(config) => Some(TierEngine::new(&config)?),
                None => None,
            }
        };
        if let Some(dir) = &settings.cache_dir {
            create_private_dir(dir).map_err(|source| EngineError::CacheDir {
                path: dir.clone(),
                source,
            })?;
        }
        let mut engines = vec![optimized.engine.clone()];
        engines.extend(baseline.as_ref().map(|b| b.engine.clone()));
        let ticker = EpochTicker::start(engines).map_err(EngineError::Ticker)?;
        Ok(Arc::new(Self {
            optimized,
            baseline,
            settings,
            compiled: Mutex::new(HashMap::new()),
            ticker: Some(ticker),
        }))
    }

    /// The wasmtime engine of `tier` (the optimized one when there is no baseline).
    pub fn engine(&self, tier: Tier) -> &Engine {
        &self.tier(tier).engine
    }

    /// The linker with WASI and the host imports for `tier`'s engine.
    pub fn linker(&self, tier: Tier) -> &Linker<HostState> {
        &self.tier(tier).linker
    }

    /// The settings the engine was made with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Whether a baseline compiler is available for quick swaps.
    pub fn has_baseline(&self) -> bool {
        self.baseline.is_some()
    }

    fn tier(&self, tier: Tier) -> &TierEngine {
        match (tier, &self.baseline) {
            (Tier::Baseline, Some(b)) => b,
            _ => &self.optimized,
        }
    }

    /// Compiled code for `bytes` (whose sha256 is `sha256`), as `build` asks.
    ///
    /// # Errors
    /// The bytes are not a valid component for this engine.
    pub fn build(&self, bytes: &[u8], sha256: &str, build: Build) -> Result<Compiled, BoxedError> {
        match build {
            Build::Optimized => self.compile(bytes, sha256),
            Build::Quick => match self.cached(sha256) {
                Some(found) => Ok(found),
                None if self.baseline.is_none() => self.compile(bytes, sha256),
                // Winch lacks some proposals Cranelift supports (tail calls, GC,
                // exceptions): such a module is compiled optimized, not refused.
                // Bytes that are invalid whatever the proposals are refused at once:
                // Cranelift would refuse them too, after compiling the valid part.
                None => self
                    .build(bytes, sha256, Build::Baseline)
                    .or_else(|baseline_error| match after_baseline_refusal(bytes) {
                        Fallback::Refuse => Err(baseline_error),
                        Fallback::Optimize => {
                            tracing::debug!(error = %baseline_error, "the baseline compiler refused the module; compiling it optimized");
                            self.compile(bytes, sha256)
                        }
                    }),
            },
            // Baseline builds are cached on disk too (not in memory: the registry
            // replaces them with the optimized build), so a swap back to a module seen
            // before goes live without compiling it.
            Build::Baseline if self.baseline.is_some() => {
                let (component, source) = match self.read_disk_cache(sha256, Tier::Baseline) {
                    Some(c) => (c, CompileSource::DiskCache),
                    None => (
                        self.compile_to_disk(bytes, sha256, Tier::Baseline)?,
                        CompileSource::Compiled,
                    ),
                };
                Ok(Compiled {
                    component,
                    source,
                    tier: Tier::Baseline,
                })
            }
            Build::Baseline => self.compile(bytes, sha256),
        }
    }

    /// The optimized build: from a cache, or compiled now and cached.
    fn compile(&self, bytes: &[u8], sha256: &str) -> Result<Compiled, BoxedError> {
        if let Some(found) = self.cached(sha256) {
            return Ok(found);
        }
        let component = self.compile_to_disk(bytes, sha256, Tier::Optimized)?;
        self.lock_compiled()
            .insert(sha256.to_owned(), component.clone());
        Ok(Compiled {
            component,
            source: CompileSource::Compiled,
            tier: Tier::Optimized,
        })
    }

    /// Compiles `bytes` with `tier`'s engine and writes the result to the disk cache,
    /// if there is one.
    fn compile_to_disk(
        &self,
        bytes: &[u8],
        sha256: &str,
        tier: Tier,
    ) -> Result<Component, BoxedError> {
        let component =
            Component::new(self.engine(tier), bytes).map_err(|e| e.into_boxed_dyn_error())?;
        if let Some(path) = self.cache_path(sha256, tier) {
            // A cache write failure costs a recompile next time, nothing more.
            if let Err(e) = write_cache(&component, &path) {
                tracing::warn!(path = %path.display(), error = %e, "could not write the compiled-module cache");
            }
        }
        Ok(component)
    }

    /// The optimized build of module `sha256` from memory or the disk cache.
    fn cached(&self, sha256: &str) -> Option<Compiled> {
        let found = |component, source| Compiled {
            component,
            source,
            tier: Tier::Optimized,
        };
        if let Some(c) = self.lock_compiled().get(sha256) {
            return Some(found(c.clone(), CompileSource::MemoryCache));
        }
        let c = self.read_disk_cache(sha256, Tier::Optimized)?;
        self.lock_compiled().insert(sha256.to_owned(), c.clone());
        Some(found(c, CompileSource::DiskCache))
    }

    /// Drops the in-memory optimized build of module `sha256`: its code is freed once
    /// the modules and decisions still holding it are gone. The registry calls this
    /// when a module is replaced, so swapping modules in and out does not accumulate
    /// compiled code (a module swapped back later is compiled again, or read from
    /// `cache_dir`).
    pub fn retire(&self, sha256: &str) {
        self.lock_compiled().remove(sha256);
    }

    /// Drops in-memory compiled modules (for measuring cold loads).
    pub fn forget_compiled(&self) {
        self.lock_compiled().clear();
    }

    fn lock_compiled(&self) -> std::sync::MutexGuard<'_, HashMap<String, Component>> {
        // A panic while holding this lock leaves a plain map behind; keep using it.
        self.compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cache_path(&self, sha256: &str, tier: Tier) -> Option<PathBuf> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let dir = self.settings.cache_dir.as_ref()?;
        let mut h = DefaultHasher::new();
        self.engine(tier)
            .precompile_compatibility_hash()
            .hash(&mut h);
        let suffix = match tier {
            Tier::Optimized => "",
            Tier::Baseline => "-baseline",
        };
        Some(dir.join(format!("{sha256}-{:016x}{suffix}.cwasm", h.finish())))
    }

    #[expect(
        unsafe_code,
        reason = "loading precompiled native code from sluice's own cache"
    )]
    /// The `tier` build of module `sha256` from the disk cache.
    fn read_disk_cache(&self, sha256: &str, tier: Tier) -> Option<Component> {
        let path = self.cache_path(sha256, tier)?;
        let path = path.as_path();
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file is in sluice's private cache directory (created 0700), was
        // written by `Component::serialize` of an engine with the same compatibility
        // hash (part of its name), and wasmtime checks its header and settings again.
        match unsafe { Component::deserialize_file(self.engine(tier), path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unusable cached module");
                None
            }
        }
    }

    /// Wall-clock deadline in epoch ticks, rounded up, plus one tick of slack.
    pub fn deadline_ticks(deadline: Duration) -> u64 {
        let tick = EPOCH_TICK.as_micros().max(1);
        (deadline.as_micros().div_ceil(tick) as u64).saturating_add(1)
    }
}

impl Drop for PolicyEngine {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.stop();
        }
    }
}

impl TierEngine {
    fn new(config: &Config) -> Result<Self, EngineError> {
        let engine =
            Engine::new(config).map_err(|e| EngineError::Config(e.into_boxed_dyn_error()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link_error)?;
        // `types` and `log` as generated; `stats` by hand, so each call can reach the
        // store to charge its work to the decision's fuel.
        types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link_error)?;
        log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link_error)?;
        super::host_imports::add_stats_to_linker(&mut linker).map_err(link_error)?;
        Ok(Self { engine, linker })
    }
}

/// What both tiers share: the component model, fuel and epoch deadlines.
fn common_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .parallel_compilation(true);
    config
}

/// Cranelift with (by default) the pooling allocator.
fn optimized_config(settings: &EngineSettings) -> Config {
    let mut config = common_config();
    config.strategy(Strategy::Cranelift);
    if !settings.on_demand_allocator {
        let mut pool = PoolingAllocationConfig::new();
        let n = POOL_CONCURRENT_DECISIONS;
        // Checked against MAX_MEMORY_BYTES at load; the `min` keeps the cast lossless.
        let keep_resident =
            usize::try_from(settings.keep_resident_bytes.min(MAX_MEMORY_BYTES)).unwrap_or(0);
        pool.total_component_instances(n)
            .total_core_instances(n * MAX_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(n * 2)
            .total_tables(n * 16)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memory_size(MAX_MEMORY_BYTES as usize)
            .total_stacks(n)
            // A fresh instance per decision makes resetting a slot the hot path.
            // With PAGEMAP_SCAN (Linux ≥ 6.7) only the pages a decision dirtied
            // are reset, by memset, and stay resident: no madvise, no refaults.
            // Elsewhere `Auto` falls back to madvise.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(keep_resident);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Winch with on-demand allocation (its modules live for one background compile,
/// so they need no pool of their own); `None` where Winch has no backend.
fn baseline_config() -> Option<Config> {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return None;
    }
    let mut config = common_config();
    config.strategy(Strategy::Winch);
    Some(config)
}

/// What a quick swap does with bytes the baseline compiler refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    /// Valid WebAssembly that needs a proposal Winch lacks: compile it optimized.
    Optimize,
    /// Invalid with every proposal enabled: no compiler can take it.
    Refuse,
}

/// Decides [`Fallback`] by validating `bytes` with every WebAssembly proposal
/// enabled. Validation stops at the first error and compiles nothing, whereas the
/// optimizing compiler validates function bodies while compiling them in parallel.
fn after_baseline_refusal(bytes: &[u8]) -> Fallback {
    use wasmtime::wasmparser::{Validator, WasmFeatures};
    match Validator::new_with_features(WasmFeatures::all()).validate_all(bytes) {
        Ok(_) => Fallback::Optimize,
        Err(_) => Fallback::Refuse,
    }
}

fn link_error(e: wasmtime::Error) -> EngineError {
    EngineError::Link(e.into_boxed_dyn_error())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_cache(component: &Component, path: &Path) -> Result<(), BoxedError> {
    let bytes = component
        .serialize()
        .map_err(|e| e.into_boxed_dyn_error())?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until stopped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl EpochTicker {
    fn start(engines: Vec<Engine>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    for engine in &engines {
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(Self { stop, handle })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.handle.join().is_err() {
            tracing::error!("the epoch ticker thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Build, EngineSettings, Fallback, MAX_CORE_INSTANCES_PER_COMPONENT, PolicyEngine,
        after_baseline_refusal,
    };

    /// A component holding one empty core module, instantiated `instances` times.
    fn component_with_instances(instances: u32) -> Vec<u8> {
        let mut component = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        // A core module section: an empty module (header only).
        component.extend([0x01, 8, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
        // A core instance section: `instances` times (instantiate module 0, no args).
        let mut body = leb128(instances);
        for _ in 0..instances {
            body.extend([0x00, 0x00, 0x00]);
        }
        component.push(0x02);
        component.extend(leb128(body.len() as u32));
        component.extend(body);
        component
    }

    fn leb128(mut n: u32) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn the_pool_takes_what_python_toolchains_build_and_names_what_it_refuses() {
        let engine = PolicyEngine::new(EngineSettings::default()).expect("engine");
        // componentize-py --stub-wasi: 38 instances; with room for dependencies.
        for instances in [38, MAX_CORE_INSTANCES_PER_COMPONENT] {
            let bytes = component_with_instances(instances);
            let sha = format!("test-{instances}");
            assert!(
                engine.build(&bytes, &sha, Build::Optimized).is_ok(),
                "{instances} core instances"
            );
        }
        let bytes = component_with_instances(MAX_CORE_INSTANCES_PER_COMPONENT + 1);
        let refusal = engine
            .build(&bytes, "test-too-many", Build::Optimized)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            refusal.contains("core module instances") && refusal.contains("64"),
            "the refusal says why: {refusal}"
        );
    }

    /// A component holding one core module with one `[] -> []` function whose body
    /// is the single instruction `op`.
    fn component_with_body(op: u8) -> Vec<u8> {
        let module: [u8; 25] = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // core module, version 1
            0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: one func type [] -> []
            0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
            0x0a, 0x05, 0x01, 0x03, 0x00, op, 0x0b, // code: no locals, `op`, end
        ];
        let mut component = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        component.extend([0x01, 25]); // a core module section of 25 bytes
        component.extend(module);
        component
    }

    #[test]
    fn a_body_that_does_not_validate_is_refused() {
        const I32_ADD: u8 = 0x6a; // with nothing on the stack
        assert_eq!(
            after_baseline_refusal(&component_with_body(I32_ADD)),
            Fallback::Refuse
        );
        assert_eq!(
            after_baseline_refusal(b"\0asm\x0d\0\x01\0junk"),
            Fallback::Refuse
        );
        let stock = crate::stock::find("canary-steps").expect("stock").wasm;
        assert_eq!(
            after_baseline_refusal(&stock[..stock.len() / 2]),
            Fallback::Refuse
        );
    }

    #[test]
    fn valid_bytes_go_on_to_the_optimizing_compiler() {
        const NOP: u8 = 0x01;
        assert_eq!(
            after_baseline_refusal(&component_with_body(NOP)),
            Fallback::Optimize
        );
        let stock = crate::stock::find("canary-steps").expect("stock").wasm;
        assert_eq!(after_baseline_refusal(stock), Fallback::Optimize);
    }
}
