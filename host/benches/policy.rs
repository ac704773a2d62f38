//! Policy engine benchmarks (results in BENCHMARKS.md):
//! - per stock policy, one decision including a fresh store and instance, against the
//!   same logic compiled natively (the policy crate's own `decide`), same run;
//! - module load: cold compile vs in-memory cache vs on-disk cache;
//! - swap: module written → rescan → first decision by the new module.
//!
//! `cargo bench -p sluice --bench policy` runs criterion (medians) and then prints a
//! p50/p99 table from 5,000 timed decisions per policy.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use std::hint::black_box;

use criterion::Criterion;
use serde_json::json;
use sluice::decision::{self, Point, RawParams};
use sluice::metrics::Metrics;
use sluice::policy::{
    Binding, EngineSettings, Limits, PolicyEngine, PolicyModule, PolicyRegistry, WitPoint, decide,
};
use sluice::stock::GUEST_DIR;
use sluice_policy_sdk as sdk;

fn engine() -> Arc<PolicyEngine> {
    PolicyEngine::new(EngineSettings::default()).expect("engine")
}

fn module(engine: &PolicyEngine, name: &str) -> Arc<PolicyModule> {
    PolicyModule::load_file(
        engine,
        &std::path::Path::new(GUEST_DIR).join(format!("{name}.wasm")),
        None,
    )
    .expect("load")
}

fn samples(mean: f64, n: usize, salt: usize) -> Vec<f64> {
    (0..n)
        .map(|i| mean + 8.0 * ((((i + salt) * 7919) % 101) as f64 / 50.0 - 1.0))
        .collect()
}

/// The same inputs for the wasm call and the native call of each policy.
struct Inputs {
    retrain: decision::RetrainContext,
    promotion: decision::PromotionContext,
    regression: decision::RegressionContext,
    rollout: decision::RolloutContext,
}

fn inputs() -> Inputs {
    let metric = |n: &str, v| decision::Metric {
        name: n.into(),
        value: v,
    };
    Inputs {
        retrain: decision::RetrainContext {
            pipeline: "bench".into(),
            params: vec![],
            new_samples: 60,
            total_samples: 5000,
            seconds_since_last_training: Some(7200),
            last_outcome: Some(decision::TrainingOutcome::Promoted),
            run_active: false,
            production: None,
        },
        promotion: decision::PromotionContext {
            pipeline: "bench".into(),
            params: vec![],
            candidate: decision::ModelReport {
                version: "v2".into(),
                metrics: vec![metric("accuracy", 0.93), metric("latency_p99_ms", 180.0)],
            },
            production: Some(decision::ModelReport {
                version: "v1".into(),
                metrics: vec![metric("accuracy", 0.92), metric("latency_p99_ms", 178.0)],
            }),
        },
        regression: decision::RegressionContext {
            pipeline: "bench".into(),
            params: vec![],
            metrics: vec![decision::MetricWindow {
                name: "latency_ms".into(),
                direction: decision::Direction::LowerIsBetter,
                baseline: samples(120.0, 60, 0),
                canary: samples(121.0, 60, 3),
            }],
        },
        rollout: decision::RolloutContext {
            pipeline: "bench".into(),
            params: vec![],
            stable_version: "v1".into(),
            candidate_version: "v2".into(),
            current_weight: 25,
            step_index: 1,
            seconds_at_step: 300,
            holds_at_step: 0,
            verdict: Some(decision::Verdict::Pass),
        },
    }
}

fn gate_params() -> RawParams {
    [(
        "rules".to_owned(),
        json!([
            "accuracy higher min 0.90 tolerance 0.005",
            "latency_p99_ms lower max 250 tolerance 10"
        ]),
    )]
    .into()
}

fn binding<P: Point>(m: &PolicyModule, raw: &RawParams) -> Binding<P> {
    Binding::with_defaults(&m.description, raw).expect("params")
}

fn sdk_params(p: &[decision::Param]) -> sdk::Params {
    let conv = |v: &decision::ParamValue| match v {
        decision::ParamValue::Boolean(b) => sdk::ParamValue::Boolean(*b),
        decision::ParamValue::Integer(i) => sdk::ParamValue::Integer(*i),
        decision::ParamValue::Float(x) => sdk::ParamValue::Float(*x),
        decision::ParamValue::Text(s) => sdk::ParamValue::Text(s.clone()),
        decision::ParamValue::Duration(s) => sdk::ParamValue::Duration(*s),
        decision::ParamValue::IntegerList(l) => sdk::ParamValue::IntegerList(l.clone()),
        decision::ParamValue::FloatList(l) => sdk::ParamValue::FloatList(l.clone()),
        decision::ParamValue::TextList(l) => sdk::ParamValue::TextList(l.clone()),
    };
    sdk::Params::from_pairs(p.iter().map(|p| (p.name.clone(), conv(&p.value))).collect())
}

fn report(r: &decision::ModelReport) -> sdk::ModelReport {
    sdk::ModelReport {
        version: r.version.clone(),
        metrics: r
            .metrics
            .iter()
            .map(|m| sdk::Metric::new(m.name.clone(), m.value))
            .collect(),
    }
}

/// Times `f` `n` times; returns (p50, p99).
fn percentiles(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    (t[n / 2], t[(n * 99) / 100])
}

type Case = (&'static str, Box<dyn Fn()>, Box<dyn Fn()>);

fn cases(engine: &Arc<PolicyEngine>) -> Vec<Case> {
    let i = inputs();
    let metrics = Arc::new(Metrics::new());
    let mut out: Vec<Case> = Vec::new();
    fn wasm<P: WitPoint + 'static>(
        engine: &Arc<PolicyEngine>,
        m: Arc<PolicyModule>,
        b: Binding<P>,
        ctx: P::Context,
        metrics: Arc<Metrics>,
    ) -> Box<dyn Fn()>
    where
        P::Context: 'static,
    {
        let engine = engine.clone();
        Box::new(move || {
            black_box(decide::<P>(
                &engine,
                &m,
                &b,
                ctx.clone(),
                SystemTime::now(),
                &metrics,
            ));
        })
    }
    // threshold-retrain
    let m = module(engine, "threshold-retrain");
    let b = binding::<decision::Retrain>(&m, &RawParams::new());
    let c = &i.retrain;
    let native_ctx = sdk::RetrainContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&b.params),
        new_samples: c.new_samples,
        total_samples: c.total_samples,
        seconds_since_last_training: c.seconds_since_last_training,
        last_outcome: Some(sdk::TrainingOutcome::Promoted),
        run_active: c.run_active,
        production: None,
    };
    out.push((
        "threshold-retrain",
        wasm(engine, m, b, c.clone(), metrics.clone()),
        Box::new(move || {
            black_box(threshold_retrain::decide(black_box(&native_ctx)));
        }),
    ));
    // metric-gate
    let m = module(engine, "metric-gate");
    let b = binding::<decision::Promotion>(&m, &gate_params());
    let c = &i.promotion;
    let native_ctx = sdk::PromotionContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&b.params),
        candidate: report(&c.candidate),
        production: c.production.as_ref().map(report),
    };
    out.push((
        "metric-gate",
        wasm(engine, m, b, c.clone(), metrics.clone()),
        Box::new(move || {
            black_box(metric_gate::decide(black_box(&native_ctx)));
        }),
    ));
    // stat-regression
    let m = module(engine, "stat-regression");
    let b = binding::<decision::Regression>(&m, &RawParams::new());
    let c = &i.regression;
    let native_ctx = sdk::RegressionContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&b.params),
        metrics: c
            .metrics
            .iter()
            .map(|w| sdk::MetricWindow {
                name: w.name.clone(),
                direction: sdk::Direction::LowerIsBetter,
                baseline: w.baseline.clone(),
                canary: w.canary.clone(),
            })
            .collect(),
    };
    out.push((
        "stat-regression",
        wasm(engine, m, b, c.clone(), metrics.clone()),
        Box::new(move || {
            black_box(stat_regression::decide(black_box(&native_ctx)));
        }),
    ));
    // canary-steps
    let m = module(engine, "canary-steps");
    let b = binding::<decision::Rollout>(&m, &RawParams::new());
    let c = &i.rollout;
    let native_ctx = sdk::RolloutContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&b.params),
        stable_version: c.stable_version.clone(),
        candidate_version: c.candidate_version.clone(),
        current_weight: c.current_weight,
        step_index: c.step_index,
        seconds_at_step: c.seconds_at_step,
        holds_at_step: c.holds_at_step,
        verdict: Some(sdk::Verdict::Pass),
    };
    out.push((
        "canary-steps",
        wasm(engine, m, b, c.clone(), metrics),
        Box::new(move || {
            black_box(canary_steps::decide(black_box(&native_ctx)));
        }),
    ));
    out
}

fn main() {
    let engine = engine();
    let cases = cases(&engine);
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (name, wasm, native) in &cases {
        let mut g = c.benchmark_group(format!("decision/{name}"));
        g.bench_function("wasm-fresh-instance", |b| b.iter(wasm));
        g.bench_function("native", |b| b.iter(native));
        g.finish();
    }

    let bytes =
        std::fs::read(std::path::Path::new(GUEST_DIR).join("stat-regression.wasm")).expect("guest");
    let mut g = c.benchmark_group("load/stat-regression");
    g.sample_size(10);
    g.bench_function("cold-compile", |b| {
        b.iter(|| {
            engine.forget_compiled();
            PolicyModule::load_bytes(&engine, "bench", &bytes, None).expect("load")
        })
    });
    g.bench_function("memory-cache", |b| {
        b.iter(|| PolicyModule::load_bytes(&engine, "bench", &bytes, None).expect("load"))
    });
    let cache = tempfile::tempdir().expect("tempdir");
    let disk = PolicyEngine::new(EngineSettings {
        cache_dir: Some(cache.path().to_owned()),
        on_demand_allocator: false,
        single_tier: false,
    })
    .expect("engine");
    PolicyModule::load_bytes(&disk, "bench", &bytes, None).expect("warm disk cache");
    g.bench_function("disk-cache", |b| {
        b.iter(|| {
            disk.forget_compiled();
            PolicyModule::load_bytes(&disk, "bench", &bytes, None).expect("load")
        })
    });
    g.finish();
    c.final_summary();

    println!("\n== p50/p99 over 5000 decisions (fresh instance each) vs native, same run");
    println!(
        "{:<18} {:>10} {:>10} {:>12} {:>12} {:>8}",
        "policy", "wasm p50", "wasm p99", "native p50", "native p99", "ratio"
    );
    for (name, wasm, native) in &cases {
        let (wp50, wp99) = percentiles(5000, wasm);
        let (np50, np99) = percentiles(5000, native);
        println!(
            "{name:<18} {:>8.1}µs {:>8.1}µs {:>10.2}µs {:>10.2}µs {:>7.1}x",
            us(wp50),
            us(wp99),
            us(np50),
            us(np99),
            us(wp50) / us(np50).max(1e-3)
        );
    }

    println!(
        "\n== swap: module written → rescan → first decision by it (threshold-retrain ⇄ bare-guest, 20 rounds)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let guest = |n: &str| std::path::Path::new(GUEST_DIR).join(format!("{n}.wasm"));
    std::fs::copy(guest("threshold-retrain"), dir.path().join("retrain.wasm")).expect("copy");
    let use_ = sluice::policy::PolicyUse {
        pipeline: "bench".into(),
        module: "retrain".into(),
        point: decision::DecisionPoint::Retrain,
        params: RawParams::new(),
        limits: Limits::default(),
    };
    let reg = PolicyRegistry::open(
        engine.clone(),
        dir.path(),
        vec![use_],
        Arc::new(Metrics::new()),
    )
    .expect("registry");
    let mut times = Vec::new();
    for round in 0..20 {
        let next = if round % 2 == 0 {
            "bare-guest"
        } else {
            "threshold-retrain"
        };
        if round == 0 {
            // Both modules are new to the engine once: rounds 0 and 1 compile.
            engine.forget_compiled();
        }
        let started = Instant::now();
        std::fs::copy(guest(next), dir.path().join("retrain.wasm")).expect("copy");
        let r = reg.rescan();
        assert_eq!(r.swapped.len(), 1, "swapped");
        let active = reg.get("retrain").expect("active");
        let b = Binding::<decision::Retrain> {
            params: active.params["bench"].clone(),
            limits: Limits::default(),
            fail_safe: Default::default(),
        };
        let e = decide::<decision::Retrain>(
            &engine,
            &active.module,
            &b,
            decision::Retrain::trial_context("bench", vec![]),
            SystemTime::now(),
            &Metrics::new(),
        );
        assert!(e.failure.is_none());
        times.push((round, started.elapsed()));
    }
    let cold: Vec<f64> = times
        .iter()
        .filter(|(r, _)| *r < 2)
        .map(|(_, t)| us(*t) / 1000.0)
        .collect();
    let mut warm: Vec<f64> = times
        .iter()
        .filter(|(r, _)| *r >= 2)
        .map(|(_, t)| us(*t) / 1000.0)
        .collect();
    warm.sort_by(f64::total_cmp);
    println!(
        "first swap to each module (compile): {cold:.1?} ms; later swaps (compiled module cached): p50 {:.2} ms, max {:.2} ms",
        warm[warm.len() / 2],
        warm[warm.len() - 1]
    );
    println!(
        "(the directory watcher adds its {} ms debounce before the rescan)",
        sluice::policy::registry::DEBOUNCE.as_millis()
    );
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
