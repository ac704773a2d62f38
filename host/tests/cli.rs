//! The `sluice policy` commands, run as a user runs them: the real binary.

mod common;

use std::process::{Command, Output};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run sluice")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_stock_policy_passes_its_golden_cases() {
    for stock in sluice::stock::STOCK_POLICIES {
        let cases = format!("policies/{}/cases.yaml", stock.name);
        let o = sluice(&[
            "policy",
            "test",
            &format!("stock:{}", stock.name),
            "--cases",
            &cases,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(" passed, 0 failed"), "{}", text(&o));
    }
}

#[test]
fn a_failing_case_fails_the_command_with_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = dir.path().join("cases.yaml");
    std::fs::write(&cases, "cases:\n  - name: wrong on purpose\n    context: { pipeline: p, new_samples: 1 }\n    expect: { outcome: train }\n  - name: right\n    context: { pipeline: p, new_samples: 1 }\n    expect: { outcome: wait }\n").expect("write");
    let o = sluice(&[
        "policy",
        "test",
        "stock:threshold-retrain",
        "--cases",
        &cases.display().to_string(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("FAIL wrong on purpose: expected outcome `train`, got `wait`"),
        "{t}"
    );
    assert!(t.contains("ok   right"), "{t}");
    assert!(t.contains("1 passed, 1 failed"), "{t}");
}

#[test]
fn a_malformed_input_gets_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.yaml");
    std::fs::write(&input, "context:\n  pipeline: p\n  new_samples: lots\n").expect("write");
    let o = sluice(&[
        "policy",
        "eval",
        "stock:threshold-retrain",
        "--input",
        &input.display().to_string(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains(&format!(
            "{}:3:16: context.new_samples: invalid type",
            input.display()
        )),
        "{t}"
    );
}

#[test]
fn eval_prints_the_decision_with_fuel_and_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        r#"{"params": {"min_new_samples": 5}, "context": {"pipeline": "p", "new_samples": 7}}"#,
    )
    .expect("write");
    let o = sluice(&[
        "policy",
        "eval",
        "stock:threshold-retrain",
        "--input",
        &input.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["decision"]["train"]["reason"],
        "7 new verified samples ≥ min_new_samples 5"
    );
    assert!(v["fuel_used"].as_u64().expect("fuel") > 0);
    assert_eq!(v["module_sha256"].as_str().expect("sha").len(), 64);
}

#[test]
fn check_describes_world_exports_and_params() {
    let path = common::guest("stat-regression").display().to_string();
    let o = sluice(&["policy", "check", &path]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("world:   regression (sluice:policy/decide-regression@0.1.0)"),
        "{t}"
    );
    assert!(t.contains("alpha"), "{t}");
    let o = sluice(&["policy", "check", "/dev/null"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("/dev/null: the file is empty"),
        "{}",
        text(&o)
    );
}

#[test]
fn demo_runs_to_the_end() {
    let o = sluice(&["demo"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for expected in [
        "retrain policy: train",
        "training fraud-detector-training-",
        "promotion policy: promote v2",
        "rollout complete: v2 is stable and serves all traffic",
        "promotion policy: promote v3",
        "regression policy at 10%: regressed",
        "rolled back: v2 serves all traffic again; v3 is rejected",
        "newTag: v2        # <- sluice edits only these values",
        "weight: 100   # stable",
        "weight: 0     # canary",
        "== audit trail",
        "latency_ms regressed: n_baseline=",
    ] {
        assert!(t.contains(expected), "missing `{expected}` in:\n{t}");
    }
    // The deploy repo's history tells the whole story, newest first.
    let log: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.starts_with("== git log"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l: &str| l.split_once(">: ").map_or(l, |(_, subject)| subject))
        .collect();
    assert_eq!(
        log,
        [
            "revert: roll back model v3 to v2 — canary v3 regressed at 10%",
            "chore: shift 10% of traffic to model v3",
            "chore: promote model to v3",
            "chore: complete rollout of model v2",
            "chore: shift 100% of traffic to model v2",
            "chore: shift 50% of traffic to model v2",
            "chore: shift 25% of traffic to model v2",
            "chore: shift 10% of traffic to model v2",
            "chore: promote model to v2",
            "deploy: inference service at v1",
        ],
        "{t}"
    );
}

/// A reason with escape sequences and line breaks (from a hostile policy) is printed
/// escaped by `sluice decisions`: it can neither clear the screen nor forge a line.
#[tokio::test]
async fn decisions_print_policy_text_with_control_characters_escaped() {
    use sluice::decision::{Point, Retrain, RetrainFailSafe, resolve_params};
    use sluice::policy::{Binding, Limits, PolicyModule, decide};
    let engine = common::engine();
    let module =
        PolicyModule::load_file(&engine, &common::guest("hostile-guest"), None).expect("loads");
    let raw = [("attack".to_owned(), serde_json::json!("escape"))].into();
    let binding = Binding::<Retrain> {
        params: resolve_params(&module.description, &raw).expect("params"),
        limits: Limits::default(),
        fail_safe: RetrainFailSafe::Wait,
    };
    let eval = decide::<Retrain>(
        &engine,
        &module,
        &binding,
        Retrain::trial_context("fraud", vec![]),
        std::time::SystemTime::now(),
        &sluice::metrics::Metrics::new(),
    );
    assert_eq!(eval.failure, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        sluice::store::Store::open(&format!("sqlite:{}", dir.path().join("s.db").display()))
            .await
            .expect("store");
    store
        .record_decision(&eval.record, None)
        .await
        .expect("record");
    let text = sluice::cli::ops::decisions(&store, None, 10, false)
        .await
        .expect("decisions");
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    assert!(
        text.contains("ok\\u{1b}[2J\\u{1b}[H\\u{d}\\u{a}ERROR forged line"),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("ERROR forged")),
        "no forged line: {text}"
    );
}

/// `policy check` runs what a swap runs: a module whose `decide` loops fails it, as
/// it would fail a swap, after its description is shown.
#[test]
fn policy_check_runs_the_trial_decision_a_swap_runs() {
    let o = sluice(&["policy", "check", "stock:threshold-retrain"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("trial:   validate-params and a trial decision on the defaults passed"),
        "{}",
        text(&o)
    );
    let bytes = std::fs::read(common::guest("hostile-guest")).expect("guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let looping = dir.path().join("looping.wasm");
    std::fs::write(
        &looping,
        common::wasm_bytes::hostile_describing(&bytes, 5, 0),
    )
    .expect("write");
    let o = sluice(&["policy", "check", &looping.display().to_string()]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("the trial decision failed"),
        "{}",
        text(&o)
    );
}

#[test]
fn policy_commands_keep_compiled_modules_in_the_user_cache_or_the_configs() {
    let module = common::guest("threshold-retrain").display().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    let check = |extra: &[&str], envs: &[(&str, &std::path::Path)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.args(["policy", "check", &module]).args(extra);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let o = cmd.output().expect("run sluice");
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    // The user's cache: compiled the first time, loaded from disk the second.
    let xdg = [("XDG_CACHE_HOME", cache.path())];
    assert!(check(&[], &xdg).contains("(Compiled, Optimized code)"));
    assert!(check(&[], &xdg).contains("(DiskCache, Optimized code)"));
    let dir = cache.path().join("sluice/compiled");
    assert!(std::fs::read_dir(&dir).expect("cache dir").count() >= 1);
    // A config's cache_dir wins: the host's cache, shared.
    let host_cache = cache.path().join("host-cache");
    let config = cache.path().join("sluice.yaml");
    std::fs::write(
        &config,
        format!(
            "host: {{ engine: {{ cache_dir: {} }} }}\npipelines: []\n",
            host_cache.display()
        ),
    )
    .expect("write");
    let cfg = config.display().to_string();
    assert!(check(&["--config", &cfg], &xdg).contains("(Compiled, Optimized code)"));
    assert!(check(&["--config", &cfg], &xdg).contains("(DiskCache, Optimized code)"));
    assert!(std::fs::read_dir(&host_cache).expect("host cache").count() >= 1);
    // A config that is not there is an error, not silently the defaults.
    let o = sluice(&[
        "policy",
        "check",
        &module,
        "--config",
        "/nonexistent/sluice.yaml",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("cannot read the config file /nonexistent/sluice.yaml"),
        "{}",
        text(&o)
    );
}

#[test]
fn bench_reports_failed_decisions_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("loop.json");
    std::fs::write(
        &input,
        r#"{"params": {"attack": "loop"}, "context": {"pipeline": "p", "new_samples": 7}}"#,
    )
    .expect("write");
    let guest = common::guest("hostile-guest").display().to_string();
    let args = |input: Option<&str>| {
        let mut a = vec!["policy", "bench", guest.as_str(), "--iterations", "3"];
        if let Some(i) = input {
            a.extend(["--input", i]);
        }
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        sluice(&refs)
    };
    let looping = run(args(Some(&input.display().to_string())));
    let t = text(&looping);
    assert!(!looping.status.success(), "{t}");
    assert!(t.contains("3 decisions") && t.contains("3 failed"), "{t}");
    assert!(
        t.contains("3 of 3 decisions failed (a pipeline would use its fail-safe); the first: fuel exhausted"),
        "{t}"
    );
    // The same module deciding normally: none failed, exit 0.
    let fine = run(args(None));
    assert!(fine.status.success(), "{}", text(&fine));
    assert!(text(&fine).contains("0 failed"), "{}", text(&fine));
}
