//! Keeping the wall-clock limit when the guest is not executing wasm. Epoch interruption stops
//! running wasm code, but a guest blocked in a host call (`time.sleep(10**6)` is a
//! `poll_oneoff` on a clock) is not running wasm. The sandbox gives the guest a monotonic clock
//! whose origin it knows and shadows `poll_oneoff`: a wait that would outlast the run's deadline
//! sleeps only until the deadline and then ends the run as a timeout.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Linker};
use wasmtime_wasi::HostMonotonicClock;

use super::hostcall::{abi, in_tokio, with_guest, GuestMemory};
use super::state::GuestState;

/// The guest's monotonic clock: nanoseconds since `base`.
pub(crate) struct GuestClock {
    pub base: Instant,
}

impl HostMonotonicClock for GuestClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

const EINVAL: i32 = 28;
/// Most subscriptions accepted in one call.
const SUBS_MAX: u32 = 4096;
const SUB_SIZE: usize = 48;

/// The error that ends a run whose sleep reached the deadline.
#[derive(Debug)]
pub(crate) struct DeadlineReached;

impl std::fmt::Display for DeadlineReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the guest's deadline passed while it was waiting")
    }
}
impl std::error::Error for DeadlineReached {}

/// The shortest wait, in nanoseconds, among the subscriptions if they are all clocks; `None` if
/// any waits on a descriptor (those are ready at once in this sandbox: stdin is empty, files are
/// always ready) or the list cannot be read.
fn clock_only_wait(subs: &[u8], clock_now: u64, wall_now: u64) -> Option<u64> {
    let mut min: Option<u64> = None;
    for sub in subs.chunks_exact(SUB_SIZE) {
        if sub[8] != 0 {
            return None;
        }
        let id = u32::from_le_bytes(sub[16..20].try_into().ok()?);
        let timeout = u64::from_le_bytes(sub[24..32].try_into().ok()?);
        let flags = u16::from_le_bytes(sub[40..42].try_into().ok()?);
        let wait = if flags & 1 == 0 {
            timeout
        } else {
            match id {
                0 => timeout.saturating_sub(wall_now),
                1 => timeout.saturating_sub(clock_now),
                _ => 0,
            }
        };
        min = Some(min.map_or(wait, |m| m.min(wait)));
    }
    min
}

/// Shadow `poll_oneoff` in `linker` (which must allow shadowing).
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "wasi_snapshot_preview1",
        "poll_oneoff",
        |mut c: Caller<'_, GuestState>,
         subs: i32,
         events: i32,
         nsubs: i32,
         nevents: i32|
         -> wasmtime::Result<i32> {
            let n = nsubs as u32;
            if n > SUBS_MAX {
                return Ok(EINVAL);
            }
            with_guest(&mut c, |s, mem| {
                let remaining = s.deadline.saturating_duration_since(Instant::now());
                let clock_now =
                    u64::try_from(s.clock_base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let wall_now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                let start = subs as u32 as usize;
                let wait = start
                    .checked_add(n as usize * SUB_SIZE)
                    .and_then(|end| mem.get(start..end))
                    .and_then(|bytes| clock_only_wait(bytes, clock_now, wall_now));
                if let Some(wait) = wait {
                    if Duration::from_nanos(wait) > remaining {
                        std::thread::sleep(remaining);
                        s.timed_out = true;
                        return Err(wasmtime::Error::new(DeadlineReached));
                    }
                }
                in_tokio(abi::poll_oneoff(
                    &mut s.wasi,
                    &mut GuestMemory::Unshared(mem),
                    subs,
                    events,
                    nsubs,
                    nevents,
                ))
            })
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock_sub(id: u32, timeout: u64, abs: bool) -> Vec<u8> {
        let mut s = vec![0u8; SUB_SIZE];
        s[16..20].copy_from_slice(&id.to_le_bytes());
        s[24..32].copy_from_slice(&timeout.to_le_bytes());
        s[40..42].copy_from_slice(&(abs as u16).to_le_bytes());
        s
    }

    #[test]
    fn waits_are_read_from_subscriptions() {
        assert_eq!(
            clock_only_wait(&clock_sub(1, 5_000, false), 0, 0),
            Some(5_000)
        );
        assert_eq!(
            clock_only_wait(&clock_sub(1, 5_000, true), 1_000, 0),
            Some(4_000)
        );
        assert_eq!(
            clock_only_wait(&clock_sub(0, 9_000, true), 0, 10_000),
            Some(0)
        );
        let mut two = clock_sub(1, 50, false);
        two.extend(clock_sub(1, 7, false));
        assert_eq!(clock_only_wait(&two, 0, 0), Some(7));
        let mut fd = vec![0u8; SUB_SIZE];
        fd[8] = 1;
        assert_eq!(clock_only_wait(&fd, 0, 0), None);
    }
}
