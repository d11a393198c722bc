//! The manifest of an installed runtime environment (`env-…/MANIFEST.sha256`): every regular
//! file under the environment with its size and sha256, written when the environment is built
//! and checked before it is used, so a damaged environment (a file deleted, truncated, added or
//! replaced by a link) is rebuilt instead of silently run: a deleted `site/pluggy` would make
//! every pytest run fail to start, and a gate reading that as "no test failed" passes anything.
//!
//! Two levels, because the check runs on every [`Sandbox::open`](super::Sandbox::open):
//! [`Check::Quick`] compares the file list, the file types and the sizes with the manifest (a
//! walk of some 1,500 entries, a few milliseconds, no file read); [`Check::Full`] also hashes
//! every file (about 25 MB) and is what `codeswarm sandbox --setup` asks for. A file changed in
//! place at the same size is found by the full check only.
//!
//! Format: one line per file, `<sha256 hex> <size> <path>`, the path relative to the environment
//! with `/` separators, sorted by path.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::io_err;
use super::SandboxError;
use crate::fetch::sha256_file;

/// The manifest's file name inside the environment (not listed in itself).
pub const MANIFEST_FILE: &str = "MANIFEST.sha256";

/// How much of an environment to check against its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// File list, types and sizes.
    Quick,
    /// Also every file's sha256.
    Full,
}

/// Regular files under `root` (relative path → size); any other kind of entry (a symlink, a
/// fifo) is a problem.
fn walk(root: &Path) -> Result<BTreeMap<String, u64>, String> {
    fn go(
        dir: &Path,
        rel: &str,
        out: &mut BTreeMap<String, u64>,
        odd: &mut Vec<String>,
    ) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                go(&entry.path(), &path, out, odd)?;
            } else if kind.is_file() {
                out.insert(path, entry.metadata()?.len());
            } else {
                odd.push(path);
            }
        }
        Ok(())
    }
    let mut files = BTreeMap::new();
    let mut odd = Vec::new();
    go(root, "", &mut files, &mut odd).map_err(|e| format!("cannot list it: {e}"))?;
    files.remove(MANIFEST_FILE);
    if !odd.is_empty() {
        return Err(format!(
            "{} is not a regular file or directory",
            examples(&odd)
        ));
    }
    Ok(files)
}

/// Up to three names, then a count.
fn examples(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    match names.len() {
        n if n > 3 => format!("{} and {} more", shown.join(", "), n - 3),
        _ => shown.join(", "),
    }
}

/// Write the manifest of the environment at `root` (every file hashed).
pub fn write(root: &Path) -> Result<(), SandboxError> {
    let files = walk(root).map_err(|problem| {
        SandboxError::Setup(format!(
            "the new runtime environment {}: {problem}",
            root.display()
        ))
    })?;
    let mut text = String::new();
    for (rel, _) in files {
        let (size, sha) = sha256_file(&root.join(&rel))?;
        text.push_str(&format!("{sha} {size} {rel}\n"));
    }
    let path = root.join(MANIFEST_FILE);
    std::fs::write(&path, text).map_err(io_err(&path))
}

/// Check the environment at `root` against its manifest; `Err` describes what is wrong.
pub fn check(root: &Path, level: Check) -> Result<(), String> {
    let path = root.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{MANIFEST_FILE} is missing"))
        }
        Err(e) => return Err(format!("{MANIFEST_FILE} cannot be read: {e}")),
    };
    let mut expected: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let mut parts = line.splitn(3, ' ');
        let (Some(sha), Some(size), Some(rel)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{MANIFEST_FILE} line {} is malformed", n + 1));
        };
        let Ok(size) = size.parse::<u64>() else {
            return Err(format!("{MANIFEST_FILE} line {} is malformed", n + 1));
        };
        expected.insert(rel, (size, sha));
    }
    if expected.is_empty() {
        return Err(format!("{MANIFEST_FILE} lists no file"));
    }
    let found = walk(root)?;
    let missing: Vec<String> = expected
        .keys()
        .filter(|k| !found.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} file(s) missing: {}",
            missing.len(),
            examples(&missing)
        ));
    }
    let extra: Vec<String> = found
        .keys()
        .filter(|k| !expected.contains_key(k.as_str()))
        .cloned()
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "{} file(s) not in the manifest: {}",
            extra.len(),
            examples(&extra)
        ));
    }
    let resized: Vec<String> = expected
        .iter()
        .filter(|(k, (size, _))| found.get(**k) != Some(size))
        .map(|(k, _)| k.to_string())
        .collect();
    if !resized.is_empty() {
        return Err(format!(
            "{} file(s) changed size: {}",
            resized.len(),
            examples(&resized)
        ));
    }
    if level == Check::Full {
        let mut changed = Vec::new();
        for (rel, (_, sha)) in &expected {
            match sha256_file(&root.join(rel)) {
                Ok((_, digest)) if digest.eq_ignore_ascii_case(sha) => {}
                Ok(_) => changed.push(rel.to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
        if !changed.is_empty() {
            return Err(format!(
                "{} file(s) changed content: {}",
                changed.len(),
                examples(&changed)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("site/pkg")).unwrap();
        std::fs::create_dir_all(d.path().join("stdlib")).unwrap();
        std::fs::write(d.path().join("site/pkg/__init__.py"), "x = 1\n").unwrap();
        std::fs::write(d.path().join("site/pkg/a b.py"), "y = 2\n").unwrap();
        std::fs::write(d.path().join("stdlib/os.pyc"), [1u8; 100]).unwrap();
        write(d.path()).unwrap();
        d
    }

    #[test]
    fn an_intact_environment_passes_both_checks() {
        let d = env();
        check(d.path(), Check::Quick).unwrap();
        check(d.path(), Check::Full).unwrap();
        let text = std::fs::read_to_string(d.path().join(MANIFEST_FILE)).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains(" 6 site/pkg/a b.py\n"), "{text}");
    }

    #[test]
    fn deleted_added_resized_and_linked_files_are_found_by_the_quick_check() {
        let d = env();
        std::fs::remove_dir_all(d.path().join("site/pkg")).unwrap();
        let err = check(d.path(), Check::Quick).unwrap_err();
        assert!(
            err.contains("2 file(s) missing") && err.contains("site/pkg/__init__.py"),
            "{err}"
        );

        let d = env();
        std::fs::write(d.path().join("site/evil.pth"), "import os\n").unwrap();
        let err = check(d.path(), Check::Quick).unwrap_err();
        assert!(err.contains("not in the manifest: site/evil.pth"), "{err}");

        let d = env();
        std::fs::write(d.path().join("stdlib/os.pyc"), [1u8; 10]).unwrap();
        let err = check(d.path(), Check::Quick).unwrap_err();
        assert!(err.contains("changed size: stdlib/os.pyc"), "{err}");

        let d = env();
        std::fs::remove_file(d.path().join("stdlib/os.pyc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("stdlib/os.pyc")).unwrap();
        let err = check(d.path(), Check::Quick).unwrap_err();
        assert!(err.contains("stdlib/os.pyc is not a regular file"), "{err}");

        let d = env();
        std::fs::remove_file(d.path().join(MANIFEST_FILE)).unwrap();
        let err = check(d.path(), Check::Quick).unwrap_err();
        assert!(err.contains("MANIFEST.sha256 is missing"), "{err}");
    }

    #[test]
    fn same_size_content_changes_are_found_by_the_full_check_only() {
        let d = env();
        std::fs::write(d.path().join("site/pkg/__init__.py"), "x = 2\n").unwrap();
        check(d.path(), Check::Quick).unwrap();
        let err = check(d.path(), Check::Full).unwrap_err();
        assert!(
            err.contains("changed content: site/pkg/__init__.py"),
            "{err}"
        );
    }
}
