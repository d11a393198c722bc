//! The per-run store data: the WASI context, the memory limiter, the disk quota, the descriptor
//! cap, the deadline, and the bytecode cache's hints.

use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime_wasi::p1::WasiP1Ctx;

use super::bytecode::fill::Hints;
use super::quota::{DiskQuota, OpenFiles};

/// Caps linear-memory growth and remembers whether the guest ran into the cap.
pub(crate) struct MemoryLimiter {
    pub cap: usize,
    pub hit: bool,
    pub peak: usize,
}

/// Tables hold function references; CPython needs a few thousand entries.
const TABLE_ELEMENTS_MAX: usize = 1 << 20;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            tracing::debug!(
                current,
                desired,
                cap = self.cap,
                "guest memory growth denied"
            );
            self.hit = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_MAX)
    }
}

pub(crate) struct GuestState {
    pub wasi: WasiP1Ctx,
    pub memory: MemoryLimiter,
    pub quota: DiskQuota,
    pub files: OpenFiles,
    /// Start of the guest's monotonic clock (the sandbox supplies that clock).
    pub clock_base: Instant,
    /// When the run must end.
    pub deadline: Instant,
    /// Set when a host call (a sleep) was cut short by the deadline.
    pub timed_out: bool,
    /// The `.py` files the guest opened in its work dir (for the bytecode cache).
    pub hints: Hints,
}
