//! The wasmtime side, built once per [`Sandbox`](super::Sandbox) and shared by all its runs:
//! the engine, the one ticker thread that advances the engine's epoch, the linker (WASI
//! preview 1 plus the sandbox's shadowing imports), and the `InstancePre` that each run
//! instantiates in its own store.
//!
//! The engine is set up for many short-lived guests of one large module (CPython):
//!
//! - Cranelift optimizing for speed; fuel metering compiled in only when asked for (it costs
//!   every guest instruction a counter update), epoch interruption always (a load and compare at
//!   function entries and loop headers: the cheap way to enforce wall-clock limits);
//! - copy-on-write memory images: the module's initial heap (CPython's data segments) is mapped,
//!   not copied, into each new instance;
//! - the pooling allocator: linear memories, tables and instance metadata come from slots
//!   reserved once and reset (not unmapped) after each run. Slots are limited, so runs beyond
//!   [`POOL_SLOTS`] at once wait for a free one ([`Slots`]). Where the address space cannot be
//!   reserved (a `ulimit -v`), the engine falls back to allocating per run.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, OptLevel,
    PoolingAllocationConfig,
};

use super::module_cache::{self, ModuleSource};
use super::state::GuestState;
use super::{deadline, quota, SandboxError};

/// How often the ticker advances the epoch: the granularity of timeouts.
pub const TICK: Duration = Duration::from_millis(10);

/// Advances an engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Result<Self, SandboxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, engine) = (stop.clone(), engine.clone());
        std::thread::Builder::new()
            .name("sandbox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| SandboxError::Setup(format!("cannot start the epoch thread: {e}")))?;
        Ok(Self { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Instances the pooling allocator holds slots for: runs at once (a batch's workers, the
/// Coordinator's parallel candidates); more wait for a slot. Each slot reserves 4 GiB of address
/// space (no memory) for the largest linear memory a job may ask for.
pub const POOL_SLOTS: u32 = 32;
/// Largest linear memory a pooled slot holds: the 32-bit guest's whole address space.
const POOL_MEMORY_BYTES: usize = 1 << 32;
/// Table elements per pooled slot (CPython's function table has tens of thousands).
const POOL_TABLE_ELEMENTS: usize = 1 << 20;
/// Instance metadata per pooled slot (CPython's `VMContext` is a few hundred KiB).
const POOL_INSTANCE_BYTES: usize = 8 << 20;

/// A counting semaphore over the pool's slots, so that concurrent runs wait for a slot instead
/// of failing to instantiate.
pub(crate) struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

/// One slot, given back when dropped (after the run's store is gone).
pub(crate) struct Slot<'a>(Option<&'a Slots>);

impl Slots {
    fn new(n: u32) -> Self {
        Self {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Slot(Some(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(slots) = self.0 {
            let mut free = slots.free.lock().unwrap_or_else(|p| p.into_inner());
            *free += 1;
            slots.freed.notify_one();
        }
    }
}

/// Engine, linkers and the pre-linked runtime module.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub pre: InstancePre<GuestState>,
    pub fuel: bool,
    pub module_source: ModuleSource,
    /// Set when the engine uses the pooling allocator.
    slots: Option<Slots>,
    _ticker: Ticker,
}

fn base_config(fuel: bool) -> Config {
    let mut cfg = Config::new();
    cfg.epoch_interruption(true);
    cfg.consume_fuel(fuel);
    cfg.cranelift_opt_level(OptLevel::Speed);
    cfg.memory_init_cow(true);
    cfg
}

fn pooling_config() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(POOL_SLOTS)
        .total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .max_memory_size(POOL_MEMORY_BYTES)
        .table_elements(POOL_TABLE_ELEMENTS)
        .max_core_instance_size(POOL_INSTANCE_BYTES);
    pool
}

/// The engine: pooled when `pooling` and the address space allows it (then `true` comes back
/// with it), else allocating per run.
pub(crate) fn new_engine_with(fuel: bool, pooling: bool) -> Result<(Engine, bool), SandboxError> {
    if pooling {
        let mut cfg = base_config(fuel);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config()));
        match Engine::new(&cfg) {
            Ok(engine) => return Ok((engine, true)),
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                "cannot reserve the sandbox's instance pool; allocating per run instead"
            ),
        }
    }
    Engine::new(&base_config(fuel))
        .map(|e| (e, false))
        .map_err(|e| SandboxError::engine("creating the engine", e))
}

impl Runtime {
    /// Load (or compile and cache) `wasm` and link it.
    pub fn new(
        wasm: &Path,
        wasm_sha256: &str,
        cache_dir: &Path,
        fuel: bool,
    ) -> Result<Self, SandboxError> {
        let (engine, pooled) = new_engine_with(fuel, true)?;
        let (module, module_source) =
            module_cache::load_or_compile(&engine, wasm, wasm_sha256, cache_dir)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut GuestState| &mut s.wasi)
            .map_err(|e| SandboxError::engine("linking WASI", e))?;
        linker.allow_shadowing(true);
        quota::add_to_linker(&mut linker)
            .map_err(|e| SandboxError::engine("linking the disk quota", e))?;
        deadline::add_to_linker(&mut linker)
            .map_err(|e| SandboxError::engine("linking the deadline", e))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| SandboxError::engine("linking the Python runtime", e))?;
        let ticker = Ticker::start(&engine)?;
        Ok(Self {
            engine,
            pre,
            fuel,
            module_source,
            slots: pooled.then(|| Slots::new(POOL_SLOTS)),
            _ticker: ticker,
        })
    }

    /// A pool slot for one run (waits while all are taken); hold it until the run's store is
    /// dropped.
    pub fn slot(&self) -> Slot<'_> {
        match &self.slots {
            Some(s) => s.take(),
            None => Slot(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_wait_for_a_free_one() {
        let slots = Arc::new(Slots::new(1));
        let first = slots.take();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = slots.clone();
        let waiter = std::thread::spawn(move || {
            let _s = other.take();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "a second run got a slot while the only one was taken"
        );
        drop(first);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the waiting run got the freed slot");
        waiter.join().unwrap();
    }

    #[test]
    fn pooled_engine_runs_a_module() {
        let (engine, _pooled) = new_engine_with(false, true).unwrap();
        let module = wasmtime::Module::new(
            &engine,
            r#"(module (memory 1) (func (export "f") (result i32) i32.const 7))"#,
        )
        .unwrap();
        for _ in 0..3 {
            let mut store = wasmtime::Store::new(&engine, ());
            store.set_epoch_deadline(1000);
            let inst = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            let f = inst.get_typed_func::<(), i32>(&mut store, "f").unwrap();
            assert_eq!(f.call(&mut store, ()).unwrap(), 7);
        }
    }
}
