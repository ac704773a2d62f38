//! `sluice config check` and the config loader: every problem is reported at once, each
//! with file, line, column and field path; a valid config loads every policy it names.

mod common;

use std::path::Path;
use std::process::Command;

use sluice::config;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("sluice.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

const VALID: &str = "# fraud model
host:
  policy_dir: mods
pipelines:
  - name: fraud
    executor: { local: { command: [python3, train.py] } }
    gitops:
      repo: ssh://git@git.example.com/ml/deploy.git
      ssh: { key_file: deploy_key, known_hosts: known_hosts }
      targets: [{ file: apps/fraud/kustomization.yaml, field: \"images[name=fraud].newTag\" }]
    policies:
      retrain:
        module: gate
        params: { min_new_samples: 100, max_age: 3d }
      promotion:
        module: stock:metric-gate
        params:
          rules: [\"accuracy higher min 0.9\"]
        fail_safe: await-approval
      rollout:
        module: stock:canary-steps
        limits: { fuel: 1000000, deadline_ms: 50 }
";

fn with_module_dir(dir: &Path) {
    std::fs::create_dir_all(dir.join("mods")).expect("dir");
    std::fs::copy(
        common::guest("threshold-retrain"),
        dir.join("mods/gate.wasm"),
    )
    .expect("copy");
}

#[test]
fn a_valid_config_loads_every_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_module_dir(dir.path());
    let path = write(dir.path(), VALID);
    let loaded = config::load(&path, &common::engine()).expect("valid");
    assert_eq!(loaded.uses.len(), 3);
    assert_eq!(loaded.policy_dir, dir.path().join("mods"));
    assert_eq!(
        loaded.config.pipelines[0].policies.promotion.fail_safe,
        sluice::decision::PromotionFailSafe::AwaitApproval
    );
}

#[test]
fn unknown_fields_name_line_column_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "pipelines:\n  - name: fraud\n    polices: {}\n");
    let e = config::load(&path, &common::engine()).expect_err("invalid");
    let p = &e.problems[0];
    assert_eq!(
        (p.line, p.column, p.field.as_str()),
        (3, 5, "pipelines[0]"),
        "{e}"
    );
    assert!(
        p.message
            .starts_with("unknown field `polices`, expected one of `name`, `policies`"),
        "{e}"
    );
}

#[test]
fn a_pipeline_without_a_name_is_reported_where_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_module_dir(dir.path());
    let text = VALID.replace("  - name: fraud\n    executor:", "  - executor:");
    let path = write(dir.path(), &text);
    let e = config::load(&path, &common::engine()).expect_err("invalid");
    assert_eq!(places(&e), vec![(5, "pipelines[0].name")], "{e}");
    assert!(
        e.to_string().contains("every pipeline needs a `name`"),
        "{e}"
    );
}

#[test]
fn a_pinned_module_loads_only_with_the_pinned_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_module_dir(dir.path());
    let digest = sluice::policy::sha256_hex(
        &std::fs::read(dir.path().join("mods/gate.wasm")).expect("module"),
    );
    let pinned = |pin: &str| {
        VALID.replace(
            "        module: gate\n",
            &format!("        module: gate\n        sha256: \"{pin}\"\n"),
        )
    };
    let path = write(dir.path(), &pinned(&digest));
    let loaded = config::load(&path, &common::engine()).expect("the pinned bytes load");
    assert_eq!(loaded.uses[0].pin.as_deref(), Some(digest.as_str()));

    let other = "0".repeat(64);
    let path = write(dir.path(), &pinned(&other));
    let e = config::load(&path, &common::engine()).expect_err("other bytes are pinned");
    assert_eq!(
        places(&e),
        vec![(14, "pipelines[0].policies.retrain.sha256")],
        "{e}"
    );
    assert!(
        e.to_string().contains(&format!(
            "pins this module to sha256 {other}, but these bytes are {digest}"
        )),
        "{e}"
    );

    let path = write(dir.path(), &pinned("abc"));
    let e = config::load(&path, &common::engine()).expect_err("not a digest");
    assert_eq!(
        places(&e),
        vec![(14, "pipelines[0].policies.retrain.sha256")],
        "{e}"
    );
    assert!(e.to_string().contains("is not a sha256 digest"), "{e}");
}

/// (line, field) of every problem, in the order reported.
fn places(e: &config::ConfigError) -> Vec<(usize, &str)> {
    e.problems
        .iter()
        .map(|p| (p.line, p.field.as_str()))
        .collect()
}

#[test]
fn every_semantic_problem_is_reported_at_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_module_dir(dir.path());
    let text = "host: { policy_dir: mods }
pipelines:
  - name: Fraud_Model
    executor: { local: { command: [t] } }
    gitops: { repo: \"file:///d.git\", targets: [{ file: a.yaml, field: tag }] }
    policies:
      retrain:
        module: gate
        params:
          min_new_samples: lots
      promotion: { module: gate }
  - name: churn
    executor: { local: { command: [t] } }
    gitops: { repo: \"file:///d.git\", targets: [{ file: a.yaml, field: tag }] }
    policies:
      retrain: { module: missing }
      promotion: { module: stock:metric-gate, limits: { memory_bytes: 1 } }
  - name: churn
    executor: { local: { command: [t] } }
    gitops: { repo: \"https://u:pw@h/d.git\", targets: [{ file: a.yaml, field: \"images[\" }] }
    policies:
      retrain: { module: stock:threshold-retrain }
      promotion: { module: stock:nope }
";
    let path = write(dir.path(), text);
    let e = config::load(&path, &common::engine()).expect_err("invalid");
    assert_eq!(
        places(&e),
        vec![
            (3, "pipelines[0].name"),
            (10, "pipelines[0].policies.retrain.params"),
            (11, "pipelines[0].policies.promotion.module"),
            (16, "pipelines[1].policies.retrain.module"),
            (17, "pipelines[1].policies.promotion.limits"),
            (18, "pipelines[2].name"),
            (20, "pipelines[2].gitops.repo"),
            (20, "pipelines[2].gitops.targets[0].field"),
            (23, "pipelines[2].policies.promotion.module"),
        ],
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with("9 problems in the configuration:"),
        "{text}"
    );
    assert!(
        text.contains("`min_new_samples`: expected integer, found text \"lots\""),
        "{text}"
    );
    assert!(
        text.contains("this is a retrain policy, but a promotion policy is required here"),
        "{text}"
    );
    assert!(text.contains("mods/missing.wasm does not exist"), "{text}");
    assert!(
        text.contains("limits.memory_bytes must be between 1 MiB"),
        "{text}"
    );
    assert!(text.contains("pipeline `churn` is defined twice"), "{text}");
    assert!(text.contains("no stock policy `nope`"), "{text}");
    assert!(text.contains("the URL contains a credential"), "{text}");
    assert!(!text.contains("pw@"), "the password is not echoed: {text}");

    // The store commands' lighter load reports the same problems except the policy
    // modules' own (which it does not load).
    let e = config::load_without_policies(&path).expect_err("still invalid");
    assert_eq!(
        places(&e),
        vec![
            (3, "pipelines[0].name"),
            (17, "pipelines[1].policies.promotion.limits"),
            (18, "pipelines[2].name"),
            (20, "pipelines[2].gitops.repo"),
            (20, "pipelines[2].gitops.targets[0].field"),
        ],
        "{e}"
    );
}

#[test]
fn the_binary_checks_a_config_and_exits_non_zero_on_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_module_dir(dir.path());
    let good = write(dir.path(), VALID);
    let run = |p: &Path| {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["config", "check"])
            .arg(p)
            .output()
            .expect("run")
    };
    let o = run(&good);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok — 1 pipelines, 3 policy uses"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "pipelines: []\n").expect("write");
    let o = run(&bad);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:1:12: pipelines: no pipelines are configured",
            bad.display()
        )),
        "{err}"
    );
}

/// `config check --remote` makes each promotion in memory against the real deploy repo
/// (git over file:// here): it shows each target's current value and line, and fails,
/// naming the pipeline and the selector, when a target matches nothing.
#[test]
fn config_check_remote_resolves_every_target_against_the_deploy_repo() {
    use common::services::{DEPLOY_FILE, bare_repo};
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = bare_repo(dir.path(), "deploy", None);
    let config = |field: &str| {
        format!(
            "pipelines:\n  - name: fraud\n    executor: {{ local: {{ command: [sh, t.sh] }} }}\n    gitops:\n      repo: file://{}\n      targets: [{{ file: {DEPLOY_FILE}, field: \"{field}\" }}]\n    policies:\n      retrain: {{ module: \"stock:threshold-retrain\" }}\n      promotion: {{ module: \"stock:metric-gate\" }}\n",
            bare.display()
        )
    };
    let check = |text: String| {
        let path = write(dir.path(), &text);
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["config", "check", "--remote"])
            .arg(&path)
            .env("RUST_LOG", "error")
            .output()
            .expect("sluice runs")
    };
    let ok = check(config("images[name=inference].newTag"));
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("fraud: ok"), "{out}");
    assert!(
        out.contains(&format!(
            "{DEPLOY_FILE}:7  images[name=inference].newTag = v1"
        )),
        "{out}"
    );
    let bad = check(config("images[name=trainer].newTag"));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success());
    assert!(
        out.contains("fraud: FAILED — the deploy repo cannot take a promotion")
            && out.contains("images[name=trainer].newTag")
            && out.contains("matches nothing"),
        "{out}"
    );
    assert!(
        !dir.path().join(".sluice").exists(),
        "the check clones into a temporary directory, not the state directory"
    );
}

#[test]
fn engine_size_limits_that_would_refuse_everything_are_found_at_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = VALID.replace(
        "  policy_dir: mods\n",
        "  policy_dir: mods\n  engine: { max_module_bytes: 1024, max_optimized_functions: 0, keep_resident_bytes: 1073741824 }\n",
    );
    with_module_dir(dir.path());
    let path = write(dir.path(), &text);
    let e = config::load_without_policies(&path).expect_err("invalid");
    assert_eq!(
        places(&e),
        [
            (4, "host.engine.max_module_bytes"),
            (4, "host.engine.max_optimized_functions"),
            (4, "host.engine.keep_resident_bytes")
        ],
        "{e}"
    );
    assert!(e.to_string().contains("below 1 MiB"), "{e}");
    assert!(e.to_string().contains("largest linear memory"), "{e}");
}

#[test]
fn a_module_that_does_not_compile_is_reported_with_its_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_module_dir(dir.path());
    // Half a module: the compiler says where it ends.
    let whole = std::fs::read(dir.path().join("mods/gate.wasm")).expect("read");
    std::fs::write(dir.path().join("mods/gate.wasm"), &whole[..whole.len() / 2]).expect("write");
    let path = write(dir.path(), VALID);
    let e = config::load(&path, &common::engine()).expect_err("does not compile");
    let text = e.to_string();
    let (_, cause) = text
        .split_once("the component does not compile: ")
        .unwrap_or_else(|| panic!("the refusal and its cause: {text}"));
    assert!(
        cause.trim().len() > 10,
        "the cause, not just the refusal: {text}"
    );
}
