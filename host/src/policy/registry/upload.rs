//! Modules that arrive through the admin API rather than the directory: the same
//! checks and atomic swap as a changed file, under rules of their own — a name the
//! directory holds cannot be uploaded (the directory, being declared in Git, wins),
//! and refused bytes are reported to the uploader at once.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ActivePolicy, Origin, PolicyRegistry, REFUSAL_MESSAGE_BYTES};
use crate::policy::engine::Tier;
use crate::policy::error::CheckError;
use crate::policy::module::{check_size, sha256_hex};

/// Longest module name the upload API takes (a DNS label's length).
pub const MAX_NAME_BYTES: usize = 63;

/// The source name an uploaded module's errors and records carry.
pub(super) fn source_path(name: &str) -> PathBuf {
    PathBuf::from(format!("upload:{name}"))
}

/// Whether `name` may name an uploaded module: lowercase letters, digits, `-` and `_`,
/// starting with a letter or digit, at most [`MAX_NAME_BYTES`].
pub fn is_module_name(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Why an upload did not go live. The live version, if any, is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The name cannot name a module.
    #[error(
        "`{0}` is not a module name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"
    )]
    BadName(String),
    /// The policy directory holds the name.
    #[error(
        "module `{0}` comes from the policy directory; change it there, or upload under another name"
    )]
    DirectoryOwned(String),
    /// The bytes failed a check.
    #[error("module `{name}` refused: {message}")]
    Refused {
        /// Module name.
        name: String,
        /// sha256 of the refused bytes.
        sha256: String,
        /// Why (with its causes, bounded).
        message: String,
        /// The check that failed.
        #[source]
        source: Box<CheckError>,
    },
    /// A host resource was short (memory, the instance pool): nothing is wrong with
    /// the bytes; send them again.
    #[error(
        "module `{name}` could not be checked for want of a host resource; try again: {message}"
    )]
    Transient {
        /// Module name.
        name: String,
        /// Why.
        message: String,
    },
}

impl UploadError {
    /// A stable label for the audit and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::BadName(_) => "bad-name",
            Self::DirectoryOwned(_) => "directory-owned",
            Self::Refused { source, .. } => source.label(),
            Self::Transient { .. } => "transient",
        }
    }
}

/// An upload that is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// sha256 of the live bytes.
    pub sha256: String,
    /// The same bytes were live already: nothing was compiled or swapped.
    pub unchanged: bool,
    /// The code tier it went live on.
    pub tier: Tier,
    /// Whether its optimized build is being compiled to replace the baseline build.
    pub upgrading: bool,
}

impl PolicyRegistry {
    /// Checks `bytes` as module `name` — size, world, self-description, every using
    /// pipeline's parameters, pins and a trial decision — and swaps them in atomically
    /// when they pass, exactly as a changed file in the directory would be. Blocks
    /// while the module compiles: call it off the async runtime.
    ///
    /// # Errors
    /// See [`UploadError`]; on error the live version is unchanged.
    pub fn install(self: &Arc<Self>, name: &str, bytes: Vec<u8>) -> Result<Installed, UploadError> {
        if !is_module_name(name) {
            return Err(UploadError::BadName(name.to_owned()));
        }
        let current = self.get(name);
        let from_directory = current
            .as_ref()
            .is_some_and(|a| a.origin == Origin::Directory);
        if from_directory || self.dir.join(format!("{name}.wasm")).exists() {
            return Err(UploadError::DirectoryOwned(name.to_owned()));
        }
        let path = source_path(name);
        let sha256 = sha256_hex(&bytes);
        let refused = |registry: &Self, source: CheckError| {
            let message =
                crate::decision::excerpt(&crate::error_chain(&source), REFUSAL_MESSAGE_BYTES);
            tracing::error!(module = %name, %sha256, reason = source.label(), error = %message, "uploaded policy module refused; the previous version stays active");
            registry.record_refusal(name, sha256.clone(), &source, message.clone());
            UploadError::Refused {
                name: name.to_owned(),
                sha256: sha256.clone(),
                message,
                source: Box::new(source),
            }
        };
        if let Err(e) = check_size(
            &self.engine,
            &path.display().to_string(),
            bytes.len() as u64,
        ) {
            return Err(refused(self, CheckError::Load(e)));
        }
        if let Some(live) = &current
            && live.module.sha256 == sha256
        {
            return Ok(Installed {
                sha256,
                unchanged: true,
                tier: live.module.tier,
                upgrading: false,
            });
        }
        match self.swap_in(name, &path, bytes, &sha256, Origin::Upload) {
            Ok(upgrading) => Ok(Installed {
                tier: self.get(name).map_or(Tier::Optimized, |a| a.module.tier),
                sha256,
                unchanged: false,
                upgrading,
            }),
            Err(e) if e.is_transient() => Err(UploadError::Transient {
                name: name.to_owned(),
                message: crate::decision::excerpt(&crate::error_chain(&e), REFUSAL_MESSAGE_BYTES),
            }),
            Err(e) => Err(refused(self, e)),
        }
    }

    /// Every live module with its name, sorted by name.
    pub fn live(&self) -> Vec<(String, Arc<ActivePolicy>)> {
        let mut v: Vec<(String, Arc<ActivePolicy>)> = self
            .read()
            .iter()
            .map(|(k, a)| (k.clone(), Arc::clone(a)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_plain_labels() {
        for good in ["gate", "fraud-gate_v2", "2fa", &"a".repeat(63)] {
            assert!(is_module_name(good), "{good}");
        }
        for bad in [
            "",
            "Gate",
            "-gate",
            "stock:gate",
            "a/b",
            "../x",
            "a.wasm",
            &"a".repeat(64),
        ] {
            assert!(!is_module_name(bad), "{bad}");
        }
    }
}
