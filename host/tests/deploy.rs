//! The install manifests (`deploy/base` and its overlays): each overlay renders with
//! `kubectl kustomize`, passes `kubernetes-validate --strict` against Kubernetes 1.32,
//! and holds together — its config file loads and checks clean, its training Jobs go
//! where its Role grants rights, the pod runs non-root on a read-only root filesystem
//! with limits and probes, and the overlay keeps its state where it says.
//!
//! `scripts/test.sh` installs kubernetes-validate (`scripts/deploy-tools.sh`, which
//! exports `SLUICE_KUBERNETES_VALIDATE`); `kubectl` is on every machine here.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;
use sluice::config;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");

/// The documents `kubectl kustomize` renders for `overlay`, and the rendered text.
fn render(overlay: &str) -> (Vec<Value>, String) {
    let dir = Path::new(DEPLOY).join("overlays").join(overlay);
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("kubectl runs (it is installed on every machine here)");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("rendered YAML parses"))
        .collect();
    (docs, text)
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], k: &str) -> &'a Value {
    let found = kind(docs, k);
    assert_eq!(found.len(), 1, "exactly one {k}");
    found[0]
}

fn validator() -> PathBuf {
    std::env::var_os("SLUICE_KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .expect("SLUICE_KUBERNETES_VALIDATE is not set: run `eval \"$(scripts/deploy-tools.sh)\"` (scripts/test.sh does)")
}

/// Runs kubernetes-validate --strict on `text`; returns (success, its output).
fn validate(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(validator())
        .args(["--strict", "--quiet", "-k", "1.32.0"])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// What every overlay must hold; returns the loaded config's YAML for overlay checks.
fn check_overlay(overlay: &str, namespace: &str) -> (Vec<Value>, Value) {
    let (docs, text) = render(overlay);
    let (ok, said) = validate(&text);
    assert!(ok, "{overlay}: kubernetes-validate --strict: {said}");
    // Everything but the cluster-scoped CRD lives in the overlay's namespace.
    for d in docs
        .iter()
        .filter(|d| d["kind"] != "CustomResourceDefinition")
    {
        assert_eq!(
            d["metadata"]["namespace"].as_str(),
            Some(namespace),
            "{overlay}: {} {} is not in {namespace}",
            d["kind"].as_str().unwrap_or("?"),
            d["metadata"]["name"].as_str().unwrap_or("?")
        );
    }

    // The CRD is the one the binary derives from its config types.
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_yaml_ng::from_value(one(&docs, "CustomResourceDefinition").clone())
            .expect("the CRD parses");
    assert_eq!(crd.spec, sluice::resource::crd().spec, "{overlay}");

    // The config file, as the pod mounts it, loads and checks clean.
    let deployment = one(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let config_map = volumes
        .iter()
        .find(|v| v["name"] == "config")
        .and_then(|v| v["configMap"]["name"].as_str())
        .expect("the config volume names a ConfigMap");
    let maps = kind(&docs, "ConfigMap");
    let map = maps
        .iter()
        .find(|m| m["metadata"]["name"] == config_map)
        .unwrap_or_else(|| panic!("{overlay}: the pod mounts {config_map}, which is not rendered"));
    let file = map["data"]["sluice.yaml"].as_str().expect("sluice.yaml");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sluice.yaml");
    std::fs::write(&path, file).expect("write");
    let loaded = config::load(&path, &common::engine())
        .unwrap_or_else(|e| panic!("{overlay}: sluice.yaml: {e}"));
    assert_eq!(loaded.config.pipelines[0].name, "fraud");
    let yaml: Value = serde_yaml_ng::from_str(file).expect("yaml");

    // Training Jobs go where the Role grants rights: sluice's own namespace.
    for p in yaml["pipelines"].as_sequence().expect("pipelines") {
        assert_eq!(
            p["executor"]["kubernetes"]["namespace"].as_str(),
            Some(namespace),
            "{overlay}: pipeline {:?} trains outside the Role's namespace",
            p["name"]
        );
    }
    // ModelPipelines are watched where the Role grants rights.
    let watched = loaded
        .config
        .host
        .resources
        .as_ref()
        .map(|r| r.namespaces.clone())
        .unwrap_or_default();
    assert_eq!(
        watched,
        [namespace],
        "{overlay}: ModelPipelines outside the Role's namespace"
    );
    // Least privilege: no wildcard; exactly these rights.
    let role = one(&docs, "Role");
    let mut granted = Vec::new();
    for rule in role["rules"].as_sequence().expect("rules") {
        for field in ["apiGroups", "resources", "verbs"] {
            for item in rule[field].as_sequence().expect("list") {
                assert_ne!(item.as_str(), Some("*"), "{overlay}: wildcard in {field}");
            }
        }
        for resource in rule["resources"].as_sequence().expect("resources") {
            for verb in rule["verbs"].as_sequence().expect("verbs") {
                granted.push(format!(
                    "{} {}",
                    resource.as_str().unwrap_or("?"),
                    verb.as_str().unwrap_or("?")
                ));
            }
        }
    }
    granted.sort();
    let elected = loaded.config.host.leader_election.is_some();
    let without_leases: Vec<&String> = granted
        .iter()
        .filter(|g| !g.starts_with("leases "))
        .collect();
    if elected {
        assert_eq!(
            granted
                .iter()
                .filter(|g| g.starts_with("leases "))
                .collect::<Vec<_>>(),
            ["leases create", "leases get", "leases patch"],
            "{overlay}"
        );
    }
    assert_eq!(
        without_leases,
        [
            "events create",
            "events patch",
            "jobs create",
            "jobs get",
            "jobs list",
            "jobs watch",
            "modelpipelines get",
            "modelpipelines list",
            "modelpipelines watch",
            "modelpipelines/status get",
            "modelpipelines/status patch",
            "pods get",
            "pods list",
        ],
        "{overlay}"
    );
    assert!(
        kind(&docs, "ClusterRole").is_empty(),
        "{overlay}: no cluster-wide rights"
    );

    // One writer: a single replica that is never doubled, or replicas elected by a
    // lease the Role lets them take.
    let replicas = deployment["spec"]["replicas"].as_u64();
    match &loaded.config.host.leader_election {
        None => {
            assert_eq!(replicas, Some(1), "{overlay}");
            assert_eq!(
                deployment["spec"]["strategy"]["type"], "Recreate",
                "{overlay}"
            );
        }
        Some(l) => {
            assert_eq!(replicas, Some(2), "{overlay}");
            assert_eq!(
                l.namespace, namespace,
                "{overlay}: the Lease outside the Role's namespace"
            );
            assert!(
                granted.iter().any(|g| g == "leases patch"),
                "{overlay}: {granted:?}"
            );
        }
    }
    // The pod: non-root, read-only root filesystem, limits and probes.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{overlay}");
    for c in pod["containers"].as_sequence().expect("containers") {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{overlay}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{overlay}");
        assert!(c["resources"]["limits"]["memory"].is_string(), "{overlay}");
        assert!(c["resources"]["requests"]["cpu"].is_string(), "{overlay}");
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            assert!(c[probe].is_mapping(), "{overlay}: {probe}");
        }
        assert!(
            c["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("registry.example.com/platform/sluice:")),
            "{overlay}: image {:?}",
            c["image"]
        );
    }
    (docs, yaml)
}

#[test]
fn the_dev_overlay_renders_validates_and_keeps_sqlite_on_a_volume() {
    let (docs, config) = check_overlay("dev", "sluice-dev");
    assert!(
        config["host"]["database"].is_null(),
        "dev uses the default SQLite store"
    );
    assert_eq!(config["host"]["state_dir"], "/var/lib/sluice");
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    let state = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "state")
        .expect("state volume");
    let claim = state["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("the state volume is a claim");
    assert!(state["emptyDir"].is_null(), "{state:?}");
    assert_eq!(
        one(&docs, "PersistentVolumeClaim")["metadata"]["name"],
        claim
    );
}

#[test]
fn the_production_overlay_renders_validates_and_keeps_state_in_postgresql() {
    let (docs, config) = check_overlay("production", "ml");
    assert_eq!(
        config["host"]["database"]["url_secret"]["file"],
        "/var/run/secrets/sluice/database-url"
    );
    let pdb = one(&docs, "PodDisruptionBudget");
    let deployment = one(&docs, "Deployment");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert!(deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"].is_mapping());
}

/// The validator is no rubber stamp: a field Kubernetes does not know fails it.
#[test]
fn the_validator_refuses_an_unknown_field() {
    let (_, text) = render("production");
    let line = text
        .lines()
        .find(|l| l.trim() == "readOnlyRootFilesystem: true")
        .expect("rendered");
    let indent = &line[..line.len() - line.trim_start().len()];
    let bad = text.replacen(line, &format!("{line}\n{indent}runAsRoot: false"), 1);
    assert_ne!(bad, text);
    let (ok, said) = validate(&bad);
    assert!(!ok, "{said}");
    assert!(said.contains("runAsRoot"), "{said}");
}
