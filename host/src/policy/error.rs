//! Errors of the policy engine. Each kind has a stable `label()` for metrics and logs.

use std::path::PathBuf;

use serde::Serialize;

use crate::decision::{DecisionPoint, ParamError};

/// A boxed error that keeps its source chain (wasmtime's errors are converted to it).
pub type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// The engine could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// wasmtime refused the configuration.
    #[error("wasmtime refused the engine configuration")]
    Config(#[source] BoxedError),
    /// The compiled-module cache directory could not be created.
    #[error("cannot create the compiled-module cache directory {}; check the path and permissions or unset engine.cache_dir", path.display())]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// WASI or the host imports could not be linked.
    #[error("cannot link the host imports")]
    Link(#[source] BoxedError),
    /// The epoch ticker thread could not start.
    #[error("cannot start the epoch ticker thread")]
    Ticker(#[source] std::io::Error),
}

/// A module could not be loaded as a policy. Every variant names the module.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{source_name}: cannot read the file")]
    Read {
        /// The module's path or name.
        source_name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error(
        "{source_name}: the file is empty; expected a WebAssembly component (build with `cargo build --target wasm32-wasip2`)"
    )]
    Empty {
        /// The module's path or name.
        source_name: String,
    },
    /// The bytes are not WebAssembly at all.
    #[error(
        "{source_name}: not a WebAssembly file (it starts with {first_bytes}, not \\0asm); expected a component built for wasm32-wasip2"
    )]
    NotWasm {
        /// The module's path or name.
        source_name: String,
        /// The first bytes, in hex.
        first_bytes: String,
    },
    /// A core module, not a component.
    #[error(
        "{source_name}: this is a core WebAssembly module, not a component; build for `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The module's path or name.
        source_name: String,
    },
    /// It is larger than the host takes.
    #[error(
        "{source_name}: the module is {bytes} bytes; at most {limit} are taken (host.engine.max_module_bytes)"
    )]
    TooLarge {
        /// The module's path or name.
        source_name: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Its code is too large for the optimizing compiler, and this host has no
    /// baseline compiler to run it with.
    #[error(
        "{source_name}: its code ({shape}) is too large for the optimizing compiler, and the baseline compiler is off (host.engine.single_tier); turn it on or shrink the module"
    )]
    TooLargeToOptimize {
        /// The module's path or name.
        source_name: String,
        /// What is too large.
        shape: String,
    },
    /// wasmtime could not compile it.
    #[error("{source_name}: the component does not compile")]
    Compile {
        /// The module's path or name.
        source_name: String,
        /// wasmtime's reason.
        #[source]
        source: BoxedError,
    },
    /// It exports no decision interface.
    #[error("{source_name}: not a sluice policy: it exports none of the decision interfaces (sluice:policy/decide-retrain, -promotion, -regression, -rollout @0.1.0); its exports are [{}]", exports.join(", "))]
    NotAPolicy {
        /// The module's path or name.
        source_name: String,
        /// What it exports.
        exports: Vec<String>,
    },
    /// It targets another world than the one required.
    #[error("{source_name}: this is a {found} policy, but a {expected} policy is required here")]
    WrongWorld {
        /// The module's path or name.
        source_name: String,
        /// The required world.
        expected: DecisionPoint,
        /// The world it targets.
        found: DecisionPoint,
    },
    /// It exports more than one decision interface.
    #[error("{source_name}: the module exports several decision interfaces ({}); a policy targets exactly one world", found.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))]
    SeveralWorlds {
        /// The module's path or name.
        source_name: String,
        /// The decision points it exports.
        found: Vec<DecisionPoint>,
    },
    /// It imports something the sandbox does not provide.
    #[error(
        "{source_name}: imports `{import}`, which sluice does not provide (policies get only sluice:policy/stats, sluice:policy/log and sandboxed WASI)"
    )]
    UnsupportedImport {
        /// The module's path or name.
        source_name: String,
        /// The import.
        import: String,
    },
    /// Linking or type-checking against the world failed.
    #[error("{source_name}: does not match the {point} world")]
    Link {
        /// The module's path or name.
        source_name: String,
        /// The world.
        point: DecisionPoint,
        /// wasmtime's reason.
        #[source]
        source: BoxedError,
    },
    /// `describe` failed.
    #[error("{source_name}: its describe() call failed: {failure}")]
    Describe {
        /// The module's path or name.
        source_name: String,
        /// How it failed.
        failure: CallFailure,
    },
    /// The self-description is inconsistent.
    #[error("{source_name}: invalid self-description: {}", problems.join("; "))]
    BadDescription {
        /// The module's path or name.
        source_name: String,
        /// What is wrong.
        problems: Vec<String>,
    },
}

impl LoadError {
    /// Stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::Empty { .. } => "empty",
            Self::NotWasm { .. } => "not-wasm",
            Self::CoreModule { .. } => "core-module",
            Self::TooLarge { .. } => "too-large",
            Self::TooLargeToOptimize { .. } => "too-large-to-optimize",
            Self::Compile { .. } => "compile",
            Self::NotAPolicy { .. } => "not-a-policy",
            Self::WrongWorld { .. } => "wrong-world",
            Self::SeveralWorlds { .. } => "several-worlds",
            Self::UnsupportedImport { .. } => "unsupported-import",
            Self::Link { .. } => "link",
            Self::Describe { .. } => "describe",
            Self::BadDescription { .. } => "bad-description",
        }
    }
}

/// Why a module may not serve a pipeline (checked at load and before every swap).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The module itself is unusable.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The pipeline's parameters do not fit the module's description.
    #[error("pipeline `{pipeline}`: {source}")]
    Params {
        /// The pipeline.
        pipeline: String,
        /// What is wrong.
        #[source]
        source: ParamError,
    },
    /// The module's own `validate-params` found problems.
    #[error("pipeline `{pipeline}`: policy `{policy}` rejects its parameters: {}", problems.join("; "))]
    ParamValues {
        /// The pipeline.
        pipeline: String,
        /// The policy.
        policy: String,
        /// Problems the policy reported.
        problems: Vec<String>,
    },
    /// The module's `validate-params` call itself failed (trapped, looped, ran out).
    #[error("pipeline `{pipeline}`: its validate-params call failed: {failure}")]
    Validate {
        /// The pipeline.
        pipeline: String,
        /// How.
        failure: CallFailure,
    },
    /// The pipeline pins other bytes.
    #[error(
        "pipeline `{pipeline}` pins this module to sha256 {pinned}, but these bytes are {found}; change the pin in the pipeline first, or send the pinned bytes"
    )]
    Pinned {
        /// The pipeline.
        pipeline: String,
        /// The pinned digest.
        pinned: String,
        /// The offered bytes' digest.
        found: String,
    },
    /// The trial decision failed.
    #[error("pipeline `{pipeline}`: the trial decision failed: {failure}")]
    Trial {
        /// The pipeline.
        pipeline: String,
        /// How.
        failure: CallFailure,
    },
}

/// Most problems from a policy's `validate-params` kept in an error, and the longest
/// each may be, in bytes: the policy writes them, so they are bounded before they
/// reach a log line.
pub const MAX_REPORTED_PROBLEMS: usize = 16;
/// See [`MAX_REPORTED_PROBLEMS`].
pub const MAX_PROBLEM_BYTES: usize = 512;

/// `problems` from a policy, bounded: at most [`MAX_REPORTED_PROBLEMS`], each cut to
/// [`MAX_PROBLEM_BYTES`] with its control characters escaped, and a last entry saying
/// how many were left out.
pub(crate) fn bounded_problems(problems: Vec<String>) -> Vec<String> {
    let total = problems.len();
    let mut out: Vec<String> = problems
        .iter()
        .take(MAX_REPORTED_PROBLEMS)
        .map(|p| crate::decision::excerpt(p, MAX_PROBLEM_BYTES))
        .collect();
    if total > MAX_REPORTED_PROBLEMS {
        out.push(format!("… and {} more", total - MAX_REPORTED_PROBLEMS));
    }
    out
}

impl CheckError {
    /// Whether the failure lies in the host's resources at the time, not in the
    /// module: the registry tries such bytes again at its next rescan instead of
    /// refusing them until the file changes.
    pub fn is_transient(&self) -> bool {
        let failure = match self {
            Self::Load(LoadError::Describe { failure, .. })
            | Self::Validate { failure, .. }
            | Self::Trial { failure, .. } => failure,
            _ => return false,
        };
        matches!(
            failure,
            CallFailure::Instantiate {
                transient: true,
                ..
            }
        )
    }

    /// Stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Load(e) => e.label(),
            Self::Params { .. } => "params",
            Self::ParamValues { .. } => "param-values",
            Self::Validate { .. } => "validate",
            Self::Trial { .. } => "trial",
            Self::Pinned { .. } => "pinned",
        }
    }
}

/// How one call into a policy failed. Kept as data: it goes into the decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CallFailure {
    /// The fuel budget ran out.
    #[error("fuel exhausted after {fuel} units (limits.fuel)")]
    OutOfFuel {
        /// The budget.
        fuel: u64,
    },
    /// The wall-clock deadline passed.
    #[error("deadline of {deadline_ms} ms exceeded (limits.deadline_ms)")]
    Deadline {
        /// The deadline.
        deadline_ms: u64,
    },
    /// Linear memory would have grown past the cap.
    #[error("memory cap of {memory_bytes} bytes exceeded (limits.memory_bytes)")]
    MemoryCap {
        /// The cap.
        memory_bytes: u64,
    },
    /// The guest's stack overflowed.
    #[error("stack overflow in the policy")]
    StackOverflow,
    /// Any other trap (panic, unreachable, out-of-bounds access…).
    #[error("the policy trapped: {detail}{}", output_suffix(guest_output))]
    Trap {
        /// wasmtime's description, with its cause chain.
        detail: String,
        /// The tail of the guest's stdout/stderr (for example a panic message).
        guest_output: String,
    },
    /// The call returned an answer that fails validation.
    #[error("invalid decision: {problem}")]
    InvalidDecision {
        /// What is wrong.
        problem: String,
    },
    /// The instance could not be created (for example the pool is exhausted).
    #[error("cannot instantiate the policy: {detail}")]
    Instantiate {
        /// Why.
        detail: String,
        /// Whether the cause lies in the host's resources rather than the module (the
        /// instance pool exhausted, an operating-system error such as a memory image
        /// that could not be sealed): the same bytes may well instantiate next time.
        #[serde(skip)]
        transient: bool,
    },
    /// sluice itself panicked while serving the call; the decision was not trusted.
    #[error("internal error while running the policy: {detail}")]
    HostPanic {
        /// The panic message.
        detail: String,
    },
}

fn output_suffix(output: &str) -> String {
    let t = output.trim();
    if t.is_empty() {
        return String::new();
    }
    let tail: String = t
        .chars()
        .rev()
        .take(600)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(" (guest output: {tail})")
}

impl CallFailure {
    /// Stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::OutOfFuel { .. } => "out-of-fuel",
            Self::Deadline { .. } => "deadline",
            Self::MemoryCap { .. } => "memory-cap",
            Self::StackOverflow => "stack-overflow",
            Self::Trap { .. } => "trap",
            Self::InvalidDecision { .. } => "invalid-decision",
            Self::Instantiate { .. } => "instantiate",
            Self::HostPanic { .. } => "host-panic",
        }
    }
}
