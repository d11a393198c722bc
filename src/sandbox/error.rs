//! Errors of the sandbox on the host side. Whatever the guest does (trap, exhaust memory, run
//! forever) is an [`Outcome`](super::Outcome), never one of these: these are for a missing
//! runtime, a damaged one that could not be rebuilt, an unreadable source dir, a bad requirements list, an engine that cannot compile.

use std::path::{Path, PathBuf};

use crate::fetch::FetchError;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the Python sandbox runtime is not installed and could not be fetched: {source}\n  fix: run `codeswarm sandbox --setup` on a machine where pip can download packages")]
    RuntimeMissing {
        #[source]
        source: FetchError,
    },
    #[error("the sandbox runtime environment {} was damaged ({problem}); it was set aside, and rebuilding it failed: {source}", path.display())]
    DamagedEnv {
        path: PathBuf,
        problem: String,
        #[source]
        source: Box<SandboxError>,
    },
    #[error("fetching the sandbox runtime failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("sandbox/requirements.toml is invalid: {0}")]
    Requirements(String),
    #[error("preparing the sandbox runtime failed: {0}")]
    Setup(String),
    #[error("wasmtime: {context}: {detail}")]
    Engine { context: String, detail: String },
    #[error("bad job: {0}")]
    Job(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    pub(crate) fn engine(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        // `{:#}` keeps anyhow's cause chain on one line.
        SandboxError::Engine {
            context: context.into(),
            detail: format!("{err:#}"),
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}
