//! Modules a patch may not shadow. The tests of a patched repository run with the repository
//! ahead of the runtime on `sys.path`: the work dir (`python -m pytest` puts it first), the
//! spec's `path` dirs, and every directory pytest inserts for a test module or conftest (the
//! first directory above it without an `__init__.py`). A module the patch adds there under the
//! name of a standard-library module or of one of the runner's packages is imported instead of
//! the runtime's own as soon as anything imports that name after start-up (pytest imports the
//! debugger's module, `tomllib` for a `pyproject.toml`, …), and can rewrite test reports.
//!
//! The names come from the runtime itself — its unpacked standard library and its site dir —
//! not from a list: [`RuntimeModules`]. A patch whose changed paths make such a name importable
//! from a directory that may be on `sys.path` (the repository root, a spec path dir, or any
//! directory without an `__init__.py`), where the base revision did not already, is refused:
//! [`new_shadows`]. Built-in and frozen modules (`sys`, `os`, …) resolve before any path entry
//! and cannot be shadowed this way. Inside a regular package (a directory with an
//! `__init__.py`), `pkg/types.py` is `pkg.types` and shadows nothing.

use std::collections::BTreeSet;
use std::path::Path;

use git2::{ObjectType, Repository, Tree};

/// The top-level module names the sandbox's runtime resolves by path.
#[derive(Debug, Clone, Default)]
pub struct RuntimeModules {
    names: BTreeSet<String>,
}

impl RuntimeModules {
    /// The module names in `dirs` (module files, `.pyc` files, packages).
    pub fn read(dirs: &[std::path::PathBuf]) -> std::io::Result<RuntimeModules> {
        let mut names = BTreeSet::new();
        for dir in dirs {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let is_dir = entry.file_type()?.is_dir();
                if let Some(n) = module_name(&entry.file_name().to_string_lossy(), is_dir) {
                    names.insert(n.to_string());
                }
            }
        }
        Ok(RuntimeModules { names })
    }

    /// The standard library and runner packages of an opened sandbox.
    pub fn of_sandbox(sandbox: &crate::sandbox::Sandbox) -> std::io::Result<RuntimeModules> {
        let p = sandbox.paths();
        RuntimeModules::read(&[p.stdlib(), p.site()])
    }

    /// A set of the given names (for tests and callers with their own runtime).
    pub fn from_names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> RuntimeModules {
        RuntimeModules {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The module a directory entry provides: `x` for `x.py`, `x.pyc`, `x.cpython-312-….so` and for
/// a directory `x`; `None` for anything else (data files, `__pycache__`, `*.dist-info`).
fn module_name(entry: &str, is_dir: bool) -> Option<&str> {
    let name = if is_dir {
        entry
    } else {
        let stem = entry
            .strip_suffix(".py")
            .or_else(|| entry.strip_suffix(".pyc"))
            .or_else(|| entry.strip_suffix(".pyw"))
            .or_else(|| {
                entry
                    .strip_suffix(".so")
                    .map(|s| s.split('.').next().unwrap_or(s))
            })?;
        stem
    };
    let ident = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    (ident && name != "__pycache__" && name != "__init__").then_some(name)
}

/// Where the patched tree and the base tree are read.
pub struct Trees<'a> {
    pub repo: &'a Repository,
    pub base: &'a Tree<'a>,
    pub worktree: &'a Path,
    /// Repository dirs always on `sys.path` besides the root (the spec's `path`).
    pub roots: &'a [String],
}

impl Trees<'_> {
    fn is_root(&self, dir: &str) -> bool {
        dir.is_empty() || self.roots.iter().any(|r| norm_dir(r) == dir)
    }

    /// Whether `dir` may be on `sys.path` in the patched tree.
    fn import_dir_now(&self, dir: &str) -> bool {
        if self.is_root(dir) {
            return true;
        }
        let init = self.worktree.join(dir).join("__init__.py");
        std::fs::symlink_metadata(init).is_err()
    }

    /// Whether `dir` may have been on `sys.path` at the base.
    fn import_dir_at_base(&self, dir: &str) -> bool {
        if self.is_root(dir) {
            return true;
        }
        self.base
            .get_path(&Path::new(dir).join("__init__.py"))
            .is_err()
    }

    /// The module names the base tree's `dir` provides.
    fn base_modules(&self, dir: &str) -> BTreeSet<String> {
        let sub;
        let tree = if dir.is_empty() {
            self.base
        } else {
            match self
                .base
                .get_path(Path::new(dir))
                .ok()
                .filter(|e| e.kind() == Some(ObjectType::Tree))
                .and_then(|e| e.to_object(self.repo).ok())
                .and_then(|o| o.into_tree().ok())
            {
                Some(t) => {
                    sub = t;
                    &sub
                }
                None => return BTreeSet::new(),
            }
        };
        tree.iter()
            .filter_map(|e| {
                let name = e.name()?;
                module_name(name, e.kind() == Some(ObjectType::Tree)).map(str::to_string)
            })
            .collect()
    }
}

fn norm_dir(d: &str) -> &str {
    let d = d.trim_start_matches("./").trim_matches('/');
    if d == "." {
        ""
    } else {
        d
    }
}

/// Refusals for the runtime modules the patch newly shadows: one message per shadowing entry.
pub fn new_shadows(trees: &Trees<'_>, changed: &[String], modules: &RuntimeModules) -> Vec<String> {
    // (dir, entry as named in the tree, module name)
    let mut candidates: BTreeSet<(String, String, String)> = BTreeSet::new();
    for path in changed {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for i in 0..parts.len() {
            let dir = parts[..i].join("/");
            let entry = parts[i];
            let is_dir = i + 1 < parts.len();
            if let Some(m) = module_name(entry, is_dir) {
                candidates.insert((dir, entry.to_string(), m.to_string()));
            }
        }
        // A removed `__init__.py` turns its directory into a possible `sys.path` entry: every
        // module in it is a candidate.
        if parts.last() == Some(&"__init__.py") {
            let dir = parts[..parts.len() - 1].join("/");
            if let Ok(read) = std::fs::read_dir(trees.worktree.join(&dir)) {
                for entry in read.flatten() {
                    let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if let Some(m) = module_name(&name, is_dir) {
                        candidates.insert((dir.clone(), name.clone(), m.to_string()));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (dir, entry, module) in candidates {
        if !modules.contains(&module) || !trees.import_dir_now(&dir) {
            continue;
        }
        let rel = if dir.is_empty() {
            entry.clone()
        } else {
            format!("{dir}/{entry}")
        };
        if std::fs::symlink_metadata(trees.worktree.join(&rel)).is_err() {
            continue; // deleted by the patch
        }
        if trees.import_dir_at_base(&dir) && trees.base_modules(&dir).contains(&module) {
            continue; // the base revision already provides it there
        }
        out.push(format!(
            "`{rel}` would be imported instead of the runtime's own `{module}` module (standard library or test runner); rename it or move it into a package"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A base commit with `files`, then `patched` applied to the worktree; the refusals.
    fn shadows(files: &[&str], patched: &[&str], removed: &[&str], roots: &[&str]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            write(dir.path(), f, "x = 1\n");
        }
        git(dir.path(), &["init", "-q"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "base"]);
        for f in patched {
            write(dir.path(), f, "y = 2\n");
        }
        for f in removed {
            std::fs::remove_file(dir.path().join(f)).unwrap();
        }
        let repo = Repository::open(dir.path()).unwrap();
        let base = repo.head().unwrap().peel_to_tree().unwrap();
        let roots: Vec<String> = roots.iter().map(|s| s.to_string()).collect();
        let trees = Trees {
            repo: &repo,
            base: &base,
            worktree: dir.path(),
            roots: &roots,
        };
        let changed: Vec<String> = patched
            .iter()
            .chain(removed)
            .map(|s| s.to_string())
            .collect();
        let modules =
            RuntimeModules::from_names(["pdb", "tomllib", "types", "pytest", "_pytest", "json"]);
        new_shadows(&trees, &changed, &modules)
    }

    #[test]
    fn module_names_of_entries() {
        assert_eq!(module_name("pdb.py", false), Some("pdb"));
        assert_eq!(module_name("pdb.pyc", false), Some("pdb"));
        assert_eq!(
            module_name("_ssl.cpython-312-wasm32-wasi.so", false),
            Some("_ssl")
        );
        assert_eq!(module_name("asyncio", true), Some("asyncio"));
        assert_eq!(module_name("pytest-8.3.5.dist-info", true), None);
        assert_eq!(module_name("__pycache__", true), None);
        assert_eq!(module_name("README.md", false), None);
        assert_eq!(module_name("__init__.py", false), None);
    }

    #[test]
    fn new_top_level_shadows_are_refused_wherever_sys_path_may_reach() {
        let base = [
            "calc.py",
            "tests/test_calc.py",
            "pkg/__init__.py",
            "src/lib/__init__.py",
        ];
        // The repository root.
        assert_eq!(shadows(&base, &["pdb.py"], &[], &[]).len(), 1);
        assert_eq!(shadows(&base, &["tomllib/__init__.py"], &[], &[]).len(), 1);
        assert_eq!(shadows(&base, &["_pytest/hooks.py"], &[], &[]).len(), 1);
        // A test dir without __init__.py (pytest inserts it).
        assert_eq!(shadows(&base, &["tests/pdb.py"], &[], &[]).len(), 1);
        // A spec path dir, even with an __init__.py.
        assert_eq!(
            shadows(&base, &["src/lib/json.py"], &[], &["src/lib"]).len(),
            1
        );
        // Inside a regular package: pkg.types, no shadow.
        assert!(shadows(&base, &["pkg/types.py"], &[], &[]).is_empty());
        // Names the runtime does not provide.
        assert!(shadows(&base, &["helpers.py", "tests/util.py"], &[], &[]).is_empty());
    }

    #[test]
    fn what_the_base_already_provides_is_not_the_patchs_doing() {
        // pytest's own repository: src/_pytest exists at the base.
        let base = [
            "src/_pytest/python.py",
            "src/pytest/__init__.py",
            "testing/test_x.py",
        ];
        assert!(shadows(
            &base,
            &["src/_pytest/python.py", "src/_pytest/new.py"],
            &[],
            &["src"]
        )
        .is_empty());
        // Removing a package's __init__.py exposes its modules.
        let base = ["pkg/__init__.py", "pkg/types.py"];
        let out = shadows(&base, &[], &["pkg/__init__.py"], &[]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].contains("pkg/types.py"), "{out:?}");
    }
}
