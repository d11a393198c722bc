//! Reading wheels (zip archives): stream one member out, or unpack the whole wheel.

use std::io::{Read, Write};
use std::path::Path;

use super::{io_err, FetchError, Progress};

fn open(wheel: &Path) -> Result<zip::ZipArchive<std::fs::File>, FetchError> {
    let f = std::fs::File::open(wheel).map_err(io_err(wheel))?;
    zip::ZipArchive::new(f).map_err(|e| FetchError::BadWheel {
        wheel: wheel.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Stream `member` of `wheel` into `out`, reporting bytes to `progress`. Returns bytes copied.
pub fn extract_member(
    wheel: &Path,
    member: &str,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<u64, FetchError> {
    let mut archive = open(wheel)?;
    let mut entry = archive.by_name(member).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => FetchError::MissingMember {
            wheel: wheel.to_path_buf(),
            member: member.to_string(),
        },
        e => FetchError::BadWheel {
            wheel: wheel.to_path_buf(),
            detail: e.to_string(),
        },
    })?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = entry.read(&mut buf).map_err(io_err(wheel))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(io_err(wheel))?;
        progress.inc(n as u64);
        total += n as u64;
    }
    Ok(total)
}

/// Unpack every member of `wheel` under `dest` (the layout of a site-packages directory).
/// Rejects members whose paths would escape `dest`.
pub fn unpack_wheel(wheel: &Path, dest: &Path) -> Result<(), FetchError> {
    let mut archive = open(wheel)?;
    archive.extract(dest).map_err(|e| FetchError::BadWheel {
        wheel: wheel.to_path_buf(),
        detail: e.to_string(),
    })
}
