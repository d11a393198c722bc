//! The size bound of the snapshot directory: each snapshot is ~11 MB and the key covers the
//! job's full environment, so a batch over many repositories (each SWE-bench spec sets its own
//! variables) would otherwise grow `snapshots/` without end. After a new snapshot is stored,
//! the least recently used ones (by modification time, which a load refreshes) are removed
//! until the directory's snapshots fit the bound; the one just stored is always kept. A
//! removed snapshot is only a cost, never a wrong result: the next job of that shape takes it
//! again.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::sandbox::module_cache::sidecar;

/// Default bound of the snapshot directory (about 45 snapshots).
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

/// Marks `path` as just used (its modification time), so that pruning keeps it longest.
pub fn touch(path: &Path) {
    let now = SystemTime::now();
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(now);
    }
}

/// Removes the least recently used `pytest-*.img` files (and their checksum sidecars) under
/// `dir` until the rest take at most `max_bytes`; never `keep`. Returns the files removed.
pub fn prune(dir: &Path, max_bytes: u64, keep: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = read
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("pytest-") && name.ends_with(".img")
        })
        // Plain files only: never follow a link out of the cache.
        .filter_map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).ok()?;
            meta.is_file().then(|| {
                (
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    meta.len(),
                    e.path(),
                )
            })
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    // Oldest first; ties by name so the order is stable.
    files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
    let mut removed = Vec::new();
    for (_, len, path) in files {
        if total <= max_bytes {
            break;
        }
        if path == keep {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            let _ = std::fs::remove_file(sidecar(&path));
            total -= len;
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn file(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![0u8; len]).unwrap();
        std::fs::write(sidecar(&p), "x\n").unwrap();
        let t = SystemTime::now() - Duration::from_secs(age_s);
        std::fs::File::options()
            .append(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
        p
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_new_one_stays() {
        let d = tempfile::tempdir().unwrap();
        let old = file(d.path(), "pytest-a.img", 100, 300);
        let used = file(d.path(), "pytest-b.img", 100, 400);
        let mid = file(d.path(), "pytest-c.img", 100, 200);
        let new = file(d.path(), "pytest-d.img", 100, 500);
        let other = file(d.path(), "notes.img", 1000, 900);
        // A load refreshes `used`; `new` was just stored (its time does not matter).
        touch(&used);
        let removed = prune(d.path(), 250, &new);
        assert_eq!(removed, vec![old.clone(), mid.clone()]);
        assert!(!old.exists() && !sidecar(&old).exists());
        assert!(!mid.exists());
        assert!(used.exists() && new.exists() && sidecar(&new).exists());
        assert!(other.exists(), "only pytest-*.img files are the snapshots'");
        // Within the bound: nothing to do.
        assert!(prune(d.path(), 250, &new).is_empty());
        // The kept file alone over the bound: everything else goes, it stays.
        assert_eq!(prune(d.path(), 10, &new), vec![used.clone()]);
        assert!(new.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_the_directory_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = file(outside.path(), "pytest-z.img", 1000, 900);
        std::os::unix::fs::symlink(&target, d.path().join("pytest-l.img")).unwrap();
        let new = file(d.path(), "pytest-n.img", 10, 0);
        prune(d.path(), 0, &new);
        assert!(
            target.exists(),
            "the link's target is not the cache's to remove"
        );
    }
}
