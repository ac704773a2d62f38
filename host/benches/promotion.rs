//! Promotion latency (results in BENCHMARKS.md): a deploy repo with 10,000 files and
//! 5,000 commits served by sshd on loopback. In the same run:
//! - sluice: the kept clone is fetched and reset, the field edited, committed, pushed;
//! - baseline: the clone-per-promotion approach with the git CLI (`git clone --depth 1`,
//!   edit, `git commit`, `git push`).
//!
//! Needs the test services: `scripts/test-services.sh && cargo bench -p sluice --bench promotion`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde::Deserialize;
use sluice::gitops::{DeployRepo, GitAuth, RepoSettings, Target, set_value};

const FILES: usize = 10_000;
const COMMITS: usize = 5_000;
const DEPLOY_FILE: &str = "k8s/apps/inference-service/base/kustomization.yaml";

#[derive(Deserialize)]
struct Services {
    ssh_repos: PathBuf,
    ssh_key: PathBuf,
    known_hosts: PathBuf,
}

fn services() -> Services {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-services/env.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/test-services.sh first",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("env.json")
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_SSL_CAINFO")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The big deploy repo (built once with `git fast-import`, then reused).
fn big_repo(s: &Services) -> PathBuf {
    let bare = s.ssh_repos.join("bench-big.git");
    if bare.join("HEAD").exists() {
        return bare;
    }
    eprintln!(
        "building {FILES} files × {COMMITS} commits at {}",
        bare.display()
    );
    let tmp = s.ssh_repos.join("bench-big.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    git(
        &s.ssh_repos,
        &["init", "-q", "--bare", "-b", "main", "bench-big.tmp"],
    );
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&tmp)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    let mut stdin = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    let data = |w: &mut dyn std::io::Write, text: &str| {
        write!(w, "data {}\n{text}\n", text.len()).expect("write");
    };
    for c in 1..=COMMITS {
        writeln!(stdin, "commit refs/heads/main\nmark :{c}").expect("write");
        writeln!(
            stdin,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + c
        )
        .expect("write");
        data(&mut stdin, &format!("change {c}"));
        if c > 1 {
            writeln!(stdin, "from :{}", c - 1).expect("write");
        }
        if c == 1 {
            for f in 0..FILES {
                writeln!(stdin, "M 100644 inline data/d{:03}/f{f:05}.yaml", f / 100)
                    .expect("write");
                data(&mut stdin, &format!("id: {f}\nvalue: 0\n"));
            }
            writeln!(stdin, "M 100644 inline {DEPLOY_FILE}").expect("write");
            data(
                &mut stdin,
                "# deploy\nimages:\n  - name: inference\n    newTag: v1   # promoted by sluice\n",
            );
        } else {
            let f = (c * 7919) % FILES;
            writeln!(stdin, "M 100644 inline data/d{:03}/f{f:05}.yaml", f / 100).expect("write");
            data(&mut stdin, &format!("id: {f}\nvalue: {c}\n"));
        }
    }
    drop(stdin);
    assert!(child.wait().expect("wait").success());
    std::fs::rename(&tmp, &bare).expect("rename");
    let st = Command::new("chown")
        .args(["-R", "git"])
        .arg(&bare)
        .status()
        .expect("chown");
    assert!(st.success());
    bare
}

fn url(bare: &Path) -> String {
    format!("ssh://git@127.0.0.1:2222{}", bare.display())
}

fn sluice_repo(s: &Services, bare: &Path, clone: PathBuf) -> DeployRepo {
    DeployRepo::new(
        RepoSettings {
            url: url(bare),
            branch: "main".into(),
            tls_ca: None,
            auth: GitAuth::Ssh {
                key_file: s.ssh_key.clone(),
                known_hosts: Some(s.known_hosts.clone()),
            },
            targets: vec![Target {
                file: DEPLOY_FILE.into(),
                selector: "images[name=inference].newTag".parse().expect("selector"),
            }],
            author_name: "sluice".into(),
            author_email: "sluice@example.com".into(),
            message: "chore: promote model to {version}".into(),
            retries: 3,
            backoff: Duration::from_secs(1),
        },
        clone,
    )
}

/// The clone-per-promotion baseline with the git CLI.
fn cli_promote(s: &Services, bare: &Path, version: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ssh = format!(
        "ssh -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
        s.ssh_key.display(),
        s.known_hosts.display()
    );
    let run = |args: &[&str], cwd: &Path| {
        let out = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_SSH_COMMAND", &ssh)
            .env("GIT_AUTHOR_NAME", "cli")
            .env("GIT_AUTHOR_EMAIL", "cli@example.com")
            .env("GIT_COMMITTER_NAME", "cli")
            .env("GIT_COMMITTER_EMAIL", "cli@example.com")
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "main",
            &url(bare),
            "w",
        ],
        dir.path(),
    );
    let work = dir.path().join("w");
    let file = work.join(DEPLOY_FILE);
    let text = std::fs::read_to_string(&file).expect("read");
    let sel = "images[name=inference].newTag".parse().expect("selector");
    let edit = set_value(DEPLOY_FILE, &text, &sel, version).expect("edit");
    std::fs::write(&file, edit.text).expect("write");
    run(
        &[
            "commit",
            "-q",
            "-am",
            &format!("chore: promote model to {version}"),
        ],
        &work,
    );
    run(&["push", "-q", "origin", "main"], &work);
}

fn main() {
    let s = services();
    let bare = big_repo(&s);
    let clones = tempfile::tempdir().expect("tempdir");
    let repo = sluice_repo(&s, &bare, clones.path().join("clone"));
    let n = AtomicU64::new(1_000_000 + u64::from(std::process::id()) * 1000);
    let next = || format!("v{}", n.fetch_add(1, Ordering::Relaxed));
    // The first promotion makes the kept clone (a one-time full fetch).
    let started = Instant::now();
    repo.promote("bench", &next()).expect("first promotion");
    eprintln!("first promotion (initial clone): {:?}", started.elapsed());

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut g = c.benchmark_group("promotion_10k_files_5k_commits_ssh");
    g.bench_function("sluice_kept_clone", |b| {
        b.iter(|| {
            let p = repo.promote("bench", &next()).expect("promote");
            assert!(p.changed);
        });
    });
    g.bench_function("git_cli_clone_depth1", |b| {
        b.iter(|| cli_promote(&s, &bare, &next()));
    });
    g.finish();

    // Same-run medians and their ratio.
    let median = |f: &dyn Fn()| {
        let mut t: Vec<Duration> = (0..7)
            .map(|_| {
                let i = Instant::now();
                f();
                i.elapsed()
            })
            .collect();
        t.sort();
        t[t.len() / 2]
    };
    let ours = median(&|| {
        repo.promote("bench", &next()).expect("promote");
    });
    let cli = median(&|| cli_promote(&s, &bare, &next()));
    println!(
        "promotion median: sluice {:.1} ms, git CLI clone-per-promotion {:.1} ms, ratio {:.1}×",
        ours.as_secs_f64() * 1e3,
        cli.as_secs_f64() * 1e3,
        cli.as_secs_f64() / ours.as_secs_f64()
    );
    c.final_summary();
}
