//! Small file-system helpers shared by the commands: atomic writes (never a half-written output
//! file) and early checks that an output file or directory can be written, made before the work
//! starts and without creating anything (so a failed set-up leaves no empty directory behind).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: a temporary file in the same directory (created if
/// missing), synced, then renamed over the destination.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `dir`, or its nearest existing ancestor when `dir` does not exist.
fn existing_ancestor(dir: &Path) -> Result<PathBuf, String> {
    let mut probe = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    };
    loop {
        match std::fs::metadata(&probe) {
            Ok(m) if m.is_dir() => return Ok(probe),
            Ok(_) => return Err(format!("{} is not a directory", probe.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                probe = match probe.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    Some(_) => PathBuf::from("."),
                    None => return Err(format!("{}: {e}", probe.display())),
                };
            }
            Err(e) => return Err(format!("{}: {e}", probe.display())),
        }
    }
}

/// Whether a file can be created in the existing directory `dir` (a probe file, removed).
fn probe(dir: &Path) -> Result<(), String> {
    tempfile::Builder::new()
        .prefix(".probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("{} is not writable: {e}", dir.display()))
}

/// Check that `dir` can be the output directory named by option `flag`: an existing writable
/// directory, or one that can be created (its nearest existing ancestor is a writable
/// directory). Creates nothing.
pub fn check_output_dir(dir: &Path, flag: &str) -> Result<(), String> {
    existing_ancestor(dir)
        .and_then(|d| probe(&d))
        .map_err(|reason| {
            format!(
                "cannot create output directory {} ({reason}); choose another with {flag}",
                dir.display()
            )
        })
}

/// Check that `path` can be written as the output file named by option `flag`: not a directory
/// or a special file, and its directory exists and is writable or can be created. Creates
/// nothing.
pub fn check_output_file(path: &Path, flag: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(format!(
                "{flag} {}: is a directory; give the path of a file to write",
                path.display()
            ))
        }
        Ok(m) if !m.is_file() => {
            return Err(format!(
                "{flag} {}: is not a regular file; give the path of a file to write",
                path.display()
            ))
        }
        _ => {}
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    existing_ancestor(dir)
        .and_then(|d| probe(&d))
        .map_err(|reason| {
            format!(
                "{flag} {}: cannot be written ({reason}); choose another path",
                path.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_creates_the_missing_directory() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/c.txt");
        write_atomic(&p, b"x").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn output_checks_create_nothing_and_name_the_option() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = check_output_dir(&file.join("sub"), "--out").unwrap_err();
        assert!(
            err.contains("cannot create output directory") && err.contains("--out"),
            "{err}"
        );
        check_output_dir(&d.path().join("new/deeper"), "--out").unwrap();
        check_output_file(&d.path().join("new/r.json"), "--report").unwrap();
        check_output_file(&file, "--report").unwrap();
        assert!(!d.path().join("new").exists(), "nothing created");

        let err = check_output_file(d.path(), "--junit").unwrap_err();
        assert!(
            err.contains("--junit") && err.contains("is a directory"),
            "{err}"
        );
        let err = check_output_file(Path::new("/dev/null"), "--junit").unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let err = check_output_file(&file.join("r.json"), "--report").unwrap_err();
        assert!(
            err.contains("--report") && err.contains("is not a directory"),
            "{err}"
        );
        let err = check_output_file(Path::new("/proc/nope/r.json"), "--report").unwrap_err();
        assert!(
            err.contains("/proc/nope/r.json") && err.contains("/proc"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no probe file left"
        );
    }
}
