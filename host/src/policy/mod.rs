//! The policy engine: WebAssembly components that make every decision, run in a
//! sandbox with fuel, deadline and memory caps, and swapped while the host runs.
//!
//! - [`engine`]: the process-wide wasmtime engine, linker, epoch ticker, compile cache.
//! - [`module`]: loading and checking one module.
//! - [`check`]: checks against a pipeline's use (params, trial decision).
//! - [`evaluate`]: one decision, with fail-safe and audit record.
//! - [`registry`]: the directory of modules and hot swap.
//! - `sandbox`, `call`, `host_imports`, `bindings`: the machinery underneath.

pub mod bindings;
mod call;
pub mod check;
pub mod engine;
pub mod error;
pub mod evaluate;
mod host_imports;
pub mod limits;
pub mod module;
pub mod registry;
pub mod sandbox;

pub use bindings::WitPoint;
pub use call::CallStats;
pub use check::{PolicyUse, check_use, check_use_timed};
pub use engine::{
    Build, CodeShape, CompileSource, DEFAULT_KEEP_RESIDENT_BYTES, EngineSettings, PolicyEngine,
    Tier,
};
pub use error::{CallFailure, CheckError, EngineError, LoadError};
pub use evaluate::{Binding, DecisionRecord, Evaluation, decide, decide_native};
pub use limits::Limits;
pub use module::{PolicyModule, is_sha256_hex, sha256_hex};
pub use registry::upload::{Installed, UploadError, is_module_name};
pub use registry::{
    ActivePolicy, BASELINE_DEADLINE_SHARE, Origin, PolicyRegistry, Refusal, RegistryError,
    RegistryNews, RegistryObserver, ScanReport, Trial, too_slow_for_baseline,
};
