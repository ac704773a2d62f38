//! Progressive rollout end to end on real servers: sluice's store, the annotations and
//! the latency rows in PostgreSQL, the deploy repo over ssh, every commit checked with
//! the git CLI. A healthy candidate completes through every step; a regressing one is
//! rolled back at its first step and Git shows the revert; a push racing the revert is
//! re-applied; operators pause, resume, promote and abort from the CLI.

mod common;

use std::process::Command;

use common::harness::{Harness, Options, seed_requests, sql_rollout};
use common::services::{DEPLOY_FILE, file_at, log_of, race_once, verify_with_git_cli, weights_at};
use sluice::controller::Phase;
use sluice::decision::TrainingOutcome;

async fn harness(min_step_time: &str, max_holds: u32, candidate_latency: f64) -> Harness {
    let h = Harness::new(Options {
        extra: sql_rollout(min_step_time, max_holds),
        ..Options::default()
    })
    .await;
    seed_requests(&h.db_url, &[("v1", 100.0), ("v2", candidate_latency)]).await;
    h
}

fn subjects(h: &Harness) -> Vec<String> {
    log_of(&h.bare).into_iter().map(|(_, s)| s).collect()
}

fn new_tag(h: &Harness, rev: &str) -> String {
    let text = file_at(&h.bare, rev, DEPLOY_FILE);
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text.split("\n---").next().expect("first document"))
            .expect("parses");
    v["images"][0]["newTag"].as_str().expect("tag").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_candidate_completes_through_every_step_one_commit_each() {
    let h = harness("1s", 5, 95.0).await;
    let s = h
        .tick_until("v2 stable", |s| {
            s.phase == Phase::Idle && s.production.as_ref().is_some_and(|p| p.version == "v2")
        })
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Promoted));
    verify_with_git_cli(&h.bare);
    assert_eq!(
        subjects(&h),
        [
            "chore: complete rollout of model v2",
            "chore: shift 100% of traffic to model v2",
            "chore: shift 20% of traffic to model v2",
            "chore: promote model to v2",
            "initial"
        ]
    );
    // Each commit holds the whole traffic state: (stable weight, canary weight), and
    // the candidate's tag from the promotion on.
    let log = log_of(&h.bare);
    let expect = [
        ((100, 0), "v2"),
        ((0, 100), "v2"),
        ((80, 20), "v2"),
        ((100, 0), "v2"),
        ((100, 0), "v1"),
    ];
    for ((hash, subject), (weights, tag)) in log.iter().zip(expect) {
        assert_eq!(weights_at(&h.bare, hash), weights, "{subject}");
        assert_eq!(new_tag(&h, hash), tag, "{subject}");
    }
    let rendered = h.ctx.metrics.render();
    for m in [
        "sluice_rollout_weight{pipeline=\"fraud\"} 0",
        "sluice_rollout_verdicts_total{pipeline=\"fraud\",verdict=\"pass\"}",
        "sluice_rollout_analysis_duration_seconds_count{pipeline=\"fraud\"}",
    ] {
        assert!(rendered.contains(m), "missing {m} in\n{rendered}");
    }
    let decisions = h
        .ctx
        .store
        .decisions(Some("fraud"), 50)
        .await
        .expect("decisions");
    let pass = decisions
        .iter()
        .find(|d| d.point == "regression" && d.outcome == "pass")
        .expect("a pass verdict was recorded");
    assert!(
        pass.output.contains("p_value") && pass.output.contains("cohens_d"),
        "{}",
        pass.output
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_regressing_candidate_is_rolled_back_at_its_first_step_and_git_says_so() {
    let h = harness("1s", 5, 160.0).await;
    let s = h
        .tick_until("rolled back", |s| {
            s.phase == Phase::Idle && s.last_outcome == Some(TrainingOutcome::Rejected)
        })
        .await;
    assert_eq!(s.production.map(|p| p.version), Some("v1".into()));
    verify_with_git_cli(&h.bare);
    assert_eq!(
        subjects(&h),
        [
            "revert: roll back model v2 to v1 — canary v2 regressed at 20%",
            "chore: shift 20% of traffic to model v2",
            "chore: promote model to v2",
            "initial"
        ]
    );
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
    assert_eq!(new_tag(&h, "main"), "v1");
    let why = h.ctx.store.rejection("fraud", "v2").await.expect("query");
    assert!(
        why.is_some_and(|w| w.contains("rolled back at 20%") && w.contains("regressed")),
        "the version is remembered as rejected"
    );
    let decisions = h
        .ctx
        .store
        .decisions(Some("fraud"), 50)
        .await
        .expect("decisions");
    let verdict = decisions
        .iter()
        .find(|d| d.point == "regression" && d.outcome == "regressed")
        .expect("the verdict is in the audit log");
    assert!(verdict.output.contains("\"p_value\""), "{}", verdict.output);
    assert!(
        h.ctx
            .metrics
            .render()
            .contains("sluice_rollbacks_total{pipeline=\"fraud\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_racing_the_revert_is_re_applied_on_the_new_head() {
    let h = harness("1s", 5, 160.0).await;
    h.tick_until(
        "at 20%",
        |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.weight == 20),
    )
    .await;
    race_once(&h.bare);
    h.tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    let subjects = subjects(&h);
    assert_eq!(
        subjects[..3],
        [
            "revert: roll back model v2 to v1 — canary v2 regressed at 20%",
            "concurrent change",
            "chore: shift 20% of traffic to model v2",
        ]
    );
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
    assert_eq!(
        file_at(&h.bare, "main", "README.md"),
        "deploy repo\nedited concurrently\n",
        "the other writer's change is kept"
    );
}

/// `sluice rollout ACTION fraud --config …` as an operator runs it.
fn operator(h: &Harness, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("rollout")
        .args(args)
        .arg("--config")
        .arg(&h.config_path)
        .env("RUST_LOG", "error")
        .output()
        .expect("sluice runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn weight(s: &sluice::controller::PipelineState) -> Option<u8> {
    match &s.phase {
        Phase::RollingOut { progress, .. } => Some(progress.weight),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_pause_resume_and_promote_from_the_cli() {
    // The policy would hold at 20 % for an hour.
    let h = harness("1h", 100, 95.0).await;
    h.tick_until("at 20%", |s| weight(s) == Some(20)).await;
    let said = operator(
        &h,
        &["pause", "fraud", "--by", "ann", "--reason", "incident 42"],
    );
    assert!(said.contains("`pause` of v2 queued"), "{said}");
    let s = h
        .tick_until(
            "paused",
            |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.paused.is_some()),
        )
        .await;
    assert_eq!(weight(&s), Some(20));
    let shown = operator(&h, &["status", "fraud"]);
    assert!(shown.contains("PAUSED     ann: incident 42"), "{shown}");
    operator(&h, &["resume", "fraud", "--by", "ann"]);
    h.tick_until(
        "resumed",
        |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.paused.is_none()),
    )
    .await;
    operator(
        &h,
        &[
            "promote",
            "fraud",
            "--by",
            "bob",
            "--reason",
            "hotfix needed now",
        ],
    );
    let s = h
        .tick_until("promoted by the operator", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.production.map(|p| p.version), Some("v2".into()));
    assert_eq!(subjects(&h)[0], "chore: complete rollout of model v2");
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
    let decisions = h
        .ctx
        .store
        .decisions(Some("fraud"), 50)
        .await
        .expect("decisions");
    let ops: Vec<(&str, String)> = decisions
        .iter()
        .filter(|d| d.policy == "operator")
        .map(|d| (d.outcome.as_str(), d.reason().unwrap_or_default()))
        .collect();
    assert_eq!(
        ops,
        [
            ("complete", "bob: hotfix needed now".to_owned()),
            ("resume", "ann: no reason given".to_owned()),
            ("pause", "ann: incident 42".to_owned()),
        ]
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["rollout", "abort", "fraud", "--config"])
        .arg(&h.config_path)
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is idle, not rolling out"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_abort_rolls_back_now() {
    let h = harness("1h", 100, 95.0).await;
    h.tick_until("at 20%", |s| weight(s) == Some(20)).await;
    operator(
        &h,
        &[
            "abort",
            "fraud",
            "--by",
            "ann",
            "--reason",
            "customer complaints",
        ],
    );
    let s = h
        .tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Rejected));
    assert_eq!(
        subjects(&h)[0],
        "revert: roll back model v2 to v1 — ann: customer complaints"
    );
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
    assert_eq!(new_tag(&h, "main"), "v1");
}

/// A local webhook receiver: records each body; answers 500 to the first request and
/// to every request while `slow` is set waits 3 s first.
struct Receiver {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

async fn receiver(slow: bool) -> Receiver {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicU32::new(0));
    let b = Arc::clone(&bodies);
    common::http::serve(listener, move |req| {
        let (b, seen) = (Arc::clone(&b), Arc::clone(&seen));
        async move {
            let parts = common::http::read(req, "").await;
            if slow {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            } else {
                let v = serde_json::from_slice(&parts.body).expect("json body");
                b.lock().expect("bodies").push(v);
            }
            r
        }
    });
    Receiver { port, bodies }
}

async fn notified_harness(r: &Receiver, candidate_latency: f64) -> Harness {
    let extra = format!(
        "{}    notify: {{ url: \"http://127.0.0.1:{}/hooks/sluice\" }}\n",
        sql_rollout("1s", 5),
        r.port
    );
    let h = Harness::new(Options {
        extra,
        ..Options::default()
    })
    .await;
    seed_requests(&h.db_url, &[("v1", 100.0), ("v2", candidate_latency)]).await;
    h
}

fn events(r: &Receiver) -> Vec<(String, Option<u64>)> {
    r.bodies
        .lock()
        .expect("bodies")
        .iter()
        .map(|v| {
            (
                v["event"].as_str().unwrap_or("?").to_owned(),
                v["weight"].as_u64(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_hears_each_step_in_order_and_a_refusal_is_retried() {
    let r = receiver(false).await;
    let h = notified_harness(&r, 95.0).await;
    h.tick_until("v2 stable", |s| s.phase == Phase::Idle).await;
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while events(&r).len() < 4 {
        assert!(std::time::Instant::now() < end, "got {:?}", events(&r));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        events(&r),
        [
            ("promoted".to_owned(), Some(0)),
            ("step".to_owned(), Some(20)),
            ("step".to_owned(), Some(100)),
            ("completed".to_owned(), Some(100)),
        ],
        "the first delivery was refused and retried"
    );
    let first = r.bodies.lock().expect("bodies")[0].clone();
    assert_eq!(
        first["text"],
        "fraud: v2 is deployed next to v1 with no traffic yet; the rollout begins"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_webhook_never_holds_the_loop_up() {
    let r = receiver(true).await;
    let h = notified_harness(&r, 160.0).await;
    h.tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    // Three events at 3 s each (and a refused first attempt) take far longer than the
    // rollback did: the loop went on without waiting for the receiver.
    assert!(events(&r).len() < 3, "{:?}", events(&r));
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while events(&r).len() < 3 {
        assert!(std::time::Instant::now() < end, "got {:?}", events(&r));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let last = r.bodies.lock().expect("bodies")[2].clone();
    assert_eq!(last["event"], "rolled-back");
    assert!(
        last["reason"]
            .as_str()
            .is_some_and(|s| s.contains("regressed")),
        "{last}"
    );
}

async fn argo_harness(
    sync_takes: Option<std::time::Duration>,
    candidate_latency: f64,
) -> (Harness, common::fake_argo::FakeArgo) {
    let argo = common::fake_argo::FakeArgo::start("inference", "0000000", sync_takes).await;
    let extra = format!(
        "{}    argocd: {{ server: \"http://127.0.0.1:{}\", application: inference, token: {{ file: argo-token }}, timeout: 3s }}\n",
        sql_rollout("1s", 5),
        argo.port
    );
    let h = Harness::new(Options {
        extra,
        argo_token: Some(common::fake_argo::TOKEN.into()),
        ..Options::default()
    })
    .await;
    seed_requests(&h.db_url, &[("v1", 100.0), ("v2", candidate_latency)]).await;
    (h, argo)
}

/// With Argo CD, each traffic write takes effect when Argo CD reports its commit
/// Synced and Healthy: one sync request per commit, at that commit.
#[tokio::test(flavor = "multi_thread")]
async fn with_argo_cd_each_step_waits_for_its_commit_to_sync() {
    let (h, argo) = argo_harness(Some(std::time::Duration::from_millis(300)), 95.0).await;
    h.tick_until("v2 stable", |s| s.phase == Phase::Idle).await;
    let log = log_of(&h.bare);
    let synced: Vec<String> = argo
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /api/v1/applications/inference/sync"))
        .filter_map(|r| {
            let v: serde_json::Value =
                serde_json::from_str(r.split_once(' ').map(|x| x.1)?.split_once(' ')?.1).ok()?;
            v["revision"].as_str().map(str::to_owned)
        })
        .collect();
    let commits: Vec<String> = log[..4].iter().rev().map(|(h, _)| h.clone()).collect();
    assert_eq!(
        synced,
        commits,
        "promote, shift 20, shift 100, complete: {:?}",
        argo.requests()
    );
}

/// A shift Argo CD never reports healthy rolls the candidate back (the application is
/// still at the promotion commit); the revert stays in Git even though Argo CD does not
/// converge on it either.
#[tokio::test(flavor = "multi_thread")]
async fn a_step_argo_cd_never_syncs_rolls_back() {
    let (h, argo) = argo_harness(Some(std::time::Duration::from_millis(300)), 95.0).await;
    h.tick_until("rolling out", |s| {
        matches!(s.phase, Phase::RollingOut { .. })
    })
    .await;
    argo.set_sync_takes(None);
    let s = h
        .tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Rejected));
    assert_eq!(
        subjects(&h)[..2],
        [
            "revert: roll back model v2 to v1 — Argo CD did not report application `inference` Synced and Healthy at "
                .to_owned()
                + &log_of(&h.bare)[1].0
                + " within 3s (last seen: OutOfSync / Progressing at "
                + &log_of(&h.bare)[2].0[..12]
                + ", operation Running)",
            "chore: shift 20% of traffic to model v2".to_owned(),
        ]
    );
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
}

/// A candidate whose latency rows are NULL (the metrics pipeline is broken for it):
/// the regression policy gets NaN, says inconclusive, the step holds and the rollout
/// policy rolls back at its hold limit. Bad data never passes.
#[tokio::test(flavor = "multi_thread")]
async fn nan_data_is_inconclusive_holds_and_never_passes() {
    let h = harness("1s", 3, f64::NAN).await;
    let s = h
        .tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Rejected));
    assert_eq!(
        subjects(&h)[0],
        "revert: roll back model v2 to v1 — no conclusive analysis after 3 holds at 20% (max_holds 3)"
    );
    let decisions = h
        .ctx
        .store
        .decisions(Some("fraud"), 50)
        .await
        .expect("decisions");
    let verdicts: Vec<&str> = decisions
        .iter()
        .filter(|d| d.point == "regression")
        .map(|d| d.outcome.as_str())
        .collect();
    assert!(
        !verdicts.is_empty() && verdicts.iter().all(|v| *v == "inconclusive"),
        "{verdicts:?}"
    );
}
