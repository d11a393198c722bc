//! Where codeswarm keeps what it fetches and builds: `$CODESWARM_HOME`, else the XDG cache dir.
//!
//! Layout under the home:
//! - `models/`   verified GGUF files
//! - `runtime/`  the CPython WASI runtime, its site-packages, compiled-module cache
//! - `datasets/` evaluation data (HumanEval)
//! - `repos/`    bare mirrors of remote repositories (local ones are read in place)
//! - `tmp/`      partial downloads (same file system as the final files, for atomic renames)

use std::path::PathBuf;

/// The codeswarm home directory (not created).
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("CODESWARM_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    dirs::cache_dir()
        .unwrap_or_else(|| std::env::temp_dir().join("codeswarm-cache"))
        .join("codeswarm")
}

pub fn models_dir() -> PathBuf {
    home().join("models")
}

pub fn runtime_dir() -> PathBuf {
    home().join("runtime")
}

pub fn datasets_dir() -> PathBuf {
    home().join("datasets")
}

pub fn repos_dir() -> PathBuf {
    home().join("repos")
}

pub fn tmp_dir() -> PathBuf {
    home().join("tmp")
}
