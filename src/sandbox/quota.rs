//! The disk-write quota and the descriptor cap. wasmtime-wasi has no notion of a quota and the
//! host file system cannot be asked for one without privileges, so the sandbox shadows the WASI
//! preview-1 imports that put bytes or inodes on disk, or open descriptors, and counts before
//! delegating to the original implementation:
//!
//! - `fd_write` / `fd_pwrite` to anything but stdout/stderr are charged by what they do to the
//!   file's length: the bytes written (its first non-empty iovec, which is all wasmtime-wasi
//!   writes per call) or, when the write lands past the end of the file, the growth up to its
//!   new end, whichever is more. A sparse write one byte at offset N therefore costs N, as a
//!   `truncate` to N does. If the charge does not fit in what is left, the call fails with
//!   `ENOSPC` and writes nothing; after a successful call what it actually did is charged.
//! - `path_open` with `O_CREAT`, `path_create_directory`, `path_symlink`, `path_link`: a fixed
//!   charge per inode, so a flood of empty files also ends.
//! - `fd_filestat_set_size` (ftruncate): the new size is charged.
//! - `/dev/null` (the file `null` opened through the `/dev` preopen) discards: writes report
//!   every byte written, store nothing and are not charged, and truncating it does nothing.
//! - `path_open` fails with `EMFILE` once the guest holds [`Limits::open_files`] descriptors
//!   (stdio and the preopened dirs included), so a guest cannot exhaust the host process's own
//!   descriptors; closing one lets it open another.
//!
//! Which descriptors are stdout/stderr or `/dev/null` is tracked through `fd_renumber` and
//! `fd_close`, so a guest cannot smuggle a file onto fd 1 (or onto a `/dev/null` descriptor) to
//! escape the count. The guest sees `OSError(ENOSPC)` / `OSError(EMFILE)`; the run's
//! [`Outcome`](super::Outcome) reports `DiskQuotaExceeded` if the guest then fails.
//!
//! [`Limits::open_files`]: super::Limits::open_files

use std::collections::BTreeSet;

use wasmtime::{Caller, Linker};
use wasmtime_wasi::p1::types;
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
use wasmtime_wasi::p1::WasiP1Ctx;

use super::hostcall::{abi, in_tokio, read_u32, with_guest, GuestMemory};
use super::layout::{GUEST_DEV, GUEST_WORK};
use super::state::GuestState;

/// WASI errno values used here.
const ENOSPC: i32 = 51;
const EINVAL: i32 = 28;
const EFAULT: i32 = 21;
const EMFILE: i32 = 33;
/// Charge for creating a file, directory or link.
pub const INODE_CHARGE: u64 = 4096;
/// Most iovecs looked at per write (POSIX `IOV_MAX`).
const IOV_MAX: u32 = 1024;
const MODULE: &str = "wasi_snapshot_preview1";
/// The name of the discarding file inside the `/dev` preopen.
const NULL_NAME: &str = "null";

#[derive(Debug)]
pub(crate) struct DiskQuota {
    pub cap: u64,
    pub used: u64,
    pub hit: bool,
    stdio: BTreeSet<i32>,
    /// Descriptors open on `/dev/null`.
    devnull: BTreeSet<i32>,
}

impl DiskQuota {
    pub fn new(cap: u64) -> Self {
        Self {
            cap,
            used: 0,
            hit: false,
            stdio: [0, 1, 2].into_iter().collect(),
            devnull: BTreeSet::new(),
        }
    }

    fn is_stdio(&self, fd: i32) -> bool {
        self.stdio.contains(&fd)
    }

    fn is_devnull(&self, fd: i32) -> bool {
        self.devnull.contains(&fd)
    }

    /// Whether `n` more bytes fit; flags the quota as hit if not.
    fn fits(&mut self, n: u64) -> bool {
        let ok = self.used.checked_add(n).is_some_and(|t| t <= self.cap);
        if !ok {
            self.hit = true;
            tracing::debug!(
                used = self.used,
                n,
                cap = self.cap,
                "guest disk quota exceeded"
            );
        }
        ok
    }

    fn charge(&mut self, n: u64) {
        self.used = self.used.saturating_add(n);
    }

    /// `fd` was closed.
    fn closed(&mut self, fd: i32) {
        self.stdio.remove(&fd);
        self.devnull.remove(&fd);
    }

    /// `from` was renumbered onto `to` (which was closed first).
    fn renumbered(&mut self, from: i32, to: i32) {
        for set in [&mut self.stdio, &mut self.devnull] {
            let moved = set.remove(&from);
            set.remove(&to);
            if moved {
                set.insert(to);
            }
        }
    }
}

/// The descriptors the guest holds open, against their cap.
#[derive(Debug)]
pub(crate) struct OpenFiles {
    pub cap: u32,
    pub open: u32,
    pub hit: bool,
}

impl OpenFiles {
    /// `initial`: the descriptors the guest starts with (stdio and the preopened dirs).
    pub fn new(cap: u32, initial: u32) -> Self {
        Self {
            cap,
            open: initial,
            hit: false,
        }
    }

    /// Whether one more may be opened; flags the cap as hit if not.
    fn may_open(&mut self) -> bool {
        let ok = self.open < self.cap;
        if !ok && !self.hit {
            self.hit = true;
            tracing::debug!(cap = self.cap, "guest open-descriptor cap reached");
        }
        ok
    }
}

/// Length of the first non-empty iovec (what wasmtime-wasi writes in one call), `None` when the
/// list is longer than `IOV_MAX` without a non-empty buffer. An unreadable list counts as empty:
/// the original call then reports the fault and writes nothing.
fn first_iov_len(mem: &[u8], iovs: i32, iovs_len: i32) -> Option<u64> {
    let n = iovs_len as u32;
    for i in 0..n.min(IOV_MAX) {
        let entry = u64::from(iovs as u32) + u64::from(i) * 8;
        let Some(len) = read_u32(mem, entry + 4) else {
            return Some(0);
        };
        if len > 0 {
            return Some(u64::from(len));
        }
    }
    if n > IOV_MAX {
        None
    } else {
        Some(0)
    }
}

/// Write a little-endian u32 into guest memory; false when out of bounds.
fn write_u32(mem: &mut [u8], addr: u64, value: u32) -> bool {
    let Ok(start) = usize::try_from(addr) else {
        return false;
    };
    match start.checked_add(4).and_then(|end| mem.get_mut(start..end)) {
        Some(slot) => {
            slot.copy_from_slice(&value.to_le_bytes());
            true
        }
        None => false,
    }
}

/// Whether a guest path (relative to a preopen) names `null` itself: `null`, `./null`,
/// `.//null`, … but not `sub/../null` (that is resolved by the host and may be something else).
fn names_null(mem: &[u8], path: i32, path_len: i32) -> bool {
    let start = path as u32 as usize;
    let Some(bytes) = start
        .checked_add(path_len as u32 as usize)
        .and_then(|end| mem.get(start..end))
    else {
        return false;
    };
    let mut parts = bytes
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".");
    parts.next() == Some(NULL_NAME.as_bytes()) && parts.next().is_none()
}

/// Whether `fd` is the sandbox's `/dev` preopen (wherever the guest renumbered it to).
fn is_dev_preopen(wasi: &mut WasiP1Ctx, fd: i32) -> bool {
    is_preopen(wasi, fd, GUEST_DEV)
}

/// Whether `fd` is the preopen the guest knows as `name`.
fn is_preopen(wasi: &mut WasiP1Ctx, fd: i32, name: &str) -> bool {
    let mut scratch = vec![0u8; name.len()];
    let fd = types::Fd::from(fd as u32);
    let Ok(types::Prestat::Dir(dir)) = wasi.fd_prestat_get(&mut GuestMemory::Unshared(&mut []), fd)
    else {
        return false;
    };
    if dir.pr_name_len as usize != name.len() {
        return false;
    }
    wasi.fd_prestat_dir_name(
        &mut GuestMemory::Unshared(&mut scratch),
        fd,
        wiggle::GuestPtr::new(0),
        name.len() as u32,
    )
    .is_ok()
        && scratch == name.as_bytes()
}

/// The bytes of a guest path argument, if they lie in guest memory.
fn path_bytes(mem: &[u8], path: i32, path_len: i32) -> Option<&[u8]> {
    let start = path as u32 as usize;
    mem.get(start..start.checked_add(path_len as u32 as usize)?)
}

/// Where a write to `fd` starts and how long the file is before it, for a regular file (`None`
/// for anything else, or when the host cannot tell: then only the bytes written are charged).
/// `at`: the offset of `fd_pwrite`; `fd_write` writes at the descriptor's position. Files open
/// for appending are written at their end either way.
fn write_span(wasi: &mut WasiP1Ctx, fd: i32, at: Option<u64>) -> Option<(u64, u64)> {
    let mut none = GuestMemory::Unshared(&mut []);
    let fd = types::Fd::from(fd as u32);
    let stat = in_tokio(wasi.fd_filestat_get(&mut none, fd)).ok()?;
    if stat.filetype != types::Filetype::RegularFile {
        return None;
    }
    let flags = in_tokio(wasi.fd_fdstat_get(&mut none, fd)).ok()?.fs_flags;
    let start = if flags.contains(types::Fdflags::APPEND) {
        stat.size
    } else {
        match at {
            Some(offset) => offset,
            None => wasi.fd_tell(&mut none, fd).ok()?,
        }
    };
    Some((start, stat.size))
}

/// What writing `n` bytes costs: `n`, or the file's growth when that is more.
fn write_charge(n: u64, span: Option<(u64, u64)>) -> u64 {
    match span {
        Some((start, size)) if n > 0 => n.max(start.saturating_add(n).saturating_sub(size)),
        _ => n,
    }
}

type Original<'a> =
    &'a mut dyn FnMut(&mut WasiP1Ctx, &mut GuestMemory<'_>) -> wasmtime::Result<i32>;

/// Shared body of `fd_write` and `fd_pwrite` (`at`: the offset of `fd_pwrite`).
#[allow(clippy::too_many_arguments)]
fn counted_write(
    s: &mut GuestState,
    mem: &mut [u8],
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
    at: Option<u64>,
    call: Original<'_>,
) -> wasmtime::Result<i32> {
    if s.quota.is_stdio(fd) {
        return call(&mut s.wasi, &mut GuestMemory::Unshared(mem));
    }
    let Some(want) = first_iov_len(mem, iovs, iovs_len) else {
        return Ok(EINVAL);
    };
    if s.quota.is_devnull(fd) {
        // Discarded: all of it "written", nothing stored.
        return Ok(if write_u32(mem, u64::from(nwritten as u32), want as u32) {
            0
        } else {
            EFAULT
        });
    }
    let span = if want > 0 {
        write_span(&mut s.wasi, fd, at)
    } else {
        None
    };
    let need = write_charge(want, span);
    if need > 0 && !s.quota.fits(need) {
        return Ok(ENOSPC);
    }
    let errno = call(&mut s.wasi, &mut GuestMemory::Unshared(mem))?;
    if errno == 0 {
        // The original wrote at most `want`; charge what it reports, bounded by `want`.
        let done =
            read_u32(mem, u64::from(nwritten as u32)).map_or(want, |n| u64::from(n).min(want));
        s.quota.charge(write_charge(done, span));
    }
    Ok(errno)
}

/// Charge `n` up front for a call that creates something; `ENOSPC` if it does not fit.
fn charged(
    s: &mut GuestState,
    mem: &mut [u8],
    n: u64,
    call: Original<'_>,
) -> wasmtime::Result<i32> {
    if n > 0 {
        if !s.quota.fits(n) {
            return Ok(ENOSPC);
        }
        s.quota.charge(n);
    }
    call(&mut s.wasi, &mut GuestMemory::Unshared(mem))
}

/// Shadow the file-writing and descriptor-opening WASI imports in `linker` (which must allow
/// shadowing and already hold the wasmtime-wasi definitions).
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut c: Caller<'_, GuestState>, fd: i32, iovs: i32, len: i32, nw: i32| {
            with_guest(&mut c, |s, mem| {
                counted_write(s, mem, fd, iovs, len, nw, None, &mut |w, m| {
                    in_tokio(abi::fd_write(w, m, fd, iovs, len, nw))
                })
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_pwrite",
        |mut c: Caller<'_, GuestState>, fd: i32, iovs: i32, len: i32, off: i64, nw: i32| {
            with_guest(&mut c, |s, mem| {
                counted_write(s, mem, fd, iovs, len, nw, Some(off as u64), &mut |w, m| {
                    in_tokio(abi::fd_pwrite(w, m, fd, iovs, len, off, nw))
                })
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_close",
        |mut c: Caller<'_, GuestState>, fd: i32| {
            with_guest(&mut c, |s, mem| {
                let errno = in_tokio(abi::fd_close(
                    &mut s.wasi,
                    &mut GuestMemory::Unshared(mem),
                    fd,
                ))?;
                if errno == 0 {
                    s.quota.closed(fd);
                    s.files.open = s.files.open.saturating_sub(1);
                }
                Ok(errno)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_renumber",
        |mut c: Caller<'_, GuestState>, from: i32, to: i32| {
            with_guest(&mut c, |s, mem| {
                let errno = in_tokio(abi::fd_renumber(
                    &mut s.wasi,
                    &mut GuestMemory::Unshared(mem),
                    from,
                    to,
                ))?;
                if errno == 0 && from != to {
                    // `to` was closed and `from` moved onto it: one descriptor fewer.
                    s.quota.renumbered(from, to);
                    s.files.open = s.files.open.saturating_sub(1);
                }
                Ok(errno)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_set_size",
        |mut c: Caller<'_, GuestState>, fd: i32, size: i64| {
            with_guest(&mut c, |s, mem| {
                if s.quota.is_devnull(fd) {
                    return Ok(0);
                }
                let n = if s.quota.is_stdio(fd) {
                    0
                } else {
                    size.max(0) as u64
                };
                charged(s, mem, n, &mut |w, m| {
                    in_tokio(abi::fd_filestat_set_size(w, m, fd, size))
                })
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_open",
        |mut c: Caller<'_, GuestState>,
         fd: i32,
         dirflags: i32,
         path: i32,
         path_len: i32,
         oflags: i32,
         base: i64,
         inh: i64,
         fdflags: i32,
         out: i32| {
            const O_CREAT: i32 = 1;
            with_guest(&mut c, |s, mem| {
                if !s.files.may_open() {
                    return Ok(EMFILE);
                }
                let null = names_null(mem, path, path_len) && is_dev_preopen(&mut s.wasi, fd);
                // `/dev/null` exists already: opening it creates nothing.
                let n = if oflags & O_CREAT != 0 && !null {
                    INODE_CHARGE
                } else {
                    0
                };
                let errno = charged(s, mem, n, &mut |w, m| {
                    in_tokio(abi::path_open(
                        w, m, fd, dirflags, path, path_len, oflags, base, inh, fdflags, out,
                    ))
                })?;
                if errno == 0 {
                    s.files.open += 1;
                    // A `.py` read through the work dir: a hint for the bytecode cache.
                    if s.hints.enabled()
                        && oflags & O_CREAT == 0
                        && path_bytes(mem, path, path_len).is_some_and(|p| p.ends_with(b".py"))
                        && is_preopen(&mut s.wasi, fd, GUEST_WORK)
                    {
                        if let Some(p) = path_bytes(mem, path, path_len) {
                            s.hints.note(p);
                        }
                    }
                    if null {
                        if let Some(opened) = read_u32(mem, u64::from(out as u32)) {
                            s.quota.devnull.insert(opened as i32);
                        }
                    }
                }
                Ok(errno)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_create_directory",
        |mut c: Caller<'_, GuestState>, fd: i32, p: i32, l: i32| {
            with_guest(&mut c, |s, mem| {
                charged(s, mem, INODE_CHARGE, &mut |w, m| {
                    in_tokio(abi::path_create_directory(w, m, fd, p, l))
                })
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_symlink",
        |mut c: Caller<'_, GuestState>, a: i32, b: i32, fd: i32, d: i32, e: i32| {
            with_guest(&mut c, |s, mem| {
                charged(s, mem, INODE_CHARGE, &mut |w, m| {
                    in_tokio(abi::path_symlink(w, m, a, b, fd, d, e))
                })
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_link",
        |mut c: Caller<'_, GuestState>, a: i32, b: i32, d: i32, e: i32, fd: i32, g: i32, h: i32| {
            with_guest(&mut c, |s, mem| {
                charged(s, mem, INODE_CHARGE, &mut |w, m| {
                    in_tokio(abi::path_link(w, m, a, b, d, e, fd, g, h))
                })
            })
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iovec_lengths() {
        let mut mem = vec![0u8; 64];
        // iovec 0 at 0: empty; iovec 1 at 8: 100 bytes.
        mem[12..16].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(first_iov_len(&mem, 0, 2), Some(100));
        assert_eq!(first_iov_len(&mem, 0, 1), Some(0));
        assert_eq!(
            first_iov_len(&mem, 60, 1),
            Some(0),
            "out of bounds reads as empty"
        );
        let zeros = vec![0u8; 16 * 5000];
        assert_eq!(
            first_iov_len(&zeros, 0, 5000),
            None,
            "more than IOV_MAX empty iovecs"
        );
        assert_eq!(first_iov_len(&zeros, 0, 1000), Some(0));
    }

    #[test]
    fn quota_accounting() {
        let mut q = DiskQuota::new(10);
        assert!(q.is_stdio(1) && q.is_stdio(2) && !q.is_stdio(3));
        assert!(q.fits(10));
        q.charge(6);
        assert!(!q.hit);
        assert!(!q.fits(5));
        assert!(q.hit);
        assert!(q.fits(4));
        q.charge(u64::MAX);
        assert!(!q.fits(1), "saturated");
    }

    #[test]
    fn writes_are_charged_by_what_they_do_to_the_length() {
        // Appending or overwriting: the bytes written.
        assert_eq!(write_charge(100, Some((50, 50))), 100);
        assert_eq!(write_charge(100, Some((0, 500))), 100);
        // Past the end: the growth up to the new end.
        assert_eq!(write_charge(1, Some((1 << 40, 0))), (1 << 40) + 1);
        assert_eq!(write_charge(10, Some((95, 100))), 10);
        assert_eq!(write_charge(10, Some((200, 100))), 110);
        // Not a regular file, or nothing written: the bytes.
        assert_eq!(write_charge(7, None), 7);
        assert_eq!(write_charge(0, Some((1 << 40, 0))), 0);
        assert_eq!(write_charge(1, Some((u64::MAX, 0))), u64::MAX);
    }

    #[test]
    fn null_is_recognized_only_by_its_own_name() {
        let mem = b"null./null.//null/sub/../nullnullx";
        assert!(names_null(mem, 0, 4));
        assert!(names_null(mem, 4, 6));
        assert!(names_null(mem, 10, 7));
        assert!(!names_null(mem, 17, 11), "sub/../null");
        assert!(!names_null(mem, 28, 5), "nullx");
        assert!(!names_null(mem, 30, 10), "out of bounds");
    }

    #[test]
    fn stdio_and_null_descriptors_follow_renumber_and_close() {
        let mut q = DiskQuota::new(10);
        q.devnull.insert(7);
        q.renumbered(7, 1);
        assert!(q.is_devnull(1) && !q.is_stdio(1) && !q.is_devnull(7));
        q.renumbered(2, 9);
        assert!(q.is_stdio(9) && !q.is_stdio(2));
        q.closed(9);
        q.closed(1);
        assert!(!q.is_stdio(9) && !q.is_devnull(1));
        let mut f = OpenFiles::new(3, 2);
        assert!(f.may_open());
        f.open += 1;
        assert!(!f.may_open() && f.hit);
    }
}
