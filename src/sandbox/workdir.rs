//! The host side of one run's writable dirs: a private temporary root holding the work dir (a
//! copy of the job's source dir plus its in-memory files, never the user's files themselves),
//! a `tmp`, and a `dev` with an empty `null` (the quota's shadowed writes keep it empty); the
//! source's own top-level `tmp/` and `dev/` are moved into those, where the guest sees them.
//! Removed when dropped.

use std::path::{Path, PathBuf};

use super::error::io_err;
use super::{Job, SandboxError};

/// Source trees larger than this are refused (they are copied for every run).
pub const SOURCE_MAX_BYTES: u64 = 256 << 20;

/// The name of a run's private root under `$CODESWARM_HOME/tmp`: `sandbox-<pid>-…`.
const SANDBOX_DIR_KIND: &str = "sandbox-";

pub(crate) struct RunDirs {
    _root: tempfile::TempDir,
    pub work: PathBuf,
    pub tmp: PathBuf,
    pub dev: PathBuf,
}

impl RunDirs {
    pub fn create(job: &Job) -> Result<Self, SandboxError> {
        let base = crate::paths::tmp_dir();
        std::fs::create_dir_all(&base).map_err(io_err(&base))?;
        // Copies a killed run left behind (named with their process id) go first.
        crate::stale_dirs::remove_stale_once(&base, SANDBOX_DIR_KIND);
        let root = tempfile::Builder::new()
            .prefix(&crate::stale_dirs::prefix(SANDBOX_DIR_KIND))
            .tempdir_in(&base)
            .map_err(io_err(&base))?;
        let dirs = RunDirs {
            work: root.path().join("work"),
            tmp: root.path().join("tmp"),
            dev: root.path().join("dev"),
            _root: root,
        };
        for d in [&dirs.work, &dirs.tmp, &dirs.dev] {
            std::fs::create_dir(d).map_err(io_err(d))?;
        }
        let null = dirs.dev.join("null");
        std::fs::write(&null, b"").map_err(io_err(&null))?;
        if let Some(src) = &job.source_dir {
            let mut budget = SOURCE_MAX_BYTES;
            copy_tree(src, &dirs.work, &mut budget)?;
            // A repository's own top-level `tmp/` and `dev/` would be hidden by the guest's
            // `/tmp` and `/dev`: their files go there instead (`dev/null` stays the sandbox's).
            for (name, into) in [("tmp", &dirs.tmp), ("dev", &dirs.dev)] {
                let own = dirs.work.join(name);
                if std::fs::symlink_metadata(&own).is_ok_and(|m| m.is_dir()) {
                    for entry in std::fs::read_dir(&own).map_err(io_err(&own))? {
                        let entry = entry.map_err(io_err(&own))?;
                        if name == "dev" && entry.file_name() == "null" {
                            continue;
                        }
                        let to = into.join(entry.file_name());
                        std::fs::rename(entry.path(), &to).map_err(io_err(&to))?;
                    }
                }
            }
        }
        for (rel, bytes) in &job.files {
            let dest = dirs.work.join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            std::fs::write(&dest, bytes).map_err(io_err(&dest))?;
        }
        Ok(dirs)
    }
}

/// Copy regular files and directories of `src` into `dest`, never following symlinks (they are
/// skipped, as are sockets, fifos and devices) and never copying `.git` (repository metadata the
/// guest has no use for, often larger than the sources).
pub(crate) fn copy_tree(src: &Path, dest: &Path, budget: &mut u64) -> Result<(), SandboxError> {
    let entries = std::fs::read_dir(src).map_err(io_err(src))?;
    for entry in entries {
        let entry = entry.map_err(io_err(src))?;
        let kind = entry.file_type().map_err(io_err(&entry.path()))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        if kind.is_dir() && entry.file_name() == ".git" {
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir(&to).map_err(io_err(&to))?;
            copy_tree(&from, &to, budget)?;
        } else if kind.is_file() {
            let len = entry.metadata().map_err(io_err(&from))?.len();
            *budget = budget.checked_sub(len).ok_or_else(|| {
                SandboxError::Job(format!(
                    "source dir {} is larger than {} MiB",
                    src.display(),
                    SOURCE_MAX_BYTES >> 20
                ))
            })?;
            std::fs::copy(&from, &to).map_err(io_err(&from))?;
        } else {
            tracing::debug!(path = %from.display(), "not copying a symlink or special file into the sandbox");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_skips_symlinks() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("pkg")).unwrap();
        std::fs::write(src.path().join("pkg/a.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.path().join("link")).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let mut budget = 1 << 20;
        copy_tree(src.path(), dest.path(), &mut budget).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.path().join("pkg/a.py")).unwrap(),
            "x = 1\n"
        );
        assert!(std::fs::symlink_metadata(dest.path().join("link")).is_err());
        let mut tiny = 2;
        let dest2 = tempfile::tempdir().unwrap();
        assert!(copy_tree(src.path(), dest2.path(), &mut tiny).is_err());
    }
}
