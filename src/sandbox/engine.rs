//! The wasmtime side, built once per [`Sandbox`](super::Sandbox) and shared by all its runs:
//! the engine (epoch interruption, optional fuel), the one ticker thread that advances the
//! engine's epoch, the linker (WASI preview 1 plus the sandbox's shadowing imports), and the
//! `InstancePre` that each run instantiates in its own store.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstancePre, Linker, OptLevel};

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

/// Engine, linkers and the pre-linked runtime module.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub pre: InstancePre<GuestState>,
    pub fuel: bool,
    pub module_source: ModuleSource,
    _ticker: Ticker,
}

pub(crate) fn new_engine(fuel: bool) -> Result<Engine, SandboxError> {
    let mut cfg = Config::new();
    cfg.epoch_interruption(true);
    cfg.consume_fuel(fuel);
    cfg.cranelift_opt_level(OptLevel::Speed);
    Engine::new(&cfg).map_err(|e| SandboxError::engine("creating the engine", e))
}

impl Runtime {
    /// Load (or compile and cache) `wasm` and link it.
    pub fn new(
        wasm: &Path,
        wasm_sha256: &str,
        cache_dir: &Path,
        fuel: bool,
    ) -> Result<Self, SandboxError> {
        let engine = new_engine(fuel)?;
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
            _ticker: ticker,
        })
    }
}
