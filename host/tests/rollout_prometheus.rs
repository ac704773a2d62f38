//! Rollouts judged on live metrics from a real Prometheus server (scraping an exporter
//! in the test every second): a healthy candidate completes; with Prometheus down
//! mid-rollout the step holds — and continues when it comes back, or rolls back at the
//! rollout policy's hold limit if it does not. A source that cannot answer never passes.

mod common;

use common::harness::{Harness, Options};
use common::prometheus::{PromServer, prometheus_rollout};
use common::services::{Proxy, log_of, weights_at};
use sluice::controller::{Phase, PipelineState};
use sluice::decision::TrainingOutcome;

async fn setup(max_holds: u32) -> (PromServer, Proxy, Harness) {
    let prom = PromServer::start(&[("v1", 100.0), ("v2", 95.0)]).await;
    let proxy = Proxy::start(&format!("127.0.0.1:{}", prom.port)).await;
    let h = Harness::new(Options {
        extra: prometheus_rollout(proxy.port, max_holds),
        ..Options::default()
    })
    .await;
    (prom, proxy, h)
}

fn at(s: &PipelineState, w: u8) -> bool {
    matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.weight == w)
}

fn subjects(h: &Harness) -> Vec<String> {
    log_of(&h.bare).into_iter().map(|(_, s)| s).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_candidate_completes_on_prometheus_metrics() {
    let (_prom, _proxy, h) = setup(10).await;
    let s = h
        .tick_until("v2 stable", |s| {
            s.phase == Phase::Idle && s.production.as_ref().is_some_and(|p| p.version == "v2")
        })
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Promoted));
    assert_eq!(subjects(&h)[0], "chore: complete rollout of model v2");
    let decisions = h
        .ctx
        .store
        .decisions(Some("fraud"), 50)
        .await
        .expect("decisions");
    let pass = decisions
        .iter()
        .find(|d| d.point == "regression" && d.outcome == "pass")
        .expect("a verdict on Prometheus data");
    // 20 pods per arm, at least two evaluations of the window.
    let input: serde_json::Value = serde_json::from_str(&pass.input).expect("json");
    let n = input["metrics"][0]["canary"].as_array().map_or(0, Vec::len);
    assert!(
        n >= 20 && n.is_multiple_of(20),
        "one sample per pod and evaluation, got {n}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_down_mid_rollout_holds_then_continues_when_it_is_back() {
    let (_prom, proxy, h) = setup(10).await;
    h.tick_until("at 20%", |s| at(s, 20)).await;
    proxy.set_down(true).await;
    let s = h
        .tick_until(
            "two holds without data",
            |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.holds >= 2),
        )
        .await;
    let Phase::RollingOut { progress, .. } = &s.phase else {
        unreachable!()
    };
    assert_eq!(
        (progress.weight, progress.verdict),
        (20, None),
        "no verdict, no shift"
    );
    let error = progress.analysis_error.clone().unwrap_or_default();
    assert!(
        error.contains("metric `latency_ms`") && error.contains("unreachable"),
        "{error}"
    );
    let shown = sluice::cli::rollout::status(&h.ctx.store, "fraud")
        .await
        .expect("status");
    assert!(shown.contains("NO DATA"), "{shown}");
    let all = sluice::cli::ops::status(&h.ctx.store, false)
        .await
        .expect("status");
    assert!(
        all.contains("rollout    v2 at 20%") && all.contains("NO DATA    metric `latency_ms`"),
        "{all}"
    );
    assert!(
        h.ctx
            .metrics
            .render()
            .contains("sluice_rollout_verdicts_total{pipeline=\"fraud\",verdict=\"none\"}")
    );
    proxy.set_down(false).await;
    let s = h
        .tick_until("completed after Prometheus came back", |s| {
            s.phase == Phase::Idle
        })
        .await;
    assert_eq!(s.production.map(|p| p.version), Some("v2".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_down_past_the_hold_limit_rolls_back() {
    let (_prom, proxy, h) = setup(3).await;
    h.tick_until("at 20%", |s| at(s, 20)).await;
    proxy.set_down(true).await;
    let s = h
        .tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Rejected));
    assert_eq!(
        subjects(&h)[0],
        "revert: roll back model v2 to v1 — no conclusive analysis after 3 holds at 20% (max_holds 3)"
    );
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_candidate_slower_on_prometheus_is_rolled_back() {
    let (prom, _proxy, h) = setup(10).await;
    prom.set_mean("v2", 160.0);
    let s = h
        .tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Rejected));
    assert!(
        subjects(&h)[0].contains("regressed at 20%"),
        "{:?}",
        subjects(&h)
    );
}
