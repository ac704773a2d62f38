//! The command line: argument types (clap) and the commands' implementations. The
//! binary's `main` only parses and dispatches.

pub mod authoring;
pub mod cases;
pub mod config_check;
pub mod demo;
pub mod demo_serving;
pub mod input;
pub mod ops;
pub mod policy;
pub mod push;
pub mod rollout;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// sluice — continuous training and deployment for ML models, decided by sandboxed
/// WebAssembly policies.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "human",
        env = "SLUICE_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with policy modules.
    Policy {
        /// Take the engine settings (compile cache, size limits) from this config file,
        /// so these commands share the host's compiled-module cache. Without it, or
        /// when it sets no `host.engine.cache_dir`, compiled modules are cached in
        /// `$XDG_CACHE_HOME/sluice/compiled` (else `~/.cache/sluice/compiled`).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the loop: every pipeline of the config, with /healthz, /readyz, /metrics.
    Run {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show each pipeline's phase, production model, last error and recent runs.
    Status {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show recent policy decisions with reasons, statistics and module digests.
    Decisions {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only this pipeline.
        #[arg(long)]
        pipeline: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON (full input and output of each decision).
        #[arg(long)]
        json: bool,
    },
    /// Approve (or reject) a candidate the promotion policy sent for approval.
    Approve {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// The pipeline.
        pipeline: String,
        /// Reject instead of approving.
        #[arg(long)]
        reject: bool,
    },
    /// Look at a rollout, or pause, resume, abort (roll back now) or promote (all
    /// traffic now) it. Requests are acted on by the running host at its next step.
    Rollout {
        /// What to do.
        #[command(subcommand)]
        command: RolloutCommand,
    },
    /// The whole loop in a temporary workspace — SQLite, a local Git deploy repo, a local
    /// trainer, a simulated inference service, the stock policies: v2 is promoted and
    /// rolled out, v3 regresses and is rolled back. Needs nothing else.
    Demo {
        /// Keep the workspace and print its path.
        #[arg(long)]
        keep: bool,
    },
    /// Print the `ModelPipeline` CustomResourceDefinition (YAML for `kubectl apply -f -`).
    Crd,
    /// The demo's trainer (used by `sluice demo`).
    #[command(hide = true)]
    DemoTrainer,
}

/// `sluice rollout …`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Weight, step, verdict, holds, pending write.
    Status(RolloutTarget),
    /// Stop analysing and shifting until resumed (traffic stays where it is).
    Pause(RolloutRequestArgs),
    /// Continue a paused rollout.
    Resume(RolloutRequestArgs),
    /// Roll back now: stable gets all traffic, Git is reverted, the version is rejected.
    Abort(RolloutRequestArgs),
    /// Give the candidate all traffic now and make it stable.
    Promote(RolloutRequestArgs),
}

/// Which rollout.
#[derive(Debug, clap::Args)]
pub struct RolloutTarget {
    /// The config file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// The pipeline.
    pub pipeline: String,
}

/// Which rollout, who asks and why.
#[derive(Debug, clap::Args)]
pub struct RolloutRequestArgs {
    /// The config file and pipeline.
    #[command(flatten)]
    pub target: RolloutTarget,
    /// Why (recorded in the audit log).
    #[arg(long, default_value = "no reason given")]
    pub reason: String,
    /// Who asks (recorded in the audit log); default `$USER`.
    #[arg(long)]
    pub by: Option<String>,
}

/// `sluice config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a config file: structure, defaults, every policy module and its parameters.
    /// Prints every problem with file, line, column and field; exits non-zero on any.
    Check {
        /// The config file (YAML).
        file: PathBuf,
        /// Also fetch each pipeline's deploy repo and make its promotion edits in
        /// memory (nothing is committed): every target file must exist and every
        /// selector match exactly one value that a version can replace.
        #[arg(long)]
        remote: bool,
    },
}

/// `sluice policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load a module and print its world, digest, exports, imports and self-description.
    Check {
        /// A `.wasm` file, or `stock:<name>` for an embedded stock policy.
        module: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make one decision: a YAML/JSON file with `params` and `context` in, decision out.
    Eval {
        /// A `.wasm` file, or `stock:<name>`.
        module: String,
        /// The input file.
        #[arg(long)]
        input: PathBuf,
    },
    /// Run golden cases; prints a line per case and `N passed, N failed`.
    Test {
        /// A `.wasm` file, or `stock:<name>`.
        module: String,
        /// The cases file (`cases: [{name, params, context, expect}]`).
        #[arg(long)]
        cases: PathBuf,
    },
    /// Time repeated decisions (fresh instance each) and print p50/p99.
    Bench {
        /// A `.wasm` file, or `stock:<name>`.
        module: String,
        /// An input file as for `eval`; default: the module's trial context.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Decisions to time.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
    /// Make a policy project that builds and passes its golden cases as generated.
    New {
        /// The policy's name (lowercase letters, digits, `-`); also its directory.
        name: String,
        /// The language.
        #[arg(long, value_enum)]
        lang: authoring::Lang,
        /// The decision point: retrain, promotion, regression or rollout.
        #[arg(long)]
        point: crate::decision::DecisionPoint,
        /// Create the project in this directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Rust only: the path of sluice's `sdk` crate (default: the one beside the
        /// sources this binary was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Upload a module to a running host's policy API (`PUT /v1/policies/{name}`); it
    /// goes live after the same checks as a file in the policy directory.
    Push {
        /// The module (`.wasm`).
        file: PathBuf,
        /// The module name (default: the file name without `.wasm`).
        #[arg(long)]
        name: Option<String>,
        /// The host's base URL, e.g. `http://sluice.ml.svc:9464`.
        #[arg(long, env = "SLUICE_SERVER")]
        server: String,
        /// A file holding the bearer token.
        #[arg(long, conflicts_with = "token_env")]
        token_file: Option<PathBuf>,
        /// An environment variable holding the bearer token (default `SLUICE_TOKEN`).
        #[arg(long)]
        token_env: Option<String>,
        /// CA bundle (PEM) for an HTTPS server.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Build a policy project (Rust, Python or JavaScript/TypeScript) to a component.
    Build {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the module (default `DIR/dist/<name>.wasm`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `text` safe to print on a terminal: control characters shown escaped.
pub use crate::decision::escape_controls as printable;

#[cfg(test)]
mod tests {
    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(super::printable("v2 é"), "v2 é");
        assert_eq!(
            super::printable("a\u{1b}[2Jb\r\nc"),
            "a\\u{1b}[2Jb\\u{d}\\u{a}c"
        );
    }
}
