//! The deploy repository: a local clone kept per pipeline, fetched before every change,
//! edited with the byte-preserving editor, committed and pushed with retries. Never
//! force-pushes.
//!
//! A promotion is the *intended change* ("these fields hold version X"), not a commit:
//! every attempt fetches, applies the change to the fetched head and pushes. A push rejected because someone else pushed first is therefore resolved by
//! re-applying on the new head, and a value already at the target version commits
//! nothing — which is also what makes a repeated promotion after a crash harmless.
//!
//! Blocking (libgit2); call it from `spawn_blocking`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{
    CertificateCheckStatus, Cred, CredentialType, ErrorCode, FetchOptions, PushOptions,
    RemoteCallbacks, Repository, Signature,
};

use super::Selector;
use super::known_hosts::{self, HostKeyCheck};
use super::yaml_edit::{EditError, set_value};
use crate::secret::Secret;

/// How many times a push rejected by a concurrent change is re-applied on the new head.
pub const MAX_REAPPLY: u32 = 10;

/// One field to set in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Path inside the repository.
    pub file: String,
    /// Which value.
    pub selector: Selector,
}

/// How to authenticate to the remote.
#[derive(Debug, Clone)]
pub enum GitAuth {
    /// None (file:// remotes, or public read-only).
    None,
    /// An SSH deploy key; the server's host key is checked against `known_hosts`
    /// unless `known_hosts` is `None` (an explicit opt-out in the config).
    Ssh {
        /// Private key file.
        key_file: PathBuf,
        /// `known_hosts` file, or `None` for no host-key check.
        known_hosts: Option<PathBuf>,
    },
    /// HTTP(S) basic auth with a token as the password.
    Token {
        /// User name (many servers ignore it).
        username: String,
        /// The token.
        token: Secret,
    },
}

/// Everything needed to promote into one deploy repository.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    /// Remote URL (`file://`, `ssh://`, `https://`, `http://`).
    pub url: String,
    /// Branch to commit to.
    pub branch: String,
    /// Authentication.
    pub auth: GitAuth,
    /// For `https://` remotes: a PEM file of CA certificates the server's certificate
    /// must chain to (instead of the system's roots).
    pub tls_ca: Option<PathBuf>,
    /// Fields to set.
    pub targets: Vec<Target>,
    /// Commit author name.
    pub author_name: String,
    /// Commit author e-mail.
    pub author_email: String,
    /// Commit subject; `{version}` and `{pipeline}` are replaced.
    pub message: String,
    /// Extra attempts after a failed one (network, server errors).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// The remote branch head that holds the version: the new commit, or the existing
    /// head when nothing needed to change.
    pub commit: String,
    /// Whether a commit was made.
    pub changed: bool,
    /// Attempts that failed and were retried after a backoff.
    pub retried: u32,
    /// Pushes rejected by a concurrent change and re-applied on the new head.
    pub reapplied: u32,
    /// Set when the kept clone was unusable and was discarded and cloned again: why.
    pub clone_reset: Option<String>,
}

/// Why a promotion failed. No variant contains a credential.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The local clone cannot be created or opened.
    #[error("cannot use the local clone at {path}: {message}")]
    Clone {
        /// The clone's directory.
        path: String,
        /// Why.
        message: String,
    },
    /// The kept clone is damaged in a way retrying cannot fix (a stale `*.lock` file, a
    /// corrupt object or ref). It is a cache of the remote, so it is discarded and cloned
    /// again; this error reaches the caller only if removing it fails.
    #[error("the kept clone at {path} is unusable: {message}")]
    Cache {
        /// The clone's directory.
        path: String,
        /// What git said.
        message: String,
    },
    /// Talking to the remote failed (after all retries).
    #[error("git {op} of {url} failed after {attempts} attempts: {message}")]
    Remote {
        /// `fetch` or `push`.
        op: &'static str,
        /// The remote.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The remote has no such branch.
    #[error("the remote {url} has no branch `{branch}`")]
    NoBranch {
        /// The remote.
        url: String,
        /// The branch.
        branch: String,
    },
    /// A target file is missing or unreadable.
    #[error("deploy repo file `{file}`: {message}; nothing was committed")]
    File {
        /// Path in the repository.
        file: String,
        /// Why.
        message: String,
    },
    /// A selector matched nothing or several values, or the result failed its check.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// Local git operation (index, tree, commit) failed.
    #[error("git {op} failed in the local clone: {message}")]
    Local {
        /// What.
        op: &'static str,
        /// Why.
        message: String,
    },
    /// Concurrent pushes kept winning.
    #[error(
        "the push to {url} was rejected {times} times in a row because the branch kept moving; giving up for now"
    )]
    KeptMoving {
        /// The remote.
        url: String,
        /// How often.
        times: u32,
    },
}

impl GitError {
    /// Whether retrying later can help (network, server, concurrency) as opposed to a
    /// problem with the repository content or the config (selector, missing file).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Remote { .. }
                | Self::KeptMoving { .. }
                | Self::Clone { .. }
                | Self::Local { .. }
                | Self::Cache { .. }
        )
    }

    /// Whether the kept clone itself is the likely cause, so a fresh clone may cure it.
    fn is_clone_problem(&self) -> bool {
        matches!(self, Self::Cache { .. } | Self::Local { .. })
    }
}

/// A deploy repository and its local clone.
#[derive(Debug, Clone)]
pub struct DeployRepo {
    settings: RepoSettings,
    path: PathBuf,
}

/// What the callbacks learned during one fetch or push: libgit2 replaces a callback's
/// error with a generic message, so the precise one is kept here.
#[derive(Default)]
struct Findings {
    /// Why the host key was refused.
    host_key: Option<String>,
    /// Why the server refused the ref update.
    rejection: Option<String>,
}

enum Attempt {
    Done(Promotion),
    Rejected,
}

impl DeployRepo {
    /// A deploy repository cloned (on first use) into `path`.
    pub fn new(settings: RepoSettings, path: PathBuf) -> Self {
        Self { settings, path }
    }

    /// The settings.
    pub fn settings(&self) -> &RepoSettings {
        &self.settings
    }

    /// Makes the remote branch hold `version` in every target, with one commit (or
    /// none if it already does). `pipeline` fills the message template and a trailer.
    ///
    /// # Errors
    /// See [`GitError`]; on error nothing was pushed.
    pub fn promote(&self, pipeline: &str, version: &str) -> Result<Promotion, GitError> {
        let mut retried = 0;
        let mut reapplied = 0;
        let mut clone_reset = None;
        loop {
            match self.healing(&mut clone_reset, |repo, fresh| {
                self.attempt(repo, fresh, pipeline, version)
            }) {
                Ok(Attempt::Done(mut p)) => {
                    p.retried = retried;
                    p.reapplied = reapplied;
                    p.clone_reset = clone_reset;
                    return Ok(p);
                }
                Ok(Attempt::Rejected) => {
                    reapplied += 1;
                    tracing::info!(url = %self.settings.url, reapplied, "push rejected: the branch moved; re-applying on the new head");
                    if reapplied >= MAX_REAPPLY {
                        return Err(GitError::KeptMoving {
                            url: self.settings.url.clone(),
                            times: reapplied,
                        });
                    }
                }
                Err(e) if e.is_transient() && retried < self.settings.retries => {
                    let wait = self.settings.backoff.saturating_mul(1 << retried.min(16));
                    retried += 1;
                    tracing::warn!(url = %self.settings.url, error = %e, retry = retried, wait_ms = wait.as_millis() as u64, "git attempt failed; retrying");
                    std::thread::sleep(wait);
                }
                Err(GitError::Remote {
                    op, url, message, ..
                }) => {
                    return Err(GitError::Remote {
                        op,
                        url,
                        attempts: retried + 1,
                        message,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The value of each target at the remote head (fetching first).
    ///
    /// # Errors
    /// As [`DeployRepo::promote`].
    pub fn current_values(&self) -> Result<Vec<String>, GitError> {
        self.healing(&mut None, |repo, fresh| {
            let head = self.sync(repo, fresh)?;
            let tree = head_tree(repo, head)?;
            let mut out = Vec::new();
            for t in &self.settings.targets {
                let (text, _) = self.read_target(repo, &tree, &t.file)?;
                out.push(super::get_value(&t.file, &text, &t.selector)?);
            }
            Ok(out)
        })
    }

    /// Runs `f` on the kept clone (and whether it was just created). When `f` fails
    /// because the clone is damaged, the clone is discarded and `f` runs once more on a
    /// fresh one; `reset` then says why (a second damage in one call is not cured again).
    fn healing<T>(
        &self,
        reset: &mut Option<String>,
        mut f: impl FnMut(&Repository, bool) -> Result<T, GitError>,
    ) -> Result<T, GitError> {
        // Only this pipeline's task uses the clone, one operation at a time, so a lock
        // file seen now was left by a process killed while holding it. libgit2 reports
        // such a lock during a fetch like an OS error (as it does "connection refused"),
        // so it is looked for rather than inferred from the error.
        if reset.is_none()
            && let Some(lock) = stale_lock(&self.path)
        {
            let why = format!(
                "a stale lock file {} was left by an interrupted update",
                lock.display()
            );
            tracing::warn!(url = %self.settings.url, path = %self.path.display(), reason = %why, "discarding the kept clone of the deploy repo and cloning again");
            self.discard()?;
            *reset = Some(format!(
                "the kept clone at {} was discarded and cloned again ({why})",
                self.path.display()
            ));
        }
        let (repo, fresh) = self.open()?;
        match f(&repo, fresh) {
            Err(e) if e.is_clone_problem() && !fresh && reset.is_none() => {
                drop(repo);
                let why = e.to_string();
                tracing::warn!(url = %self.settings.url, path = %self.path.display(), error = %why, "the kept clone of the deploy repo is unusable; discarding it and cloning again");
                self.discard()?;
                *reset = Some(format!(
                    "the kept clone at {} was discarded and cloned again ({why})",
                    self.path.display()
                ));
                let (repo, fresh) = self.open()?;
                f(&repo, fresh)
            }
            other => other,
        }
    }

    /// Removes the kept clone.
    fn discard(&self) -> Result<(), GitError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(GitError::Clone {
                path: self.path.display().to_string(),
                message: format!("cannot remove it to clone again: {e}"),
            }),
        }
    }

    /// One attempt on the kept clone: fetch, edit the files in the fetched head's tree
    /// (in memory: no working tree is checked out, so the size of the repository does
    /// not matter), commit, push.
    fn attempt(
        &self,
        repo: &Repository,
        fresh: bool,
        pipeline: &str,
        version: &str,
    ) -> Result<Attempt, GitError> {
        let started = std::time::Instant::now();
        let head = self.sync(repo, fresh)?;
        let fetched = started.elapsed();
        let tree = head_tree(repo, head)?;
        let mut files: BTreeMap<&str, (String, String, git2::FileMode)> = BTreeMap::new();
        for t in &self.settings.targets {
            let (before, text, mode) = match files.remove(t.file.as_str()) {
                Some(entry) => entry,
                None => {
                    let (text, mode) = self.read_target(repo, &tree, &t.file)?;
                    (text.clone(), text, mode)
                }
            };
            let edit = set_value(&t.file, &text, &t.selector, version)?;
            files.insert(&t.file, (before, edit.text, mode));
        }
        let changed: Vec<(&str, &String, git2::FileMode)> = files
            .iter()
            .filter(|(_, (before, after, _))| before != after)
            .map(|(f, (_, after, mode))| (*f, after, *mode))
            .collect();
        if changed.is_empty() {
            return Ok(Attempt::Done(Promotion {
                commit: head.to_string(),
                changed: false,
                retried: 0,
                reapplied: 0,
                clone_reset: None,
            }));
        }
        let commit = self.commit(repo, head, &tree, &changed, pipeline, version)?;
        let committed = started.elapsed();
        let pushed = self.push(repo)?;
        tracing::debug!(
            url = %self.settings.url,
            fetch_ms = fetched.as_millis() as u64,
            edit_commit_ms = (committed - fetched).as_millis() as u64,
            push_ms = (started.elapsed() - committed).as_millis() as u64,
            "promotion attempt"
        );
        match pushed {
            true => Ok(Attempt::Done(Promotion {
                commit: commit.to_string(),
                changed: true,
                retried: 0,
                reapplied: 0,
                clone_reset: None,
            })),
            false => Ok(Attempt::Rejected),
        }
    }

    /// Opens the kept bare clone, or creates it; `true` when it was just created.
    fn open(&self) -> Result<(Repository, bool), GitError> {
        let fail = |e: git2::Error| GitError::Clone {
            path: self.path.display().to_string(),
            message: e.message().to_owned(),
        };
        match Repository::open_bare(&self.path) {
            Ok(r) => Ok((r, false)),
            Err(e) => {
                // A missing or damaged clone is recreated: it holds nothing that is
                // not on the remote.
                if self.path.exists() {
                    tracing::warn!(path = %self.path.display(), error = e.message(), "the kept clone of the deploy repo cannot be opened; cloning again");
                    self.discard()?;
                }
                Repository::init_bare(&self.path)
                    .map(|r| (r, true))
                    .map_err(fail)
            }
        }
    }

    /// Fetches the branch; returns its head. A failure of the local repository blames
    /// the kept clone ([`GitError::Cache`]) unless the clone was just created.
    fn sync(&self, repo: &Repository, fresh: bool) -> Result<git2::Oid, GitError> {
        let branch = &self.settings.branch;
        let tracking = format!("refs/remotes/origin/{branch}");
        let mut remote = repo
            .remote_anonymous(&self.settings.url)
            .map_err(|e| self.remote_err("fetch", &e, &Findings::default()))?;
        let findings = RefCell::new(Findings::default());
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.callbacks(&findings));
        let fetched = remote.fetch(
            &[format!("+refs/heads/{branch}:{tracking}")],
            Some(&mut options),
            None,
        );
        drop(options);
        fetched.map_err(|e| {
            if !fresh && is_local_repository_error(&e) {
                GitError::Cache {
                    path: self.path.display().to_string(),
                    message: e.message().to_owned(),
                }
            } else {
                self.remote_err("fetch", &e, &findings.into_inner())
            }
        })?;
        repo.refname_to_id(&tracking)
            .map_err(|_| GitError::NoBranch {
                url: self.settings.url.clone(),
                branch: branch.clone(),
            })
    }

    /// The text and mode of `file` in `tree`.
    fn read_target(
        &self,
        repo: &Repository,
        tree: &git2::Tree<'_>,
        file: &str,
    ) -> Result<(String, git2::FileMode), GitError> {
        let fail = |message: String| GitError::File {
            file: file.to_owned(),
            message,
        };
        if file.starts_with('/')
            || file.contains('\0')
            || file.split('/').any(|c| c == ".." || c.is_empty())
        {
            return Err(fail("not a plain path inside the repository".into()));
        }
        let entry = tree
            .get_path(Path::new(file))
            .map_err(|_| fail(format!("no such file on branch `{}`", self.settings.branch)))?;
        let mode = match entry.filemode() {
            0o100_644 => git2::FileMode::Blob,
            0o100_755 => git2::FileMode::BlobExecutable,
            other => return Err(fail(format!("not a regular file (mode {other:o})"))),
        };
        let blob = repo
            .find_blob(entry.id())
            .map_err(|e| fail(e.message().to_owned()))?;
        let text = String::from_utf8(blob.content().to_vec())
            .map_err(|_| fail("not UTF-8 text".into()))?;
        Ok((text, mode))
    }

    fn commit(
        &self,
        repo: &Repository,
        parent: git2::Oid,
        tree: &git2::Tree<'_>,
        files: &[(&str, &String, git2::FileMode)],
        pipeline: &str,
        version: &str,
    ) -> Result<git2::Oid, GitError> {
        let local = |op| {
            move |e: git2::Error| GitError::Local {
                op,
                message: e.message().to_owned(),
            }
        };
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (file, text, mode) in files {
            let blob = repo.blob(text.as_bytes()).map_err(local("write blob"))?;
            update.upsert(*file, blob, *mode);
        }
        let tree_id = update
            .create_updated(repo, tree)
            .map_err(local("write tree"))?;
        let new_tree = repo.find_tree(tree_id).map_err(local("write tree"))?;
        let parent = repo.find_commit(parent).map_err(local("commit"))?;
        let sig = Signature::now(&self.settings.author_name, &self.settings.author_email)
            .map_err(local("signature"))?;
        let subject = self
            .settings
            .message
            .replace("{version}", version)
            .replace("{pipeline}", pipeline);
        let message =
            format!("{subject}\n\nSluice-Pipeline: {pipeline}\nSluice-Version: {version}\n");
        let id = repo
            .commit(None, &sig, &sig, &message, &new_tree, &[&parent])
            .map_err(local("commit"))?;
        repo.reference(
            &format!("refs/heads/{}", self.settings.branch),
            id,
            true,
            "sluice: promotion commit",
        )
        .map_err(local("update ref"))?;
        Ok(id)
    }

    /// Pushes the branch. `Ok(false)`: rejected because the remote moved.
    fn push(&self, repo: &Repository) -> Result<bool, GitError> {
        let branch = &self.settings.branch;
        let mut remote = repo
            .remote_anonymous(&self.settings.url)
            .map_err(|e| self.remote_err("push", &e, &Findings::default()))?;
        let findings = RefCell::new(Findings::default());
        let mut options = PushOptions::new();
        options.remote_callbacks(self.callbacks(&findings));
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let pushed = remote.push(&[spec.as_str()], Some(&mut options));
        drop(options);
        let findings = findings.into_inner();
        match pushed {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::NotFastForward => return Ok(false),
            Err(e) => return Err(self.remote_err("push", &e, &findings)),
        }
        match findings.rejection {
            None => Ok(true),
            Some(msg) => {
                tracing::info!(url = %self.settings.url, rejection = %msg, "push rejected");
                Ok(false)
            }
        }
    }

    fn remote_err(&self, op: &'static str, e: &git2::Error, findings: &Findings) -> GitError {
        GitError::Remote {
            op,
            url: self.settings.url.clone(),
            attempts: 1,
            message: findings
                .host_key
                .clone()
                .unwrap_or_else(|| e.message().to_owned()),
        }
    }

    fn callbacks<'a>(&'a self, findings: &'a RefCell<Findings>) -> RemoteCallbacks<'a> {
        let mut cb = RemoteCallbacks::new();
        let mut tried = false;
        cb.credentials(move |_url, user_from_url, allowed| {
            // libgit2 asks again after a refused credential; refuse to loop.
            if tried {
                return Err(git2::Error::from_str(
                    "the remote refused the configured credentials",
                ));
            }
            tried = true;
            match &self.settings.auth {
                GitAuth::Ssh { key_file, .. } if allowed.contains(CredentialType::SSH_KEY) => {
                    Cred::ssh_key(user_from_url.unwrap_or("git"), None, key_file, None)
                }
                GitAuth::Token { username, token }
                    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
                {
                    Cred::userpass_plaintext(username, token.expose())
                }
                _ => Err(git2::Error::from_str(
                    "the remote asks for credentials this pipeline has not configured (ssh key or token)",
                )),
            }
        });
        let known_hosts = match &self.settings.auth {
            GitAuth::Ssh {
                known_hosts: Some(file),
                ..
            } => Some(file.clone()),
            _ => None,
        };
        let tls_ca = self.settings.tls_ca.clone();
        {
            let url = self.settings.url.clone();
            cb.certificate_check(move |cert, host| {
                if let Some(x509) = cert.as_x509() {
                    let Some(ca) = &tls_ca else {
                        // libgit2 verifies against the system's roots.
                        return Ok(CertificateCheckStatus::CertificatePassthrough);
                    };
                    return match verify_tls(ca, host, x509.data()) {
                        Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                        Err(message) => {
                            findings.borrow_mut().host_key = Some(message.clone());
                            Err(git2::Error::from_str(&message))
                        }
                    };
                }
                let Some(hostkey) = cert.as_hostkey() else {
                    return Ok(CertificateCheckStatus::CertificatePassthrough);
                };
                let Some(file) = &known_hosts else {
                    // An explicit opt-out of host-key checking.
                    return Ok(CertificateCheckStatus::CertificateOk);
                };
                let Some(key) = hostkey.hostkey() else {
                    return Err(git2::Error::from_str("the SSH server sent no host key"));
                };
                let name = known_hosts::host_pattern(host, ssh_port(&url));
                let text = std::fs::read_to_string(file).map_err(|e| {
                    git2::Error::from_str(&format!(
                        "cannot read known_hosts {}: {e}",
                        file.display()
                    ))
                })?;
                match known_hosts::check(&text, &name, key) {
                    HostKeyCheck::Trusted => Ok(CertificateCheckStatus::CertificateOk),
                    other => {
                        let message = format!(
                            "host key verification failed for {name}: {}; check {}",
                            match other {
                                HostKeyCheck::Mismatch => "the key differs from the one in known_hosts (possible man-in-the-middle)",
                                HostKeyCheck::Revoked => "the key is revoked",
                                _ => "the host is not in known_hosts",
                            },
                            file.display()
                        );
                        findings.borrow_mut().host_key = Some(message.clone());
                        Err(git2::Error::from_str(&message))
                    }
                }
            });
        }
        cb.push_update_reference(move |_refname, status| {
            if let Some(msg) = status {
                findings.borrow_mut().rejection = Some(msg.to_owned());
            }
            Ok(())
        });
        cb
    }
}

/// A `*.lock` file among the clone's refs and top-level files, if any.
fn stale_lock(clone: &Path) -> Option<PathBuf> {
    let mut dirs = vec![clone.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "lock") {
                return Some(path);
            }
            // Refs nest (refs/remotes/origin/…); objects hold no lock files.
            if entry.file_type().is_ok_and(|t| t.is_dir()) && path.starts_with(clone.join("refs")) {
                dirs.push(path);
            }
        }
    }
    None
}

/// Whether a libgit2 error is about the local repository (a lock left behind, a
/// corrupt object, ref or config) rather than about reaching or talking to the remote.
/// "Connection refused" is an OS error too, so only a failed lock counts among those.
fn is_local_repository_error(e: &git2::Error) -> bool {
    use git2::ErrorClass as C;
    e.code() == ErrorCode::Locked
        || matches!(
            e.class(),
            C::Odb
                | C::Zlib
                | C::Object
                | C::Reference
                | C::Index
                | C::Repository
                | C::Config
                | C::Filesystem
                | C::Tree
        )
}

fn head_tree(repo: &Repository, head: git2::Oid) -> Result<git2::Tree<'_>, GitError> {
    repo.find_commit(head)
        .and_then(|c| c.tree())
        .map_err(|e| GitError::Local {
            op: "read head",
            message: e.message().to_owned(),
        })
}

/// Checks a TLS server certificate (DER) for `host` against the CA certificates in
/// `ca_file`. Only the server's own certificate is available here, so it must be signed
/// by one of those CAs directly (no intermediates).
fn verify_tls(ca_file: &Path, host: &str, der: &[u8]) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    let fail = |m: String| format!("TLS certificate of {host} not trusted: {m}");
    let pem = std::fs::read(ca_file)
        .map_err(|e| fail(format!("cannot read CA file {}: {e}", ca_file.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("CA file {}: {e}", ca_file.display())))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("CA file {}: {e}", ca_file.display())))?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        std::sync::Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .map_err(|e| fail(e.to_string()))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| fail(e.to_string()))?;
    verifier
        .verify_server_cert(
            &CertificateDer::from(der.to_vec()),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
        .map_err(|e| fail(format!("{e} (checked against {})", ca_file.display())))
}

/// The port of an `ssh://` URL (22 when absent or for scp-like `user@host:path`).
pub fn ssh_port(url: &str) -> u16 {
    url.strip_prefix("ssh://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(22)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_ports_come_from_the_url() {
        assert_eq!(ssh_port("ssh://git@127.0.0.1:2222/srv/d.git"), 2222);
        assert_eq!(ssh_port("ssh://git@host/srv/d.git"), 22);
        assert_eq!(ssh_port("git@host:org/d.git"), 22);
    }
}
