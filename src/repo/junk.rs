//! Paths that are never worth indexing, ranking or putting into a patch: VCS metadata, bytecode,
//! virtual environments, tool caches and merge leftovers; and [`list_files`], the walk over a
//! worktree that skips them. Paths are repository-relative with `/` separators.

use std::path::Path;

/// Directory names skipped anywhere in the tree.
pub const JUNK_DIRS: &[&str] = &[
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".eggs",
    "node_modules",
    ".idea",
    ".vscode",
];

/// File-name suffixes that are junk.
pub const JUNK_SUFFIXES: &[&str] = &[".pyc", ".pyo", ".orig", ".rej", ".swp", "~", ".DS_Store"];

/// Whether one directory name is junk (also `*.egg-info`).
pub fn is_junk_dir(name: &str) -> bool {
    JUNK_DIRS.contains(&name) || name.ends_with(".egg-info")
}

/// Whether a repository-relative path is junk: any junk directory component, or a junk suffix.
pub fn is_junk_path(path: &str) -> bool {
    let mut components = path.split('/').filter(|c| !c.is_empty()).peekable();
    while let Some(component) = components.next() {
        if components.peek().is_some() {
            if is_junk_dir(component) {
                return true;
            }
        } else {
            return is_junk_dir(component) || JUNK_SUFFIXES.iter().any(|s| component.ends_with(s));
        }
    }
    false
}

/// Repository-relative paths of the regular files under `root` (symlinks are not followed),
/// skipping junk, sorted.
pub fn list_files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let file_type = entry.file_type()?;
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if file_type.is_dir() {
                if !is_junk_dir(&name) {
                    stack.push((entry.path(), child));
                }
            } else if file_type.is_file() && !is_junk_path(&child) {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_paths() {
        assert!(is_junk_path("pkg/__pycache__/mod.cpython-312.pyc"));
        assert!(is_junk_path(".pytest_cache/v/cache/lastfailed"));
        assert!(is_junk_path("pkg/mod.py.orig"));
        assert!(is_junk_path("src/pkg.egg-info/PKG-INFO"));
        assert!(is_junk_path("x.pyc"));
        assert!(!is_junk_path("pkg/mod.py"));
        assert!(!is_junk_path("tests/test_mod.py"));
        assert!(!is_junk_path("docs/venvs.md"));
    }

    #[test]
    fn list_files_skips_junk_dirs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/__pycache__")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("pkg/a.py"), "").unwrap();
        std::fs::write(dir.path().join("pkg/__pycache__/a.pyc"), "").unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "").unwrap();
        std::fs::write(dir.path().join("README.md"), "").unwrap();
        assert_eq!(list_files(dir.path()).unwrap(), ["README.md", "pkg/a.py"]);
    }
}
