//! `sluice demo`: the stock policies making the decisions of one model's lifecycle,
//! narrated, with every decision's policy digest, fuel and time. Needs no cluster,
//! database or files: the policies are embedded in the binary.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use crate::decision::{self, Direction, MetricWindow, ModelReport, RawParams};
use crate::metrics::Metrics;
use crate::policy::{Binding, DecisionRecord, PolicyEngine, PolicyModule, WitPoint, decide};
use crate::stock::STOCK_POLICIES;

use super::policy::{PolicyCommandError, format_results, run_cases_text};

fn line(out: &mut String, r: &DecisionRecord) {
    let _ = writeln!(
        out,
        "    {:<10} {:<40} policy {}@{} sha256 {}… fuel {:>7} {:>6} µs",
        r.point.as_str(),
        compact(&r.output),
        r.policy,
        r.policy_version,
        &r.module_sha256[..12],
        r.fuel_used,
        r.wall_micros
    );
}

fn compact(v: &serde_json::value::RawValue) -> String {
    let s = v.get().to_owned();
    if s.len() > 40 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(38).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

fn ask<P: WitPoint>(
    engine: &PolicyEngine,
    module: &PolicyModule,
    raw: &RawParams,
    ctx: P::Context,
    metrics: &Metrics,
) -> Result<(P::Decision, DecisionRecord), PolicyCommandError> {
    let binding = Binding::<P>::with_defaults(&module.description, raw)?;
    let e = decide::<P>(engine, module, &binding, ctx, SystemTime::now(), metrics);
    Ok((e.decision, e.record))
}

fn samples(mean: f64, spread: f64, n: usize, salt: usize) -> Vec<f64> {
    (0..n)
        .map(|i| mean + spread * ((((i + salt) * 7919) % 101) as f64 / 50.0 - 1.0))
        .collect()
}

/// Runs the demo and returns its narration.
///
/// # Errors
/// Only if an embedded policy fails to load or its cases are malformed — a build bug.
pub fn run(engine: &PolicyEngine) -> Result<String, PolicyCommandError> {
    let mut out = String::new();
    let metrics = Metrics::new();
    let _ = writeln!(
        out,
        "sluice demo — the stock policies deciding one model's lifecycle\n"
    );
    let mut modules = Vec::new();
    for stock in STOCK_POLICIES {
        let m = PolicyModule::load_bytes(
            engine,
            &format!("stock:{}", stock.name),
            stock.wasm,
            Some(stock.point),
        )?;
        let _ = writeln!(
            out,
            "loaded {:<18} {:<10} sha256 {} ({:.1} ms, {:?})",
            stock.name,
            m.point.as_str(),
            m.sha256,
            m.load_time.as_secs_f64() * 1e3,
            m.compile_source
        );
        modules.push(m);
    }
    let [retrain, promotion, regression, rollout] = &modules[..] else {
        unreachable!("STOCK_POLICIES has four entries");
    };

    let _ = writeln!(out, "\n1. new labelled data arrives (min_new_samples 50)");
    for new_samples in [12, 49, 50] {
        let ctx = decision::RetrainContext {
            pipeline: "demo".into(),
            params: vec![],
            new_samples,
            total_samples: 1000 + new_samples,
            seconds_since_last_training: Some(86_400),
            last_outcome: None,
            run_active: false,
            production: None,
        };
        let (_, r) = ask::<decision::Retrain>(engine, retrain, &RawParams::new(), ctx, &metrics)?;
        line(&mut out, &r);
    }

    let _ = writeln!(out, "\n2. the candidate meets the promotion gate");
    let gate: RawParams = [(
        "rules".to_owned(),
        serde_json::json!([
            "accuracy higher min 0.90 tolerance 0.005",
            "latency_p99_ms lower max 250 tolerance 10"
        ]),
    )]
    .into();
    let production = ModelReport {
        version: "v1".into(),
        metrics: vec![
            decision::Metric {
                name: "accuracy".into(),
                value: 0.921,
            },
            decision::Metric {
                name: "latency_p99_ms".into(),
                value: 182.0,
            },
        ],
    };
    for (version, acc) in [("v2", 0.934), ("v2-bad", 0.901)] {
        let ctx = decision::PromotionContext {
            pipeline: "demo".into(),
            params: vec![],
            candidate: ModelReport {
                version: version.into(),
                metrics: vec![
                    decision::Metric {
                        name: "accuracy".into(),
                        value: acc,
                    },
                    decision::Metric {
                        name: "latency_p99_ms".into(),
                        value: 185.0,
                    },
                ],
            },
            production: Some(production.clone()),
        };
        let (_, r) = ask::<decision::Promotion>(engine, promotion, &gate, ctx, &metrics)?;
        line(&mut out, &r);
    }

    let _ = writeln!(
        out,
        "\n3. traffic shifts 10 → 25 → 50 → 100 %, canary judged against baseline"
    );
    let mut weight = 0u8;
    let mut step = 0;
    loop {
        let verdict = if weight == 0 {
            None
        } else {
            let window = MetricWindow {
                name: "latency_ms".into(),
                direction: Direction::LowerIsBetter,
                baseline: samples(120.0, 8.0, 60, step),
                canary: samples(119.0, 8.0, 60, step + 3),
            };
            let ctx = decision::RegressionContext {
                pipeline: "demo".into(),
                params: vec![],
                metrics: vec![window],
            };
            let (d, r) =
                ask::<decision::Regression>(engine, regression, &RawParams::new(), ctx, &metrics)?;
            line(&mut out, &r);
            Some(d.overall)
        };
        let ctx = decision::RolloutContext {
            pipeline: "demo".into(),
            params: vec![],
            stable_version: "v1".into(),
            candidate_version: "v2".into(),
            current_weight: weight,
            step_index: step as u32,
            seconds_at_step: 300,
            holds_at_step: 0,
            verdict,
        };
        let (d, r) = ask::<decision::Rollout>(engine, rollout, &RawParams::new(), ctx, &metrics)?;
        line(&mut out, &r);
        match d {
            decision::RolloutDecision::Advance { weight: w, .. } => {
                weight = w;
                step += 1;
            }
            _ => break,
        }
        if step > 10 {
            break;
        }
    }

    let _ = writeln!(out, "\n4. a regressed canary is rolled back at once");
    let window = MetricWindow {
        name: "latency_ms".into(),
        direction: Direction::LowerIsBetter,
        baseline: samples(120.0, 8.0, 60, 1),
        canary: samples(150.0, 8.0, 60, 2),
    };
    let ctx = decision::RegressionContext {
        pipeline: "demo".into(),
        params: vec![],
        metrics: vec![window],
    };
    let (d, r) = ask::<decision::Regression>(engine, regression, &RawParams::new(), ctx, &metrics)?;
    line(&mut out, &r);
    let ctx = decision::RolloutContext {
        pipeline: "demo".into(),
        params: vec![],
        stable_version: "v1".into(),
        candidate_version: "v3".into(),
        current_weight: 25,
        step_index: 2,
        seconds_at_step: 300,
        holds_at_step: 0,
        verdict: Some(d.overall),
    };
    let (_, r) = ask::<decision::Rollout>(engine, rollout, &RawParams::new(), ctx, &metrics)?;
    line(&mut out, &r);

    let _ = writeln!(out, "\n5. golden cases of every stock policy");
    for (stock, module) in STOCK_POLICIES.iter().zip(&modules) {
        let path = format!("policies/{}/cases.yaml", stock.name);
        let results = run_cases_text(engine, module, Path::new(&path), stock.cases)?;
        let (text, _) = format_results(&results);
        let _ = writeln!(out, "  {} ({}):", stock.name, path);
        for l in text.lines() {
            let _ = writeln!(out, "    {l}");
        }
    }
    let _ = writeln!(out, "\ndecisions by point and outcome:");
    for l in metrics.render().lines().filter(|l| !l.starts_with('#')) {
        let _ = writeln!(out, "  {l}");
    }
    Ok(out)
}
