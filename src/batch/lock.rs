//! A non-blocking exclusive lock (`flock(2)`): a second batch writing the same run directory or
//! predictions file fails at once with a clear error instead of interleaving lines. The run
//! directory is guarded by a lock file inside it ([`TryLock::acquire`]); the predictions file
//! by a lock on the file itself ([`TryLock::on_file`]), so the same file reached through a
//! symlink or a hard link is the same lock. Released when the [`TryLock`] is dropped (or the
//! process dies, kill -9 included).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{what} is in use by another codeswarm process (lock on {}); wait for it to finish or use another path", path.display())]
    Busy { what: String, path: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A held lock.
#[derive(Debug)]
pub struct TryLock {
    _file: File,
    path: PathBuf,
}

impl TryLock {
    /// Take the exclusive lock on `path` (created if missing) or fail with [`LockError::Busy`]
    /// naming `what`.
    pub fn acquire(path: &Path, what: &str) -> Result<TryLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        Self::on_file(file, path, what)
    }

    /// Take the exclusive lock on the open `file` itself (`path` names it in messages): every
    /// path to the same file (symlinks, hard links) shares it.
    pub fn on_file(file: File, path: &Path, what: &str) -> Result<TryLock, LockError> {
        match try_lock(&file) {
            Ok(true) => Ok(TryLock {
                _file: file,
                path: path.to_path_buf(),
            }),
            Ok(false) => Err(LockError::Busy {
                what: what.to_string(),
                path: path.to_path_buf(),
            }),
            Err(source) => Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".lock");
        let first = TryLock::acquire(&p, "run directory X").unwrap();
        let err = TryLock::acquire(&p, "run directory X").unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }));
        assert!(err.to_string().contains("run directory X"));
        drop(first);
        TryLock::acquire(&p, "run directory X").unwrap();
    }
}
