//! Policy engine benchmarks (results in BENCHMARKS.md):
//! - per stock policy, one decision including a fresh store and instance, against the
//!   same logic compiled natively — both through sluice's decision path
//!   (`decide_native`) and alone (the policy crate's own `decide`) — same run;
//! - module load: cold compile (optimized and baseline) vs in-memory and disk cache;
//!   refusing a module with one invalid function body on the swap path, against the
//!   optimizing compiler's refusal of it (what the swap path used to add);
//! - swap: a new build written → rescan → first decision by it, tiered and
//!   single-tier, per stock policy.
//!
//! `cargo bench -p sluice --bench policy` runs criterion (medians) and then prints a
//! p50/p99 table from 5,000 timed decisions per policy and way (the three ways of a
//! policy alternating in blocks, so the VM's spells of contention hit them alike) and
//! the swap table. Each decision's input is built before its timed span, as the
//! caller builds it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use std::hint::black_box;

use criterion::Criterion;
use serde_json::json;
use sluice::decision::{self, Point, RawParams};
use sluice::metrics::Metrics;
use sluice::policy::{
    Binding, Build, EngineSettings, Limits, PolicyEngine, PolicyModule, PolicyRegistry, Tier,
    WitPoint, decide, decide_native,
};
use sluice::stock::GUEST_DIR;
use sluice_policy_sdk as sdk;

#[path = "../tests/common/wasm_bytes.rs"]
#[expect(
    dead_code,
    reason = "shared with the tests and the polyglot bench; each uses some of the edits"
)]
mod wasm_bytes;

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

fn verdict(v: decision::Verdict) -> sdk::Verdict {
    match v {
        decision::Verdict::Pass => sdk::Verdict::Pass,
        decision::Verdict::Regressed => sdk::Verdict::Regressed,
        decision::Verdict::Inconclusive => sdk::Verdict::Inconclusive,
    }
}

fn verdict_back(v: sdk::Verdict) -> decision::Verdict {
    match v {
        sdk::Verdict::Pass => decision::Verdict::Pass,
        sdk::Verdict::Regressed => decision::Verdict::Regressed,
        sdk::Verdict::Inconclusive => decision::Verdict::Inconclusive,
    }
}

// Host context → SDK context and SDK decision → host decision: the work a policy
// compiled into the host would need, done inside the timed native-path closure just as
// the wasm path converts to and from the WIT types.

fn retrain_ctx(c: &decision::RetrainContext) -> sdk::RetrainContext {
    sdk::RetrainContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&c.params),
        new_samples: c.new_samples,
        total_samples: c.total_samples,
        seconds_since_last_training: c.seconds_since_last_training,
        last_outcome: c.last_outcome.map(|o| match o {
            decision::TrainingOutcome::Promoted => sdk::TrainingOutcome::Promoted,
            decision::TrainingOutcome::Rejected => sdk::TrainingOutcome::Rejected,
            decision::TrainingOutcome::Failed => sdk::TrainingOutcome::Failed,
        }),
        run_active: c.run_active,
        production: c.production.as_ref().map(report),
    }
}

fn retrain_back(d: sdk::RetrainDecision) -> decision::RetrainDecision {
    match d {
        sdk::RetrainDecision::Wait(reason) => decision::RetrainDecision::Wait { reason },
        sdk::RetrainDecision::Train { reason, args } => {
            decision::RetrainDecision::Train { reason, args }
        }
    }
}

fn promotion_ctx(c: &decision::PromotionContext) -> sdk::PromotionContext {
    sdk::PromotionContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&c.params),
        candidate: report(&c.candidate),
        production: c.production.as_ref().map(report),
    }
}

fn promotion_back(d: sdk::PromotionDecision) -> decision::PromotionDecision {
    match d {
        sdk::PromotionDecision::Promote(reason) => decision::PromotionDecision::Promote { reason },
        sdk::PromotionDecision::Reject(reason) => decision::PromotionDecision::Reject { reason },
        sdk::PromotionDecision::AwaitApproval(reason) => {
            decision::PromotionDecision::AwaitApproval { reason }
        }
    }
}

fn regression_ctx(c: &decision::RegressionContext) -> sdk::RegressionContext {
    sdk::RegressionContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&c.params),
        metrics: c
            .metrics
            .iter()
            .map(|w| sdk::MetricWindow {
                name: w.name.clone(),
                direction: match w.direction {
                    decision::Direction::HigherIsBetter => sdk::Direction::HigherIsBetter,
                    decision::Direction::LowerIsBetter => sdk::Direction::LowerIsBetter,
                },
                baseline: w.baseline.clone(),
                canary: w.canary.clone(),
            })
            .collect(),
    }
}

fn regression_back(d: sdk::RegressionDecision) -> decision::RegressionDecision {
    decision::RegressionDecision {
        overall: verdict_back(d.overall),
        reason: d.reason,
        metrics: d
            .metrics
            .into_iter()
            .map(|m| decision::MetricVerdict {
                name: m.name,
                verdict: verdict_back(m.verdict),
                reason: m.reason,
                statistics: m
                    .statistics
                    .into_iter()
                    .map(|s| decision::Metric {
                        name: s.name,
                        value: s.value,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn rollout_ctx(c: &decision::RolloutContext) -> sdk::RolloutContext {
    sdk::RolloutContext {
        pipeline: c.pipeline.clone(),
        params: sdk_params(&c.params),
        stable_version: c.stable_version.clone(),
        candidate_version: c.candidate_version.clone(),
        current_weight: c.current_weight,
        step_index: c.step_index,
        seconds_at_step: c.seconds_at_step,
        holds_at_step: c.holds_at_step,
        verdict: c.verdict.map(verdict),
    }
}

fn rollout_back(d: sdk::RolloutDecision) -> decision::RolloutDecision {
    match d {
        sdk::RolloutDecision::Advance { weight, reason } => {
            decision::RolloutDecision::Advance { weight, reason }
        }
        sdk::RolloutDecision::Hold(reason) => decision::RolloutDecision::Hold { reason },
        sdk::RolloutDecision::Rollback(reason) => decision::RolloutDecision::Rollback { reason },
        sdk::RolloutDecision::Complete(reason) => decision::RolloutDecision::Complete { reason },
    }
}

/// Decisions per way in the p50/p99 pass.
const TIMED_DECISIONS: usize = 5000;
/// The p50/p99 pass alternates the three ways in blocks of this many decisions.
const BLOCK: usize = 50;

/// Times [`TIMED_DECISIONS`] runs of each of `ways`, each run prepared outside the
/// timed span (the decision's input is the caller's, not part of the decision), and
/// returns (p50, p99) per way. The ways take turns in blocks of [`BLOCK`], so a spell of
/// contention on the VM slows all of them alike and their ratios stay comparable.
fn interleaved_percentiles<const N: usize>(
    ways: [&dyn Fn() -> Run; N],
) -> [(Duration, Duration); N] {
    let mut times: [Vec<Duration>; N] =
        std::array::from_fn(|_| Vec::with_capacity(TIMED_DECISIONS));
    for _ in 0..TIMED_DECISIONS / BLOCK {
        for (prepare, t) in ways.iter().zip(times.iter_mut()) {
            for _ in 0..BLOCK {
                let run = prepare();
                let s = Instant::now();
                run();
                t.push(s.elapsed());
            }
        }
    }
    times.map(|mut t| {
        t.sort();
        (t[t.len() / 2], t[(t.len() * 99) / 100])
    })
}

/// One decision, its input already built.
type Run = Box<dyn FnOnce()>;

/// One stock policy measured three ways in the same run.
struct Case {
    name: &'static str,
    /// `decide`: fresh store and instance, sandboxed call, checks, record.
    wasm: Box<dyn Fn() -> Run>,
    /// `decide_native`: the same path with the policy crate's logic compiled in.
    native_path: Box<dyn Fn() -> Run>,
    /// The policy crate's `decide` alone, on a ready SDK context.
    native_logic: Box<dyn Fn() -> Run>,
}

fn case<P: WitPoint + SdkTypes + 'static>(
    name: &'static str,
    engine: &Arc<PolicyEngine>,
    raw: &RawParams,
    ctx: P::Context,
    to_sdk: fn(&P::Context) -> SdkCtx<P>,
    logic: fn(&SdkCtx<P>) -> SdkDecision<P>,
    back: fn(SdkDecision<P>) -> <P as Point>::Decision,
) -> Case
where
    P::Context: 'static,
    SdkCtx<P>: 'static,
{
    let m = module(engine, name);
    let b: Arc<Binding<P>> = Arc::new(binding(&m, raw));
    let metrics = Arc::new(Metrics::new());
    let description = Arc::new(m.description.clone());
    let mut with_params = ctx.clone();
    *P::params_mut(&mut with_params) = b.params.clone();
    let ready = Arc::new(to_sdk(&with_params));
    let wasm = {
        let (e, b, mt, c) = (engine.clone(), b.clone(), metrics.clone(), ctx.clone());
        Box::new(move || -> Run {
            let (e, m, b, mt, c) = (e.clone(), m.clone(), b.clone(), mt.clone(), c.clone());
            Box::new(move || {
                black_box(decide::<P>(&e, &m, &b, c, SystemTime::now(), &mt));
            })
        })
    };
    let native_path = Box::new(move || -> Run {
        let (d, b, mt, c) = (description.clone(), b.clone(), metrics.clone(), ctx.clone());
        Box::new(move || {
            black_box(decide_native::<P>(&d, &b, c, SystemTime::now(), &mt, |c| {
                back(logic(&to_sdk(c)))
            }));
        })
    });
    let native_logic = Box::new(move || -> Run {
        let r = ready.clone();
        Box::new(move || {
            black_box(logic(black_box(&r)));
        })
    });
    Case {
        name,
        wasm,
        native_path,
        native_logic,
    }
}

/// The SDK's context and decision types for decision point `P`.
trait SdkTypes {
    type Ctx;
    type SdkDecision;
}
impl SdkTypes for decision::Retrain {
    type Ctx = sdk::RetrainContext;
    type SdkDecision = sdk::RetrainDecision;
}
impl SdkTypes for decision::Promotion {
    type Ctx = sdk::PromotionContext;
    type SdkDecision = sdk::PromotionDecision;
}
impl SdkTypes for decision::Regression {
    type Ctx = sdk::RegressionContext;
    type SdkDecision = sdk::RegressionDecision;
}
impl SdkTypes for decision::Rollout {
    type Ctx = sdk::RolloutContext;
    type SdkDecision = sdk::RolloutDecision;
}
type SdkCtx<P> = <P as SdkTypes>::Ctx;
type SdkDecision<P> = <P as SdkTypes>::SdkDecision;

fn cases(engine: &Arc<PolicyEngine>) -> Vec<Case> {
    let i = inputs();
    vec![
        case::<decision::Retrain>(
            "threshold-retrain",
            engine,
            &RawParams::new(),
            i.retrain,
            retrain_ctx,
            threshold_retrain::decide,
            retrain_back,
        ),
        case::<decision::Promotion>(
            "metric-gate",
            engine,
            &gate_params(),
            i.promotion,
            promotion_ctx,
            metric_gate::decide,
            promotion_back,
        ),
        case::<decision::Regression>(
            "stat-regression",
            engine,
            &RawParams::new(),
            i.regression,
            regression_ctx,
            stat_regression::decide,
            regression_back,
        ),
        case::<decision::Rollout>(
            "canary-steps",
            engine,
            &RawParams::new(),
            i.rollout,
            rollout_ctx,
            canary_steps::decide,
            rollout_back,
        ),
    ]
}

fn main() {
    let engine = engine();
    let cases = cases(&engine);
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for case in &cases {
        let mut g = c.benchmark_group(format!("decision/{}", case.name));
        let small = criterion::BatchSize::SmallInput;
        g.bench_function("wasm-fresh-instance", |b| {
            b.iter_batched(&case.wasm, |run| run(), small)
        });
        g.bench_function("native-same-path", |b| {
            b.iter_batched(&case.native_path, |run| run(), small)
        });
        g.bench_function("native-logic-alone", |b| {
            b.iter_batched(&case.native_logic, |run| run(), small)
        });
        g.finish();
    }

    let bytes =
        std::fs::read(std::path::Path::new(GUEST_DIR).join("stat-regression.wasm")).expect("guest");
    let mut g = c.benchmark_group("load/stat-regression");
    g.sample_size(10);
    g.bench_function("cold-compile-optimized", |b| {
        b.iter(|| {
            engine.forget_compiled();
            PolicyModule::load_bytes(&engine, "bench", &bytes, None).expect("load")
        })
    });
    g.bench_function("cold-compile-baseline", |b| {
        b.iter(|| {
            PolicyModule::load_build(&engine, "bench", &bytes, None, Build::Baseline).expect("load")
        })
    });
    g.bench_function("memory-cache", |b| {
        b.iter(|| PolicyModule::load_bytes(&engine, "bench", &bytes, None).expect("load"))
    });
    let cache = tempfile::tempdir().expect("tempdir");
    let disk = PolicyEngine::new(EngineSettings {
        cache_dir: Some(cache.path().to_owned()),
        ..EngineSettings::default()
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

    // A swap of a module whose last body is invalid: refused after the baseline
    // compile and a validation pass, against the optimizing compiler's own refusal.
    let bad = wasm_bytes::with_an_invalid_last_body(&bytes);
    let mut g = c.benchmark_group("refuse-invalid-body/stat-regression");
    g.sample_size(10);
    g.bench_function("swap-path", |b| {
        b.iter(|| {
            let refused = PolicyModule::load_build(&engine, "bench", &bad, None, Build::Quick);
            assert!(refused.is_err(), "an invalid body must be refused");
        })
    });
    g.bench_function("optimizing-compiler", |b| {
        b.iter(|| {
            let refused = PolicyModule::load_build(&engine, "bench", &bad, None, Build::Optimized);
            assert!(refused.is_err(), "an invalid body must be refused");
        })
    });
    g.finish();

    // What the compile limits protect against: the same generated code compiled by
    // each tier, just under the limits a module must meet for the optimizing one.
    let mut g = c.benchmark_group("compile-cost");
    g.sample_size(10);
    for (label, functions, ops) in [
        ("40000-small-functions", 40_000, 4),
        ("one-512KiB-function", 1, 74_000),
    ] {
        let wasm = wasm_bytes::component_with_functions(functions, ops);
        for (tier_label, tier) in [
            ("optimizing", Tier::Optimized),
            ("baseline", Tier::Baseline),
        ] {
            g.bench_function(format!("{label}/{tier_label}"), |b| {
                b.iter(|| {
                    wasmtime::component::Component::new(engine.engine(tier), &wasm)
                        .expect("compiles")
                })
            });
        }
    }
    g.finish();
    c.final_summary();

    println!(
        "\n== p50/p99 over {TIMED_DECISIONS} decisions each, the three ways alternating in blocks of {BLOCK} (µs)"
    );
    println!(
        "{:<18} {:>16} {:>16} {:>16} {:>10} {:>10}",
        "policy", "wasm p50 (p99)", "native path", "native logic", "÷ path", "÷ logic"
    );
    for case in &cases {
        let [(wp50, wp99), (pp50, pp99), (lp50, lp99)] =
            interleaved_percentiles([&case.wasm, &case.native_path, &case.native_logic]);
        println!(
            "{:<18} {:>7.1} ({:>6.1}) {:>7.2} ({:>6.2}) {:>7.2} ({:>6.2}) {:>9.1}x {:>9.1}x",
            case.name,
            us(wp50),
            us(wp99),
            us(pp50),
            us(pp99),
            us(lp50),
            us(lp99),
            us(wp50) / us(pp50).max(1e-3),
            us(wp50) / us(lp50).max(1e-3)
        );
    }

    swap_latency(&engine);
}

/// The first decision by the live module `name`, which must not fail.
fn first_decision<P: WitPoint>(engine: &PolicyEngine, reg: &PolicyRegistry, name: &str) {
    let active = reg.get(name).expect("active");
    let b = Binding::<P> {
        params: active.params["bench"].clone(),
        limits: Limits::default(),
        fail_safe: Default::default(),
    };
    let e = decide::<P>(
        engine,
        &active.module,
        &b,
        P::trial_context("bench", vec![]),
        SystemTime::now(),
        &Metrics::new(),
    );
    assert!(e.failure.is_none(), "{:?}", e.failure);
}

/// Swap latency per stock policy: a new build of it written → rescan → first decision
/// by it, both with tiering (baseline code first) and single-tier (Cranelift only);
/// plus how long until the optimized build replaces the baseline one.
fn swap_latency(engine: &Arc<PolicyEngine>) {
    println!(
        "\n== swap: new build written → rescan → first decision by it (median of 5, ms; debounce {} ms not included)",
        sluice::policy::registry::DEBOUNCE.as_millis()
    );
    println!(
        "{:<18} {:>8} {:>12} {:>14} {:>14}",
        "policy", "size", "tiered", "→ optimized", "single-tier"
    );
    let single = PolicyEngine::new(EngineSettings {
        single_tier: true,
        ..EngineSettings::default()
    })
    .expect("engine");
    let stock = [
        (
            "threshold-retrain",
            decision::DecisionPoint::Retrain,
            RawParams::new(),
        ),
        (
            "metric-gate",
            decision::DecisionPoint::Promotion,
            gate_params(),
        ),
        (
            "stat-regression",
            decision::DecisionPoint::Regression,
            RawParams::new(),
        ),
        (
            "canary-steps",
            decision::DecisionPoint::Rollout,
            RawParams::new(),
        ),
    ];
    let mut build = 0;
    for (name, point, params) in stock {
        let original = std::fs::read(std::path::Path::new(GUEST_DIR).join(format!("{name}.wasm")))
            .expect("guest");
        let mut measured = Vec::new();
        for engine in [engine, &single] {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = dir.path().join(format!("{name}.wasm"));
            std::fs::write(&file, &original).expect("write");
            let use_ = sluice::policy::PolicyUse {
                pipeline: "bench".into(),
                module: name.into(),
                point,
                params: params.clone(),
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
            let mut live = Vec::new();
            let mut optimized = Vec::new();
            for _ in 0..5 {
                build += 1;
                let started = Instant::now();
                std::fs::write(&file, wasm_bytes::rebuilt(&original, build)).expect("write");
                assert_eq!(reg.rescan().swapped.len(), 1, "swapped");
                sluice::for_point!(point, P => first_decision::<P>(engine, &reg, name));
                live.push(ms(started.elapsed()));
                while reg.get(name).expect("active").module.tier != Tier::Optimized {
                    std::thread::sleep(Duration::from_micros(200));
                }
                optimized.push(ms(started.elapsed()));
            }
            measured.push((median(live), median(optimized)));
        }
        println!(
            "{name:<18} {:>6}KB {:>10.1}ms {:>12.1}ms {:>12.1}ms",
            original.len() / 1000,
            measured[0].0,
            measured[0].1,
            measured[1].0
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
