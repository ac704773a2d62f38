//! The worked rollout examples in `deploy/examples/` (KServe InferenceService; two
//! Deployments behind a Gateway API HTTPRoute) are real: each config loads and checks
//! clean, `config check --remote` resolves every promotion and traffic target in a
//! deploy repo made from the example's files, and a traffic shift written into that
//! repo renders (with `kubectl kustomize`) to the weights it should.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::services::git;
use sluice::traffic::{Traffic, TrafficState};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/examples")
        .join(name)
}

/// A bare repo holding the example's `deploy-repo/` tree.
fn deploy_repo(name: &str, dir: &Path) -> PathBuf {
    let work = dir.join("work");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(example(name).join("deploy-repo"))
        .arg(&work)
        .status()
        .expect("cp");
    assert!(copy.success());
    git(&work, &["init", "-q", "-b", "main", "."]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "platform team"]);
    let bare = dir.join("deploy.git");
    git(dir, &["clone", "-q", "--bare", "work", "deploy.git"]);
    bare
}

/// The example's config pointed at `bare` (file://, no credentials), written to `dir`.
fn local_config(name: &str, dir: &Path, bare: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example(name).join("sluice.yaml")).expect("example");
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let gitops = &mut doc["pipelines"][0]["gitops"];
    gitops["repo"] = format!("file://{}", bare.display()).into();
    if let Some(m) = gitops.as_mapping_mut() {
        m.remove("https");
    }
    let path = dir.join("sluice.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&doc).expect("yaml")).expect("write");
    path
}

fn sluice(args: &[&str], config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .arg(config)
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("sluice runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Writes a shift of `weight` % from v1 to v2 into `bare` the way the rollout does.
fn shift(config: &Path, dir: &Path, weight: u8) {
    let loaded = sluice::config::load(config, &common::engine()).expect("loads");
    let pc = &loaded.config.pipelines[0];
    let repo = sluice::daemon::deploy_repo(pc, "pipelines[0]", &loaded.base, dir.join("clone"))
        .expect("repo");
    let traffic = Traffic::new(pc.rollout.as_ref().expect("rollout"));
    let state = TrafficState {
        stable: "v1",
        candidate: "v2",
        weight,
    };
    repo.apply(&traffic.shift(&repo, &pc.name, state))
        .expect("shift pushed");
}

/// `kubectl kustomize` of `apps/fraud` at main.
fn rendered(bare: &Path, dir: &Path) -> String {
    let out = dir.join("rendered");
    git(
        dir,
        &["clone", "-q", &bare.display().to_string(), "rendered"],
    );
    let render = Command::new("kubectl")
        .args(["kustomize"])
        .arg(out.join("apps/fraud"))
        .output()
        .expect("kubectl runs");
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    String::from_utf8_lossy(&render.stdout).into_owned()
}

#[test]
fn the_kserve_example_checks_and_shifts_the_inference_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, text) = sluice(&["config", "check"], &example("kserve").join("sluice.yaml"));
    assert!(ok, "{text}");
    let bare = deploy_repo("kserve", dir.path());
    let config = local_config("kserve", dir.path(), &bare);
    let (ok, text) = sluice(&["config", "check", "--remote"], &config);
    assert!(ok, "{text}");
    for line in [
        "apps/fraud/inferenceservice.yaml:9  metadata.labels.model-version = v1",
        "spec.predictor.model.storageUri = gs://acme-models/fraud/v1",
        "spec.predictor.canaryTrafficPercent = 100",
    ] {
        assert!(text.contains(line), "missing `{line}` in {text}");
    }
    shift(&config, dir.path(), 25);
    let out = rendered(&bare, dir.path());
    let isvc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out).expect("rendered yaml");
    assert_eq!(
        isvc["spec"]["predictor"]["canaryTrafficPercent"].as_u64(),
        Some(25)
    );
    assert_eq!(
        isvc["spec"]["predictor"]["model"]["storageUri"].as_str(),
        Some("gs://acme-models/fraud/v2")
    );
    assert_eq!(
        isvc["metadata"]["labels"]["model-version"].as_str(),
        Some("v2")
    );
}

#[test]
fn the_httproute_example_checks_and_shifts_the_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, text) = sluice(
        &["config", "check"],
        &example("httproute").join("sluice.yaml"),
    );
    assert!(ok, "{text}");
    let bare = deploy_repo("httproute", dir.path());
    let config = local_config("httproute", dir.path(), &bare);
    let (ok, text) = sluice(&["config", "check", "--remote"], &config);
    assert!(ok, "{text}");
    assert!(
        text.contains("spec.rules[0].backendRefs[name=fraud-canary].weight = 0"),
        "{text}"
    );
    shift(&config, dir.path(), 10);
    let out = rendered(&bare, dir.path());
    let docs: Vec<serde_yaml_ng::Value> = out
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).expect("doc"))
        .collect();
    let route = docs
        .iter()
        .find(|d| d["kind"] == "HTTPRoute")
        .expect("route");
    let refs = &route["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        (refs[0]["weight"].as_u64(), refs[1]["weight"].as_u64()),
        (Some(90), Some(10))
    );
    let image = |name: &str| {
        docs.iter()
            .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == name)
            .and_then(|d| d["spec"]["template"]["spec"]["containers"][0]["image"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(
        image("fraud-stable").as_deref(),
        Some("registry.example.com/ml/fraud-model:v1")
    );
    assert_eq!(
        image("fraud-canary").as_deref(),
        Some("registry.example.com/ml/fraud-model:v2")
    );
}
