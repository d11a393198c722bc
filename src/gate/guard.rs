//! What a patch may not do to its judge. The gate assumes every patch is hostile:
//!
//! - **Links**: a patch that creates a symbolic link (`new file mode 120000`, or `new mode
//!   120000` on an existing file) whose target is absolute or leaves the repository is refused
//!   before anything is applied; after applying, no changed path may be a link that leaves the
//!   worktree, and host-side steps read changed files without following links.
//! - **Shadowed modules**: a patch that adds a module named like one of the runtime's own
//!   (standard library, test runner) where `sys.path` may reach it is refused
//!   ([`super::shadow`]).
//! - **Test configuration**: files that steer pytest (`conftest.py` anywhere, `pytest.ini`,
//!   `tox.ini`, `setup.cfg`, `pyproject.toml`, `sitecustomize.py`, `usercustomize.py`, and the
//!   `__init__.py` of a test package) are put back to their base revision (removed when the base
//!   lacks them) before the tests run, and reported; `--allow-test-config` keeps the patch's
//!   versions.
//! - **Named tests**: a named test file that exists at the base revision, and whose named tests
//!   all exist there, runs as it is at the base: the patch cannot rewrite the test that judges
//!   it. A file in which the patch adds a named test runs as patched, and the report says so.
//! - **Existing tests** (no tests named): a test file the patch changes that exists at the base
//!   runs as it is at the base, so the patch may only add tests; `--allow-test-edits` runs the
//!   patch's version.

use std::path::{Component, Path, PathBuf};

use git2::{Repository, Tree};

use super::shadow::RuntimeModules;
use crate::repo::checkout::Worktree;
use crate::repo::patch::{apply_patch, ApplyReport, PatchError};

/// Test-configuration file names, wherever they are.
const CONFIG_NAMES: &[&str] = &[
    "conftest.py",
    "pytest.ini",
    ".pytest.ini",
    "tox.ini",
    "setup.cfg",
    "pyproject.toml",
    "sitecustomize.py",
    "usercustomize.py",
];

/// Whether `path` (repository-relative) is a test-configuration file by its name.
pub fn is_test_config(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    CONFIG_NAMES.contains(&name)
}

/// Whether a directory name says it holds tests.
fn is_test_dir_name(name: &str) -> bool {
    matches!(name, "test" | "tests" | "testing")
        || name.starts_with("test_")
        || name.ends_with("_test")
        || name.ends_with("_tests")
}

/// Whether `path` is the `__init__.py` of a test package: a directory named like one (`tests`,
/// `test_x`, …) or one that directly holds a test file or a conftest, in the patched worktree or
/// at the base. pytest imports it with the tests, so it can steer them like a conftest.
pub fn is_test_package_init(
    path: &str,
    worktree: &Path,
    repo: &Repository,
    base: &Tree<'_>,
) -> bool {
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", path),
    };
    if name != "__init__.py" {
        return false;
    }
    if is_test_dir_name(dir.rsplit('/').next().unwrap_or(dir)) {
        return true;
    }
    let holds_tests = |n: &str| super::is_test_file(n) || n == "conftest.py";
    let now = std::fs::read_dir(worktree.join(dir))
        .map(|rd| {
            rd.flatten()
                .any(|e| holds_tests(&e.file_name().to_string_lossy()))
        })
        .unwrap_or(false);
    let at_base = || {
        let sub = if dir.is_empty() {
            Some(base.clone())
        } else {
            base.get_path(Path::new(dir))
                .ok()
                .and_then(|e| e.to_object(repo).ok())
                .and_then(|o| o.into_tree().ok())
        };
        sub.is_some_and(|t| t.iter().any(|e| e.name().is_some_and(holds_tests)))
    };
    now || at_base()
}

/// The symbolic links a patch creates, with their targets: (path, target).
pub fn links_in_patch(patch: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    let mut is_link = false;
    let mut in_hunk = false;
    let mut target: Option<String> = None;
    let mut flush = |path: &Option<String>, is_link: bool, target: &Option<String>| {
        if let (Some(p), true) = (path, is_link) {
            out.push((p.clone(), target.clone().unwrap_or_default()));
        }
    };
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            flush(&path, is_link, &target);
            path = rest
                .split_once(" b/")
                .map(|(_, b)| b.to_string())
                .or_else(|| Some(rest.to_string()));
            is_link = false;
            in_hunk = false;
            target = None;
        } else if !in_hunk
            && (line.starts_with("new file mode 120000") || line.starts_with("new mode 120000"))
        {
            is_link = true;
        } else if line.starts_with("@@") {
            in_hunk = true;
        } else if in_hunk && is_link && line.starts_with('+') && target.is_none() {
            target = Some(line[1..].to_string());
        }
    }
    flush(&path, is_link, &target);
    out
}

/// Whether a link at `link` (repository-relative) pointing to `target` stays inside the
/// repository.
pub fn link_stays_inside(link: &str, target: &str) -> bool {
    if target.is_empty() || Path::new(target).is_absolute() || target.contains('\0') {
        return false;
    }
    let mut depth: i64 = link.split('/').count() as i64 - 1;
    for c in Path::new(target).components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Refusals for links the patch text creates that leave the repository.
pub fn unsafe_links(patch: &str) -> Vec<String> {
    links_in_patch(patch)
        .into_iter()
        .filter(|(p, t)| !link_stays_inside(p, t))
        .map(|(p, t)| {
            format!("the patch makes {p} a symbolic link to `{t}`, outside the repository")
        })
        .collect()
}

/// After applying: changed paths that are links leaving the worktree.
pub fn escaping_links(worktree: &Path, paths: &[String]) -> Vec<String> {
    let root = match worktree.canonicalize() {
        Ok(r) => r,
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    for p in paths {
        let full = worktree.join(p);
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            continue;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let target = std::fs::read_link(&full).unwrap_or_default();
        let inside = full
            .canonicalize()
            .map(|t| t.starts_with(&root))
            .unwrap_or(false)
            && link_stays_inside(p, &target.to_string_lossy());
        if !inside {
            out.push(format!(
                "{p} is a symbolic link to `{}`, outside the repository",
                target.display()
            ));
        }
    }
    out
}

/// Why a patch nobody vouches for was not applied ([`apply_guarded`]).
#[derive(Debug, thiserror::Error)]
pub enum GuardedApplyError {
    /// Links leaving the repository, in the patch text or in what applying it left.
    #[error("the patch is refused: {0}")]
    Refused(String),
    /// The patch does not apply.
    #[error(transparent)]
    NotApplied(#[from] PatchError),
}

/// Apply a hostile patch to `worktree`, as the gate and `evaluate` do: refused before anything
/// is written when its text makes a link leaving the repository ([`unsafe_links`]); applied with
/// [`apply_patch`]; refused when a path it touched is then a link leaving the worktree
/// ([`escaping_links`]; the worktree then holds the patch: throw it away).
pub fn apply_guarded(worktree: &Path, patch: &str) -> Result<ApplyReport, GuardedApplyError> {
    let links = unsafe_links(patch);
    if !links.is_empty() {
        return Err(GuardedApplyError::Refused(links.join("; ")));
    }
    let applied = apply_patch(worktree, patch)?;
    let links = escaping_links(worktree, &super::changed_paths(&applied.files));
    if !links.is_empty() {
        return Err(GuardedApplyError::Refused(links.join("; ")));
    }
    Ok(applied)
}

/// Read a worktree file without following a link at its place (links are refused as
/// unreadable).
pub fn read_no_follow(worktree: &Path, rel: &str) -> std::io::Result<Vec<u8>> {
    let full = worktree.join(rel);
    // Every component under the worktree must be a plain dir or file.
    let mut cur = PathBuf::from(worktree);
    for c in Path::new(rel).components() {
        cur.push(c);
        let meta = std::fs::symlink_metadata(&cur)?;
        if meta.file_type().is_symlink() {
            return Err(std::io::Error::other(format!(
                "{} is a symbolic link; it is not followed",
                cur.strip_prefix(worktree).unwrap_or(&cur).display()
            )));
        }
    }
    std::fs::read(full)
}

/// Put `rel` back to its content in `tree` (or remove it when `tree` lacks it).
fn restore(repo: &Repository, tree: &Tree<'_>, worktree: &Path, rel: &str) -> Result<(), String> {
    let full = worktree.join(rel);
    if let Ok(meta) = std::fs::symlink_metadata(&full) {
        if meta.is_dir() {
            std::fs::remove_dir_all(&full).map_err(|e| format!("removing {rel}: {e}"))?;
        } else {
            std::fs::remove_file(&full).map_err(|e| format!("removing {rel}: {e}"))?;
        }
    }
    match tree.get_path(Path::new(rel)) {
        Ok(entry) => {
            let obj = entry
                .to_object(repo)
                .map_err(|e| format!("reading {rel} at the base: {}", e.message()))?;
            if let Some(blob) = obj.as_blob() {
                if let Some(dir) = full.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                std::fs::write(&full, blob.content())
                    .map_err(|e| format!("restoring {rel}: {e}"))?;
            }
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// Whether `text` defines every test named by `leaves`.
fn defines_all(text: &str, leaves: &[&str]) -> bool {
    leaves.iter().all(|leaf| {
        let name = leaf.split('[').next().unwrap_or(leaf);
        text.contains(&format!("def {name}("))
    })
}

/// What the guard must protect, and what the user allowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct JudgeGuard<'a> {
    /// Named tests (`check --tests`, an instance's FAIL_TO_PASS and PASS_TO_PASS): their files
    /// run as at the base when all their named tests exist there.
    pub named: Option<&'a [String]>,
    /// Test files the patch changes that exist at the base run as at the base (the gate
    /// without named tests), unless `allow_test_edits`.
    pub existing_tests_at_base: bool,
    pub allow_test_edits: bool,
    /// Keep the patch's test configuration.
    pub allow_test_config: bool,
    /// The runtime's own modules; `None` skips the shadowing check (no runtime to read them
    /// from: a caller with its own test executor).
    pub modules: Option<&'a RuntimeModules>,
    /// Repository dirs always on `sys.path` besides the root (the spec's `path`).
    pub roots: &'a [String],
}

/// What the guard changed before the tests ran, and why the patch is refused, if it is.
#[derive(Debug, Default)]
pub struct Guarded {
    /// Notes for the report.
    pub notes: Vec<String>,
    /// Reasons the patch must not be judged at all (it fails).
    pub refusals: Vec<String>,
}

/// [`protect_judge`] over a checked-out worktree, against its base commit.
pub fn protect_worktree(
    worktree: &Worktree,
    changed: &[String],
    guard: &JudgeGuard<'_>,
) -> Result<Guarded, String> {
    let repo = worktree
        .open()
        .map_err(|e| format!("opening the worktree: {}", e.message()))?;
    protect_judge(
        &repo,
        worktree.base_commit(),
        worktree.path(),
        changed,
        guard,
    )
}

/// Refuse a patch that shadows the runtime's modules; put test configuration back to the base
/// (unless `allow_test_config`), named test files whose named tests all exist at the base back
/// to their base content, and (without named tests) existing test files back to the base
/// (unless `allow_test_edits`). `changed`: the paths the patch touched (old paths of renames
/// included).
pub fn protect_judge(
    repo: &Repository,
    base: git2::Oid,
    worktree: &Path,
    changed: &[String],
    guard: &JudgeGuard<'_>,
) -> Result<Guarded, String> {
    let tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .map_err(|e| format!("reading the base tree: {}", e.message()))?;
    let mut g = Guarded::default();
    if let Some(modules) = guard.modules {
        let trees = super::shadow::Trees {
            repo,
            base: &tree,
            worktree,
            roots: guard.roots,
        };
        g.refusals
            .extend(super::shadow::new_shadows(&trees, changed, modules));
        if !g.refusals.is_empty() {
            return Ok(g);
        }
    }
    let config: Vec<&String> = changed
        .iter()
        .filter(|p| is_test_config(p) || is_test_package_init(p, worktree, repo, &tree))
        .collect();
    let list = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    if !config.is_empty() {
        if guard.allow_test_config {
            g.notes.push(format!(
                "the patch changes test configuration, used as patched (--allow-test-config): {}",
                list(&config)
            ));
        } else {
            for p in &config {
                restore(repo, &tree, worktree, p)?;
            }
            g.notes.push(format!(
                "the patch changes test configuration; the tests ran with the base revision's instead: {} (--allow-test-config uses the patch's)",
                list(&config)
            ));
        }
    }
    if let Some(named) = guard.named {
        protect_named(repo, &tree, worktree, changed, named, &mut g)?;
    } else if guard.existing_tests_at_base {
        let edited: Vec<&String> = changed
            .iter()
            .filter(|p| super::is_test_file(p) && tree.get_path(Path::new(p.as_str())).is_ok())
            .collect();
        if !edited.is_empty() {
            if guard.allow_test_edits {
                g.notes.push(format!(
                    "the patch changes existing test files, run as patched (--allow-test-edits): {}",
                    list(&edited)
                ));
            } else {
                for p in &edited {
                    restore(repo, &tree, worktree, p)?;
                }
                g.notes.push(format!(
                    "the patch changes existing test files; they ran as they are at the base revision (a patch may only add tests; --allow-test-edits runs the patch's version): {}",
                    list(&edited)
                ));
            }
        }
    }
    Ok(g)
}

/// Named test files the patch changed go back to the base when all their named tests exist
/// there.
fn protect_named(
    repo: &Repository,
    tree: &Tree<'_>,
    worktree: &Path,
    changed: &[String],
    named: &[String],
    g: &mut Guarded,
) -> Result<(), String> {
    let mut files: Vec<(String, Vec<&str>)> = Vec::new();
    for t in named {
        let t = t.trim_start_matches("./");
        let (file, leaf) = match t.split_once("::") {
            Some((f, rest)) => (f, Some(rest.rsplit("::").next().unwrap_or(rest))),
            None => (t, None),
        };
        if !changed.iter().any(|c| c == file) {
            continue;
        }
        match files.iter_mut().find(|(f, _)| f == file) {
            Some((_, leaves)) => leaves.extend(leaf),
            None => files.push((file.to_string(), leaf.into_iter().collect())),
        }
    }
    for (file, leaves) in files {
        let Ok(entry) = tree.get_path(Path::new(&file)) else {
            continue;
        };
        let base_text = entry
            .to_object(repo)
            .ok()
            .and_then(|o| {
                o.as_blob()
                    .map(|b| String::from_utf8_lossy(b.content()).into_owned())
            })
            .unwrap_or_default();
        if defines_all(&base_text, &leaves) {
            restore(repo, tree, worktree, &file)?;
            g.notes.push(format!(
                "the patch changes the named test file {file}; its tests ran as they are at the base revision"
            ));
        } else {
            g.notes.push(format!(
                "the patch changes the named test file {file} and adds named tests to it; it ran as patched"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_configuration_is_recognised_by_name() {
        for p in [
            "conftest.py",
            "tests/conftest.py",
            "pytest.ini",
            "setup.cfg",
            "pyproject.toml",
            "sitecustomize.py",
        ] {
            assert!(is_test_config(p), "{p}");
        }
        for p in [
            "calc.py",
            "tests/test_calc.py",
            "src/pytest_helpers.py",
            "pytest_x.py",
            "pyx.py",
            // Shadowing the runner is the shadow check's job (it reads the runtime's names).
            "pytest.py",
        ] {
            assert!(!is_test_config(p), "{p}");
        }
    }

    #[test]
    fn links_leaving_the_repository_are_found_in_the_patch_text() {
        let patch = "diff --git a/env_leak.py b/env_leak.py\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/env_leak.py\n@@ -0,0 +1 @@\n+/proc/self/environ\n\\ No newline at end of file\ndiff --git a/calc.py b/calc.py\nold mode 100644\nnew mode 120000\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1 @@\n-def add(a, b):\n-    return a + b\n+../../etc/passwd\ndiff --git a/docs/link b/docs/link\nnew file mode 120000\n--- /dev/null\n+++ b/docs/link\n@@ -0,0 +1 @@\n+../README.md\n";
        let links = links_in_patch(patch);
        assert_eq!(links.len(), 3, "{links:?}");
        let bad = unsafe_links(patch);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("env_leak.py") && bad[0].contains("/proc/self/environ"));
        assert!(bad[1].contains("calc.py"));
    }

    #[test]
    fn guarded_apply_refuses_leaving_links_before_writing_and_names_what_does_not_apply() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
        let repo = Repository::init(d).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("calc.py")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        let leak = "diff --git a/env_leak.py b/env_leak.py\nnew file mode 120000\n--- /dev/null\n+++ b/env_leak.py\n@@ -0,0 +1 @@\n+/proc/self/environ\n\\ No newline at end of file\n";
        match apply_guarded(d, leak) {
            Err(GuardedApplyError::Refused(why)) => assert!(why.contains("env_leak.py"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(std::fs::symlink_metadata(d.join("env_leak.py")).is_err());
        let stale = "diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ b/gone.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";
        match apply_guarded(d, stale) {
            Err(GuardedApplyError::NotApplied(e)) => {
                assert!(e.to_string().contains("gone.py"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let fix = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b\n+    return b + a\n";
        let applied = apply_guarded(d, fix).unwrap();
        assert_eq!(applied.files[0].path, "calc.py");
        assert!(std::fs::read_to_string(d.join("calc.py"))
            .unwrap()
            .contains("b + a"));
    }

    #[test]
    fn link_targets_are_judged_by_their_depth() {
        assert!(link_stays_inside("a/b/link", "../c.py"));
        assert!(link_stays_inside("link", "a/./b"));
        assert!(!link_stays_inside("link", "../x"));
        assert!(!link_stays_inside("a/link", "../../x"));
        assert!(!link_stays_inside("a/link", "/etc/passwd"));
        assert!(!link_stays_inside("a/link", ""));
    }

    #[test]
    fn reads_never_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("leak.py")).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("e")).unwrap();
        assert_eq!(read_no_follow(dir.path(), "real.py").unwrap(), b"x = 1\n");
        assert!(read_no_follow(dir.path(), "leak.py").is_err());
        assert!(read_no_follow(dir.path(), "e/passwd").is_err());
        let esc = escaping_links(dir.path(), &["leak.py".into(), "real.py".into()]);
        assert_eq!(esc.len(), 1);
    }

    #[test]
    fn test_package_inits_are_told_from_source_package_inits() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (f, t) in [
            ("pkg/__init__.py", ""),
            ("pkg/core.py", ""),
            ("spec/test_x.py", ""),
            ("checks/conftest.py", ""),
        ] {
            std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
            std::fs::write(d.join(f), t).unwrap();
        }
        let repo = Repository::init(d).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        // Named like a test dir.
        assert!(is_test_package_init("tests/__init__.py", d, &repo, &tree));
        assert!(is_test_package_init(
            "pkg/tests/__init__.py",
            d,
            &repo,
            &tree
        ));
        assert!(is_test_package_init(
            "test_utils/__init__.py",
            d,
            &repo,
            &tree
        ));
        // Holding tests or a conftest.
        assert!(is_test_package_init("spec/__init__.py", d, &repo, &tree));
        assert!(is_test_package_init("checks/__init__.py", d, &repo, &tree));
        // A source package, and files that are no __init__.py.
        assert!(!is_test_package_init("pkg/__init__.py", d, &repo, &tree));
        assert!(!is_test_package_init("tests/helpers.py", d, &repo, &tree));
    }
}
