//! `sluice policy …`: check, eval, test and bench a policy module.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::cases::{self, CaseResult, CasesFile};
use super::input::{self, InputError};
use super::printable;
use crate::decision::{self, RawParams};
use crate::metrics::Metrics;
use crate::policy::{Binding, LoadError, PolicyEngine, PolicyModule, WitPoint, decide};
use crate::stock;

/// The engine settings of the `policy` commands: those of `config` if given, with the
/// compiled-module cache defaulting to the user's cache directory, so a second
/// `sluice policy check` of a 15 MB Python module loads in milliseconds instead of
/// compiling for seconds. A default directory that cannot be made is skipped with a
/// warning (the commands still work, compiling each time).
///
/// # Errors
/// [`PolicyCommandError::ConfigFile`] when `config` cannot be read.
pub fn engine_settings(
    config: Option<&Path>,
) -> Result<crate::policy::EngineSettings, PolicyCommandError> {
    let mut settings = match config {
        Some(path) => {
            std::fs::metadata(path).map_err(|source| PolicyCommandError::ConfigFile {
                path: path.to_owned(),
                source,
            })?;
            crate::config::engine_settings(path)
        }
        None => crate::policy::EngineSettings::default(),
    };
    if settings.cache_dir.is_none() {
        settings.cache_dir = default_cache_dir().filter(|dir| {
            match std::fs::create_dir_all(dir) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "no compiled-module cache: the directory cannot be made");
                    false
                }
            }
        });
    }
    Ok(settings)
}

/// `$XDG_CACHE_HOME/sluice/compiled`, else `$HOME/.cache/sluice/compiled`.
fn default_cache_dir() -> Option<std::path::PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("sluice").join("compiled"))
}

/// Errors of the `policy` commands.
#[derive(Debug, thiserror::Error)]
pub enum PolicyCommandError {
    /// `policy bench`: some decisions failed, so the pipeline would have used its
    /// fail-safe for them.
    #[error(
        "{failed} of {total} decisions failed (a pipeline would use its fail-safe); the first: {first}"
    )]
    DecisionsFailed {
        /// Failed decisions.
        failed: usize,
        /// All decisions.
        total: usize,
        /// Why the first failed.
        first: String,
    },
    /// `--config` names a file that cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    ConfigFile {
        /// The path given.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The module could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// An input or cases file is unusable.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Parameters do not fit the module.
    #[error(transparent)]
    Params(#[from] decision::ParamError),
    /// The checks a swap runs (validate-params and a trial decision on the declared
    /// defaults) failed.
    #[error(transparent)]
    Check(#[from] crate::policy::CheckError),
    /// Some golden cases failed.
    #[error("{failed} of {total} cases failed")]
    CasesFailed {
        /// Failed cases.
        failed: usize,
        /// All cases.
        total: usize,
    },
}

/// Loads `module`: a path, or `stock:<name>` for an embedded stock policy, with
/// optimized code. Baseline (Winch) code compiles a 12 MB interpreter module five times
/// faster, but runs a Python decision 4–5× slower (50–100 ms, against the 100 ms
/// deadline), so golden cases would fail on timing that a running host does not have.
///
/// # Errors
/// See [`LoadError`].
pub fn load(engine: &PolicyEngine, module: &str) -> Result<Arc<PolicyModule>, LoadError> {
    if let Some(found) = stock::resolve(module) {
        let p = found.map_err(|e| e.into_load_error(module))?;
        return PolicyModule::load_bytes(engine, module, p.wasm, None);
    }
    PolicyModule::load_file(engine, Path::new(module), None)
}

/// Runs what a swap runs before a module goes live — its `validate-params` and one
/// trial decision — on the declared defaults, so a module that loops or traps in
/// `decide` fails `policy check` as it would fail a swap. Returns `None` when the
/// module has required parameters (no defaults to try it with), else what it did.
///
/// # Errors
/// The check's failure.
pub fn trial(
    engine: &PolicyEngine,
    module: &PolicyModule,
) -> Result<Option<String>, PolicyCommandError> {
    let required: Vec<&str> = module
        .description
        .params
        .iter()
        .filter(|p| p.default.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !required.is_empty() {
        return Ok(None);
    }
    let usage = crate::policy::PolicyUse {
        pipeline: "policy-check".into(),
        module: module.source.clone(),
        point: module.point,
        params: RawParams::new(),
        limits: crate::policy::Limits::default(),
        pin: None,
    };
    crate::policy::check_use(engine, module, &usage)?;
    Ok(Some(
        "validate-params and a trial decision on the defaults passed".to_owned(),
    ))
}

/// `sluice policy check`: world, digest, exports, imports and self-description.
pub fn check(module: &PolicyModule, json: bool) -> String {
    if json {
        let v = serde_json::json!({
            "source": module.source,
            "world": module.point,
            "sha256": module.sha256,
            "exports": module.exports,
            "imports": module.imports,
            "description": module.description,
            "load_ms": module.load_time.as_secs_f64() * 1e3,
        });
        return serde_json::to_string_pretty(&v).unwrap_or_default();
    }
    let d = &module.description;
    let mut out = format!(
        "{}\n  world:   {} ({})\n  policy:  {} {}\n  summary: {}\n  sha256:  {}\n  load:    {:.1} ms ({:?}, {:?} code)\n  exports: {}\n  imports: {}\n  params:\n",
        module.source,
        module.point,
        module.point.interface(),
        printable(&d.name),
        printable(&d.version),
        printable(&d.summary),
        module.sha256,
        module.load_time.as_secs_f64() * 1e3,
        module.compile_source,
        module.tier,
        module.exports.join(", "),
        module.imports.join(", "),
    );
    if d.params.is_empty() {
        out.push_str("    (none)\n");
    }
    for p in &d.params {
        let default = p.default.as_ref().map_or("required".to_owned(), |v| {
            format!("default {}", v.to_json())
        });
        out.push_str(&format!(
            "    {:<18} {:<12} {:<22} {}\n",
            printable(&p.name),
            format!("{:?}", p.kind).to_lowercase(),
            printable(&default),
            printable(&p.doc)
        ));
    }
    out
}

/// An `eval` input file: parameters plus the context for the module's decision point.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalInput<C> {
    #[serde(default)]
    params: RawParams,
    context: C,
}

/// `sluice policy eval`: one decision, printed as JSON with fuel and time.
///
/// # Errors
/// Unreadable input or parameters that do not fit.
pub fn eval(
    engine: &PolicyEngine,
    module: &PolicyModule,
    input: &Path,
) -> Result<String, PolicyCommandError> {
    fn run<P: WitPoint>(
        engine: &PolicyEngine,
        module: &PolicyModule,
        input: &Path,
    ) -> Result<String, PolicyCommandError> {
        let parsed: EvalInput<P::Context> = input::read(input)?;
        let binding = Binding::<P>::with_defaults(&module.description, &parsed.params)?;
        let eval = decide::<P>(
            engine,
            module,
            &binding,
            parsed.context,
            SystemTime::now(),
            &Metrics::new(),
        );
        let v = serde_json::json!({
            "decision": eval.record.output,
            "failure": eval.record.failure,
            "fuel_used": eval.record.fuel_used,
            "fuel_exact": eval.record.fuel_exact,
            "wall_micros": eval.record.wall_micros,
            "policy": eval.record.policy,
            "module_sha256": eval.record.module_sha256,
            "logs": eval.record.logs,
        });
        Ok(serde_json::to_string_pretty(&v).unwrap_or_default())
    }
    crate::for_point!(module.point, P => run::<P>(engine, module, input))
}

/// Parses a cases file for `module`'s decision point and runs it.
///
/// # Errors
/// An unreadable or malformed cases file.
pub fn run_cases_text(
    engine: &PolicyEngine,
    module: &PolicyModule,
    path: &Path,
    text: &str,
) -> Result<Vec<CaseResult>, InputError> {
    fn go<P: WitPoint>(
        engine: &PolicyEngine,
        module: &PolicyModule,
        path: &Path,
        text: &str,
    ) -> Result<Vec<CaseResult>, InputError> {
        let file: CasesFile<P::Context> = input::parse(path, text)?;
        Ok(cases::run::<P>(engine, module, file))
    }
    crate::for_point!(module.point, P => go::<P>(engine, module, path, text))
}

/// Formats case results: one line each, then `N passed, N failed`.
pub fn format_results(results: &[CaseResult]) -> (String, usize) {
    let mut out = String::new();
    let mut failed = 0;
    for r in results {
        match &r.mismatch {
            None => out.push_str(&format!(
                "ok   {} ({} fuel, {} µs)\n",
                r.name, r.fuel, r.micros
            )),
            Some(why) => {
                failed += 1;
                out.push_str(&format!("FAIL {}: {}\n", r.name, printable(why)));
            }
        }
    }
    out.push_str(&format!(
        "{} passed, {failed} failed\n",
        results.len() - failed
    ));
    (out, failed)
}

/// `sluice policy test`: runs golden cases; an error when any fails.
///
/// # Errors
/// A malformed cases file, or failed cases (after printing every line).
pub fn test(
    engine: &PolicyEngine,
    module: &PolicyModule,
    cases_path: &Path,
) -> Result<String, PolicyCommandError> {
    let text = std::fs::read_to_string(cases_path).map_err(|source| InputError::Read {
        path: cases_path.to_owned(),
        source,
    })?;
    let results = run_cases_text(engine, module, cases_path, &text)?;
    let (out, failed) = format_results(&results);
    print!("{out}");
    if failed > 0 {
        return Err(PolicyCommandError::CasesFailed {
            failed,
            total: results.len(),
        });
    }
    Ok(String::new())
}

/// Latency percentiles of repeated decisions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    /// Decisions measured.
    pub iterations: usize,
    /// Median wall time per decision, including a fresh instance.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Fuel per decision (the last one).
    pub fuel: u64,
    /// Decisions that failed (the pipeline would have used its fail-safe).
    pub failed: usize,
    /// Why the first failed decision failed.
    pub first_failure: Option<String>,
}

/// `sluice policy bench`: repeated decisions on the input's context (or the trial
/// context), timed end to end (fresh store and instance each).
///
/// # Errors
/// Unreadable input or parameters that do not fit.
pub fn bench(
    engine: &PolicyEngine,
    module: &PolicyModule,
    input: Option<&PathBuf>,
    iterations: usize,
) -> Result<BenchReport, PolicyCommandError> {
    fn go<P: WitPoint>(
        engine: &PolicyEngine,
        module: &PolicyModule,
        input: Option<&PathBuf>,
        iterations: usize,
    ) -> Result<BenchReport, PolicyCommandError> {
        let (raw, ctx) = match input {
            Some(path) => {
                let parsed: EvalInput<P::Context> = input::read(path)?;
                (parsed.params, Some(parsed.context))
            }
            None => (RawParams::new(), None),
        };
        let binding = Binding::<P>::with_defaults(&module.description, &raw)?;
        let ctx = ctx.unwrap_or_else(|| P::trial_context("bench", binding.params.clone()));
        let metrics = Metrics::new();
        let mut times = Vec::with_capacity(iterations);
        let mut fuel = 0;
        let (mut failed, mut first_failure) = (0, None);
        for _ in 0..iterations.max(1) {
            let started = Instant::now();
            let e = decide::<P>(
                engine,
                module,
                &binding,
                ctx.clone(),
                SystemTime::now(),
                &metrics,
            );
            times.push(started.elapsed());
            fuel = e.stats.fuel_used;
            if let Some(why) = &e.failure {
                failed += 1;
                first_failure.get_or_insert_with(|| why.to_string());
            }
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        Ok(BenchReport {
            iterations: times.len(),
            p50: at(0.5),
            p99: at(0.99),
            fuel,
            failed,
            first_failure,
        })
    }
    crate::for_point!(module.point, P => go::<P>(engine, module, input, iterations))
}
