//! What a policy costs in Rust, Python and JavaScript, same run: component size, linear
//! memory at instantiation, cold load (optimized and baseline), load from the disk
//! cache, swap (new build written → rescan → first decision, cold and from the
//! cache), and decision p50/p99 with a fresh instance per decision.
//!
//! `eval "$(scripts/policy-tools.sh)" && cargo bench -p sluice --bench polyglot`
//! (the Python and JavaScript modules are built first with `sluice policy build`'s
//! code, from `policies/<name>/{python,js}`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sluice::cli::authoring::{build, project};
use sluice::decision::{DecisionPoint, RawParams};
use sluice::metrics::Metrics;
use sluice::policy::{
    Binding, Build, EngineSettings, Limits, PolicyEngine, PolicyModule, PolicyRegistry, PolicyUse,
    Tier, WitPoint, decide,
};
use sluice::stock::GUEST_DIR;

#[path = "../tests/common/wasm_bytes.rs"]
#[expect(
    dead_code,
    reason = "shared with the tests and the policy bench; this bench uses `rebuilt`"
)]
mod wasm_bytes;
use wasm_bytes::rebuilt;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const POLICIES: [(&str, DecisionPoint); 4] = [
    ("threshold-retrain", DecisionPoint::Retrain),
    ("metric-gate", DecisionPoint::Promotion),
    ("stat-regression", DecisionPoint::Regression),
    ("canary-steps", DecisionPoint::Rollout),
];
const DECISIONS: usize = 1000;
/// The larger resident share measured beside the default: covers an interpreter's
/// 9–13 MB snapshot heap.
const KEEP_RESIDENT_LARGE: u64 = 16 << 20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The module of `name` in `lang`: the build script's Rust guest, or a fresh build.
fn module_file(out: &Path, name: &str, lang: &str) -> PathBuf {
    if lang == "rust" {
        return Path::new(GUEST_DIR).join(format!("{name}.wasm"));
    }
    let dir = Path::new(ROOT).join("policies").join(name).join(lang);
    let project = project::read(&dir).expect("project");
    let file = out.join(format!("{name}-{lang}.wasm"));
    build::build(&project, Some(&file)).expect("build (run scripts/policy-tools.sh first)");
    file
}

/// Linear memory the component's core modules declare at instantiation (the sum of
/// their memories' minimum sizes): what each live pooled instance commits at least,
/// before copy-on-write pages it touches.
fn initial_memory(bytes: &[u8]) -> u64 {
    let mut total = 0;
    for payload in wasmtime::wasmparser::Parser::new(0)
        .parse_all(bytes)
        .flatten()
    {
        if let wasmtime::wasmparser::Payload::MemorySection(reader) = payload {
            for memory in reader.into_iter().flatten() {
                total += memory.initial * (1u64 << memory.page_size_log2.unwrap_or(16));
            }
        }
    }
    total
}

fn one_decision<P: WitPoint>(engine: &PolicyEngine, m: &PolicyModule) -> Duration {
    let binding = Binding::<P>::with_defaults(&m.description, &RawParams::new()).expect("params");
    let ctx = P::trial_context("bench", vec![]);
    let started = Instant::now();
    let e = decide::<P>(engine, m, &binding, ctx, SystemTime::now(), &Metrics::new());
    let took = started.elapsed();
    assert!(e.failure.is_none(), "{}: {:?}", m.source, e.failure);
    took
}

/// p50 and p99 of `DECISIONS` decisions, each on a fresh instance, in µs.
fn decisions(engine: &PolicyEngine, m: &PolicyModule, point: DecisionPoint) -> (f64, f64, usize) {
    for _ in 0..20 {
        sluice::for_point!(point, P => one_decision::<P>(engine, m));
    }
    let mut t: Vec<f64> = (0..DECISIONS)
        .map(|_| sluice::for_point!(point, P => one_decision::<P>(engine, m)).as_secs_f64() * 1e6)
        .collect();
    t.sort_by(f64::total_cmp);
    let over_deadline = t.iter().filter(|us| **us > 100_000.0).count();
    (t[t.len() / 2], t[t.len() * 99 / 100], over_deadline)
}

/// Swap: `bytes` rebuilt and written over a live module → rescan → first decision, ms.
fn swap(engine: &Arc<PolicyEngine>, bytes: &[u8], point: DecisionPoint, n: usize) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("m.wasm");
    std::fs::write(&file, bytes).expect("write");
    let use_ = PolicyUse {
        pipeline: "bench".into(),
        module: "m".into(),
        point,
        params: RawParams::new(),
        limits: Limits::default(),
        pin: None,
    };
    let reg = PolicyRegistry::open(
        engine.clone(),
        dir.path(),
        vec![use_],
        Arc::new(Metrics::new()),
    )
    .expect("registry");
    let next = rebuilt(bytes, n);
    let started = Instant::now();
    std::fs::write(&file, &next).expect("write");
    assert_eq!(reg.rescan().swapped.len(), 1, "swapped");
    let active = reg.get("m").expect("active");
    sluice::for_point!(point, P => one_decision::<P>(engine, &active.module));
    let took = ms(started.elapsed());
    // Let a background upgrade finish before the next measurement.
    while reg.get("m").expect("active").module.tier != Tier::Optimized {
        std::thread::sleep(Duration::from_millis(5));
    }
    took
}

fn main() {
    let out = tempfile::tempdir().expect("tempdir");
    println!(
        "== policy cost by language (release host; decisions on optimized code, fresh instance each)"
    );
    println!(
        "{:<18} {:<7} {:>8} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9} {:>9} {:>5}",
        "policy",
        "lang",
        "size",
        "memory",
        "cold opt",
        "cold base",
        "disk",
        "swap cold",
        "swap cache",
        "p50 µs",
        "p99 µs",
        ">100ms"
    );
    let mut resident_rows = Vec::new();
    let mut n = 0;
    for (name, point) in POLICIES {
        for lang in ["rust", "python", "js"] {
            let file = module_file(out.path(), name, lang);
            let bytes = std::fs::read(&file).expect("read");
            let cache = tempfile::tempdir().expect("cache");
            let cached = PolicyEngine::new(EngineSettings {
                cache_dir: Some(cache.path().to_owned()),
                ..EngineSettings::default()
            })
            .expect("engine");
            // Cold loads: a fresh engine each, nothing cached.
            let fresh = || PolicyEngine::new(EngineSettings::default()).expect("engine");
            let cold_opt = PolicyModule::load_build(&fresh(), name, &bytes, None, Build::Optimized)
                .expect("load")
                .load_time;
            let cold_base = PolicyModule::load_build(&fresh(), name, &bytes, None, Build::Baseline)
                .expect("load")
                .load_time;
            // Fill the disk cache, then load from it on engines that have it only on disk.
            let m = PolicyModule::load_build(&cached, name, &bytes, None, Build::Optimized)
                .expect("load");
            let disk = median(
                (0..5)
                    .map(|_| {
                        let e = PolicyEngine::new(cached.settings().clone()).expect("engine");
                        ms(
                            PolicyModule::load_build(&e, name, &bytes, None, Build::Optimized)
                                .expect("load")
                                .load_time,
                        )
                    })
                    .collect(),
            );
            n += 1;
            let swap_cold = swap(&fresh(), &bytes, point, n);
            // From the cache: the rebuilt bytes' optimized build is already on disk.
            n += 1;
            let next = rebuilt(&bytes, n);
            let pre = PolicyModule::load_build(&cached, name, &next, None, Build::Optimized)
                .expect("load");
            drop(pre);
            let warm_engine = PolicyEngine::new(cached.settings().clone()).expect("engine");
            let swap_cache = swap(&warm_engine, &bytes, point, n);
            let (p50, p99, late) = decisions(&cached, &m, point);
            // The same decisions with more of each pooled slot kept resident.
            let large = PolicyEngine::new(EngineSettings {
                keep_resident_bytes: KEEP_RESIDENT_LARGE,
                ..cached.settings().clone()
            })
            .expect("engine");
            let m_large = PolicyModule::load_build(&large, name, &bytes, None, Build::Optimized)
                .expect("load");
            let (p50_large, p99_large, late_large) = decisions(&large, &m_large, point);
            resident_rows.push(format!(
                "{name:<18} {lang:<7} {p50:>9.1} {p99:>9.1} {p50_large:>9.1} {p99_large:>9.1} {:>6.2} {late_large:>5}",
                p50 / p50_large
            ));
            println!(
                "{name:<18} {lang:<7} {:>6.2}MB {:>7.1}MB {:>8.0}ms {:>8.0}ms {:>7.1}ms {:>8.0}ms {:>8.1}ms {:>9.1} {:>9.1} {:>5}",
                bytes.len() as f64 / 1e6,
                initial_memory(&bytes) as f64 / (1u64 << 20) as f64,
                ms(cold_opt),
                ms(cold_base),
                disk,
                swap_cold,
                swap_cache,
                p50,
                p99,
                late,
            );
        }
    }
    println!(
        "\n== decisions with {} MiB kept resident per pooled slot against the default {} MiB (same run)",
        KEEP_RESIDENT_LARGE >> 20,
        sluice::policy::DEFAULT_KEEP_RESIDENT_BYTES >> 20
    );
    println!(
        "{:<18} {:<7} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5}",
        "policy", "lang", "p50 dflt", "p99 dflt", "p50 big", "p99 big", "ratio", ">100ms"
    );
    for row in resident_rows {
        println!("{row}");
    }
}
