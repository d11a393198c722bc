//! An advisory, exclusive inter-process file lock (`flock(2)`), held for as long as the
//! [`FileLock`] value lives. Used around mirror-cache updates so two codeswarm processes never
//! clone or fetch into the same mirror at once. On non-Unix platforms the lock file is created
//! but not locked.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// An exclusive lock on a lock file; released on drop (closing the descriptor releases it).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Block until the exclusive lock on `path` is held. The file is created if missing (its
    /// parent directory must exist) and is left in place afterwards.
    pub fn exclusive(path: &Path) -> std::io::Result<FileLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        lock_exclusive(&file)?;
        tracing::trace!(lock = %path.display(), "lock acquired");
        Ok(FileLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.lock");
        let first = FileLock::exclusive(&path).unwrap();
        let acquired = Arc::new(AtomicBool::new(false));
        let flag = acquired.clone();
        let p = path.clone();
        // A separate open file description, as another process would have.
        let handle = std::thread::spawn(move || {
            let _second = FileLock::exclusive(&p).unwrap();
            flag.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !acquired.load(Ordering::SeqCst),
            "second lock must wait while the first is held"
        );
        drop(first);
        handle.join().unwrap();
        assert!(acquired.load(Ordering::SeqCst));
    }
}
