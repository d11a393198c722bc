//! The site dir a repository's tests import their dependencies from (mounted read-only at
//! [`GUEST_DEPS`] in the sandbox): either a directory the user prepared (`--site DIR`, used as
//! is, never written to) or one built from a `--requirements FILE` of exact pins
//! ([`super::pins`]).
//!
//! A built site lives in the cache under `paths::home()/sites/<key>/site`, `<key>` derived from
//! the requirements file's sha256 (same file, same site; any edit, a new one). Building it:
//! `python3 -m pip download --no-deps NAME==VERSION` per pin (pip's own configuration decides
//! where from), the sha256 checked when the file gives hashes, only pure-Python wheels
//! (`*-none-any.whl`) accepted (native extensions cannot load under WASI), each unpacked, then
//! the whole site compiled to `.pyc` by the guest interpreter (as the runtime's own site is).
//! Everything happens in a temporary directory beside the final one, renamed into place when
//! complete; a failure leaves nothing behind, and a finished site is reused as is.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::pins::{is_pure_wheel, parse_pins, Pin, PinError};
use crate::fetch::{self, FetchError, Progress};
use crate::sandbox::{Sandbox, SandboxError, Status};
use crate::testing::runner::GUEST_DEPS;

/// Version of a built site's layout, part of its cache key.
const SITE_LAYOUT: &str = "v1";

/// Why a site dir could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(
        "give either --site DIR or --requirements FILE, not both (the sandbox mounts one site dir)"
    )]
    Both,
    #[error("--site {}: not a directory; pass a directory of unpacked pure-Python wheels, or use --requirements FILE", path.display())]
    NoSuchSite { path: PathBuf },
    #[error("cannot read the requirements file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Pins(#[from] PinError),
    /// `package` is `name==version`.
    #[error("{package}: pip downloaded `{wheel}`, a wheel with native code; native extensions cannot run under WASI. Use a pure-Python release (a `*-none-any.whl`) of the package, or leave it out (tests that import it are reported as not runnable)")]
    Native { package: String, wheel: String },
    #[error("{package}: sha256 mismatch for `{wheel}`: the requirements file (line {line}) expects {expected}, the downloaded wheel is {actual}; fix the hash or the version")]
    HashMismatch {
        package: String,
        wheel: String,
        line: usize,
        expected: String,
        actual: String,
    },
    #[error("{package}: {error}")]
    Fetch { package: String, error: FetchError },
    #[error("precompiling the site dir in the sandbox: {0}")]
    Sandbox(Box<SandboxError>),
    #[error("I/O error on {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

// Causes are part of each message (the CLI prints the whole chain): no `#[source]` above.
impl From<SandboxError> for SiteError {
    fn from(e: SandboxError) -> Self {
        SiteError::Sandbox(Box::new(e))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SiteError + '_ {
    move |error| SiteError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// One wheel installed into a built site.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct InstalledWheel {
    pub name: String,
    pub version: String,
    pub wheel: String,
    pub sha256: String,
}

/// The cache of sites built from requirements files.
#[derive(Debug, Clone)]
pub struct SiteCache {
    root: PathBuf,
}

/// The site dir for the CLI commands: `--site DIR` as given (checked to be a directory, never
/// modified), a site built from `--requirements FILE` (cached), or none.
pub fn resolve_site(
    site: Option<&Path>,
    requirements: Option<&Path>,
    progress: &dyn Progress,
) -> Result<Option<PathBuf>, SiteError> {
    SiteCache::at_default_location().resolve(site, requirements, progress)
}

impl SiteCache {
    pub fn new(root: impl Into<PathBuf>) -> SiteCache {
        SiteCache { root: root.into() }
    }

    /// `paths::home()/sites`.
    pub fn at_default_location() -> SiteCache {
        SiteCache::new(crate::paths::home().join("sites"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// [`resolve_site`] with this cache.
    pub fn resolve(
        &self,
        site: Option<&Path>,
        requirements: Option<&Path>,
        progress: &dyn Progress,
    ) -> Result<Option<PathBuf>, SiteError> {
        match (site, requirements) {
            (Some(_), Some(_)) => Err(SiteError::Both),
            (Some(dir), None) => {
                if !dir.is_dir() {
                    return Err(SiteError::NoSuchSite {
                        path: dir.to_path_buf(),
                    });
                }
                Ok(Some(dir.canonicalize().map_err(io_err(dir))?))
            }
            (None, Some(file)) => self.ensure(file, None, progress).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The cache entry for a requirements file's exact bytes.
    pub fn entry_dir(&self, requirements_bytes: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(requirements_bytes));
        self.root.join(format!("{}-{SITE_LAYOUT}", &digest[..16]))
    }

    /// The site dir built from `requirements`, building it on first use. `sandbox` precompiles
    /// it (opened here when `None` and needed).
    pub fn ensure(
        &self,
        requirements: &Path,
        sandbox: Option<&Sandbox>,
        progress: &dyn Progress,
    ) -> Result<PathBuf, SiteError> {
        let bytes = std::fs::read(requirements).map_err(|error| SiteError::Read {
            path: requirements.to_path_buf(),
            error,
        })?;
        self.ensure_pins(&bytes, requirements, sandbox, progress)
    }

    /// The site dir built from requirements text `bytes` (named `origin` in messages), building
    /// it on first use.
    pub fn ensure_pins(
        &self,
        bytes: &[u8],
        origin: &Path,
        sandbox: Option<&Sandbox>,
        progress: &dyn Progress,
    ) -> Result<PathBuf, SiteError> {
        let text = String::from_utf8_lossy(bytes);
        let pins = parse_pins(&text, origin)?;
        let entry = self.entry_dir(bytes);
        let site = entry.join("site");
        if site.is_dir() {
            tracing::debug!(site = %site.display(), "reusing the cached site dir");
            return Ok(site);
        }
        std::fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let tmp = tempfile::Builder::new()
            .prefix(".site-partial-")
            .tempdir_in(&self.root)
            .map_err(io_err(&self.root))?;
        let building = tmp.path().join("site");
        std::fs::create_dir(&building).map_err(io_err(&building))?;
        let scratch = tmp.path().join("scratch");
        let mut installed = Vec::new();
        for (i, pin) in pins.iter().enumerate() {
            progress.set_message(format!(
                "site {}/{}: pip download {}=={}",
                i + 1,
                pins.len(),
                pin.name,
                pin.version
            ));
            installed.push(install_pin(pin, &building, &scratch.join(i.to_string()))?);
        }
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(io_err(&scratch))?;
        }
        progress.set_message("precompiling the site dir inside the sandbox".into());
        let opened;
        let sandbox = match sandbox {
            Some(s) => s,
            None => {
                opened = crate::testing::open_sandbox(progress)?;
                &opened
            }
        };
        let outcome = sandbox.precompile_dir(&building, GUEST_DEPS)?;
        match &outcome.status {
            Status::Exited(0) => {}
            // Files that do not compile (Python 2 leftovers, templates) are compiled again
            // at import, if ever imported; the rest of the site is fine.
            Status::Exited(1) => tracing::warn!(
                output = %outcome.output_tail(2000),
                "some files of the site dir did not compile"
            ),
            other => {
                return Err(SiteError::from(SandboxError::Setup(format!(
                    "precompiling ended with {other}: {}",
                    outcome.output_tail(2000)
                ))))
            }
        }
        let copy = tmp.path().join("requirements.txt");
        std::fs::write(&copy, bytes).map_err(io_err(&copy))?;
        let manifest = tmp.path().join("wheels.json");
        let json = serde_json::to_vec_pretty(&installed).unwrap_or_default();
        std::fs::write(&manifest, json).map_err(io_err(&manifest))?;
        let tmp = tmp.keep();
        match std::fs::rename(&tmp, &entry) {
            Ok(()) => {}
            // Another process finished first: use theirs.
            Err(_) if site.is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            Err(error) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(SiteError::Io { path: entry, error });
            }
        }
        tracing::info!(site = %site.display(), wheels = installed.len(), "site dir built");
        Ok(site)
    }
}

/// Download, check and unpack one pinned wheel into `site`.
fn install_pin(pin: &Pin, site: &Path, scratch: &Path) -> Result<InstalledWheel, SiteError> {
    std::fs::create_dir_all(scratch).map_err(io_err(scratch))?;
    let package = format!("{}=={}", pin.name, pin.version);
    let fetch_err = |error| SiteError::Fetch {
        package: package.clone(),
        error,
    };
    let wheel = fetch::pip_download(&pin.name, &pin.version, scratch).map_err(fetch_err)?;
    let file_name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (_, digest) = fetch::sha256_file(&wheel).map_err(fetch_err)?;
    if !pin.sha256.is_empty() && !pin.sha256.iter().any(|h| h.eq_ignore_ascii_case(&digest)) {
        return Err(SiteError::HashMismatch {
            package,
            wheel: file_name,
            line: pin.line,
            expected: pin.sha256.join(" or "),
            actual: digest,
        });
    }
    if !is_pure_wheel(&file_name) {
        return Err(SiteError::Native {
            package,
            wheel: file_name,
        });
    }
    fetch::unpack_wheel(&wheel, site).map_err(fetch_err)?;
    move_data_dirs(site)?;
    Ok(InstalledWheel {
        name: pin.name.clone(),
        version: pin.version.clone(),
        wheel: file_name,
        sha256: digest,
    })
}

/// Install a wheel's `NAME.data/purelib` and `platlib` contents at the site root (where pip
/// puts them) and drop the rest of `NAME.data` (scripts, headers, data files).
fn move_data_dirs(site: &Path) -> Result<(), SiteError> {
    for entry in std::fs::read_dir(site).map_err(io_err(site))? {
        let entry = entry.map_err(io_err(site))?;
        let path = entry.path();
        if !(path.is_dir() && entry.file_name().to_string_lossy().ends_with(".data")) {
            continue;
        }
        for lib in ["purelib", "platlib"] {
            let from = path.join(lib);
            if from.is_dir() {
                merge_into(&from, site)?;
            }
        }
        std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
    }
    Ok(())
}

fn merge_into(from: &Path, to: &Path) -> Result<(), SiteError> {
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() && dest.is_dir() {
            merge_into(&entry.path(), &dest)?;
        } else {
            std::fs::rename(entry.path(), &dest).map_err(io_err(&dest))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_and_requirements_are_exclusive_and_a_site_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SiteCache::new(dir.path().join("sites"));
        let req = dir.path().join("req.txt");
        assert!(matches!(
            cache.resolve(Some(dir.path()), Some(&req), &()),
            Err(SiteError::Both)
        ));
        let missing = dir.path().join("nope");
        let err = cache.resolve(Some(&missing), None, &()).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert_eq!(cache.resolve(None, None, &()).unwrap(), None);
        let got = cache.resolve(Some(dir.path()), None, &()).unwrap().unwrap();
        assert_eq!(got, dir.path().canonicalize().unwrap());
        let err = cache.resolve(None, Some(&missing), &()).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot read the requirements file"),
            "{err}"
        );
    }

    #[test]
    fn entries_are_keyed_by_content() {
        let cache = SiteCache::new("/x");
        assert_eq!(cache.entry_dir(b"a==1\n"), cache.entry_dir(b"a==1\n"));
        assert_ne!(cache.entry_dir(b"a==1\n"), cache.entry_dir(b"a==2\n"));
        assert!(cache
            .entry_dir(b"")
            .to_string_lossy()
            .ends_with(&format!("-{SITE_LAYOUT}")));
    }

    #[test]
    fn data_dirs_are_merged_into_the_site() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        std::fs::create_dir_all(site.join("p-1.data/purelib/p")).unwrap();
        std::fs::create_dir_all(site.join("p-1.data/scripts")).unwrap();
        std::fs::write(site.join("p-1.data/purelib/p/__init__.py"), "x = 1\n").unwrap();
        std::fs::write(site.join("p-1.data/scripts/run"), "#!\n").unwrap();
        move_data_dirs(site).unwrap();
        assert!(site.join("p/__init__.py").is_file());
        assert!(!site.join("p-1.data").exists());
    }
}
