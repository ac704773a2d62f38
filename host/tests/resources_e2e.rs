//! ModelPipeline resources end to end, against the fake API server: a resource that is
//! applied runs and its status follows each phase; an edited spec takes effect without
//! a restart; an invalid spec is `Degraded` with the located error and does not run; a
//! deleted resource's pipeline stops; a name the config file defines is refused.
//! Kubernetes Events tell the story, a refused policy module included.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::fake_kube::FakeKube;
use common::process::sqlite_annotations;
use common::services::bare_repo;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use sluice::resource::ModelPipeline;

const NS: &str = "ml";

async fn client(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// The spec of a pipeline that trains with a local trainer and promotes to a local
/// deploy repo, with `rule` as its promotion rule.
fn spec(dir: &Path, bare: &Path, rule: &str) -> Value {
    json!({
        "interval": "1s",
        "production": { "version": "v1", "metrics": [{ "name": "accuracy", "value": 0.90 }] },
        "data_source": { "database": { "url": format!("sqlite:{}", dir.join("annotations.db").display()) } },
        "executor": { "local": { "command": ["sh", dir.join("trainer.sh").display().to_string()] } },
        "gitops": {
            "repo": format!("file://{}", bare.display()),
            "targets": [{ "file": "k8s/apps/inference-service/base/kustomization.yaml",
                          "field": "images[name=inference].newTag" }]
        },
        "policies": {
            "retrain": { "module": "gate", "params": { "min_new_samples": 50, "min_interval": "1s" } },
            "promotion": { "module": "stock:metric-gate", "params": { "rules": [rule] } }
        }
    })
}

fn resource(name: &str, spec: Value) -> ModelPipeline {
    serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1",
        "kind": "ModelPipeline",
        "metadata": { "name": name, "namespace": NS },
        "spec": spec,
    }))
    .expect("a ModelPipeline")
}

async fn add_rows(dir: &Path, n: usize) {
    let url = format!("sqlite:{}", dir.join("annotations.db").display());
    common::harness::insert(&url, n).await;
}

/// Polls `mp`'s status until `done` holds; returns every phase seen on the way.
async fn wait_status(
    api: &Api<ModelPipeline>,
    name: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> (Value, Vec<String>) {
    let end = Instant::now() + Duration::from_secs(60);
    let mut phases: Vec<String> = Vec::new();
    loop {
        let mp = api.get(name).await.expect("get");
        let status = serde_json::to_value(&mp.status).expect("status");
        if let Some(p) = status["phase"].as_str()
            && phases.last().map(String::as_str) != Some(p)
        {
            phases.push(p.to_owned());
        }
        if done(&status) {
            return (status, phases);
        }
        assert!(
            Instant::now() < end,
            "{name}: no status with {what} in 60 s; last: {status:#}; phases seen: {phases:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition<'a>(status: &'a Value, t: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == t))
        .unwrap_or(&Value::Null)
}

/// Waits until Events with each of `wanted` reasons exist (they are published
/// asynchronously, beside the status).
async fn wait_events(client: &kube::Client, wanted: &[&str]) {
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let seen: Vec<String> = events
            .list(&ListParams::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter_map(|e| e.reason)
            .collect();
        if wanted.iter().all(|w| seen.iter().any(|s| s == w)) {
            return;
        }
        assert!(
            Instant::now() < end,
            "events {wanted:?} not all published in 30 s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn model_pipelines_run_update_degrade_and_stop_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path();
    let fake = FakeKube::start().await;
    fake.serve_status("sluice.dev/v1alpha1", "modelpipelines");
    fake.write_kubeconfig(&ws.join("kubeconfig"), NS);
    let bare = bare_repo(ws, "deploy", None);
    let annotations = ws.join("annotations.db");
    tokio::task::spawn_blocking(move || sqlite_annotations(&annotations, 60))
        .await
        .expect("annotations");
    std::fs::write(
        ws.join("trainer.sh"),
        r#"sleep 1; echo "{\"version\":\"$MODEL_VERSION\",\"metrics\":{\"accuracy\":0.95}}""#,
    )
    .expect("trainer");
    // The resources' retrain module is a file of the policy directory.
    std::fs::create_dir_all(ws.join("policies")).expect("policies");
    std::fs::copy(
        common::guest("threshold-retrain"),
        ws.join("policies/gate.wasm"),
    )
    .expect("module");
    // The file defines `fraud`; resources come from namespace `ml`.
    std::fs::write(
        ws.join("sluice.yaml"),
        format!(
            "host:
  state_dir: state
  policy_dir: policies
  listen: 127.0.0.1:0
  resources: {{ namespaces: [{NS}], kubeconfig: kubeconfig }}
pipelines:
  - name: fraud
    interval: 1h
    executor: {{ local: {{ command: [\"true\"] }} }}
    gitops: {{ repo: \"file://{}\", targets: [{{ file: a.yaml, field: tag }}] }}
    policies:
      retrain: {{ module: \"stock:threshold-retrain\" }}
      promotion: {{ module: \"stock:metric-gate\", params: {{ rules: [\"accuracy higher min 0.9\"] }} }}
",
            bare.display()
        ),
    )
    .expect("config");
    let loaded =
        sluice::config::load(&ws.join("sluice.yaml"), &common::engine()).expect("config loads");
    let lp = sluice::daemon::build(&loaded, common::engine(), None)
        .await
        .expect("the loop builds");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let host =
        tokio::spawn(async move { sluice::daemon::run(lp, "127.0.0.1:0", Some(stopped)).await });

    let client = client(&ws.join("kubeconfig")).await;
    let api: Api<ModelPipeline> = Api::namespaced(client.clone(), NS);

    // Applied: it trains v2, promotes it, and is Ready with the decision recorded.
    api.create(
        &PostParams::default(),
        &resource("churn", spec(ws, &bare, "accuracy higher min 0.90")),
    )
    .await
    .expect("create");
    let (status, phases) = wait_status(&api, "churn", "production v2, idle", |s| {
        s["production"] == "v2" && s["phase"] == "idle"
    })
    .await;
    assert!(phases.iter().any(|p| p == "training"), "phases: {phases:?}");
    assert_eq!(status["observedGeneration"], 1, "{status:#}");
    assert_eq!(condition(&status, "Ready")["status"], "True", "{status:#}");
    assert_eq!(condition(&status, "Degraded")["status"], "False");
    assert_eq!(status["lastDecision"]["point"], "promotion", "{status:#}");
    assert_eq!(status["lastDecision"]["outcome"], "promote", "{status:#}");
    assert_eq!(
        status["lastDecision"]["moduleSha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    wait_events(&client, &["Started", "TrainingDispatched", "Promoted"]).await;

    // New bytes for its module that fail the checks: refused (the old version serves),
    // and the resource is told.
    std::fs::write(ws.join("policies/gate.wasm"), b"not a component").expect("write");
    wait_events(&client, &["PolicyRefused"]).await;

    // Edited: a stricter gate. The next candidate trains under the new spec and is
    // rejected; production stays v2. No restart.
    let stricter = json!({ "spec": { "policies": { "promotion": {
        "module": "stock:metric-gate", "params": { "rules": ["accuracy higher min 0.99"] } } } } });
    api.patch("churn", &PatchParams::default(), &Patch::Merge(&stricter))
        .await
        .expect("patch");
    wait_status(&api, "churn", "generation 2 observed", |s| {
        s["observedGeneration"] == 2
    })
    .await;
    add_rows(ws, 60).await;
    let (status, _) = wait_status(&api, "churn", "a rejection", |s| {
        s["lastDecision"]["outcome"] == "reject" && s["phase"] == "idle"
    })
    .await;
    assert_eq!(status["production"], "v2", "{status:#}");

    // Invalid: no executor. Not run; Degraded with the located error.
    let broken = json!({ "spec": { "executor": { "local": null } } });
    api.patch("churn", &PatchParams::default(), &Patch::Merge(&broken))
        .await
        .expect("patch");
    let (status, _) =
        wait_status(&api, "churn", "phase invalid", |s| s["phase"] == "invalid").await;
    assert_eq!(status["observedGeneration"], 3);
    assert_eq!(
        status["error"]["field"], "spec.executor.kubernetes",
        "{status:#}"
    );
    assert_eq!(condition(&status, "Degraded")["status"], "True");
    assert_eq!(condition(&status, "Degraded")["reason"], "InvalidSpec");
    assert_eq!(condition(&status, "Ready")["status"], "False");
    wait_events(&client, &["InvalidSpec"]).await;

    // Fixed again, then deleted: its task stops, so new data trains nothing.
    let fixed = json!({ "spec": { "executor": { "local": {
        "command": ["sh", ws.join("trainer.sh").display().to_string()] } } } });
    api.patch("churn", &PatchParams::default(), &Patch::Merge(&fixed))
        .await
        .expect("patch");
    wait_status(&api, "churn", "ready at generation 4", |s| {
        s["observedGeneration"] == 4 && condition(s, "Ready")["status"] == "True"
    })
    .await;
    let store =
        sluice::store::Store::open(&format!("sqlite:{}", ws.join("state/sluice.db").display()))
            .await
            .expect("store");
    let runs_before = store.runs(Some("churn"), 100).await.expect("runs").len();
    api.delete("churn", &DeleteParams::default())
        .await
        .expect("delete");
    // Let the watcher see the deletion, then give the stopped pipeline new data and
    // several intervals in which it would have trained.
    tokio::time::sleep(Duration::from_secs(2)).await;
    add_rows(ws, 60).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs_after = store.runs(Some("churn"), 100).await.expect("runs").len();
    assert_eq!(runs_after, runs_before, "a deleted ModelPipeline trained");

    // A resource named like a pipeline of the config file is refused.
    api.create(
        &PostParams::default(),
        &resource("fraud", spec(ws, &bare, "accuracy higher min 0.9")),
    )
    .await
    .expect("create");
    let (status, _) =
        wait_status(&api, "fraud", "phase invalid", |s| s["phase"] == "invalid").await;
    assert_eq!(status["error"]["field"], "metadata.name", "{status:#}");
    assert!(
        status["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("also defined in the config file")),
        "{status:#}"
    );

    let _ = stop.send(true);
    host.await.expect("host task").expect("host ran");
}
