//! The on-disk cache of the compiled runtime module. Compiling CPython's 26 MB of wasm takes
//! seconds; loading the precompiled artifact takes milliseconds.
//!
//! The file name carries the wasm's sha256, the wasmtime major version and a hash of the
//! engine's compatibility key (target, CPU features, tunables, wasmtime version), so a different
//! runtime, wasmtime or machine never picks up a foreign artifact. A sidecar `.sha256` records
//! the artifact's digest; a file that does not match it (truncated, corrupted) or that wasmtime
//! rejects is rebuilt. Both files are written to temporaries and renamed into place.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use super::error::io_err;
use super::SandboxError;

/// Where the module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleSource {
    /// Loaded from a verified cache file.
    Cache,
    /// Compiled now (no cache file, or a bad one) and written to the cache.
    Compiled,
}

const WASMTIME_MAJOR: &str = "48";

/// Cache file for a wasm with digest `wasm_sha256` under `engine`.
pub fn cache_path(engine: &Engine, cache_dir: &Path, wasm_sha256: &str) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let short = wasm_sha256.get(..16).unwrap_or(wasm_sha256);
    cache_dir.join(format!(
        "python-{short}-wasmtime{WASMTIME_MAJOR}-{:016x}.cwasm",
        h.finish()
    ))
}

pub(crate) fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Load the verified cached artifact, if there is one. The file is read into memory, checked,
/// and deserialized from that copy: nothing maps the file, so a file changed or truncated later
/// (by anyone) cannot affect a loaded module, and what is checked is what is loaded.
fn load(engine: &Engine, path: &Path) -> Option<Module> {
    let expected = std::fs::read_to_string(sidecar(path)).ok()?;
    let bytes = std::fs::read(path).ok()?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != expected.trim() {
        tracing::warn!(path = %path.display(), "compiled-module cache file does not match its checksum; rebuilding");
        return None;
    }
    // SAFETY: `bytes` are what this cache wrote from `Engine::precompile_module` (their digest
    // matches the sidecar written after them), and the file name binds them to this engine's
    // compatibility hash, which wasmtime also checks in the artifact's header.
    match unsafe { Module::deserialize(engine, &bytes) } {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "compiled-module cache file rejected; rebuilding");
            None
        }
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| SandboxError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Load the compiled module for `wasm` (whose sha256 is `wasm_sha256`) from `cache_dir`, or
/// compile it and store it there.
pub fn load_or_compile(
    engine: &Engine,
    wasm: &Path,
    wasm_sha256: &str,
    cache_dir: &Path,
) -> Result<(Module, ModuleSource), SandboxError> {
    let path = cache_path(engine, cache_dir, wasm_sha256);
    if let Some(m) = load(engine, &path) {
        tracing::debug!(path = %path.display(), "compiled module loaded from cache");
        return Ok((m, ModuleSource::Cache));
    }
    let bytes = std::fs::read(wasm).map_err(io_err(wasm))?;
    let started = std::time::Instant::now();
    let compiled = engine
        .precompile_module(&bytes)
        .map_err(|e| SandboxError::engine("compiling the Python runtime", e))?;
    tracing::info!(
        secs = started.elapsed().as_secs_f64(),
        "compiled the Python runtime module"
    );
    std::fs::create_dir_all(cache_dir).map_err(io_err(cache_dir))?;
    let digest = hex::encode(Sha256::digest(&compiled));
    // Artifact first, checksum second: a crash in between leaves a file that fails the check.
    write_atomic(&path, &compiled)?;
    write_atomic(&sidecar(&path), format!("{digest}\n").as_bytes())?;
    // SAFETY: `compiled` was produced by `precompile_module` on this engine just now.
    unsafe { Module::deserialize(engine, &compiled) }
        .map(|m| (m, ModuleSource::Compiled))
        .map_err(|e| SandboxError::engine("loading the compiled Python runtime", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module (func (export "answer") (result i32) i32.const 42))"#;

    fn answer(engine: &Engine, module: &Module) -> i32 {
        let mut store = wasmtime::Store::new(engine, ());
        let inst = wasmtime::Instance::new(&mut store, module, &[]).unwrap();
        inst.get_typed_func::<(), i32>(&mut store, "answer")
            .unwrap()
            .call(&mut store, ())
            .unwrap()
    }

    #[test]
    fn compiles_then_hits_then_rebuilds_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("m.wat");
        std::fs::write(&wasm, WAT).unwrap();
        let engine = Engine::default();
        let sha = "ab".repeat(32);
        let cache = dir.path().join("cache");

        let (m, src) = load_or_compile(&engine, &wasm, &sha, &cache).unwrap();
        assert_eq!(src, ModuleSource::Compiled);
        assert_eq!(answer(&engine, &m), 42);

        let (m, src) = load_or_compile(&engine, &wasm, &sha, &cache).unwrap();
        assert_eq!(src, ModuleSource::Cache);
        assert_eq!(answer(&engine, &m), 42);

        // Corrupt one byte in the middle of the artifact: detected and rebuilt.
        let path = cache_path(&engine, &cache, &sha);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (m, src) = load_or_compile(&engine, &wasm, &sha, &cache).unwrap();
        assert_eq!(src, ModuleSource::Compiled);
        assert_eq!(answer(&engine, &m), 42);
        assert_ne!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the corrupt file was replaced"
        );

        // Truncated artifact and a missing checksum are rebuilt too.
        std::fs::write(&path, b"junk").unwrap();
        assert_eq!(
            load_or_compile(&engine, &wasm, &sha, &cache).unwrap().1,
            ModuleSource::Compiled
        );
        std::fs::remove_file(sidecar(&path)).unwrap();
        assert_eq!(
            load_or_compile(&engine, &wasm, &sha, &cache).unwrap().1,
            ModuleSource::Compiled
        );
        assert_eq!(
            load_or_compile(&engine, &wasm, &sha, &cache).unwrap().1,
            ModuleSource::Cache
        );
    }

    #[test]
    fn key_depends_on_wasm_digest_and_engine() {
        let e1 = Engine::default();
        let mut cfg = wasmtime::Config::new();
        cfg.consume_fuel(true);
        let e2 = Engine::new(&cfg).unwrap();
        let d = Path::new("/c");
        assert_ne!(
            cache_path(&e1, d, &"a".repeat(64)),
            cache_path(&e1, d, &"b".repeat(64))
        );
        assert_ne!(
            cache_path(&e1, d, &"a".repeat(64)),
            cache_path(&e2, d, &"a".repeat(64))
        );
    }
}
