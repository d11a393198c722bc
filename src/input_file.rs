//! Reading an input file safely: every file a user or another program hands codeswarm
//! (`--instances`, `--predictions`, `--tests-from`, `--specs`, the config, scripts, patch files,
//! the files of a run directory) may be hostile. [`read_input`] opens it without blocking (a FIFO
//! with no writer does not hang the open), refuses anything but a regular file (a FIFO,
//! `/dev/zero`, `/dev/full`, a socket, a directory) and reads at most its limit plus one byte, so
//! an endless or huge file costs bounded memory and time. [`Follow::No`] also refuses a
//! symbolic link at the path itself (`O_NOFOLLOW`): a run directory's `patch.diff` that is a link
//! to a host file is never read through.
//!
//! The limits are these constants (bytes); each is far above any real file of its kind.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Instance sets and predictions files: the whole SWE-bench test split with its patches is
/// about 100 MiB as JSON lines.
pub const MAX_DATA_FILE: u64 = 512 * 1024 * 1024;
/// Small hand-written inputs: config, `--specs`, `--tests-from`, `--script`, prompt files, an
/// issue or task file.
pub const MAX_TEXT_FILE: u64 = 16 * 1024 * 1024;
/// Files of a run directory read back by `report` (`result.json`, `patch.diff`, the manifest).
pub const MAX_RUN_FILE: u64 = 64 * 1024 * 1024;

/// Whether a symbolic link at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// A link the user typed is followed (their own choice, as any command-line tool does).
    Yes,
    /// A link is refused: for files inside directories others may have written (a run
    /// directory).
    No,
}

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{what} {}: {kind}, not a regular file; give the path of a file", path.display())]
    NotRegular {
        what: String,
        path: PathBuf,
        kind: &'static str,
    },
    #[error(
        "{what} {}: is a symbolic link, which is not followed here; replace it with the file itself",
        path.display()
    )]
    Link { what: String, path: PathBuf },
    #[error(
        "{what} {}: larger than the limit of {} for this kind of file; split it or check that it is the right file",
        path.display(), human_bytes(*limit)
    )]
    TooLarge {
        what: String,
        path: PathBuf,
        limit: u64,
    },
    #[error("{what} {}: not UTF-8 text", path.display())]
    NotUtf8 { what: String, path: PathBuf },
    #[error("cannot read {what} {}: {source}", path.display())]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InputError {
    /// The underlying I/O error kind, when the file could not be opened or read
    /// (`NotFound` lets callers treat a missing optional file as absent).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            InputError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// `1.5 GiB`, `16 MiB`, `300 bytes`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if n % size == 0 {
                format!("{} {unit}", n / size)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

fn kind_name(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "is a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "is a character device";
        }
        if ft.is_block_device() {
            return "is a block device";
        }
        if ft.is_socket() {
            return "is a socket";
        }
    }
    if ft.is_dir() {
        "is a directory"
    } else if ft.is_symlink() {
        "is a symbolic link"
    } else {
        "is a special file"
    }
}

/// Open `path` for reading without blocking on a FIFO, optionally refusing a link at the path.
fn open(path: &Path, follow: Follow) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if follow == Follow::No {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    options.open(path)
}

/// Read the regular file at `path`, at most `limit` bytes; `what` names it in errors (the
/// option, e.g. `--predictions`, or `run file`).
pub fn read_input(
    path: &Path,
    what: &str,
    limit: u64,
    follow: Follow,
) -> Result<Vec<u8>, InputError> {
    let io = |source: std::io::Error| InputError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let file = match open(path, follow) {
        Ok(f) => f,
        // O_NOFOLLOW on a link fails with ELOOP.
        Err(e) if follow == Follow::No && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(InputError::Link {
                what: what.to_string(),
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            what: what.to_string(),
            path: path.to_path_buf(),
            kind: kind_name(&meta.file_type()),
        });
    }
    let too_large = || InputError::TooLarge {
        what: what.to_string(),
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow after the fstat: still never more than limit + 1 bytes.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_input`] as UTF-8 text.
pub fn read_input_string(
    path: &Path,
    what: &str,
    limit: u64,
    follow: Follow,
) -> Result<String, InputError> {
    let bytes = read_input(path, what, limit, follow)?;
    String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
        what: what.to_string(),
        path: path.to_path_buf(),
    })
}

/// Refuse `path` unless it is a regular file or does not exist (following links): for a file
/// that will be both read and written, such as a predictions file, before anything is created
/// beside it.
pub fn check_regular_or_missing(path: &Path, what: &str) -> Result<(), InputError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(InputError::NotRegular {
            what: what.to_string(),
            path: path.to_path_buf(),
            kind: kind_name(&m.file_type()),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_within_their_limit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        std::fs::write(&p, "12345").unwrap();
        assert_eq!(read_input(&p, "--x", 5, Follow::Yes).unwrap(), b"12345");
        let e = read_input(&p, "--x", 4, Follow::Yes).unwrap_err();
        assert!(matches!(e, InputError::TooLarge { .. }), "{e}");
        assert!(
            e.to_string().contains("--x") && e.to_string().contains("4 bytes"),
            "{e}"
        );
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        let e = read_input_string(&p, "--x", 5, Follow::Yes).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        let e = read_input(&d.path().join("missing"), "--x", 5, Follow::Yes).unwrap_err();
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn devices_fifos_directories_and_unfollowed_links_are_refused() {
        let d = tempfile::tempdir().unwrap();
        for dev in ["/dev/zero", "/dev/full", "/dev/null"] {
            let e = read_input(Path::new(dev), "--predictions", MAX_DATA_FILE, Follow::Yes)
                .unwrap_err();
            assert!(e.to_string().contains("character device"), "{e}");
        }
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer: the open must not block.
        let e = read_input(&fifo, "--instances", 10, Follow::Yes).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_input(d.path(), "--instances", 10, Follow::Yes).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        assert!(check_regular_or_missing(&fifo, "--predictions").is_err());
        assert!(check_regular_or_missing(&d.path().join("new"), "--predictions").is_ok());

        let target = d.path().join("secret");
        std::fs::write(&target, "host data").unwrap();
        let link = d.path().join("patch.diff");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = read_input(&link, "run file", 100, Follow::No).unwrap_err();
        assert!(matches!(e, InputError::Link { .. }), "{e}");
        assert_eq!(
            read_input(&link, "--x", 100, Follow::Yes).unwrap(),
            b"host data"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(300), "300 bytes");
        assert_eq!(human_bytes(16 << 20), "16 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
