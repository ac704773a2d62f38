//! Kill the real `sluice run` process between a side effect and the persistence of its
//! outcome — at every such point — restart it, and check that the run completes with
//! exactly one training job, one run and one promotion commit. Also: SIGTERM exits
//! cleanly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::process::{
    sigterm, sqlite_annotations, start as start_as, stdout_of as sluice_stdout, wait_exit,
};
use common::services::{bare_repo, verify_with_git_cli};

/// Writes the annotations database, trainer, deploy repo and config; returns the repo.
fn write_workspace(dir: &Path) -> PathBuf {
    let bare = bare_repo(dir, "deploy", None);
    sqlite_annotations(&dir.join("annotations.db"), 60);
    let trainer =
        r#"sleep 1; echo "{\"version\":\"$MODEL_VERSION\",\"metrics\":{\"accuracy\":0.95}}""#;
    std::fs::write(dir.join("trainer.sh"), trainer).expect("trainer");
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
"#,
        bare = bare.display()
    );
    std::fs::write(dir.join("sluice.yaml"), config).expect("config");
    bare
}

fn start(dir: &Path, failpoint: Option<&str>) -> Child {
    start_as(&dir.join("sluice.yaml"), None, failpoint)
}

fn status(dir: &Path) -> String {
    sluice_stdout(&["status", "--json"], &dir.join("sluice.yaml"))
}

fn crash_then_resume(point: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = write_workspace(dir.path());
    resume_after_crash(point, dir.path(), &bare);
}

fn resume_after_crash(point: &str, dir: &Path, bare: &Path) {
    let mut crashed = start(dir, Some(point));
    let st = wait_exit(&mut crashed, Duration::from_secs(60));
    assert!(
        !st.success(),
        "{point}: the failpoint must abort the process"
    );
    let mut resumed = start(dir, None);
    let end = Instant::now() + Duration::from_secs(60);
    while !status(dir).contains("\"last_outcome\": \"promoted\"") {
        assert!(
            Instant::now() < end,
            "{point}: not promoted after restart: {}",
            status(dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    sigterm(&resumed);
    let st = wait_exit(&mut resumed, Duration::from_secs(30));
    assert!(st.success(), "{point}: SIGTERM exits cleanly, got {st:?}");
    let runs = std::fs::read_dir(dir.join("state/runs"))
        .expect("runs dir")
        .count();
    assert_eq!(runs, 1, "{point}: exactly one training job");
    let (log, _) = verify_with_git_cli(bare);
    assert_eq!(
        log,
        ["chore: promote model to v2|sluice", "initial|test"],
        "{point}: exactly one promotion commit"
    );
}

/// The README's own form: `sluice run --config sluice.yaml` in the config's directory.
/// The local trainer (`sh trainer.sh`), the SQLite paths and the state directory are
/// all relative to the config file.
#[test]
fn a_bare_config_file_name_resolves_every_relative_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = write_workspace(dir.path());
    let mut child = start_as(Path::new("sluice.yaml"), Some(dir.path()), None);
    let end = Instant::now() + Duration::from_secs(60);
    while !status(dir.path()).contains("\"last_outcome\": \"promoted\"") {
        assert!(Instant::now() < end, "not promoted: {}", status(dir.path()));
        std::thread::sleep(Duration::from_millis(200));
    }
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    assert_eq!(
        verify_with_git_cli(&bare).0,
        ["chore: promote model to v2|sluice", "initial|test"]
    );
}

#[test]
fn killed_after_claiming_rows() {
    crash_then_resume("after-claim");
}

#[test]
fn killed_after_creating_the_job() {
    crash_then_resume("after-dispatch");
}

#[test]
fn killed_after_the_promotion_decision() {
    crash_then_resume("after-promotion-decision");
}

#[test]
fn killed_after_pushing() {
    crash_then_resume("after-push");
}

#[test]
fn killed_after_requesting_the_argo_cd_sync() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let argo = rt.block_on(common::fake_argo::FakeArgo::start(
        "inference",
        "0000000",
        Some(Duration::from_millis(300)),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = write_workspace(dir.path());
    std::fs::write(dir.path().join("argo-token"), common::fake_argo::TOKEN).expect("token");
    let config = dir.path().join("sluice.yaml");
    let text = std::fs::read_to_string(&config).expect("read");
    let argo_section = format!(
        "    argocd: {{ server: \"http://127.0.0.1:{}\", application: inference, token: {{ file: argo-token }} }}\n    policies:",
        argo.port
    );
    std::fs::write(&config, text.replacen("    policies:", &argo_section, 1)).expect("write");
    resume_after_crash("after-sync-request", dir.path(), &bare);
    let syncs = argo
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /api/v1/applications/inference/sync"))
        .count();
    assert!(syncs >= 1, "{:?}", argo.requests());
    drop(rt);
}

/// Points the workspace's `host.listen` at a free loopback port; returns the port.
fn listen_on_a_free_port(dir: &Path) -> u16 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = dir.join("sluice.yaml");
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        text.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    )
    .expect("write");
    port
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn run_serves_health_readiness_metrics_and_the_audit_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = write_workspace(dir.path());
    // A second pipeline whose data source is broken must not stop the first.
    let config = dir.path().join("sluice.yaml");
    let mut text = std::fs::read_to_string(&config).expect("read");
    text.push_str(&format!(
        r#"  - name: broken
    interval: 1s
    data_source: {{ database: {{ url: "sqlite:annotations.db" }}, count_query: "SELECT COUNT(*) FROM no_such_table" }}
    executor: {{ local: {{ command: [sh, trainer.sh] }} }}
    gitops:
      repo: file://{bare}
      targets: [{{ file: k8s/apps/inference-service/base/kustomization.yaml, field: "images[name=inference].newTag" }}]
    policies:
      retrain: {{ module: "stock:threshold-retrain" }}
      promotion: {{ module: "stock:metric-gate" }}
"#,
        bare = bare.display()
    ));
    std::fs::write(&config, text).expect("write");
    let port = listen_on_a_free_port(dir.path());
    let config = dir.path().join("sluice.yaml");
    let mut child = start(dir.path(), None);
    let end = Instant::now() + Duration::from_secs(60);
    while !status(dir.path()).contains("\"last_outcome\": \"promoted\"") {
        assert!(Instant::now() < end, "not promoted: {}", status(dir.path()));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(http_get(port, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(http_get(port, "/readyz").starts_with("HTTP/1.1 200"));
    let metrics = http_get(port, "/metrics");
    for m in [
        "sluice_policy_decisions_total{point=\"retrain\",outcome=\"train\"} 1",
        "sluice_policy_decisions_total{point=\"promotion\",outcome=\"promote\"} 1",
        "sluice_runs_total{pipeline=\"fraud\",outcome=\"promoted\"} 1",
        "sluice_promotions_total{pipeline=\"fraud\"} 1",
        "sluice_tick_duration_seconds_count{pipeline=\"fraud\"}",
    ] {
        assert!(metrics.contains(m), "missing {m} in\n{metrics}");
    }
    let text = sluice_stdout(&["decisions"], &config);
    assert!(
        text.contains("promotion  promote") && text.contains("metric-gate@"),
        "{text}"
    );
    assert!(text.contains("rules hold"), "reasons are shown: {text}");
    let text = sluice_stdout(&["status"], &config);
    assert!(
        text.contains("fraud: idle") && text.contains("production v2"),
        "{text}"
    );
    assert!(
        text.contains("broken: idle") && text.contains("ERROR") && text.contains("no_such_table"),
        "the broken pipeline shows its error: {text}"
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}

/// A policy file that is refused while `sluice run` runs is shown by `sluice status`
/// (from the store) and by `/metrics` (a gauge), and is not reloaded again and again.
#[test]
fn a_refused_policy_file_shows_in_status_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_workspace(dir.path());
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::copy(
        common::guest("threshold-retrain"),
        policies.join("spare.wasm"),
    )
    .expect("copy");
    let port = listen_on_a_free_port(dir.path());
    let config = dir.path().join("sluice.yaml");
    let mut child = start(dir.path(), None);
    let end = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || !http_get(port, "/readyz").starts_with("HTTP/1.1 200")
    {
        assert!(Instant::now() < end, "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::write(policies.join(".incoming"), b"\0asm\x0d\0\x01\0garbage").expect("write");
    std::fs::rename(policies.join(".incoming"), policies.join("spare.wasm")).expect("swap");
    let end = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = sluice_stdout(&["status"], &config);
        if text.contains("policy modules refused") {
            break text;
        }
        assert!(Instant::now() < end, "not shown: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.contains("spare sha256 ") && text.contains("does not compile"),
        "{text}"
    );
    let metrics = http_get(port, "/metrics");
    assert!(
        metrics.contains("sluice_policy_refused{module=\"spare\"} 1"),
        "{metrics}"
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}
