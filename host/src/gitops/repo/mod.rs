//! The deploy repository: a local clone kept per pipeline, fetched before every change,
//! edited with the byte-preserving editor, committed and pushed with retries. Never
//! force-pushes.
//!
//! A promotion is the *intended change* ("these fields hold version X"), not a commit:
//! every attempt fetches, applies the change to the fetched head and pushes. A push
//! rejected because someone else pushed first is therefore resolved by re-applying on
//! the new head, and a value already at the target version commits nothing — which is
//! also what makes a repeated promotion after a crash harmless. [`DeployRepo::check`]
//! makes the same edits without committing, to find a mistake before training.
//!
//! `kept_clone` owns the local cache (open, fetch, heal); `transport` talks to the
//! remote (credentials, host keys, TLS, push). Blocking (libgit2); call it from
//! `spawn_blocking`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{Repository, Signature};

mod kept_clone;
mod transport;

pub use transport::ssh_port;

use super::Selector;
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

/// A value to write into one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    /// Where.
    pub target: Target,
    /// The new value.
    pub value: String,
}

/// An intended change to the deploy repository: "these fields hold these values",
/// committed with this message. Applying it again when the fields already hold the
/// values commits nothing, which is what makes every write idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The fields and their values, in order (a later edit of the same field wins).
    pub edits: Vec<FieldValue>,
    /// The commit subject (one line).
    pub subject: String,
    /// `Key: value` lines under the subject (`Sluice-Pipeline`, `Sluice-Version`).
    pub trailers: Vec<(String, String)>,
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
    /// Promotion commit subject; `{version}` and `{pipeline}` are replaced.
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

/// What a dry run of a promotion found: every target resolves to exactly one value
/// that the new version can replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCheck {
    /// The remote branch head that was checked.
    pub head: String,
    /// Each target's current value, in config order.
    pub values: Vec<TargetValue>,
    /// Set when the kept clone was unusable and was discarded and cloned again: why.
    pub clone_reset: Option<String>,
}

/// One target's current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetValue {
    /// Path in the repository.
    pub file: String,
    /// The selector, as written.
    pub selector: String,
    /// The value there now.
    pub value: String,
    /// Its 1-based line.
    pub line: usize,
}

/// The fetched head with every target edited in memory.
struct Prepared<'r> {
    head: git2::Oid,
    tree: git2::Tree<'r>,
    /// Per file: text before, text after, mode.
    files: BTreeMap<String, (String, String, git2::FileMode)>,
    values: Vec<TargetValue>,
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

    /// The change that promotes `version`: every configured target holds it, with the
    /// configured subject and the pipeline and version as trailers.
    pub fn promotion(&self, pipeline: &str, version: &str) -> Change {
        Change {
            edits: self
                .settings
                .targets
                .iter()
                .map(|t| FieldValue {
                    target: t.clone(),
                    value: version.to_owned(),
                })
                .collect(),
            subject: self
                .settings
                .message
                .replace("{version}", version)
                .replace("{pipeline}", pipeline),
            trailers: vec![
                ("Sluice-Pipeline".into(), pipeline.to_owned()),
                ("Sluice-Version".into(), version.to_owned()),
            ],
        }
    }

    /// Makes the remote branch hold `version` in every target, with one commit (or
    /// none if it already does). `pipeline` fills the message template and a trailer.
    ///
    /// # Errors
    /// See [`GitError`]; on error nothing was pushed.
    pub fn promote(&self, pipeline: &str, version: &str) -> Result<Promotion, GitError> {
        self.apply(&self.promotion(pipeline, version))
    }

    /// Makes the remote branch hold `change`, with one commit (or none if it already
    /// does): fetch, edit, commit, push; retried with backoff on transient failures and
    /// re-applied on the new head when a concurrent push wins.
    ///
    /// # Errors
    /// See [`GitError`]; on error nothing was pushed.
    pub fn apply(&self, change: &Change) -> Result<Promotion, GitError> {
        let mut retried = 0;
        let mut reapplied = 0;
        let mut clone_reset = None;
        loop {
            match self.healing(&mut clone_reset, |repo, fresh| {
                self.attempt(repo, fresh, change)
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

    /// A promotion to `version` without the commit and push: fetches the branch and
    /// makes every edit in memory, so a target that names a missing file, a selector
    /// that matches nothing or several values, or a value that cannot take `version`
    /// is found before a model is trained for nothing. No retries: the caller decides
    /// what a transient failure means.
    ///
    /// # Errors
    /// As [`DeployRepo::promote`]; [`GitError::is_transient`] tells a problem retrying
    /// can fix from one that needs the config or the repository changed.
    pub fn check(&self, version: &str) -> Result<TargetCheck, GitError> {
        self.check_change(&self.promotion("check", version))
    }

    /// [`DeployRepo::apply`] without the commit and push: every edit of `change` made
    /// in memory on the fetched head.
    ///
    /// # Errors
    /// As [`DeployRepo::check`].
    pub fn check_change(&self, change: &Change) -> Result<TargetCheck, GitError> {
        let mut clone_reset = None;
        let (head, values) = self.healing(&mut clone_reset, |repo, fresh| {
            let prepared = self.prepare(repo, fresh, change)?;
            Ok((prepared.head.to_string(), prepared.values))
        })?;
        Ok(TargetCheck {
            head,
            values,
            clone_reset,
        })
    }

    /// Fetches the branch and applies every edit of `change` to the fetched head's
    /// files, in memory.
    fn prepare<'r>(
        &self,
        repo: &'r Repository,
        fresh: bool,
        change: &Change,
    ) -> Result<Prepared<'r>, GitError> {
        let head = self.sync(repo, fresh)?;
        let tree = head_tree(repo, head)?;
        let mut files: BTreeMap<String, (String, String, git2::FileMode)> = BTreeMap::new();
        let mut values = Vec::new();
        for FieldValue { target: t, value } in &change.edits {
            let (before, text, mode) = match files.remove(&t.file) {
                Some(entry) => entry,
                None => {
                    let (text, mode) = self.read_target(repo, &tree, &t.file)?;
                    (text.clone(), text, mode)
                }
            };
            let edit = set_value(&t.file, &text, &t.selector, value)?;
            values.push(TargetValue {
                file: t.file.clone(),
                selector: t.selector.to_string(),
                value: edit.old_value,
                line: edit.line,
            });
            files.insert(t.file.clone(), (before, edit.text, mode));
        }
        Ok(Prepared {
            head,
            tree,
            files,
            values,
        })
    }

    /// One attempt on the kept clone: fetch, edit the files in the fetched head's tree
    /// (in memory: no working tree is checked out, so the size of the repository does
    /// not matter), commit, push.
    fn attempt(
        &self,
        repo: &Repository,
        fresh: bool,
        change: &Change,
    ) -> Result<Attempt, GitError> {
        let started = std::time::Instant::now();
        let Prepared {
            head, tree, files, ..
        } = self.prepare(repo, fresh, change)?;
        let fetched = started.elapsed();
        let changed: Vec<(&str, &String, git2::FileMode)> = files
            .iter()
            .filter(|(_, (before, after, _))| before != after)
            .map(|(f, (_, after, mode))| (f.as_str(), after, *mode))
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
        let commit = self.commit(repo, head, &tree, &changed, change)?;
        let committed = started.elapsed();
        let pushed = self.push(repo)?;
        tracing::debug!(
            url = %self.settings.url,
            fetch_edit_ms = fetched.as_millis() as u64,
            commit_ms = (committed - fetched).as_millis() as u64,
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
        change: &Change,
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
        let mut message = one_line(&change.subject);
        message.push('\n');
        if !change.trailers.is_empty() {
            message.push('\n');
        }
        for (key, value) in &change.trailers {
            message.push_str(&format!("{key}: {}\n", one_line(value)));
        }
        let id = repo
            .commit(None, &sig, &sig, &message, &new_tree, &[&parent])
            .map_err(local("commit"))?;
        repo.reference(
            &format!("refs/heads/{}", self.settings.branch),
            id,
            true,
            "sluice: deploy repo change",
        )
        .map_err(local("update ref"))?;
        Ok(id)
    }
}

/// `text` on one line: line breaks and other control characters become spaces, so a
/// reason from a policy cannot forge trailers or further commit-message lines.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn head_tree(repo: &Repository, head: git2::Oid) -> Result<git2::Tree<'_>, GitError> {
    repo.find_commit(head)
        .and_then(|c| c.tree())
        .map_err(|e| GitError::Local {
            op: "read head",
            message: e.message().to_owned(),
        })
}
