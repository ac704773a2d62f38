//! Writing policies: `sluice policy new` (scaffold a project in Rust, Python or
//! JavaScript) and `sluice policy build` (turn any of them into a component).
//!
//! A project's language is read from its usual manifest: `Cargo.toml` (Rust),
//! `pyproject.toml` with a `[tool.sluice]` table (Python, componentize-py), or
//! `package.json` with a `"sluice"` key (JavaScript or TypeScript, bundled with
//! rolldown, componentized with componentize-js).

pub mod assets;
pub mod build;
pub mod project;
pub mod scaffold;
pub mod tools;
#[cfg(test)]
mod typescript;

use std::path::PathBuf;

/// Errors of `policy new` and `policy build`.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    /// The directory holds no policy project.
    #[error(
        "{} is not a policy project: it has no Cargo.toml, no pyproject.toml with a \
         [tool.sluice] table, and no package.json with a \"sluice\" key. Make one with \
         `sluice policy new NAME --lang rust|python|js --point POINT`",
        dir.display()
    )]
    NotAProject {
        /// The directory given.
        dir: PathBuf,
    },
    /// A manifest is malformed or lacks a field.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, with the field's name (and line where known).
        message: String,
    },
    /// A build tool cannot be found.
    #[error("cannot find `{tool}`: {hint}")]
    ToolMissing {
        /// The tool.
        tool: String,
        /// How to install it or point sluice at it.
        hint: String,
    },
    /// A build tool ran and failed; its output was shown.
    #[error("`{command}` failed ({status}); its output is above")]
    ToolFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
    },
    /// A tool produced no module where one was expected.
    #[error("the build produced no WebAssembly module: {0}")]
    NoArtifact(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `policy new` would overwrite something.
    #[error("{} already exists; choose another name or directory", path.display())]
    Exists {
        /// What exists.
        path: PathBuf,
    },
    /// A name or option given to `policy new` is unusable.
    #[error("{0}")]
    Invalid(String),
}

/// Shorthand for an I/O error on `path`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AuthoringError + '_ {
    move |source| AuthoringError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The source languages a policy project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with the sluice-policy-sdk crate.
    Rust,
    /// Python with the sluice_policy package (componentize-py).
    Python,
    /// JavaScript or TypeScript with the sluice-policy package (componentize-js).
    Js,
}

impl Lang {
    /// The name used on the command line and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Python => "python",
            Self::Js => "js",
        }
    }
}
