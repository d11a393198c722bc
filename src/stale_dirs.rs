//! Temporary directories that carry their owner's process id, and the removal of those a
//! killed process left behind. A sandbox run's copy of a repository
//! (`$CODESWARM_HOME/tmp/sandbox-<pid>-…`, up to 256 MiB) and `check`'s worktree
//! (`$TMPDIR/codeswarm-wt-<pid>-…`) are removed when dropped, but `kill -9` skips that. So each
//! is named with the creating process's id ([`prefix`]), and the first time a process makes
//! one in a directory it removes the directories of that kind whose process is gone
//! ([`remove_stale_once`]). A directory is only removed when its name has the exact shape,
//! it is a real directory (not a link) owned by this user, and no process with its id exists;
//! a recycled id keeps a stale directory until that process ends too (never the reverse).
//! Directories named without a process id (older codeswarm versions) are left alone.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The name prefix for a new directory of `kind` (e.g. `sandbox-`) made by this process:
/// `sandbox-<pid>-`; `tempfile` appends the random part.
pub fn prefix(kind: &str) -> String {
    format!("{kind}{}-", std::process::id())
}

/// The process id in `name`, when it is `<kind><pid>-<rest>`.
fn owner_pid(name: &str, kind: &str) -> Option<u32> {
    let rest = name.strip_prefix(kind)?;
    let (pid, tail) = rest.split_once('-')?;
    if pid.is_empty() || tail.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with id `pid` exists (a process of another user counts).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return true;
        }
        // SAFETY: signal 0 only checks that the process exists.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return true;
        }
        std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Remove the directories of `kind` in `dir` whose owning process is gone; returns how many.
pub fn remove_stale(dir: &Path, kind: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    #[cfg(unix)]
    let uid = unsafe { libc::geteuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| owner_pid(n, kind)) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.uid() != uid {
                continue;
            }
        }
        if !meta.is_dir() || pid == std::process::id() || alive(pid) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::debug!(dir = %entry.path().display(), error = %e, "could not remove a stale directory")
            }
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), kind, removed, "removed directories a killed codeswarm left behind");
    }
    removed
}

/// [`remove_stale`], once per process for each (`dir`, `kind`).
pub fn remove_stale_once(dir: &Path, kind: &str) {
    static DONE: Mutex<Option<HashSet<(PathBuf, String)>>> = Mutex::new(None);
    let key = (dir.to_path_buf(), kind.to_string());
    {
        let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
        if !done.get_or_insert_with(HashSet::new).insert(key) {
            return;
        }
    }
    remove_stale(dir, kind);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid_and_only_dead_owners_dirs_go() {
        assert_eq!(owner_pid("sandbox-123-abc", "sandbox-"), Some(123));
        assert_eq!(owner_pid("sandbox-abc", "sandbox-"), None);
        assert_eq!(owner_pid("sandbox-12", "sandbox-"), None);
        assert_eq!(owner_pid("codeswarm-wt-1-x", "sandbox-"), None);
        assert!(prefix("sandbox-").starts_with(&format!("sandbox-{}-", std::process::id())));

        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join("sandbox-2147483646-aaaa");
        let live = d.path().join(format!("{}x", prefix("sandbox-")));
        let old_style = d.path().join("sandbox-abcdef");
        let other_kind = d.path().join("codeswarm-wt-2147483646-aaaa");
        for p in [&dead, &live, &old_style, &other_kind] {
            std::fs::create_dir(p).unwrap();
            std::fs::write(p.join("f"), "x").unwrap();
        }
        assert_eq!(remove_stale(d.path(), "sandbox-"), 1);
        assert!(!dead.exists());
        assert!(live.exists() && old_style.exists() && other_kind.exists());
    }
}
