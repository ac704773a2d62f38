//! Hot swap: a changed module is checked before it goes live, swapped atomically,
//! refused (keeping the old one) when it fails, and picked up from a directory that
//! changes the way Kubernetes updates a mounted ConfigMap.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice::decision::{DecisionPoint, RawParams};
use sluice::metrics::{Metrics, names};
use sluice::policy::{Limits, PolicyRegistry, PolicyUse};

fn usage(params: RawParams) -> Vec<PolicyUse> {
    vec![PolicyUse {
        pipeline: "fraud".into(),
        module: "retrain".into(),
        point: DecisionPoint::Retrain,
        params,
        limits: Limits::default(),
    }]
}

fn put(dir: &Path, guest: &str) {
    let tmp = dir.join(".incoming");
    std::fs::copy(common::guest(guest), &tmp).expect("copy");
    std::fs::rename(&tmp, dir.join("retrain.wasm")).expect("rename");
}

#[test]
fn a_good_module_swaps_in_and_decisions_in_flight_keep_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "threshold-retrain");
    let metrics = Arc::new(Metrics::new());
    let reg = PolicyRegistry::open(
        common::engine(),
        dir.path(),
        usage(RawParams::new()),
        metrics.clone(),
    )
    .expect("opens");
    let in_flight = reg.get("retrain").expect("active");
    assert_eq!(in_flight.module.description.name, "threshold-retrain");

    put(dir.path(), "hostile-guest");
    let report = reg.rescan();
    assert_eq!(report.swapped, vec!["retrain".to_owned()]);
    let now = reg.get("retrain").expect("active");
    assert_eq!(now.module.description.name, "hostile");
    assert_ne!(now.module.sha256, in_flight.module.sha256);
    // The decision that started before the swap still holds the module it started with.
    assert_eq!(in_flight.module.description.name, "threshold-retrain");
    assert_eq!(
        metrics.get(names::POLICY_SWAPS, &[("module", "retrain")]),
        1
    );
    // An unchanged file is not reloaded.
    assert!(reg.rescan().swapped.is_empty());
}

#[test]
fn failing_modules_are_refused_and_the_old_one_stays() {
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "threshold-retrain");
    let metrics = Arc::new(Metrics::new());
    let params: RawParams = [("min_new_samples".to_owned(), json!(10))].into();
    let reg = PolicyRegistry::open(common::engine(), dir.path(), usage(params), metrics.clone())
        .expect("opens");
    let good = reg.get("retrain").expect("active").module.sha256.clone();

    for (guest, reason) in [("hostile-guest", "params"), ("metric-gate", "wrong-world")] {
        put(dir.path(), guest);
        let report = reg.rescan();
        assert!(report.swapped.is_empty());
        assert_eq!(report.refused.len(), 1, "{guest}");
        assert_eq!(
            report.refused[0].1.label(),
            reason,
            "{}",
            report.refused[0].1
        );
        assert_eq!(reg.get("retrain").expect("active").module.sha256, good);
        assert_eq!(
            metrics.get(
                names::POLICY_REFUSALS,
                &[("module", "retrain"), ("reason", reason)]
            ),
            1
        );
    }
    std::fs::write(dir.path().join("retrain.wasm"), b"not wasm").expect("write");
    let report = reg.rescan();
    assert_eq!(report.refused[0].1.label(), "not-wasm");
    assert_eq!(reg.get("retrain").expect("active").module.sha256, good);
}

#[test]
fn a_bad_module_at_start_up_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("retrain.wasm"), b"").expect("write");
    let e = PolicyRegistry::open(
        common::engine(),
        dir.path(),
        vec![],
        Arc::new(Metrics::new()),
    )
    .err()
    .expect("fails");
    assert!(
        e.to_string()
            .contains("policy module `retrain` is not usable"),
        "{e}"
    );
    let empty = tempfile::tempdir().expect("tempdir");
    let e = PolicyRegistry::open(
        common::engine(),
        empty.path(),
        usage(RawParams::new()),
        Arc::new(Metrics::new()),
    )
    .err()
    .expect("missing");
    assert!(
        e.to_string().contains("uses policy module `retrain`"),
        "{e}"
    );
}

/// Lays out `dir` as the kubelet does for a ConfigMap volume: files are symlinks into
/// `..data`, itself a symlink to a timestamped directory that is replaced atomically.
fn configmap_update(dir: &Path, version: &str, guest: &str) {
    let payload = dir.join(format!("..{version}"));
    std::fs::create_dir(&payload).expect("payload dir");
    std::fs::copy(common::guest(guest), payload.join("retrain.wasm")).expect("copy");
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).expect("symlink");
    std::fs::rename(&tmp, dir.join("..data")).expect("atomic swap");
    let link = dir.join("retrain.wasm");
    if link.symlink_metadata().is_err() {
        std::os::unix::fs::symlink("..data/retrain.wasm", &link).expect("file link");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_follows_a_configmap_symlink_swap() {
    let dir = tempfile::tempdir().expect("tempdir");
    configmap_update(dir.path(), "2026_11_23_01", "threshold-retrain");
    let reg = PolicyRegistry::open(
        common::engine(),
        dir.path(),
        usage(RawParams::new()),
        Arc::new(Metrics::new()),
    )
    .expect("opens");
    assert_eq!(reg.names(), vec!["retrain".to_owned()]);
    let before = reg.get("retrain").expect("active").module.sha256.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = reg.watch(stopped).expect("watch");

    configmap_update(dir.path(), "2026_11_23_02", "hostile-guest");
    let started = Instant::now();
    while reg.get("retrain").expect("active").module.sha256 == before {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the swap was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        reg.get("retrain").expect("active").module.description.name,
        "hostile"
    );
    stop.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("watcher stops")
        .expect("no panic");
}
