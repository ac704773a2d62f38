//! GitOps promotion against real git: a bare repo over file://, sshd on loopback with
//! a deploy key and host-key checking, and git's smart HTTP backend with basic auth.
//! After each promotion the git CLI checks the result independently.

mod common;

use std::path::Path;
use std::time::Duration;

use common::services::{
    DEPLOY_FILE, KUSTOMIZATION, bare_repo, git, race_once, services, verify_with_git_cli,
};
use sluice::gitops::{DeployRepo, GitAuth, GitError, RepoSettings, Target};
use sluice::secret::Secret;

fn settings(url: String, auth: GitAuth) -> RepoSettings {
    RepoSettings {
        url,
        branch: "main".into(),
        auth,
        tls_ca: None,
        targets: vec![
            Target {
                file: DEPLOY_FILE.into(),
                selector: "images[name=inference].newTag".parse().expect("selector"),
            },
            Target {
                file: DEPLOY_FILE.into(),
                selector: "data.model_version".parse().expect("selector"),
            },
        ],
        author_name: "sluice".into(),
        author_email: "sluice@example.com".into(),
        message: "chore: promote model to {version}".into(),
        retries: 2,
        backoff: Duration::from_millis(50),
    }
}

fn expected_v2() -> String {
    KUSTOMIZATION
        .replace("newTag: v1        #", "newTag: v2        #")
        .replace("model_version: v1", "model_version: v2")
}

fn ssh_auth(key: &Path, known_hosts: &Path) -> GitAuth {
    GitAuth::Ssh {
        key_file: key.to_owned(),
        known_hosts: Some(known_hosts.to_owned()),
    }
}

#[test]
fn file_remote_gets_one_byte_exact_commit_and_a_repeat_commits_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = bare_repo(dir.path(), "deploy", None);
    let repo = DeployRepo::new(
        settings(format!("file://{}", bare.display()), GitAuth::None),
        dir.path().join("clone"),
    );
    let p = repo.promote("fraud", "v2").expect("promote");
    assert!(p.changed);
    let (log, file) = verify_with_git_cli(&bare);
    assert_eq!(log, ["chore: promote model to v2|sluice", "initial|test"]);
    assert_eq!(
        file,
        expected_v2(),
        "only the two values changed, byte for byte"
    );
    let body = git(&bare, &["log", "-1", "--format=%b", "main"]);
    assert!(body.contains("Sluice-Pipeline: fraud"), "{body}");

    let again = repo.promote("fraud", "v2").expect("promote again");
    assert!(!again.changed);
    assert_eq!(again.commit, p.commit);
    assert_eq!(verify_with_git_cli(&bare).0.len(), 2, "no second commit");
    assert_eq!(repo.current_values().expect("values"), ["v2", "v2"]);
}

#[test]
fn a_selector_matching_nothing_commits_nothing_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = bare_repo(dir.path(), "deploy", None);
    let mut s = settings(format!("file://{}", bare.display()), GitAuth::None);
    s.targets.push(Target {
        file: DEPLOY_FILE.into(),
        selector: "images[name=nope].newTag".parse().expect("selector"),
    });
    let repo = DeployRepo::new(s, dir.path().join("clone"));
    let e = repo.promote("fraud", "v2").expect_err("no match");
    assert!(matches!(e, GitError::Edit(_)), "{e}");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("images[name=nope].newTag"), "{e}");
    assert_eq!(verify_with_git_cli(&bare).0.len(), 1);
}

#[test]
fn ssh_with_a_deploy_key_and_a_known_host() {
    let s = services();
    let bare = bare_repo(&s.ssh_repos, "deploy", Some("git"));
    let url = format!("ssh://git@127.0.0.1:2222{}", bare.display());
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = DeployRepo::new(
        settings(url, ssh_auth(&s.ssh_key, &s.known_hosts)),
        dir.path().join("clone"),
    );
    let p = repo.promote("fraud", "v2").expect("promote over ssh");
    assert!(p.changed);
    let (log, file) = verify_with_git_cli(&bare);
    assert_eq!(log[0], "chore: promote model to v2|sluice");
    assert_eq!(file, expected_v2());
}

#[test]
fn ssh_refuses_a_wrong_or_unknown_host_key_and_a_wrong_client_key() {
    let s = services();
    let bare = bare_repo(&s.ssh_repos, "deploy", Some("git"));
    let url = format!("ssh://git@127.0.0.1:2222{}", bare.display());
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    for (name, auth, says) in [
        (
            "wrong host key",
            ssh_auth(&s.ssh_key, &s.wrong_known_hosts),
            "differs from the one in known_hosts",
        ),
        (
            "empty known_hosts",
            ssh_auth(&s.ssh_key, &empty),
            "not in known_hosts",
        ),
        (
            "wrong client key",
            ssh_auth(&s.ssh_wrong_key, &s.known_hosts),
            "",
        ),
    ] {
        let mut st = settings(url.clone(), auth);
        st.retries = 0;
        let repo = DeployRepo::new(st, dir.path().join(name.replace(' ', "-")));
        let e = repo.promote("fraud", "v2").expect_err(name).to_string();
        assert!(e.contains(says), "{name}: {e}");
        assert!(
            !e.contains("BEGIN OPENSSH"),
            "{name}: no key material in errors"
        );
    }
    assert_eq!(verify_with_git_cli(&bare).0.len(), 1, "nothing was pushed");
}

#[test]
fn a_push_that_loses_a_race_is_reapplied_on_the_new_head() {
    let s = services();
    let bare = bare_repo(&s.ssh_repos, "deploy", Some("git"));
    race_once(&bare);
    let url = format!("ssh://git@127.0.0.1:2222{}", bare.display());
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = DeployRepo::new(
        settings(url, ssh_auth(&s.ssh_key, &s.known_hosts)),
        dir.path().join("clone"),
    );
    let p = repo.promote("fraud", "v2").expect("promote");
    assert_eq!(p.reapplied, 1, "{p:?}");
    let (log, file) = verify_with_git_cli(&bare);
    assert_eq!(
        log,
        [
            "chore: promote model to v2|sluice",
            "concurrent change|other",
            "initial|test"
        ],
        "the other writer's commit is kept; no force push"
    );
    assert_eq!(file, expected_v2());
    let readme = git(&bare, &["show", "main:README.md"]);
    assert!(readme.contains("edited concurrently"));
}

/// The URL under which the HTTP(S) server at `prefix` serves the bare repo `bare`.
fn served_url(prefix: &str, bare: &Path) -> String {
    let name = bare.file_name().expect("name").to_string_lossy();
    format!("{prefix}/{name}")
}

#[test]
fn http_basic_auth_with_a_token() {
    let s = services();
    let bare = bare_repo(&s.http_repos, "deploy", None);
    let url = served_url(&s.http_url_prefix, &bare);
    let dir = tempfile::tempdir().expect("tempdir");
    let token = |t: &str| GitAuth::Token {
        username: "sluice".into(),
        token: Secret::new(t),
    };
    let mut bad = settings(url.clone(), token("not-the-token"));
    bad.retries = 0;
    let e = DeployRepo::new(bad, dir.path().join("bad"))
        .promote("fraud", "v2")
        .expect_err("wrong token")
        .to_string();
    assert!(!e.contains("not-the-token"), "the token never shows: {e}");

    let repo = DeployRepo::new(settings(url, token(&s.http_token)), dir.path().join("good"));
    assert!(
        repo.promote("fraud", "v2")
            .expect("promote over http")
            .changed
    );
    let (log, file) = verify_with_git_cli(&bare);
    assert_eq!(log[0], "chore: promote model to v2|sluice");
    assert_eq!(file, expected_v2());
}

#[test]
fn an_unreachable_remote_is_retried_with_backoff_then_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens on port 9 (discard) on loopback here.
    let mut st = settings("ssh://git@127.0.0.1:9/nowhere.git".into(), GitAuth::None);
    st.retries = 2;
    st.backoff = Duration::from_millis(30);
    let e = DeployRepo::new(st, dir.path().join("c"))
        .promote("fraud", "v2")
        .expect_err("unreachable");
    assert!(e.is_transient());
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
}

#[test]
fn https_with_a_token_and_a_private_ca() {
    let s = services();
    let bare = bare_repo(&s.http_repos, "deploy", None);
    let url = served_url(&s.https_url_prefix, &bare);
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = || GitAuth::Token {
        username: "sluice".into(),
        token: Secret::new(&s.http_token),
    };
    for (case, ca) in [
        ("system roots only", None),
        ("an unrelated CA", Some(s.https_other_ca.clone())),
    ] {
        let mut st = settings(url.clone(), auth());
        st.retries = 0;
        st.tls_ca = ca;
        let e = DeployRepo::new(st, dir.path().join(case.replace(' ', "-")))
            .promote("fraud", "v2")
            .expect_err(case)
            .to_string();
        assert!(e.to_lowercase().contains("certificate"), "{case}: {e}");
    }
    assert_eq!(verify_with_git_cli(&bare).0.len(), 1);

    let mut st = settings(url, auth());
    st.tls_ca = Some(s.https_ca.clone());
    let repo = DeployRepo::new(st, dir.path().join("good"));
    assert!(
        repo.promote("fraud", "v2")
            .expect("promote over https")
            .changed
    );
    let (log, file) = verify_with_git_cli(&bare);
    assert_eq!(log[0], "chore: promote model to v2|sluice");
    assert_eq!(file, expected_v2());
}

/// Ways a kept clone is left damaged: by a kill inside libgit2's ref update (a stale
/// `*.lock`), or by a disk or a person (corrupt objects, refs, config).
fn damage(clone: &Path, how: &str) {
    let write = |rel: &str, text: &[u8]| std::fs::write(clone.join(rel), text).expect("damage");
    match how {
        "stale tracking-ref lock" => write("refs/remotes/origin/main.lock", b""),
        "stale branch lock" => write("refs/heads/main.lock", b""),
        "stale packed-refs lock" => write("packed-refs.lock", b""),
        "garbage config" => write("config", b"[core\n\x00\x01 not a config"),
        "garbage HEAD" => write("HEAD", b"garbage\n"),
        "corrupt objects" => {
            for dir in std::fs::read_dir(clone.join("objects")).expect("objects") {
                let dir = dir.expect("entry").path();
                let Ok(files) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for f in files {
                    let f = f.expect("file").path();
                    let mut perms = std::fs::metadata(&f).expect("meta").permissions();
                    #[expect(
                        clippy::permissions_set_readonly_false,
                        reason = "a test damages its own files"
                    )]
                    perms.set_readonly(false);
                    std::fs::set_permissions(&f, perms).expect("chmod");
                    std::fs::write(&f, b"not an object").expect("corrupt");
                }
            }
        }
        "corrupt tracking ref" => write("refs/remotes/origin/main", b"0123 not a hash\n"),
        other => panic!("unknown damage {other}"),
    }
}

/// The kept clone is a cache of the remote: whatever damage it has, the next promotion
/// discards it, clones again, says so, and commits exactly once.
#[test]
fn a_damaged_kept_clone_is_discarded_and_cloned_again() {
    let damages = [
        "stale tracking-ref lock",
        "stale branch lock",
        "stale packed-refs lock",
        "garbage config",
        "garbage HEAD",
        "corrupt objects",
        "corrupt tracking ref",
    ];
    for (i, how) in damages.iter().enumerate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = bare_repo(dir.path(), "deploy", None);
        let clone = dir.path().join("clone");
        let repo = DeployRepo::new(
            settings(format!("file://{}", bare.display()), GitAuth::None),
            clone.clone(),
        );
        repo.promote("fraud", "v2").expect("first promotion");
        damage(&clone, how);
        let version = format!("v{}", i + 3);
        let p = repo
            .promote("fraud", &version)
            .unwrap_or_else(|e| panic!("{how}: {}", sluice::error_chain(&e)));
        assert!(p.changed, "{how}");
        let (log, file) = verify_with_git_cli(&bare);
        assert_eq!(
            log[0],
            format!("chore: promote model to {version}|sluice"),
            "{how}"
        );
        assert_eq!(log.len(), 3, "{how}: exactly one more commit");
        assert!(file.contains(&format!("newTag: {version} ")), "{how}");
        // Damage that gets in the way is cured by a reset, which is reported; a bare
        // clone's HEAD is never read, so libgit2 works on with a garbage one.
        if *how != "garbage HEAD" {
            let why = p
                .clone_reset
                .unwrap_or_else(|| panic!("{how}: the reset is reported"));
            assert!(why.contains("kept clone"), "{how}: {why}");
        }
        assert_eq!(
            repo.current_values().expect("values"),
            [version.clone(), version],
            "{how}"
        );
    }
}
