//! Before a run: put cached bytecode beside the `.py` files the host has just copied into the
//! work dir (the guest has not run yet, so what is read there is what the host wrote), and
//! record each file's digest for checking the run's hints afterwards.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{guest_name, pyc_bytes, pytest_rewrites, BytecodeCache, Kind};

/// Work-dir-relative path (`/`-separated) of each `.py` file copied in, with its sha256.
pub type SourceIndex = HashMap<String, [u8; 32]>;

/// Most `.py` files indexed in one work dir (the rest run without cached bytecode).
pub const MAX_FILES: usize = 50_000;

/// Index every `.py` file under `work` and place the cached bytecode of those that have some.
/// Best effort: a file that cannot be read or written is left to the guest to compile.
pub fn place_all(work: &Path, cache: &BytecodeCache) -> SourceIndex {
    let mut index = SourceIndex::new();
    let mut placed = 0usize;
    walk(work, "", cache, &mut index, &mut placed);
    tracing::debug!(
        files = index.len(),
        placed,
        "bytecode cache: placed cached bytecode in the work dir"
    );
    index
}

fn walk(
    dir: &Path,
    prefix: &str,
    cache: &BytecodeCache,
    index: &mut SourceIndex,
    placed: &mut usize,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if index.len() >= MAX_FILES {
            return;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        if kind.is_dir() && name != "__pycache__" {
            walk(&entry.path(), &rel, cache, index, placed);
        } else if kind.is_file() && name.ends_with(".py") {
            *placed += place_one(&entry.path(), &rel, name, cache, index);
        }
    }
}

/// Index one file; returns how many `.pyc` were written for it.
fn place_one(
    path: &Path,
    rel: &str,
    name: &str,
    cache: &BytecodeCache,
    index: &mut SourceIndex,
) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    index.insert(rel.to_string(), sha);
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let guest = guest_name(rel);
    let mut written = 0;
    for kind in kinds(name) {
        let Some(payload) = cache.get(&cache.key(kind, &guest, &sha)) else {
            continue;
        };
        let Some(parent) = path.parent() else {
            continue;
        };
        let pycache = parent.join("__pycache__");
        let pyc = pycache.join(cache.pyc_name(name, kind));
        let ok = std::fs::create_dir_all(&pycache)
            .and_then(|()| std::fs::write(&pyc, pyc_bytes(&payload, mtime, meta.len())));
        match ok {
            Ok(()) => written += 1,
            Err(e) => {
                tracing::debug!(pyc = %pyc.display(), error = %e, "could not place cached bytecode")
            }
        }
    }
    written
}

/// The kinds of bytecode kept for a file named `name`.
pub fn kinds(name: &str) -> Vec<Kind> {
    if pytest_rewrites(name) {
        vec![Kind::Plain, Kind::Rewritten]
    } else {
        vec![Kind::Plain]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_sources_and_places_cached_entries() {
        let root = tempfile::tempdir().unwrap();
        let cache = BytecodeCache::new(&root.path().join("cache"), "env", "8.3.5");
        let work = root.path().join("work");
        std::fs::create_dir_all(work.join("pkg")).unwrap();
        std::fs::write(work.join("pkg/mod.py"), "x = 1\n").unwrap();
        std::fs::write(work.join("test_a.py"), "def test(): pass\n").unwrap();
        std::fs::write(work.join("notes.txt"), "").unwrap();
        let sha: [u8; 32] = Sha256::digest(b"x = 1\n").into();
        cache
            .put(&cache.key(Kind::Plain, "/pkg/mod.py", &sha), b"MAGIcode")
            .unwrap();

        let index = place_all(&work, &cache);
        assert_eq!(index.len(), 2);
        assert_eq!(index["pkg/mod.py"], sha);
        let pyc = std::fs::read(work.join("pkg/__pycache__/mod.cpython-312.pyc")).unwrap();
        assert_eq!(&pyc[..4], b"MAGI");
        assert_eq!(&pyc[12..16], &6u32.to_le_bytes(), "the source's size");
        assert_eq!(&pyc[16..], b"code");
        // No entry for the test module: nothing placed.
        assert!(!work.join("__pycache__").exists());
        assert_eq!(kinds("test_a.py"), vec![Kind::Plain, Kind::Rewritten]);
    }
}
