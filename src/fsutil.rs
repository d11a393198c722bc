//! Small file-system helpers shared by the commands: atomic writes (never a half-written output
//! file; a symlink is written through and kept, the file's permissions are kept) and early checks
//! that an output file or directory can be written, made before the work starts and without
//! creating anything (so a failed set-up leaves no empty directory behind).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file a write to `path` replaces: `path` itself, or the file a symlink at `path` finally
/// points to (which may not exist yet), so that the link is kept.
pub fn write_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Write `bytes` to `path` atomically: a temporary file beside the file written (see
/// [`write_target`]; its directory is created if missing), synced, then renamed over it. The
/// new file keeps the old one's permission bits; a file that did not exist gets `0666` less the
/// umask, as any new file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, bytes, |_| Ok(())).map(drop)
}

/// [`write_atomic`], calling `prepare` on the temporary file before anything is written to it
/// (e.g. to lock it, so the file is locked from the moment it has its name). Returns the open
/// file (read-write, not appending), now under its final name.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    prepare: impl FnOnce(&File) -> std::io::Result<()>,
) -> std::io::Result<File> {
    let target = write_target(path)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let old_mode = match std::fs::metadata(&target) {
        Ok(m) => Some(m.permissions()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Created like any new file (the umask applies), then given the old file's bits.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    if let Some(perms) = old_mode {
        tmp.as_file().set_permissions(perms)?;
    }
    prepare(tmp.as_file())?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let file = tmp.persist(&target).map_err(|e| e.error)?;
    // The rename itself is durable once the directory is synced (best effort).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(file)
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

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// The process's umask, from /proc (setting it to read it would race other threads).
    #[cfg(target_os = "linux")]
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn atomic_write_keeps_links_and_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let new = d.path().join("new.txt");
        write_atomic(&new, b"1").unwrap();
        assert_eq!(
            mode(&new),
            0o666 & !umask(),
            "a new file respects the umask"
        );

        let plain = d.path().join("plain.txt");
        std::fs::write(&plain, "old").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&plain, b"new").unwrap();
        assert_eq!(mode(&plain), 0o640, "the old file's mode is kept");
        assert_eq!(std::fs::read(&plain).unwrap(), b"new");

        // Through a relative link to a link: both links kept, the final file replaced.
        std::fs::create_dir(d.path().join("real")).unwrap();
        let target = d.path().join("real/data.txt");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink("real/data.txt", d.path().join("link1")).unwrap();
        std::os::unix::fs::symlink("link1", d.path().join("link2")).unwrap();
        write_atomic(&d.path().join("link2"), b"through").unwrap();
        for l in ["link1", "link2"] {
            assert!(std::fs::symlink_metadata(d.path().join(l))
                .unwrap()
                .file_type()
                .is_symlink());
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"through");
        assert_eq!(mode(&target), 0o644);
        // A dangling link: the file it names is created.
        std::os::unix::fs::symlink("real/later.txt", d.path().join("dangling")).unwrap();
        write_atomic(&d.path().join("dangling"), b"x").unwrap();
        assert_eq!(
            std::fs::read(d.path().join("real/later.txt")).unwrap(),
            b"x"
        );
        let leftovers: Vec<_> = std::fs::read_dir(d.path().join("real"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
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
