//! The Kubernetes traffic actuator against the fake API server (custom resources with
//! merge patches, preconditions and managedFields as the real server answers): every
//! step is written to a KServe InferenceService and a Gateway API HTTPRoute before Git;
//! a rollback cuts the candidate's traffic in the cluster first, then reverts Git; a
//! write refused for a concurrent change is tried again.

mod common;

use common::fake_kube::{FakeKube, Fault};
use common::harness::{Harness, Options, seed_requests, sql_rollout};
use common::services::{log_of, weights_at};
use serde_json::{Value, json};
use sluice::controller::Phase;
use sluice::decision::TrainingOutcome;

const ISVC: &str = "serving.kserve.io/v1beta1";
const ROUTE: &str = "gateway.networking.k8s.io/v1";

/// The `kubernetes:` part of `traffic:`, for the objects [`seed`] creates.
const KUBE_TRAFFIC: &str = r#"        kubernetes:
          kubeconfig: kubeconfig
          targets:
            - { api_version: serving.kserve.io/v1beta1, kind: InferenceService, namespace: ml, name: fraud, field: spec.predictor.canaryTrafficPercent, value: "{weight}" }
            - { api_version: serving.kserve.io/v1beta1, kind: InferenceService, namespace: ml, name: fraud, field: spec.predictor.model.storageUri, value: "gs://models/fraud/{candidate}" }
            - { api_version: gateway.networking.k8s.io/v1, kind: HTTPRoute, namespace: ml, name: fraud, field: "spec.rules[0].backendRefs[name=fraud-stable].weight", value: "{stable_weight}" }
            - { api_version: gateway.networking.k8s.io/v1, kind: HTTPRoute, namespace: ml, name: fraud, field: "spec.rules[0].backendRefs[name=fraud-canary].weight", value: "{weight}" }
"#;

fn seed(kube: &FakeKube) {
    kube.put_object(
        ISVC,
        "inferenceservices",
        "ml",
        json!({
            "kind": "InferenceService",
            "metadata": { "name": "fraud", "annotations": { "team": "risk" } },
            "spec": { "predictor": {
                "canaryTrafficPercent": 0,
                "model": { "modelFormat": { "name": "sklearn" }, "storageUri": "gs://models/fraud/v1" }
            } }
        }),
    );
    kube.put_object(
        ROUTE,
        "httproutes",
        "ml",
        json!({
            "kind": "HTTPRoute",
            "metadata": { "name": "fraud" },
            "spec": {
                "parentRefs": [{ "name": "public" }],
                "rules": [{ "backendRefs": [
                    { "name": "fraud-stable", "port": 8080, "weight": 100 },
                    { "name": "fraud-canary", "port": 8080, "weight": 0 }
                ] }]
            }
        }),
    );
}

async fn harness(candidate_latency: f64) -> (Harness, FakeKube) {
    let rollout =
        sql_rollout("1s", 5).replace("      analysis:", &format!("{KUBE_TRAFFIC}      analysis:"));
    let h = Harness::new(Options {
        extra: rollout,
        fake_kube: true,
        ..Options::default()
    })
    .await;
    let kube = h.kube.clone().expect("fake kube");
    seed(&kube);
    seed_requests(&h.db_url, &[("v1", 100.0), ("v2", candidate_latency)]).await;
    (h, kube)
}

fn isvc(kube: &FakeKube) -> Value {
    kube.object(ISVC, "inferenceservices", "ml", "fraud")
        .expect("isvc")
}

fn route_weights(kube: &FakeKube) -> (u64, u64) {
    let r = kube
        .object(ROUTE, "httproutes", "ml", "fraud")
        .expect("route");
    let refs = &r["spec"]["rules"][0]["backendRefs"];
    (
        refs[0]["weight"].as_u64().expect("weight"),
        refs[1]["weight"].as_u64().expect("weight"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_reaches_the_cluster_objects_and_git() {
    let (h, kube) = harness(95.0).await;
    h.tick_until(
        "at 20%",
        |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.weight == 20),
    )
    .await;
    let i = isvc(&kube);
    assert_eq!(i["spec"]["predictor"]["canaryTrafficPercent"], 20);
    assert_eq!(
        i["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/fraud/v2"
    );
    assert_eq!(
        i["spec"]["predictor"]["model"]["modelFormat"]["name"], "sklearn",
        "other fields stay"
    );
    assert_eq!(i["metadata"]["annotations"]["team"], "risk");
    assert_eq!(route_weights(&kube), (80, 20));
    let managers: Vec<&str> = i["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["sluice"]);
    let s = h.tick_until("v2 stable", |s| s.phase == Phase::Idle).await;
    assert_eq!(s.production.map(|p| p.version), Some("v2".into()));
    let i = isvc(&kube);
    assert_eq!(i["spec"]["predictor"]["canaryTrafficPercent"], 0);
    assert_eq!(
        i["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/fraud/v2"
    );
    assert_eq!(route_weights(&kube), (100, 0));
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
    // A field inside a list is read, then patched whole with a precondition; a field
    // reached through keys only is one patch.
    let patches = kube
        .requests()
        .iter()
        .filter(|r| r.starts_with("PATCH") && r.contains("fieldManager=sluice"))
        .count();
    assert!(
        patches >= 4 * 3,
        "four fields per write, three writes: {patches}"
    );
}

/// With Git unreachable, the rollback still takes the candidate's traffic away at
/// once in the cluster; the revert follows when Git is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_cuts_traffic_in_the_cluster_before_the_revert() {
    let (h, kube) = harness(160.0).await;
    h.tick_until(
        "at 20%",
        |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.weight == 20),
    )
    .await;
    h.git_proxy.set_down(true).await;
    let s = h
        .tick_until(
            "cut, revert pending",
            |s| matches!(&s.phase, Phase::RollingBack { rollback, .. } if rollback.cut),
        )
        .await;
    assert!(
        s.last_error.is_some_and(|e| e.contains("git")),
        "the revert waits for Git"
    );
    assert_eq!(isvc(&kube)["spec"]["predictor"]["canaryTrafficPercent"], 0);
    assert_eq!(route_weights(&kube), (100, 0));
    assert_eq!(
        weights_at(&h.bare, "main"),
        (80, 20),
        "Git not yet reverted"
    );
    h.git_proxy.set_down(false).await;
    let s = h
        .tick_until("rolled back", |s| s.phase == Phase::Idle)
        .await;
    assert_eq!(s.last_outcome, Some(TrainingOutcome::Rejected));
    assert!(
        log_of(&h.bare)[0]
            .1
            .starts_with("revert: roll back model v2 to v1")
    );
    assert_eq!(weights_at(&h.bare, "main"), (100, 0));
    let i = isvc(&kube);
    assert_eq!(
        i["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/fraud/v1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_refused_for_a_concurrent_change_is_tried_again() {
    let (h, kube) = harness(95.0).await;
    kube.inject(Fault {
        method: "PATCH",
        path_contains: "/httproutes/fraud".into(),
        status: 409,
        apply: false,
    });
    h.tick_until(
        "at 20%",
        |s| matches!(&s.phase, Phase::RollingOut { progress, .. } if progress.weight == 20),
    )
    .await;
    assert_eq!(route_weights(&kube), (80, 20));
    assert_eq!(h.state().await.last_error, None);
}
