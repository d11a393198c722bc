//! The host-side bytecode cache for the code under test. Every run's work dir is a fresh copy,
//! so without it the guest parses and compiles every module it imports, and pytest rewrites the
//! asserts of every test module, on every run: for a large test module that is most of the run.
//!
//! - **Entries** are marshalled code objects, keyed by the sha256 of (the kind, the guest file
//!   name recorded in the code, the source bytes) and stored under the runtime's `cache/` dir,
//!   in a directory named after the runtime and its environment (interpreter and pytest
//!   versions). Each entry carries the sha256 of its payload and is checked when read.
//! - **Placing** ([`place`]): when the host copies a `.py` file into a run's work dir it looks its
//!   entries up and writes `__pycache__/NAME.cpython-312.pyc` (what the import system loads)
//!   and, for test modules and `conftest.py`, `NAME.cpython-312-pytest-X.pyc` (what pytest's
//!   assertion rewriter loads), with the header built from the copy's own mtime and size. The
//!   guest validates them as it would any bytecode: a source it changes is compiled afresh.
//! - **Filling** ([`fill`]): which files to compile is learned from the run — the `.py` files the
//!   guest opened in its work dir (it opens the source only when it has no valid bytecode). That
//!   list is only a hint: after the run the host takes the bytes of each named file from the
//!   job's own inputs (never from the work dir the guest could change), checks them against the
//!   digest it recorded while copying, and compiles them in a separate guest that runs nothing
//!   but a fixed script (`python -I`: parse, rewrite the asserts as pytest does, compile,
//!   marshal), with those bytes on a read-only mount. No guest ever writes into the cache: a job
//!   cannot plant bytecode that another job loads.

pub mod fill;
pub mod place;

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::io_err;
use super::SandboxError;

/// The interpreter's bytecode tag (`sys.implementation.cache_tag`); the compile job checks it.
pub const CACHE_TAG: &str = "cpython-312";
/// Version of the entries' format and key; part of the cache dir's name.
const FORMAT: &str = "v1";

/// Which code an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// What `importlib` compiles (`compile(source, path, "exec", dont_inherit=True)`).
    Plain,
    /// What pytest's assertion rewriter compiles (its AST rewrite, then `compile`).
    Rewritten,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Rewritten => "rewritten",
        }
    }
}

/// Whether pytest (with its default `python_files`) rewrites the asserts of a module with this
/// file name: `test_*.py`, `*_test.py` and `conftest.py`. A module pytest rewrites for another
/// reason (an ini setting, a plugin) is rewritten by pytest in the guest, as without the cache.
pub fn pytest_rewrites(file_name: &str) -> bool {
    file_name == "conftest.py"
        || (file_name.ends_with(".py")
            && (file_name.starts_with("test_") || file_name.ends_with("_test.py")))
}

/// The guest path of a work-dir file (the work dir is the guest's `/`).
pub fn guest_name(rel: &str) -> String {
    format!("/{rel}")
}

/// The cache of one runtime environment.
#[derive(Debug, Clone)]
pub struct BytecodeCache {
    dir: PathBuf,
    /// `cpython-312-pytest-8.3.5`: the tag in the names of pytest's rewritten `.pyc`.
    pytest_tag: String,
}

impl BytecodeCache {
    /// The cache under `cache_root` for the environment named `env_name` whose pytest is
    /// `pytest_version`.
    pub fn new(cache_root: &Path, env_name: &str, pytest_version: &str) -> Self {
        Self {
            dir: cache_root.join(format!("bytecode-{FORMAT}-{env_name}")),
            pytest_tag: format!("{CACHE_TAG}-pytest-{pytest_version}"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `__pycache__` file name of `file_name` (`mod.py`) for `kind`.
    pub fn pyc_name(&self, file_name: &str, kind: Kind) -> String {
        let stem = file_name.strip_suffix(".py").unwrap_or(file_name);
        match kind {
            Kind::Plain => format!("{stem}.{CACHE_TAG}.pyc"),
            Kind::Rewritten => format!("{stem}.{}.pyc", self.pytest_tag),
        }
    }

    /// The key of an entry: the kind, the guest file name compiled into the code, the source.
    pub fn key(&self, kind: Kind, guest_name: &str, source_sha256: &[u8; 32]) -> String {
        let mut h = Sha256::new();
        h.update(FORMAT.as_bytes());
        h.update([0]);
        h.update(kind.as_str().as_bytes());
        h.update([0]);
        h.update(self.pytest_tag.as_bytes());
        h.update([0]);
        h.update(guest_name.as_bytes());
        h.update([0]);
        h.update(source_sha256);
        hex::encode(h.finalize())
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.bin"))
    }

    /// The entry's payload (magic number + marshalled code), if there is one and it matches its
    /// checksum; a damaged entry is removed.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.entry_path(key);
        let bytes = std::fs::read(&path).ok()?;
        if bytes.len() < 32 + 4 || Sha256::digest(&bytes[32..]).as_slice() != &bytes[..32] {
            tracing::warn!(path = %path.display(), "bytecode cache entry does not match its checksum; removing it");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(bytes[32..].to_vec())
    }

    /// Whether an entry exists (not checked).
    pub fn has(&self, key: &str) -> bool {
        self.entry_path(key).is_file()
    }

    /// Store `payload` (magic number + marshalled code) under `key`, atomically.
    pub fn put(&self, key: &str, payload: &[u8]) -> Result<(), SandboxError> {
        let path = self.entry_path(key);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(dir)
            .map_err(io_err(dir))?;
        tmp.write_all(&Sha256::digest(payload))
            .and_then(|()| tmp.write_all(payload))
            .map_err(io_err(&path))?;
        tmp.persist(&path).map_err(|e| SandboxError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// A timestamp-validated `.pyc` (the form both the import system and pytest accept): magic,
/// flags 0, the source's mtime and size (low 32 bits), then the code.
pub fn pyc_bytes(payload: &[u8], mtime_secs: u64, size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 12);
    out.extend_from_slice(&payload[..4]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(mtime_secs as u32).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&payload[4..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_checked_entries() {
        let dir = tempfile::tempdir().unwrap();
        let c = BytecodeCache::new(dir.path(), "env-x", "8.3.5");
        assert_eq!(c.pyc_name("mod.py", Kind::Plain), "mod.cpython-312.pyc");
        assert_eq!(
            c.pyc_name("test_a.py", Kind::Rewritten),
            "test_a.cpython-312-pytest-8.3.5.pyc"
        );
        let sha = [7u8; 32];
        let k = c.key(Kind::Plain, "/a.py", &sha);
        assert_ne!(k, c.key(Kind::Rewritten, "/a.py", &sha));
        assert_ne!(k, c.key(Kind::Plain, "/b.py", &sha));
        assert_ne!(k, c.key(Kind::Plain, "/a.py", &[8u8; 32]));
        assert!(c.get(&k).is_none());
        c.put(&k, b"MAGIcode").unwrap();
        assert_eq!(c.get(&k).unwrap(), b"MAGIcode");
        // A damaged entry is refused and removed.
        let path = c.entry_path(&k);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(c.get(&k).is_none());
        assert!(!path.exists());
    }

    #[test]
    fn pyc_header_and_rewrite_names() {
        let pyc = pyc_bytes(b"MAGIcode", 0x1_0000_0002, 5);
        assert_eq!(&pyc[..4], b"MAGI");
        assert_eq!(&pyc[4..8], &[0, 0, 0, 0]);
        assert_eq!(&pyc[8..12], &2u32.to_le_bytes());
        assert_eq!(&pyc[12..16], &5u32.to_le_bytes());
        assert_eq!(&pyc[16..], b"code");
        assert!(pytest_rewrites("test_x.py"));
        assert!(pytest_rewrites("x_test.py"));
        assert!(pytest_rewrites("conftest.py"));
        assert!(!pytest_rewrites("testing.py"));
        assert!(!pytest_rewrites("test_x.pyc"));
    }
}
