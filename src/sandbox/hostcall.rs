//! Calling wasmtime-wasi's own WASI preview-1 implementation from a shadowing import. A shadowed
//! function cannot call the original through a `Func` (that call would have no calling instance,
//! hence no guest memory), so it calls the same ABI-level function that wasmtime-wasi's linker
//! glue calls, with the guest memory and hostcall fuel set up the same way.

use wasmtime::{AsContextMut, Caller, Extern};
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;

pub(crate) use wasmtime_wasi::p1::wasi_snapshot_preview1 as abi;
pub(crate) use wasmtime_wasi::runtime::in_tokio;
pub(crate) use wiggle::GuestMemory;

use super::state::GuestState;

/// Run `f` with the store data and the guest's linear memory (as raw bytes).
pub(crate) fn with_guest<R>(
    caller: &mut Caller<'_, GuestState>,
    f: impl FnOnce(&mut GuestState, &mut [u8]) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(wasmtime::Error::msg("missing required memory export"));
    };
    let (mem, state) = memory.data_and_store_mut(caller);
    state.wasi.set_hostcall_fuel(fuel);
    f(state, mem)
}

/// Read a little-endian u32 from guest memory.
pub(crate) fn read_u32(mem: &[u8], addr: u64) -> Option<u32> {
    let start = usize::try_from(addr).ok()?;
    let bytes = mem.get(start..start.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}
