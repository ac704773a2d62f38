//! Policies in Python and JavaScript, first class: the four stock policies ported to
//! both pass the very same golden cases as the Rust ones and decide identically on
//! generated contexts; a running registry swaps Rust → Python → JavaScript → Rust while
//! deciding; a Python policy that loops forever and a JavaScript one that allocates
//! without bound get the fail-safe; `sluice policy new` makes a project in every
//! language for every point that builds and passes its cases as generated.
//!
//! Builds with the toolchains `scripts/policy-tools.sh` installs (`scripts/test.sh`
//! runs it and exports `SLUICE_COMPONENTIZE_PY` and `SLUICE_JS_TOOLS`). Without them
//! the builds fail with sluice's own message saying how to install them.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sluice::decision::{DecisionPoint, Point, Promotion, RawParams, Regression, Retrain, Rollout};
use sluice::metrics::Metrics;
use sluice::policy::{
    Binding, Build, CallFailure, EngineSettings, PolicyEngine, PolicyModule, PolicyRegistry,
    PolicyUse, Tier, WitPoint, decide,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// One compiled-module cache for this test process and every `sluice` it runs (as
/// `$XDG_CACHE_HOME`): a 12–18 MB Python or JavaScript module is compiled once, not
/// once per load, and nothing is written to the user's own cache.
fn cache_home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// An engine with the settings `sluice policy` uses, sharing its cache.
fn engine() -> Arc<PolicyEngine> {
    static ENGINE: OnceLock<Arc<PolicyEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            PolicyEngine::new(EngineSettings {
                cache_dir: Some(cache_home().join("sluice").join("compiled")),
                ..EngineSettings::default()
            })
            .expect("engine")
        })
        .clone()
}

/// The stock policies and the guest each is built as by the build script.
const STOCK: [(&str, DecisionPoint); 4] = [
    ("threshold-retrain", DecisionPoint::Retrain),
    ("metric-gate", DecisionPoint::Promotion),
    ("stat-regression", DecisionPoint::Regression),
    ("canary-steps", DecisionPoint::Rollout),
];
const LANGS: [&str; 2] = ["python", "js"];
/// The deadline of decisions in these tests; see [`decide_json`].
const RELAXED_DEADLINE_MS: u64 = 5_000;

fn sluice(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args)
        .current_dir(ROOT)
        .env("XDG_CACHE_HOME", cache_home());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sluice")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `sluice policy build DIR --out OUT`, asserting success.
fn build(dir: &Path, out: &Path, env: &[(&str, &Path)]) -> PathBuf {
    let o = sluice(
        &[
            "policy",
            "build",
            &dir.display().to_string(),
            "--out",
            &out.display().to_string(),
        ],
        env,
    );
    assert!(
        o.status.success(),
        "building {} failed:\n{}",
        dir.display(),
        text(&o)
    );
    assert!(out.is_file(), "{} not written", out.display());
    out.to_owned()
}

/// Every Python and JavaScript module the tests use, built once per test process:
/// the ported stock policies as `(name, lang)`, and the hostile guests as
/// `("hostile", lang)`. Two builds run at a time.
fn built() -> &'static HashMap<(String, String), PathBuf> {
    static BUILT: OnceLock<HashMap<(String, String), PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Box::leak(Box::new(tempfile::tempdir().expect("tempdir")));
        let mut jobs: Vec<(String, String, PathBuf)> = Vec::new();
        for (name, _) in STOCK {
            for lang in LANGS {
                let dir = Path::new(ROOT).join("policies").join(name).join(lang);
                jobs.push((name.into(), lang.into(), dir));
            }
        }
        for lang in LANGS {
            let dir = Path::new(ROOT)
                .join("tests/guests")
                .join(format!("hostile-{lang}"));
            jobs.push(("hostile".into(), lang.into(), dir));
        }
        let (left, right) = jobs.split_at(jobs.len() / 2);
        let run = |jobs: &[(String, String, PathBuf)]| {
            jobs.iter()
                .map(|(name, lang, dir)| {
                    let wasm = out.path().join(format!("{name}-{lang}.wasm"));
                    ((name.clone(), lang.clone()), build(dir, &wasm, &[]))
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run(left));
            let b = s.spawn(|| run(right));
            (a.join(), b.join())
        });
        let (a, b) = (
            a.unwrap_or_else(|p| std::panic::resume_unwind(p)),
            b.unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        a.into_iter().chain(b).collect()
    })
}

/// Loaded modules by `(name, lang)`.
type Modules = HashMap<(String, String), Arc<PolicyModule>>;

/// The loaded module of `name` in `lang` (`rust` is the build script's guest); each is
/// loaded once per test process.
fn module(name: &str, lang: &str) -> Arc<PolicyModule> {
    static LOADED: OnceLock<Mutex<Modules>> = OnceLock::new();
    let key = (name.to_owned(), lang.to_owned());
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(m) = loaded.lock().expect("lock").get(&key) {
        return m.clone();
    }
    let path = if lang == "rust" {
        common::guest(name)
    } else {
        built()[&key].clone()
    };
    // Baseline code: the decisions are the same, and a 12–18 MB module compiles in
    // seconds instead of tens of seconds.
    let m = PolicyModule::load_file_build(&engine(), &path, None, Build::Quick)
        .unwrap_or_else(|e| panic!("{name} ({lang}) does not load: {e}"));
    loaded.lock().expect("lock").insert(key, m.clone());
    m
}

#[test]
fn ported_stock_policies_pass_the_rust_golden_cases() {
    for (name, _) in STOCK {
        let cases = format!("policies/{name}/cases.yaml");
        for lang in LANGS {
            let wasm = &built()[&(name.to_owned(), lang.to_owned())];
            let o = sluice(
                &[
                    "policy",
                    "test",
                    &wasm.display().to_string(),
                    "--cases",
                    &cases,
                ],
                &[],
            );
            let t = text(&o);
            assert!(o.status.success(), "{name} ({lang}):\n{t}");
            assert!(t.contains(" passed, 0 failed"), "{name} ({lang}):\n{t}");
        }
        let rust = module(name, "rust");
        for lang in LANGS {
            let other = module(name, lang);
            assert_eq!(
                other.description, rust.description,
                "{name} in {lang} describes itself differently from Rust"
            );
            assert_eq!(other.point, rust.point);
        }
    }
}

/// One decision of `module` on `(params, context)` as `policy eval` takes them; the
/// decision as JSON, after checking it did not fail.
fn decide_json<P: WitPoint>(module: &PolicyModule, params: &RawParams, context: &Value) -> Value {
    let ctx: P::Context = serde_json::from_value(context.clone()).expect("context parses");
    let mut binding = Binding::<P>::with_defaults(&module.description, params).expect("params fit");
    // These tests are about what is decided, not how fast: an interpreter on baseline
    // (Winch) code in a debug-built host on a loaded 2-vCPU machine takes 50–100 ms
    // per decision, at the default deadline.
    binding.limits.deadline_ms = RELAXED_DEADLINE_MS;
    let e = decide::<P>(
        &engine(),
        module,
        &binding,
        ctx,
        SystemTime::UNIX_EPOCH,
        &Metrics::new(),
    );
    assert_eq!(
        e.failure, None,
        "{} failed on {params:?} {context}",
        module.source
    );
    serde_json::to_value(&e.decision).expect("decision serializes")
}

/// Runs `cases` generated contexts through the Rust, Python and JavaScript versions of
/// `name` and requires identical decisions, reasons and statistics included.
fn differential<P: WitPoint>(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = (RawParams, Value)>,
) {
    let modules: Vec<(&str, Arc<PolicyModule>)> = ["rust", "python", "js"]
        .into_iter()
        .map(|lang| (lang, module(name, lang)))
        .collect();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(params, context)| {
            let rust = decide_json::<P>(&modules[0].1, &params, &context);
            for (lang, m) in &modules[1..] {
                let other = decide_json::<P>(m, &params, &context);
                prop_assert_eq!(
                    &other,
                    &rust,
                    "{} in {} on {:?} {}",
                    name,
                    lang,
                    params,
                    context
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn params(pairs: Vec<(&str, Option<Value>)>) -> RawParams {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
}

fn maybe<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::weighted(0.6, s)
}

#[test]
fn retrain_decides_identically_in_three_languages() {
    let strategy = (
        maybe(1i64..200),
        maybe(0u64..200_000),
        maybe(0u64..4_000),
        0u64..400,
        maybe(0u64..300_000),
        any::<bool>(),
        proptest::sample::select(vec!["promoted", "rejected", "failed"]),
    )
        .prop_map(
            |(min_new, max_age, min_interval, fresh, since, active, last)| {
                let p = params(vec![
                    ("min_new_samples", min_new.map(|v| json!(v))),
                    ("max_age", max_age.map(|v| json!(v))),
                    ("min_interval", min_interval.map(|v| json!(v))),
                ]);
                let ctx = json!({
                    "pipeline": "p", "new_samples": fresh, "total_samples": fresh + 1000,
                    "seconds_since_last_training": since, "last_outcome": since.map(|_| last),
                    "run_active": active,
                });
                (p, ctx)
            },
        );
    differential::<Retrain>("threshold-retrain", 200, strategy);
}

fn metric_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (0u32..1000).prop_map(|v| json!(f64::from(v) / 1000.0)),
        2 => (-1e6f64..1e6).prop_map(|v| json!(v)),
        1 => Just(Value::Null), // NaN
    ]
}

fn report() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        proptest::sample::select(vec!["accuracy", "latency_ms", "f1"]),
        metric_value(),
        0..3,
    )
    .prop_map(|m| json!({ "version": "v2", "metrics": m }))
}

#[test]
fn promotion_decides_identically_in_three_languages() {
    let rule = (
        proptest::sample::select(vec!["accuracy", "latency_ms", "f1"]),
        proptest::sample::select(vec!["higher", "lower", "sideways"]),
        maybe((0u32..1000).prop_map(|v| f64::from(v) / 1000.0)),
        maybe((0u32..1000).prop_map(|v| f64::from(v) / 1000.0)),
        maybe((0u32..100).prop_map(|v| f64::from(v) / 1000.0)),
    )
        .prop_map(|(metric, dir, min, max, tol)| {
            let mut r = format!("{metric} {dir}");
            for (k, v) in [("min", min), ("max", max), ("tolerance", tol)] {
                if let Some(v) = v {
                    r.push_str(&format!(" {k} {v}"));
                }
            }
            r
        });
    let strategy = (
        maybe(proptest::collection::vec(rule, 1..4)),
        maybe(any::<bool>()),
        report(),
        maybe(report()),
    )
        .prop_map(|(rules, approval, candidate, production)| {
            let p = params(vec![
                ("rules", rules.map(|r| json!(r))),
                ("require_approval", approval.map(|b| json!(b))),
            ]);
            let ctx = json!({
                "pipeline": "p", "candidate": candidate,
                "production": production.map(|mut r| { r["version"] = json!("v1"); r }),
            });
            (p, ctx)
        });
    differential::<Promotion>("metric-gate", 200, strategy);
}

fn window() -> impl Strategy<Value = Value> {
    let samples = |shift: f64| {
        proptest::collection::vec(
            prop_oneof![
                30 => (-30.0f64..30.0).prop_map(move |v| json!(100.0 + shift + v)),
                1 => Just(Value::Null),
                1 => Just(json!(1e4)),
            ],
            0..50,
        )
    };
    (
        proptest::sample::select(vec!["latency_ms", "accuracy"]),
        proptest::sample::select(vec!["higher-is-better", "lower-is-better"]),
        (-20.0f64..20.0),
        any::<bool>(),
    )
        .prop_flat_map(move |(name, direction, shift, constant)| {
            let canary = if constant {
                proptest::collection::vec(Just(json!(100.0)), 0..40).boxed()
            } else {
                samples(shift).boxed()
            };
            (samples(0.0), canary).prop_map(move |(baseline, canary)| {
                json!({ "name": name, "direction": direction, "baseline": baseline, "canary": canary })
            })
        })
}

#[test]
fn regression_decides_identically_in_three_languages() {
    let strategy = (
        maybe(proptest::sample::select(vec![0.01, 0.05, 0.2])),
        maybe(2i64..40),
        maybe(proptest::sample::select(vec![0.0, 0.2, 0.8])),
        maybe(proptest::sample::select(vec!["iqr", "mad", "none"])),
        maybe(proptest::sample::select(vec!["welch", "mann-whitney"])),
        proptest::collection::vec(window(), 0..3),
    )
        .prop_map(|(alpha, min_samples, min_effect, filter, test, windows)| {
            let p = params(vec![
                ("alpha", alpha.map(|v| json!(v))),
                ("min_samples", min_samples.map(|v| json!(v))),
                ("min_effect", min_effect.map(|v| json!(v))),
                ("outlier_filter", filter.map(|v| json!(v))),
                ("test", test.map(|v| json!(v))),
            ]);
            // Window names must be unique for a valid decision.
            let mut seen = std::collections::HashSet::new();
            let windows: Vec<Value> = windows
                .into_iter()
                .filter(|w| seen.insert(w["name"].to_string()))
                .collect();
            (p, json!({ "pipeline": "p", "metrics": windows }))
        });
    differential::<Regression>("stat-regression", 150, strategy);
}

#[test]
fn rollout_decides_identically_in_three_languages() {
    let strategy = (
        maybe(proptest::sample::select(vec![
            vec![10, 25, 50, 100],
            vec![5, 50, 100],
            vec![100],
            vec![1, 2, 3, 100],
        ])),
        maybe(0u64..200),
        maybe(0i64..12),
        0usize..5,
        0u64..300,
        0u32..15,
        maybe(proptest::sample::select(vec![
            "pass",
            "regressed",
            "inconclusive",
        ])),
    )
        .prop_map(
            |(steps, min_step, max_holds, at, seconds, holds, verdict)| {
                let s = steps.clone().unwrap_or_else(|| vec![10, 25, 50, 100]);
                let weight = if at == 0 {
                    0
                } else {
                    s[(at - 1).min(s.len() - 1)]
                };
                let p = params(vec![
                    ("steps", steps.map(|v| json!(v))),
                    ("min_step_time", min_step.map(|v| json!(v))),
                    ("max_holds", max_holds.map(|v| json!(v))),
                ]);
                let ctx = json!({
                    "pipeline": "p", "stable_version": "v1", "candidate_version": "v2",
                    "current_weight": weight, "step_index": at, "seconds_at_step": seconds,
                    "holds_at_step": holds, "verdict": if weight == 0 { None } else { verdict },
                });
                (p, ctx)
            },
        );
    differential::<Rollout>("canary-steps", 200, strategy);
}

/// Replaces `retrain.wasm` in `dir` atomically, as a deploy would.
fn put(dir: &Path, module: &Path) {
    let tmp = dir.join(".incoming");
    std::fs::copy(module, &tmp).expect("copy");
    std::fs::rename(&tmp, dir.join("retrain.wasm")).expect("rename");
}

/// Pipeline `fraud` using module `retrain` with `min_new_samples: 10`.
fn retrain_use(deadline_ms: u64) -> Vec<PolicyUse> {
    vec![PolicyUse {
        pipeline: "fraud".into(),
        module: "retrain".into(),
        point: DecisionPoint::Retrain,
        params: [("min_new_samples".to_owned(), json!(10))].into(),
        limits: sluice::policy::Limits {
            deadline_ms,
            ..Default::default()
        },
        pin: None,
    }]
}

#[test]
fn a_running_registry_swaps_rust_python_js_and_back_while_deciding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rust = common::guest("threshold-retrain");
    let python = built()[&("threshold-retrain".to_owned(), "python".to_owned())].clone();
    let js = built()[&("threshold-retrain".to_owned(), "js".to_owned())].clone();
    put(dir.path(), &rust);
    // A deadline this relaxed lets each swap go live on baseline (Winch) code, where a
    // Python decision takes 50–100 ms, before its optimized build replaces it: both
    // tiers serve decisions here.
    let usage = retrain_use(RELAXED_DEADLINE_MS);
    let limits = usage[0].limits;
    let reg =
        PolicyRegistry::open(engine(), dir.path(), usage, Arc::new(Metrics::new())).expect("opens");
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // Decides without pause while the module is swapped under it: every decision
        // succeeds, and all three languages give the same answer.
        let decider = s.spawn(|| {
            let mut seen = std::collections::BTreeSet::new();
            let mut decisions = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || decisions == 0 {
                let active = reg.get("retrain").expect("active");
                let binding = Binding::<Retrain> {
                    params: active.params["fraud"].clone(),
                    limits,
                    fail_safe: Default::default(),
                };
                let ctx: <Retrain as Point>::Context =
                    serde_json::from_value(json!({ "pipeline": "fraud", "new_samples": 12 }))
                        .expect("context");
                let e = decide::<Retrain>(
                    &engine(),
                    &active.module,
                    &binding,
                    ctx,
                    SystemTime::now(),
                    &Metrics::new(),
                );
                assert_eq!(e.failure, None, "{:?}", e.record);
                assert_eq!(
                    serde_json::to_value(&e.decision).expect("json"),
                    json!({ "train": { "reason": "12 new verified samples ≥ min_new_samples 10", "args": [] } })
                );
                seen.insert(e.record.module_sha256);
                decisions += 1;
            }
            seen
        });
        let mut digests = Vec::new();
        for module in [&python, &js, &rust] {
            put(dir.path(), module);
            let report = reg.rescan();
            assert_eq!(report.swapped, vec!["retrain".to_owned()], "{report:?}");
            let active = reg.get("retrain").expect("active");
            digests.push(active.module.sha256.clone());
            // Let some decisions run on this module.
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = decider.join().expect("decider");
        for d in &digests {
            assert!(seen.contains(d), "no decision was made by {d}");
        }
    });
}

/// Swapping in a Python module whose baseline (Winch) code decides too slowly for
/// the pipeline's deadline waits for the optimized build: the old module serves
/// meanwhile, and the new one goes live on optimized code, never on code that would
/// miss the deadline. A deadline of 40 ms sets the bar at 10 ms: Python on Winch takes
/// 50–100 ms a decision, on Cranelift code 2–3 ms (BENCHMARKS.md).
#[test]
fn a_swap_waits_for_optimized_code_when_baseline_code_is_too_slow_for_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), &common::guest("threshold-retrain"));
    let usage = retrain_use(40);
    // A cold engine: no cache holds the optimized build, so the swap compiles Winch
    // code first, as in a fresh process.
    let cold = PolicyEngine::new(EngineSettings::default()).expect("engine");
    let metrics = Arc::new(Metrics::new());
    let reg = PolicyRegistry::open(cold, dir.path(), usage, metrics.clone()).expect("opens");
    let rust_sha = reg.get("retrain").expect("active").module.sha256.clone();
    put(
        dir.path(),
        &built()[&("threshold-retrain".to_owned(), "python".to_owned())],
    );
    let report = reg.rescan();
    assert_eq!(report.swapped, vec!["retrain".to_owned()], "{report:?}");
    assert!(report.upgrading.is_empty(), "{report:?}");
    let active = reg.get("retrain").expect("active");
    assert_ne!(active.module.sha256, rust_sha);
    assert_eq!(active.module.tier, Tier::Optimized);
    assert_eq!(
        metrics.get(
            sluice::metrics::names::POLICY_BASELINE_SKIPPED,
            &[("module", "retrain")]
        ),
        1
    );
}

fn hostile_decision(lang: &str) -> (Option<CallFailure>, Value) {
    let m = module("hostile", lang);
    assert_eq!(m.description.name, format!("hostile-{lang}"));
    let binding =
        Binding::<Retrain>::with_defaults(&m.description, &RawParams::new()).expect("no params");
    let ctx: <Retrain as Point>::Context =
        serde_json::from_value(json!({ "pipeline": "p", "new_samples": 1 })).expect("context");
    let e = decide::<Retrain>(
        &engine(),
        &m,
        &binding,
        ctx,
        SystemTime::now(),
        &Metrics::new(),
    );
    (e.failure, serde_json::to_value(&e.decision).expect("json"))
}

#[test]
fn a_python_policy_that_loops_forever_gets_the_fail_safe() {
    let (failure, decision) = hostile_decision("python");
    assert!(
        matches!(
            failure,
            Some(CallFailure::OutOfFuel { .. } | CallFailure::Deadline { .. })
        ),
        "{failure:?}"
    );
    assert!(
        decision.get("wait").is_some(),
        "fail-safe is wait: {decision}"
    );
    // The engine is unharmed: the next module decides normally.
    let ok = module("threshold-retrain", "python");
    decide_json::<Retrain>(
        &ok,
        &RawParams::new(),
        &json!({ "pipeline": "p", "new_samples": 60 }),
    );
}

#[test]
fn a_js_policy_that_allocates_without_bound_gets_the_fail_safe() {
    let (failure, decision) = hostile_decision("js");
    // Stopped at the 64 MiB linear-memory cap, long before fuel or the deadline.
    assert!(
        matches!(failure, Some(CallFailure::MemoryCap { .. })),
        "{failure:?}"
    );
    assert!(
        decision.get("wait").is_some(),
        "fail-safe is wait: {decision}"
    );
    let ok = module("threshold-retrain", "js");
    decide_json::<Retrain>(
        &ok,
        &RawParams::new(),
        &json!({ "pipeline": "p", "new_samples": 60 }),
    );
}

/// `policy new`, `policy build` and `policy test` of one generated project.
fn scaffold_builds_and_passes(parent: &Path, rust_target: &Path, lang: &str, point: DecisionPoint) {
    let name = format!("my-{}-{lang}", point.as_str());
    let o = sluice(
        &[
            "policy",
            "new",
            &name,
            "--lang",
            lang,
            "--point",
            point.as_str(),
            "--dir",
            &parent.display().to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let project = parent.join(&name);
    let wasm = project.join("dist").join(format!("{name}.wasm"));
    let o = sluice(
        &["policy", "build", &project.display().to_string()],
        &[("CARGO_TARGET_DIR", rust_target)],
    );
    assert!(o.status.success(), "{name}: {}", text(&o));
    assert!(text(&o).contains("sha256:"), "{}", text(&o));
    let cases = project.join("cases.yaml");
    let o = sluice(
        &[
            "policy",
            "test",
            &wasm.display().to_string(),
            "--cases",
            &cases.display().to_string(),
        ],
        &[],
    );
    let t = text(&o);
    assert!(
        o.status.success() && t.contains(" passed, 0 failed"),
        "{name}:\n{t}"
    );
    let m =
        PolicyModule::load_file_build(&engine(), &wasm, Some(point), Build::Quick).expect("loads");
    assert_eq!(m.description.name, name);
}

#[test]
fn policy_new_scaffolds_build_and_pass_their_cases_in_every_language() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The four Rust projects share one target directory, so the SDK builds once; the
    // Rust ones run in one thread (they share that directory's lock), the Python and
    // JavaScript ones in another.
    let rust_target = tmp.path().join("rust-target");
    std::thread::scope(|s| {
        let rust = s.spawn(|| {
            for point in DecisionPoint::ALL {
                scaffold_builds_and_passes(tmp.path(), &rust_target, "rust", point);
            }
        });
        for lang in ["python", "js"] {
            for point in DecisionPoint::ALL {
                scaffold_builds_and_passes(tmp.path(), &rust_target, lang, point);
            }
        }
        rust.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
    });
    // A second `policy new` of the same name refuses and changes nothing.
    let before =
        std::fs::read_to_string(tmp.path().join("my-retrain-python/policy.py")).expect("generated");
    let o = sluice(
        &[
            "policy",
            "new",
            "my-retrain-python",
            "--lang",
            "js",
            "--point",
            "retrain",
            "--dir",
            &tmp.path().display().to_string(),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    let after = std::fs::read_to_string(tmp.path().join("my-retrain-python/policy.py"))
        .expect("still there");
    assert_eq!(before, after);
}

#[test]
fn build_refusals_say_what_is_wrong_and_leave_nothing_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Not a project.
    let o = sluice(&["policy", "build", &tmp.path().display().to_string()], &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("is not a policy project"), "{}", text(&o));

    // A manifest naming a decision point that does not exist.
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).expect("mkdir");
    std::fs::write(
        bad.join("pyproject.toml"),
        "[project]\nname = \"bad\"\n[tool.sluice]\npoint = \"deploy\"\n",
    )
    .expect("write");
    let o = sluice(&["policy", "build", &bad.display().to_string()], &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("pyproject.toml: [tool.sluice] point is `deploy`"),
        "{}",
        text(&o)
    );

    // No toolchain: the message says how to install it.
    let o = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["policy", "build", "policies/threshold-retrain/python"])
        .current_dir(ROOT)
        .env_remove("SLUICE_COMPONENTIZE_PY")
        .env("PATH", "/nonexistent")
        .output()
        .expect("run sluice");
    assert!(!o.status.success());
    assert!(
        text(&o).contains(
            "cannot find `componentize-py`: install it with `pip install componentize-py==0.25.1`"
        ),
        "{}",
        text(&o)
    );

    // A policy that does not import: the tool's output is shown, and no module (not
    // even a partial one) is written.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).expect("mkdir");
    std::fs::write(
        broken.join("pyproject.toml"),
        "[project]\nname = \"broken\"\n[tool.sluice]\npoint = \"retrain\"\n",
    )
    .expect("write");
    std::fs::write(broken.join("policy.py"), "def decide(:\n").expect("write");
    let o = sluice(&["policy", "build", &broken.display().to_string()], &[]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("SyntaxError") && t.contains("failed"), "{t}");
    let dist = broken.join("dist");
    let left: Vec<_> = std::fs::read_dir(&dist)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A TypeScript policy builds (rolldown strips the types), passes the same cases as the
/// JavaScript one, and type-checks under `strict` against the SDK's `index.d.ts`.
#[test]
fn a_typescript_policy_builds_type_checks_and_passes_the_cases() {
    let dir = Path::new(ROOT).join("tests/guests/typed-ts");
    let out = tempfile::tempdir().expect("tempdir");
    let wasm = build(&dir, &out.path().join("typed.wasm"), &[]);
    let o = sluice(
        &[
            "policy",
            "test",
            &wasm.display().to_string(),
            "--cases",
            "policies/threshold-retrain/cases.yaml",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let tools = std::env::var_os("SLUICE_JS_TOOLS")
        .map(PathBuf::from)
        .expect("SLUICE_JS_TOOLS (scripts/policy-tools.sh sets it)");
    let o = Command::new(tools.join("node_modules/.bin/tsc"))
        .args(["-p", "."])
        .current_dir(&dir)
        .output()
        .expect("run tsc");
    assert!(o.status.success(), "tsc:\n{}", text(&o));
}
