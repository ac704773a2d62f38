//! Kill the real `sluice run` process at each side effect of a rollout — after a
//! traffic shift is pushed, after the rollout policy decided, after the revert is
//! pushed — restart it, and check with the git CLI that the deploy repo holds each
//! write exactly once: no second shift, no second revert, no lost rollback.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::harness::seed_requests;
use common::process::{self, sqlite_annotations, wait_exit};
use common::services::{ROUTE_TRAFFIC, bare_repo, verify_with_git_cli, weights_at};

/// A workspace whose candidate v2 serves with mean latency `candidate_latency` (v1:
/// 110); returns the deploy repo.
fn workspace(dir: &Path, candidate_latency: f64, kube_traffic: &str) -> PathBuf {
    let bare = bare_repo(dir, "deploy", None);
    sqlite_annotations(&dir.join("annotations.db"), 60);
    let url = format!("sqlite:{}", dir.join("annotations.db").display());
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(seed_requests(
            &url,
            &[("v1", 100.0), ("v2", candidate_latency)],
        ));
    std::fs::write(
        dir.join("trainer.sh"),
        r#"echo "{\"version\":\"$MODEL_VERSION\",\"metrics\":{\"accuracy\":0.95}}""#,
    )
    .expect("trainer");
    let config = format!(
        r#"host: {{ state_dir: state, listen: "127.0.0.1:0" }}
pipelines:
  - name: fraud
    interval: 1s
    production: {{ version: v1, metrics: {{ accuracy: 0.90 }} }}
    data_source: {{ database: {{ url: "sqlite:annotations.db" }} }}
    executor: {{ local: {{ command: [sh, trainer.sh] }} }}
    gitops:
      repo: file://{bare}
      targets: [{{ file: k8s/apps/inference-service/base/kustomization.yaml, field: "images[name=inference].newTag" }}]
    policies:
      retrain: {{ module: "stock:threshold-retrain" }}
      promotion: {{ module: "stock:metric-gate", params: {{ rules: ["accuracy higher min 0.90"] }} }}
      regression: {{ module: "stock:stat-regression", params: {{ min_samples: 20, alpha: 0.01, min_effect: 0.5 }} }}
      rollout: {{ module: "stock:canary-steps", params: {{ steps: [20, 100], min_step_time: 1s }} }}
    rollout:
{ROUTE_TRAFFIC}{kube_traffic}      analysis:
        interval: 1s
        providers: {{ db: {{ sql: {{ database: {{ url: "sqlite:annotations.db" }} }} }} }}
        metrics:
          - name: latency_ms
            direction: lower-is-better
            provider: db
            baseline: "SELECT latency_ms FROM requests WHERE version = '{{stable}}' AND at_ms BETWEEN {{until_ms}} - 5000 AND {{until_ms}}"
            canary: "SELECT latency_ms FROM requests WHERE version = '{{candidate}}' AND at_ms BETWEEN {{since_ms}} AND {{until_ms}}"
"#,
        bare = bare.display()
    );
    std::fs::write(dir.join("sluice.yaml"), config).expect("config");
    bare
}

fn start(dir: &Path, failpoint: Option<&str>) -> Child {
    process::start(&dir.join("sluice.yaml"), None, failpoint)
}

fn status(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&process::stdout_of(
        &["status", "--json"],
        &dir.join("sluice.yaml"),
    ))
    .unwrap_or_default()
}

/// Crashes at `point`, restarts, waits for the run to end with `outcome`; returns
/// the deploy repo's log (`subject|author`, newest first), the repo and its workspace.
fn crash_and_finish(
    point: &str,
    candidate_latency: f64,
    outcome: &str,
) -> (Vec<String>, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = workspace(dir.path(), candidate_latency, "");
    finish_after_crash(point, outcome, dir, bare)
}

fn finish_after_crash(
    point: &str,
    outcome: &str,
    dir: tempfile::TempDir,
    bare: PathBuf,
) -> (Vec<String>, PathBuf, tempfile::TempDir) {
    let mut crashed = start(dir.path(), Some(point));
    let st = wait_exit(&mut crashed, Duration::from_secs(90));
    assert!(
        !st.success(),
        "{point}: the failpoint must abort the process"
    );
    let mut resumed = start(dir.path(), None);
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let s = status(dir.path());
        let state = &s["pipelines"][0]["state"];
        if state["phase"]["phase"] == "idle" && state["last_outcome"] == outcome {
            break;
        }
        assert!(Instant::now() < end, "{point}: never ended {outcome}: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
    process::sigterm(&resumed);
    assert!(wait_exit(&mut resumed, Duration::from_secs(30)).success());
    let (log, _) = verify_with_git_cli(&bare);
    (log, bare, dir)
}

const COMPLETED: [&str; 5] = [
    "chore: complete rollout of model v2|sluice",
    "chore: shift 100% of traffic to model v2|sluice",
    "chore: shift 20% of traffic to model v2|sluice",
    "chore: promote model to v2|sluice",
    "initial|test",
];

const ROLLED_BACK: [&str; 4] = [
    "revert: roll back model v2 to v1 — canary v2 regressed at 20%|sluice",
    "chore: shift 20% of traffic to model v2|sluice",
    "chore: promote model to v2|sluice",
    "initial|test",
];

#[test]
fn killed_after_a_traffic_shift_is_pushed() {
    let (log, bare, _dir) = crash_and_finish("after-traffic-push", 95.0, "promoted");
    assert_eq!(log, COMPLETED, "one commit per step, no second shift");
    assert_eq!(weights_at(&bare, "main"), (100, 0));
}

#[test]
fn killed_after_the_completion_is_pushed() {
    let (log, bare, _dir) = crash_and_finish("after-complete-push", 95.0, "promoted");
    assert_eq!(log, COMPLETED, "one completion commit");
    assert_eq!(weights_at(&bare, "main"), (100, 0));
}

#[test]
fn killed_after_the_rollout_policy_decided() {
    let (log, _, _dir) = crash_and_finish("after-rollout-decision", 95.0, "promoted");
    assert_eq!(log, COMPLETED);
}

#[test]
fn killed_after_deciding_to_roll_back() {
    let (log, bare, _dir) = crash_and_finish("after-rollback-decision", 160.0, "rejected");
    // The decision is in the audit log but not in the state: the restarted host
    // analyses again, decides again, and carries the rollback out once.
    assert_eq!(log, ROLLED_BACK);
    assert_eq!(weights_at(&bare, "main"), (100, 0));
}

#[test]
fn killed_after_the_revert_is_pushed() {
    let (log, bare, _dir) = crash_and_finish("after-revert-push", 160.0, "rejected");
    assert_eq!(log, ROLLED_BACK, "exactly one revert");
    assert_eq!(weights_at(&bare, "main"), (100, 0));
}

/// With a Kubernetes traffic actuator (the fake API server, reached by the real
/// process through a kubeconfig): killed right after the rollback's cut, the
/// restarted host goes on with the revert — once.
#[test]
fn killed_after_the_rollbacks_traffic_cut() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let kube = rt.block_on(common::fake_kube::FakeKube::start());
    kube.put_object(
        "serving.kserve.io/v1beta1",
        "inferenceservices",
        "ml",
        serde_json::json!({
            "kind": "InferenceService",
            "metadata": { "name": "fraud" },
            "spec": { "predictor": { "canaryTrafficPercent": 0 } }
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    kube.write_kubeconfig(&dir.path().join("kubeconfig"), "ml");
    let traffic = "        kubernetes:\n          kubeconfig: kubeconfig\n          targets:\n            - { api_version: serving.kserve.io/v1beta1, kind: InferenceService, namespace: ml, name: fraud, field: spec.predictor.canaryTrafficPercent, value: \"{weight}\" }\n";
    let bare = workspace(dir.path(), 160.0, traffic);
    let (log, bare, _dir) = finish_after_crash("after-traffic-cut", "rejected", dir, bare);
    assert_eq!(log, ROLLED_BACK, "exactly one revert after the cut");
    assert_eq!(weights_at(&bare, "main"), (100, 0));
    let isvc = kube
        .object(
            "serving.kserve.io/v1beta1",
            "inferenceservices",
            "ml",
            "fraud",
        )
        .expect("isvc");
    assert_eq!(isvc["spec"]["predictor"]["canaryTrafficPercent"], 0);
    let cuts = kube
        .requests()
        .iter()
        .filter(|r| {
            r.starts_with(
                "PATCH /apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices/fraud",
            )
        })
        .count();
    // promote (0), shift (20), the cut (then the crash, before the state recorded
    // it), the cut again after the restart (harmless: same value), the revert.
    assert_eq!(cuts, 5, "{:?}", kube.requests());
    drop(rt);
}
