//! The kept clone: a bare repository per pipeline that caches the remote. It is
//! opened (or created), fetched before every change, and — because it holds nothing
//! the remote does not — discarded and cloned again when it is damaged.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, FetchOptions, Repository};

use super::transport::Findings;
use super::{DeployRepo, GitError};

impl DeployRepo {
    /// Runs `f` on the kept clone (and whether it was just created). A clone that is
    /// damaged — a stale lock file in it, unopenable, or failing `f` with a local
    /// repository error — is discarded and cloned again, once per call; `reset` then
    /// says why.
    pub(super) fn healing<T>(
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
            self.reset(why, reset)?;
        }
        let (repo, fresh) = self.open(reset)?;
        match f(&repo, fresh) {
            Err(e) if e.is_clone_problem() && !fresh && reset.is_none() => {
                drop(repo);
                self.reset(e.to_string(), reset)?;
                let (repo, fresh) = self.open(reset)?;
                f(&repo, fresh)
            }
            other => other,
        }
    }

    /// Discards the kept clone because of `why`, says so in the log, and records it in
    /// `reset` for the caller to report.
    fn reset(&self, why: String, reset: &mut Option<String>) -> Result<(), GitError> {
        tracing::warn!(url = %self.settings.url, path = %self.path.display(), reason = %why, "the kept clone of the deploy repo is unusable; discarding it and cloning again");
        self.discard()?;
        *reset = Some(format!(
            "the kept clone at {} was discarded and cloned again ({why})",
            self.path.display()
        ));
        Ok(())
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

    /// Opens the kept bare clone, or creates it; `true` when it was just created. A
    /// clone that exists but cannot be opened is discarded first (recorded in `reset`):
    /// it holds nothing that is not on the remote.
    pub(super) fn open(&self, reset: &mut Option<String>) -> Result<(Repository, bool), GitError> {
        match Repository::open_bare(&self.path) {
            Ok(r) => return Ok((r, false)),
            Err(e) if self.path.exists() => self.reset(e.message().to_owned(), reset)?,
            Err(_) => {}
        }
        Repository::init_bare(&self.path)
            .map(|r| (r, true))
            .map_err(|e| GitError::Clone {
                path: self.path.display().to_string(),
                message: e.message().to_owned(),
            })
    }

    /// Fetches the branch; returns its head. A failure of the local repository blames
    /// the kept clone ([`GitError::Cache`]) unless the clone was just created.
    pub(super) fn sync(&self, repo: &Repository, fresh: bool) -> Result<git2::Oid, GitError> {
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
