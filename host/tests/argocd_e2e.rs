//! Promotion with Argo CD (in-process fake of its REST API): the sync is requested at
//! the pushed revision after a hard refresh and awaited until Synced and Healthy; an
//! application that never gets healthy times out and fails the run.

mod common;

use std::time::Duration;

use common::fake_argo::{FakeArgo, TOKEN};
use common::harness::{Harness, Options};
use common::services::verify_with_git_cli;
use sluice::controller::Phase;
use sluice::decision::TrainingOutcome;

async fn harness(sync_takes: Option<Duration>, timeout: &str) -> (Harness, FakeArgo) {
    let argo = FakeArgo::start("inference", "0000000", sync_takes).await;
    let extra = format!(
        "    argocd:\n      server: http://127.0.0.1:{}\n      application: inference\n      token: {{ file: argo-token }}\n      timeout: {timeout}\n",
        argo.port
    );
    let h = Harness::new(Options {
        extra,
        argo_token: Some(TOKEN.into()),
        ..Options::default()
    })
    .await;
    (h, argo)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sync_is_requested_at_the_pushed_commit_and_awaited() {
    let (h, argo) = harness(Some(Duration::from_millis(1500)), "5m").await;
    let s = h
        .tick_until("syncing", |s| {
            matches!(
                s.phase,
                Phase::Syncing {
                    requested: true,
                    ..
                }
            )
        })
        .await;
    let Phase::Syncing { commit, .. } = &s.phase else {
        unreachable!()
    };
    let head = common::services::git(&h.bare, &["rev-parse", "main"]);
    assert_eq!(commit, head.trim(), "the pushed commit is awaited");
    let reqs = argo.requests();
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("GET /api/v1/applications/inference?refresh=hard")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter().any(
            |r| r.starts_with("POST /api/v1/applications/inference/sync")
                && r.contains(commit.as_str())
        ),
        "{reqs:?}"
    );
    let s = h
        .tick_until("promoted", |s| {
            s.last_outcome == Some(TrainingOutcome::Promoted)
        })
        .await;
    assert_eq!(
        s.production.as_ref().map(|p| p.version.as_str()),
        Some("v2")
    );
    let syncs = argo
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(syncs, 1, "the sync is requested once");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_application_that_never_gets_healthy_times_out() {
    let (h, _argo) = harness(None, "2s").await;
    let s = h
        .tick_until("failed", |s| {
            s.last_outcome == Some(TrainingOutcome::Failed)
        })
        .await;
    assert_eq!(
        s.production.as_ref().map(|p| p.version.as_str()),
        Some("v1")
    );
    let runs = h.ctx.store.runs(Some("fraud"), 5).await.expect("runs");
    let why = runs[0].reason.clone().unwrap_or_default();
    assert!(
        why.contains("did not report") && why.contains("Progressing"),
        "{why}"
    );
    assert_eq!(
        verify_with_git_cli(&h.bare).0.len(),
        2,
        "the commit stays in Git"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_trusts_exactly_the_configured_ca_and_sends_the_token() {
    use sluice::argocd::ArgoCd;
    use sluice::secret::Secret;
    let s = common::services::services();
    let http = s.https_ca.parent().expect("dir");
    let argo = FakeArgo::start_tls(
        "inference",
        &http.join("server.crt"),
        &http.join("server.key"),
    )
    .await;
    let server = format!("https://127.0.0.1:{}", argo.port);

    let good = ArgoCd::new(&server, Secret::new(TOKEN), Some(&s.https_ca)).expect("client");
    let st = good
        .status("inference", true)
        .await
        .expect("status over TLS");
    assert_eq!(
        (st.sync.as_str(), st.health.as_str()),
        ("Synced", "Healthy")
    );

    let wrong_ca =
        ArgoCd::new(&server, Secret::new(TOKEN), Some(&s.https_other_ca)).expect("client");
    let e = wrong_ca
        .status("inference", false)
        .await
        .expect_err("untrusted");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let bad_token = ArgoCd::new(&server, Secret::new("nope"), Some(&s.https_ca)).expect("client");
    let e = bad_token
        .status("inference", false)
        .await
        .expect_err("unauthorized")
        .to_string();
    assert!(e.contains("401") && e.contains("invalid session"), "{e}");
    assert!(!e.contains("nope"), "the token is not echoed: {e}");

    let e = good
        .status("other", false)
        .await
        .expect_err("404")
        .to_string();
    assert!(e.contains("404") && e.contains("not found"), "{e}");
}
