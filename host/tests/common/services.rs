//! The real servers the tests use (started by `scripts/test-services.sh`), helpers to
//! make fresh databases and deploy repos on them, the git CLI as an independent
//! checker, and a TCP proxy that can be switched off to simulate an outage.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

/// What `scripts/test-services.sh` wrote to `target/test-services/env.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Services {
    pub postgres_url: String,
    pub ssh_repos: PathBuf,
    pub ssh_url_prefix: String,
    pub ssh_key: PathBuf,
    pub ssh_wrong_key: PathBuf,
    pub known_hosts: PathBuf,
    pub wrong_known_hosts: PathBuf,
    pub http_repos: PathBuf,
    pub http_url_prefix: String,
    pub http_token: String,
    pub https_url_prefix: String,
    pub https_ca: PathBuf,
    pub https_other_ca: PathBuf,
}

/// The services; fails the test with instructions when they were not started.
pub fn services() -> &'static Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-services/env.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}\nthis test needs the real PostgreSQL, sshd and git HTTP servers: run `scripts/test-services.sh` (or `scripts/test.sh`, which runs it)",
                path.display()
            )
        });
        serde_json::from_str(&text).expect("env.json")
    })
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh PostgreSQL database; returns its URL.
pub async fn pg_database() -> String {
    let s = services();
    let name = unique("sluice_t");
    let (pool, _) = sluice::store::pool(&s.postgres_url, 1)
        .await
        .expect("postgres is up (scripts/test-services.sh)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create database");
    pool.close().await;
    s.postgres_url.replace("/postgres", &format!("/{name}"))
}

/// Runs the git CLI (never the user's CA overrides) and returns stdout; panics with
/// stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_raw(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the git CLI; returns the whole output.
pub fn git_raw(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_SSL_CAINFO")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs")
}

/// The deploy file every test repo holds, and its content.
pub const DEPLOY_FILE: &str = "k8s/apps/inference-service/base/kustomization.yaml";
/// Its content at v1.
pub const KUSTOMIZATION: &str = "# hand-written; keep this comment\nresources:\n  - deployment.yaml   # the server\nimages:\n  - name: inference\n    newName: registry.example.com/ml/inference\n    newTag: v1        # sluice edits this\n  - name: sidecar\n    newTag: \"1.4.2\"\n---\n# a second document stays as is\nkind: ConfigMap\ndata: { model_version: v1 }\n";

/// The HTTPRoute every test repo holds next to the deploy file: the weights of the
/// stable and canary backends, for rollouts.
pub const ROUTE_FILE: &str = "k8s/apps/inference-service/base/route.yaml";
/// Its content at rest.
pub const ROUTE: &str = "kind: HTTPRoute\nspec:\n  rules:\n    - backendRefs:\n        - name: stable\n          weight: 100\n        - name: canary   # the candidate\n          weight: 0\n";

/// The `traffic:` section of a rollout over [`ROUTE_FILE`], indented for a pipeline.
pub const ROUTE_TRAFFIC: &str = "      traffic:\n        git:\n          - { file: k8s/apps/inference-service/base/route.yaml, field: \"spec.rules[0].backendRefs[0].weight\", value: \"{stable_weight}\" }\n          - { file: k8s/apps/inference-service/base/route.yaml, field: \"spec.rules[0].backendRefs[1].weight\", value: \"{weight}\" }\n";

/// Creates a bare repo `name.git` in `dir` holding the deploy file at v1 and the route
/// (plus a README), owned by `owner` if given.
pub fn bare_repo(dir: &Path, name: &str, owner: Option<&str>) -> PathBuf {
    let bare = dir.join(format!("{}.git", unique(name)));
    let work = tempfile::tempdir().expect("tempdir");
    git(work.path(), &["init", "-q", "-b", "main", "."]);
    let file = work.path().join(DEPLOY_FILE);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, KUSTOMIZATION).expect("write");
    std::fs::write(work.path().join(ROUTE_FILE), ROUTE).expect("write");
    std::fs::write(work.path().join("README.md"), "deploy repo\n").expect("write");
    git(work.path(), &["add", "."]);
    git(work.path(), &["commit", "-q", "-m", "initial"]);
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            &work.path().display().to_string(),
            &bare.display().to_string(),
        ],
    );
    if let Some(owner) = owner {
        let st = Command::new("chown")
            .args(["-R", owner])
            .arg(&bare)
            .status()
            .expect("chown");
        assert!(st.success());
    }
    bare
}

/// Installs a `pre-receive` hook that, on the first push only, moves `main` to a new
/// commit (changing README.md) just before the push lands — a concurrent push between
/// sluice's fetch and its push.
pub fn race_once(bare: &Path) {
    let hook = bare.join("hooks/pre-receive");
    let script = r#"#!/bin/sh
# Simulates another writer pushing between sluice's fetch and push (first push only).
cat > /dev/null
[ -f "$GIT_DIR/raced" ] && exit 0
touch "$GIT_DIR/raced"
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
export GIT_INDEX_FILE="$GIT_DIR/race-index"
parent=$(git rev-parse refs/heads/main)
git read-tree "$parent"
blob=$(printf 'deploy repo\nedited concurrently\n' | git hash-object -w --stdin)
git update-index --add --cacheinfo 100644,"$blob",README.md
tree=$(git write-tree)
commit=$(echo "concurrent change" | GIT_AUTHOR_NAME=other GIT_AUTHOR_EMAIL=o@x GIT_COMMITTER_NAME=other GIT_COMMITTER_EMAIL=o@x git commit-tree "$tree" -p "$parent")
git update-ref refs/heads/main "$commit"
exit 0
"#;
    let mut f = std::fs::File::create(&hook).expect("hook");
    f.write_all(script.as_bytes()).expect("write hook");
    drop(f);
    let st = Command::new("chmod")
        .args(["755"])
        .arg(&hook)
        .status()
        .expect("chmod");
    assert!(st.success());
    let _ = Command::new("chown").args(["-R", "git"]).arg(bare).status();
}

/// Another writer changes the deploy file on `main` (with the git CLI, as a person
/// would) to `content`; the repo stays owned by the ssh user.
pub fn commit_to_remote(bare: &Path, content: &str, message: &str) {
    // A local clone's upload-pack refuses a repo owned by another user whatever
    // `safe.directory` says on the command line; own it for the change.
    let _ = Command::new("chown")
        .args(["-R", "root"])
        .arg(bare)
        .status();
    let work = tempfile::tempdir().expect("tempdir");
    git(
        work.path(),
        &["clone", "-q", &bare.display().to_string(), "."],
    );
    std::fs::write(work.path().join(DEPLOY_FILE), content).expect("write");
    git(work.path(), &["commit", "-qam", message]);
    git(work.path(), &["push", "-q", "origin", "main"]);
    let _ = Command::new("chown").args(["-R", "git"]).arg(bare).status();
}

/// Independent checks with the git CLI: `git fsck` is clean; returns `git log` of main
/// (`%s|%an` per line, newest first) and the deploy file at main.
pub fn verify_with_git_cli(bare: &Path) -> (Vec<String>, String) {
    git(bare, &["fsck", "--strict", "--no-progress"]);
    let log = git(bare, &["log", "--format=%s|%an", "main"]);
    let file = git(bare, &["show", &format!("main:{DEPLOY_FILE}")]);
    (log.lines().map(str::to_owned).collect(), file)
}

/// `file` at `rev` of the bare repo, with the git CLI.
pub fn file_at(bare: &Path, rev: &str, file: &str) -> String {
    git(bare, &["show", &format!("{rev}:{file}")])
}

/// The route's (stable, canary) weights at `rev`.
pub fn weights_at(bare: &Path, rev: &str) -> (u64, u64) {
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&file_at(bare, rev, ROUTE_FILE)).expect("route parses");
    let w = |i: usize| {
        v["spec"]["rules"][0]["backendRefs"][i]["weight"]
            .as_u64()
            .expect("weight")
    };
    (w(0), w(1))
}

/// `git log` of main as (hash, subject), newest first.
pub fn log_of(bare: &Path) -> Vec<(String, String)> {
    git(bare, &["log", "--format=%H %s", "main"])
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(h, s)| (h.to_owned(), s.to_owned())))
        .collect()
}

/// A TCP proxy to `target` that can refuse connections while `down`.
pub struct Proxy {
    pub port: u16,
    down: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts a proxy on an ephemeral loopback port (on the current tokio runtime).
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let target = target.to_owned();
        let d = Arc::clone(&down);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let d = Arc::clone(&d);
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    // Connections opened while up are cut when the proxy goes down.
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = async {
                            while !d.load(Ordering::SeqCst) {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                        } => {}
                    }
                });
            }
        });
        Self { port, down }
    }

    /// Refuse (and cut) connections; returns once open connections are cut.
    pub async fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
