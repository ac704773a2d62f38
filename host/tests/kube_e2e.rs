//! The loop with Kubernetes Jobs, against the in-process fake API server (real wire
//! format; see `common/fake_kube.rs`), real PostgreSQL and git over ssh. Faults: a
//! lost create response (the retry gets 409 and adopts the Job), a 500 on the list of
//! active Jobs (treated as busy), a failed Job, a deleted Job, a malformed report.

mod common;

use common::fake_kube::{FakeKube, Fault};
use common::harness::{Harness, Options};
use common::services::verify_with_git_cli;
use sluice::controller::{Phase, TickOutcome};
use sluice::decision::TrainingOutcome;

fn kube_opts(rows: usize) -> Options {
    Options {
        rows,
        kube: true,
        ..Options::default()
    }
}

fn fake(h: &Harness) -> &FakeKube {
    h.kube.as_ref().expect("fake kube")
}

fn posts(h: &Harness) -> usize {
    fake(h)
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /apis/batch/v1/namespaces/ml/jobs"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_job_per_run_with_the_template_and_the_report_from_the_termination_message() {
    let h = Harness::new(kube_opts(49)).await;
    h.tick().await.expect("tick");
    assert!(fake(&h).jobs("ml").is_empty());
    h.add_rows(1).await;
    h.tick().await.expect("tick");
    h.tick().await.expect("a second tick at once");
    let jobs = fake(&h).jobs("ml");
    assert_eq!(jobs.len(), 1, "exactly one Job");
    assert_eq!(posts(&h), 1);
    let job = &jobs[0];
    let name = job["metadata"]["name"].as_str().expect("name").to_owned();
    assert!(name.starts_with("fraud-training-"), "{name}");
    assert_eq!(job["metadata"]["labels"]["app"], "fraud-training");
    assert_eq!(job["metadata"]["labels"]["sluice.dev/pipeline"], "fraud");
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.example.com/ml/trainer:1");
    let env = c["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "MODEL_VERSION" && e["value"] == "v2")
    );
    assert!(env.iter().any(|e| e["name"] == "SLUICE_RUN_ID"));
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 3600);
    assert!(matches!(
        h.state().await.phase,
        Phase::Training {
            dispatched: true,
            ..
        }
    ));

    fake(&h).finish_job(
        "ml",
        &name,
        true,
        r#"{"version":"v2","metrics":{"accuracy":0.95}}"#,
        "",
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
    let (log, _) = verify_with_git_cli(&h.bare);
    assert_eq!(log[0], "chore: promote model to v2|sluice");
    assert_eq!(fake(&h).jobs("ml").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_response_is_retried_and_the_409_adopts_the_job() {
    let h = Harness::new(kube_opts(50)).await;
    fake(&h).inject(Fault {
        method: "POST",
        path_contains: "/jobs".into(),
        status: 500,
        apply: true,
    });
    let out = h.tick().await.expect("tick");
    assert!(
        matches!(out, TickOutcome::Failed(ref e) if e.contains("500")),
        "{out:?}"
    );
    assert_eq!(fake(&h).jobs("ml").len(), 1, "the server created it");
    let s = h
        .tick_until("dispatched", |s| {
            matches!(
                s.phase,
                Phase::Training {
                    dispatched: true,
                    ..
                }
            )
        })
        .await;
    assert_eq!(s.last_error, None);
    assert_eq!(posts(&h), 2, "the retry got 409 AlreadyExists");
    assert_eq!(fake(&h).jobs("ml").len(), 1, "and adopted the Job");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_error_listing_jobs_counts_as_busy() {
    let h = Harness::new(kube_opts(50)).await;
    fake(&h).inject(Fault {
        method: "GET",
        path_contains: "/jobs".into(),
        status: 500,
        apply: false,
    });
    let out = h.tick().await.expect("tick");
    assert!(
        matches!(out, TickOutcome::Failed(ref e) if e.contains("treating it as busy")),
        "{out:?}"
    );
    assert!(
        fake(&h).jobs("ml").is_empty(),
        "no Job while the answer is unknown"
    );
    assert_eq!(h.state().await.phase, Phase::Idle);
    h.tick_until("dispatched", |s| matches!(s.phase, Phase::Training { .. }))
        .await;
    assert_eq!(fake(&h).jobs("ml").len(), 1);
}

async fn run_ends(h: &Harness, finish: impl Fn(&FakeKube, &str)) -> String {
    h.tick_until_dispatched().await;
    let name = fake(h).jobs("ml")[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    finish(fake(h), &name);
    h.tick_until("failed", |s| {
        s.last_outcome == Some(TrainingOutcome::Failed)
    })
    .await;
    assert_eq!(
        h.count("SELECT COUNT(*) FROM annotations WHERE used_for_training")
            .await,
        0,
        "rows released"
    );
    assert_eq!(verify_with_git_cli(&h.bare).0.len(), 1, "git untouched");
    let runs = h.ctx.store.runs(Some("fraud"), 10).await.expect("runs");
    runs[0].reason.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_fails_the_run_with_kubernetes_reason() {
    let h = Harness::new(kube_opts(50)).await;
    let why = run_ends(&h, |f, n| {
        f.finish_job("ml", n, false, "CUDA out of memory", "DeadlineExceeded")
    })
    .await;
    assert!(
        why.contains("DeadlineExceeded") && why.contains("CUDA out of memory"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_job_fails_the_run() {
    let h = Harness::new(kube_opts(50)).await;
    let why = run_ends(&h, |f, n| f.delete_job("ml", n)).await;
    assert!(why.contains("no longer exists"), "{why}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_report_fails_the_run_with_a_clear_error() {
    let h = Harness::new(kube_opts(50)).await;
    let why = run_ends(&h, |f, n| f.finish_job("ml", n, true, "accuracy=0.93", "")).await;
    assert!(
        why.contains("report is not usable") && why.contains("accuracy=0.93"),
        "{why}"
    );
}

/// The trainer was given MODEL_VERSION=v2 and reports another version: the run fails,
/// so Git and the store never disagree about what is in production.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_with_another_version_than_assigned_fails_the_run() {
    let h = Harness::new(kube_opts(50)).await;
    let report = r#"{"version":"2026.12.02-rc1","metrics":{"accuracy":0.95}}"#;
    let why = run_ends(&h, |f, n| f.finish_job("ml", n, true, report, "")).await;
    assert!(
        why.contains("MODEL_VERSION=v2") && why.contains("2026.12.02-rc1"),
        "{why}"
    );
    assert_eq!(
        h.state().await.production.map(|p| p.version).as_deref(),
        Some("v1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fake_speaks_watch_and_status_like_the_api_server() {
    use futures_util::StreamExt as _;
    use k8s_openapi::api::batch::v1::Job;
    use kube::api::{Api, PostParams, WatchEvent, WatchParams};

    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    fake.write_kubeconfig(&dir.path().join("kc"), "ml");
    let kc = kube::config::Kubeconfig::read_from(dir.path().join("kc")).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let jobs: Api<Job> = Api::namespaced(client, "ml");
    let job: Job = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "w", "labels": { "sluice.dev/pipeline": "p" } },
        "spec": { "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "c", "image": "i" }] } } }
    }))
    .expect("job");
    let created = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    match jobs.create(&PostParams::default(), &job).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("expected 409, got {other:?}"),
    }
    match jobs.get("nope").await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (404, "NotFound")),
        other => panic!("expected 404, got {other:?}"),
    }
    let listed = jobs
        .list(&kube::api::ListParams::default().labels("sluice.dev/pipeline=p"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    assert!(
        jobs.list(&kube::api::ListParams::default().labels("sluice.dev/pipeline=q"))
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let mut stream = jobs
        .watch(
            &WatchParams::default()
                .labels("sluice.dev/pipeline=p")
                .timeout(10),
            "0",
        )
        .await
        .expect("watch")
        .boxed();
    let first = stream.next().await.expect("event").expect("ok");
    assert!(matches!(first, WatchEvent::Added(ref j) if j.metadata.name.as_deref() == Some("w")));
    fake.finish_job("ml", "w", true, "{}", "");
    let second = stream.next().await.expect("event").expect("ok");
    let WatchEvent::Modified(j) = second else {
        panic!("expected MODIFIED")
    };
    let conditions = j.status.and_then(|s| s.conditions).expect("conditions");
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn between_ticks_the_controller_watches_the_job_and_wakes_on_its_end() {
    let h = Harness::new(kube_opts(50)).await;
    let out = h.tick().await.expect("tick");
    let TickOutcome::Training(run, _) = out else {
        panic!("expected a training job, got {out:?}");
    };
    let server = fake(&h).clone();
    let job = run.job.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        server.finish_job(
            "ml",
            &job,
            true,
            r#"{"version":"v2","metrics":{"accuracy":0.95}}"#,
            "",
        );
    });
    // The wait is for up to an hour; it must return because the Job changed.
    let woke = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        h.pipeline.executor.wait_for_change(
            &run.job,
            &run.id,
            std::time::Duration::from_secs(3600),
        ),
    )
    .await;
    assert!(woke.is_ok(), "the watch did not wake on the Job's change");
    assert_eq!(
        fake(&h).jobs("ml")[0]["status"]["succeeded"],
        1,
        "it woke because the Job finished, not before"
    );
    let requests = fake(&h).requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("watch=true") && r.contains("sluice.dev%2Frun")),
        "{requests:?}"
    );
    h.tick().await.expect("tick");
    assert_eq!(
        h.state().await.last_outcome,
        Some(TrainingOutcome::Promoted)
    );
}
