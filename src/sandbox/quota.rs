//! The disk-write quota. wasmtime-wasi has no notion of a quota and the host file system cannot
//! be asked for one without privileges, so the sandbox shadows the WASI preview-1 imports that
//! put bytes or inodes on disk and counts before delegating to the original implementation:
//!
//! - `fd_write` / `fd_pwrite` to anything but stdout/stderr: the bytes the call can write (its
//!   first non-empty iovec, which is all wasmtime-wasi writes per call) must fit in what is left,
//!   else the call fails with `ENOSPC` and writes nothing; after a successful call the bytes
//!   actually written are charged.
//! - `path_open` with `O_CREAT`, `path_create_directory`, `path_symlink`, `path_link`: a fixed
//!   charge per inode, so a flood of empty files also ends.
//! - `fd_filestat_set_size` (ftruncate): the new size is charged.
//!
//! Which descriptors are stdout/stderr is tracked through `fd_renumber` and `fd_close`, so a guest
//! cannot smuggle a file onto fd 1 to escape the count. The guest sees `OSError(ENOSPC)`; the
//! run's [`Outcome`](super::Outcome) reports `DiskQuotaExceeded` if the guest then fails.

use std::collections::BTreeSet;

use wasmtime::{Caller, Linker};
use wasmtime_wasi::p1::WasiP1Ctx;

use super::hostcall::{abi, in_tokio, read_u32, with_guest, GuestMemory};
use super::state::GuestState;

/// WASI errno values used here.
const ENOSPC: i32 = 51;
const EINVAL: i32 = 28;
/// Charge for creating a file, directory or link.
pub const INODE_CHARGE: u64 = 4096;
/// Most iovecs looked at per write (POSIX `IOV_MAX`).
const IOV_MAX: u32 = 1024;
const MODULE: &str = "wasi_snapshot_preview1";

#[derive(Debug)]
pub(crate) struct DiskQuota {
    pub cap: u64,
    pub used: u64,
    pub hit: bool,
    stdio: BTreeSet<i32>,
}

impl DiskQuota {
    pub fn new(cap: u64) -> Self {
        Self {
            cap,
            used: 0,
            hit: false,
            stdio: [0, 1, 2].into_iter().collect(),
        }
    }

    fn is_stdio(&self, fd: i32) -> bool {
        self.stdio.contains(&fd)
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

type Original<'a> =
    &'a mut dyn FnMut(&mut WasiP1Ctx, &mut GuestMemory<'_>) -> wasmtime::Result<i32>;

/// Shared body of `fd_write` and `fd_pwrite`.
fn counted_write(
    s: &mut GuestState,
    mem: &mut [u8],
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
    call: Original<'_>,
) -> wasmtime::Result<i32> {
    if s.quota.is_stdio(fd) {
        return call(&mut s.wasi, &mut GuestMemory::Unshared(mem));
    }
    let Some(want) = first_iov_len(mem, iovs, iovs_len) else {
        return Ok(EINVAL);
    };
    if want > 0 && !s.quota.fits(want) {
        return Ok(ENOSPC);
    }
    let errno = call(&mut s.wasi, &mut GuestMemory::Unshared(mem))?;
    if errno == 0 {
        // The original wrote at most `want`; charge what it reports, bounded by `want`.
        let done =
            read_u32(mem, u64::from(nwritten as u32)).map_or(want, |n| u64::from(n).min(want));
        s.quota.charge(done);
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

/// Shadow the file-writing WASI imports in `linker` (which must allow shadowing and already
/// hold the wasmtime-wasi definitions).
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut c: Caller<'_, GuestState>, fd: i32, iovs: i32, len: i32, nw: i32| {
            with_guest(&mut c, |s, mem| {
                counted_write(s, mem, fd, iovs, len, nw, &mut |w, m| {
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
                counted_write(s, mem, fd, iovs, len, nw, &mut |w, m| {
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
                    s.quota.stdio.remove(&fd);
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
                    let moved = s.quota.stdio.remove(&from);
                    s.quota.stdio.remove(&to);
                    if moved {
                        s.quota.stdio.insert(to);
                    }
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
            let n = if oflags & O_CREAT != 0 {
                INODE_CHARGE
            } else {
                0
            };
            with_guest(&mut c, |s, mem| {
                charged(s, mem, n, &mut |w, m| {
                    in_tokio(abi::path_open(
                        w, m, fd, dirflags, path, path_len, oflags, base, inh, fdflags, out,
                    ))
                })
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
}
