//! Hot swap: a changed module is checked before it goes live, swapped atomically,
//! refused (keeping the old one) when it fails, and picked up from a directory that
//! changes the way Kubernetes updates a mounted ConfigMap.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice::decision::{DecisionPoint, Point, RawParams, Retrain};
use sluice::metrics::{Metrics, names};
use sluice::policy::{
    Binding, EngineSettings, Limits, PolicyEngine, PolicyRegistry, PolicyUse, Tier, decide,
};

fn usage(params: RawParams) -> Vec<PolicyUse> {
    vec![PolicyUse {
        pipeline: "fraud".into(),
        module: "retrain".into(),
        point: DecisionPoint::Retrain,
        params,
        limits: Limits::default(),
        pin: None,
    }]
}

fn put(dir: &Path, guest: &str) {
    put_bytes(dir, &std::fs::read(common::guest(guest)).expect("guest"));
}

/// Replaces `retrain.wasm` in `dir` with `bytes` atomically, as a deploy would.
fn put_bytes(dir: &Path, bytes: &[u8]) {
    let tmp = dir.join(".incoming");
    std::fs::write(&tmp, bytes).expect("write");
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

/// One decision by the live `retrain` module; returns the sha256 of the module that
/// made it, after checking it did not fail and that its record names the code tier
/// that ran.
fn decide_now(engine: &PolicyEngine, reg: &PolicyRegistry) -> String {
    let active = reg.get("retrain").expect("active");
    let binding = Binding::<Retrain> {
        params: active.params["fraud"].clone(),
        limits: Limits::default(),
        fail_safe: Default::default(),
    };
    let e = decide::<Retrain>(
        engine,
        &active.module,
        &binding,
        Retrain::trial_context("fraud", vec![]),
        std::time::SystemTime::now(),
        &Metrics::new(),
    );
    assert_eq!(e.failure, None, "{:?}", e.record);
    assert_eq!(e.record.tier, Some(active.module.tier));
    e.record.module_sha256
}

/// Waits until the live `retrain` module runs optimized code.
fn wait_optimized(reg: &PolicyRegistry) -> Arc<sluice::policy::ActivePolicy> {
    let started = Instant::now();
    loop {
        let active = reg.get("retrain").expect("active");
        if active.module.tier == Tier::Optimized {
            return active;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the optimized build never replaced the baseline one"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A registry on a fresh engine (every module is new to it) over a directory holding
/// threshold-retrain as `retrain`.
fn fresh_registry() -> (
    Arc<PolicyEngine>,
    tempfile::TempDir,
    Arc<PolicyRegistry>,
    Arc<Metrics>,
) {
    let engine = PolicyEngine::new(EngineSettings::default()).expect("engine");
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "threshold-retrain");
    let metrics = Arc::new(Metrics::new());
    let reg = PolicyRegistry::open(
        engine.clone(),
        dir.path(),
        usage(RawParams::new()),
        metrics.clone(),
    )
    .expect("opens");
    (engine, dir, reg, metrics)
}

#[test]
fn a_new_module_goes_live_on_baseline_code_then_runs_optimized() {
    let (engine, dir, reg, metrics) = fresh_registry();
    if !engine.has_baseline() {
        eprintln!("no baseline compiler on this architecture; nothing to test");
        return;
    }
    // Start-up loads optimized code directly.
    let first = reg.get("retrain").expect("active");
    assert_eq!(first.module.tier, Tier::Optimized);

    put(dir.path(), "bare-guest");
    let report = reg.rescan();
    assert_eq!(report.swapped, vec!["retrain".to_owned()]);
    assert_eq!(report.upgrading, vec!["retrain".to_owned()]);
    let swapped = reg.get("retrain").expect("active");
    assert_eq!(swapped.module.description.name, "bare");
    // The upgrade may already have happened on a fast machine; either way the
    // decision is made by the new module.
    assert_eq!(decide_now(&engine, &reg), swapped.module.sha256);
    let optimized = wait_optimized(&reg);
    assert_eq!(optimized.module.sha256, swapped.module.sha256);
    assert_eq!(
        metrics.get(names::POLICY_UPGRADES, &[("module", "retrain")]),
        1
    );
    assert_eq!(decide_now(&engine, &reg), swapped.module.sha256);

    // Back to a module this engine compiled before: its optimized build was freed
    // when it was replaced (no cache_dir here), so it goes live on baseline code
    // again and is upgraded again.
    put(dir.path(), "threshold-retrain");
    let report = reg.rescan();
    assert_eq!(report.swapped, vec!["retrain".to_owned()]);
    assert_eq!(report.upgrading, vec!["retrain".to_owned()]);
    let back = wait_optimized(&reg);
    assert_eq!(back.module.sha256, first.module.sha256);
}

#[test]
fn an_upgrade_never_replaces_a_newer_module() {
    let (_engine, dir, reg, _metrics) = fresh_registry();
    // Two swaps in a row: the first module's optimized compile is still running
    // (or just done) when the second goes live.
    put(dir.path(), "bare-guest");
    assert_eq!(reg.rescan().swapped.len(), 1);
    put(dir.path(), "hostile-guest");
    assert_eq!(reg.rescan().swapped.len(), 1);
    let hostile = reg.get("retrain").expect("active").module.sha256.clone();
    let settled = wait_optimized(&reg);
    // Let any straggling upgrade of the first module finish; it must not win.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(settled.module.sha256, hostile);
    let now = reg.get("retrain").expect("active");
    assert_eq!(now.module.sha256, hostile);
    assert_eq!(now.module.tier, Tier::Optimized);
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

/// Refused bytes are not tried again until they change: a module that loops in its
/// trial decision (to its fuel or deadline) costs one trial, not one per rescan, and its refusal
/// is logged and counted once, listed by the registry and shown as a gauge.
#[test]
fn refused_bytes_are_tried_again_only_when_they_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "hostile-guest");
    let metrics = Arc::new(Metrics::new());
    let reg = PolicyRegistry::open(
        common::engine(),
        dir.path(),
        usage(RawParams::new()),
        metrics.clone(),
    )
    .expect("opens");
    let hostile = std::fs::read(common::guest("hostile-guest")).expect("guest");
    let write = |bytes: &[u8]| put_bytes(dir.path(), bytes);
    let refusals = |reason| {
        metrics.get(
            names::POLICY_REFUSALS,
            &[("module", "retrain"), ("reason", reason)],
        )
    };
    write(&common::wasm_bytes::hostile_describing(&hostile, 5, 0));
    let first = reg.rescan();
    assert_eq!(first.refused.len(), 1);
    let reason = first.refused[0].1.label();
    let why = first.refused[0].1.to_string();
    assert!(why.contains("the trial decision failed"), "{why}");
    for _ in 0..5 {
        // A load would end in the report, swapped or refused.
        let again = reg.rescan();
        assert!(
            again.refused.is_empty() && again.swapped.is_empty(),
            "the same refused bytes are not loaded again"
        );
    }
    assert_eq!(refusals(reason), 1, "counted once");
    let listed = reg.refusals();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].module.as_str(), listed[0].reason),
        ("retrain", reason)
    );
    assert!(
        metrics
            .render()
            .contains("sluice_policy_refused{module=\"retrain\"} 1")
    );
    // Other bytes are tried: here a well-behaved version, which goes live and clears it.
    write(&common::wasm_bytes::hostile_describing(&hostile, 0, 7));
    let report = reg.rescan();
    assert_eq!(report.swapped, ["retrain"]);
    assert!(reg.refusals().is_empty());
    assert!(
        metrics
            .render()
            .contains("sluice_policy_refused{module=\"retrain\"} 0")
    );
}

/// Resident memory in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// A hundred swaps, each to a module never seen before (and each replaced by the
/// next): the compiled code of every replaced module is released, so resident memory
/// stays flat instead of growing with every module the host has ever run.
#[test]
fn a_hundred_swaps_leave_resident_memory_flat() {
    let engine = PolicyEngine::new(EngineSettings {
        single_tier: true,
        ..EngineSettings::default()
    })
    .expect("engine");
    let dir = tempfile::tempdir().expect("tempdir");
    let hostile = std::fs::read(common::guest("hostile-guest")).expect("guest");
    let write = |variant| {
        put_bytes(
            dir.path(),
            &common::wasm_bytes::hostile_describing(&hostile, 0, variant),
        );
    };
    write(0);
    let reg = PolicyRegistry::open(
        engine,
        dir.path(),
        usage(RawParams::new()),
        Arc::new(Metrics::new()),
    )
    .expect("opens");
    let swap = |variant| {
        write(variant);
        assert_eq!(reg.rescan().swapped, ["retrain"], "variant {variant}");
    };
    for v in 1..=10 {
        swap(v);
    }
    let before = rss();
    for v in 11..=110 {
        swap(v);
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "resident memory grew {} MiB over 100 swaps",
        grown >> 20
    );
}

/// A file over `max_module_bytes` dropped into the directory is refused without being
/// read or compiled, once; the old version stays.
#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    let engine = PolicyEngine::new(EngineSettings {
        max_module_bytes: 4 << 20,
        ..EngineSettings::default()
    })
    .expect("engine");
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "threshold-retrain");
    let metrics = Arc::new(Metrics::new());
    let reg = PolicyRegistry::open(engine, dir.path(), usage(RawParams::new()), metrics.clone())
        .expect("opens");
    let good = reg.get("retrain").expect("live").module.sha256.clone();
    std::fs::write(dir.path().join("retrain.wasm"), vec![0u8; 8 << 20]).expect("write");
    let report = reg.rescan();
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1.label(), "too-large");
    assert!(reg.rescan().refused.is_empty(), "refused once");
    assert_eq!(reg.get("retrain").expect("live").module.sha256, good);
    let refused = reg.refusals();
    assert!(
        refused[0].sha256.starts_with("unread:8388608:"),
        "{refused:?}"
    );
}
