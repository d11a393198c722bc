//! Size and sha256 checks, and a stamp that records a completed check so that large files are
//! hashed once, not on every start.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{io_err, AssetSpec, FetchError};

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }
    pub(crate) fn finish(self) -> (u64, String) {
        (self.written, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Stream a file through sha256; returns (size, hex digest).
pub fn sha256_file(path: &Path) -> Result<(u64, String), FetchError> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = HashingWriter::new(std::io::sink());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.write_all(&buf[..n]).map_err(io_err(path))?;
    }
    Ok(hasher.finish())
}

pub(crate) fn compare(spec: &AssetSpec, size: u64, digest: &str) -> Result<(), FetchError> {
    if let Some(expected) = spec.size {
        if expected != size {
            return Err(FetchError::Size {
                what: spec.what.clone(),
                expected,
                actual: size,
            });
        }
    }
    if let Some(expected) = &spec.sha256 {
        if !expected.eq_ignore_ascii_case(digest) {
            return Err(FetchError::Sha256 {
                what: spec.what.clone(),
                expected: expected.clone(),
                actual: digest.to_string(),
            });
        }
    }
    Ok(())
}

/// The verification stamp `<file>.verified`: "size mtime_nanos sha256".
pub struct Verified;

pub fn stamp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".verified");
    PathBuf::from(s)
}

impl Verified {
    fn stamp_path(path: &Path) -> PathBuf {
        stamp_path(path)
    }

    fn fingerprint(path: &Path) -> Result<(u64, u128), FetchError> {
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok((meta.len(), mtime))
    }

    /// Record that `path` was fully verified in its current state.
    pub fn stamp(path: &Path) -> Result<(), FetchError> {
        let (size, mtime) = Self::fingerprint(path)?;
        let (_, digest) = sha256_file(path)?;
        let stamp = Self::stamp_path(path);
        std::fs::write(&stamp, format!("{size} {mtime} {digest}\n")).map_err(io_err(&stamp))
    }

    /// Check an existing file against `spec`: size always, sha256 unless a stamp vouches for
    /// this exact file state (same size, mtime and expected digest).
    pub fn check(path: &Path, spec: &AssetSpec) -> Result<(), FetchError> {
        let (size, mtime) = Self::fingerprint(path)?;
        if let Some(expected) = spec.size {
            if expected != size {
                return Err(FetchError::Size {
                    what: format!("{} ({})", spec.what, path.display()),
                    expected,
                    actual: size,
                });
            }
        }
        let Some(expected) = &spec.sha256 else {
            return Ok(());
        };
        if let Ok(stamp) = std::fs::read_to_string(Self::stamp_path(path)) {
            let fields: Vec<&str> = stamp.split_whitespace().collect();
            if fields.len() == 3
                && fields[0] == size.to_string()
                && fields[1] == mtime.to_string()
                && fields[2].eq_ignore_ascii_case(expected)
            {
                return Ok(());
            }
        }
        let (_, digest) = sha256_file(path)?;
        let named = AssetSpec {
            what: format!("{} ({})", spec.what, path.display()),
            ..spec.clone()
        };
        compare(&named, size, &digest)?;
        let stamp = Self::stamp_path(path);
        std::fs::write(&stamp, format!("{size} {mtime} {digest}\n")).map_err(io_err(&stamp))
    }
}
