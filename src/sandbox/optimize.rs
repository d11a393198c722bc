//! An optimized copy of the pinned CPython runtime, made on this machine once.
//!
//! The pinned `python-3.12.0.wasm` was compiled from C at `-O0` (see
//! docs/sandbox-performance.md), so its interpreter loop is about a fifth slower than it needs
//! to be even inside wasm. binaryen's `wasm-opt -O3` (Debian's `binaryen` package, which
//! `scripts/setup.sh` installs) rewrites the module into an equivalent, faster one. Its output
//! is deterministic for one binaryen version and one input, so the result is pinned like the
//! runtime itself (`[runtime.optimized]` in `sandbox/requirements.toml`: tool version, flags,
//! size, sha256) and any other output is refused: every machine runs byte-for-byte the same
//! interpreter, and a file planted under the optimized name is never loaded unless it is exactly
//! the pinned module.
//!
//! When the tool is missing, is another version, or its output does not match the pin, the
//! sandbox runs the pinned runtime as before and says so (a warning with the fix, and in
//! `codeswarm doctor`); only speed differs. `CODESWARM_PLAIN_RUNTIME=1` asks for the pinned
//! runtime explicitly (for measuring one against the other).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::io_err;
use super::requirements::{OptimizedPin, Requirements};
use super::runtime::RuntimePaths;
use super::SandboxError;
use crate::fetch::{self, AssetSpec, Source};

/// Environment variable that selects the pinned (unoptimized) runtime.
pub const PLAIN_ENV: &str = "CODESWARM_PLAIN_RUNTIME";
/// Environment variable naming the `wasm-opt` to use (default: `wasm-opt` on PATH).
pub const TOOL_ENV: &str = "CODESWARM_WASM_OPT";

/// Which runtime module a sandbox runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeChoice {
    pub wasm: PathBuf,
    pub sha256: String,
    /// The optimized copy (true) or the pinned runtime as fetched (false).
    pub optimized: bool,
    /// Why the pinned runtime is used, when it is.
    pub why_plain: Option<String>,
}

impl RuntimeChoice {
    fn plain(req: &Requirements, paths: &RuntimePaths, why: String) -> Self {
        Self {
            wasm: paths.wasm.clone(),
            sha256: req.runtime.sha256.clone(),
            optimized: false,
            why_plain: Some(why),
        }
    }
    /// One line for reports: which module and why.
    pub fn describe(&self) -> String {
        match &self.why_plain {
            None => format!("optimized ({})", self.wasm.display()),
            Some(why) => format!("pinned, unoptimized ({why})"),
        }
    }
}

/// The module to run: the optimized copy when it is (or can now be made) exactly the pinned
/// one, else the pinned runtime. `paths.wasm` must already be fetched and verified. Errors only
/// on I/O trouble in the runtime dir; a missing or mismatched tool is a [`RuntimeChoice`] with
/// `why_plain`.
pub fn choose(req: &Requirements, paths: &RuntimePaths) -> Result<RuntimeChoice, SandboxError> {
    let tool = std::env::var_os(TOOL_ENV).map_or_else(|| PathBuf::from("wasm-opt"), PathBuf::from);
    choose_with(
        req,
        paths,
        &tool,
        std::env::var_os(PLAIN_ENV).is_some_and(|v| v != "0"),
    )
}

pub(crate) fn choose_with(
    req: &Requirements,
    paths: &RuntimePaths,
    tool: &Path,
    plain: bool,
) -> Result<RuntimeChoice, SandboxError> {
    let Some(pin) = &req.runtime.optimized else {
        return Ok(RuntimeChoice::plain(
            req,
            paths,
            "no optimized runtime is pinned".into(),
        ));
    };
    if plain {
        return Ok(RuntimeChoice::plain(
            req,
            paths,
            format!("{PLAIN_ENV} is set"),
        ));
    }
    let target = paths.dir.join(&pin.file);
    let chosen = RuntimeChoice {
        wasm: target.clone(),
        sha256: pin.sha256.clone(),
        optimized: true,
        why_plain: None,
    };
    if matches_pin(&target, pin) {
        return Ok(chosen);
    }
    if std::fs::symlink_metadata(&target).is_ok() {
        tracing::warn!(path = %target.display(), "the optimized runtime does not match its pin; making it again");
        std::fs::remove_file(&target).map_err(io_err(&target))?;
        let _ = std::fs::remove_file(fetch::verify_stamp_path(&target));
    }
    match make(paths, pin, tool) {
        Ok(()) => Ok(chosen),
        Err(why) => {
            tracing::warn!(
                %why,
                "running the pinned, unoptimized Python runtime (about a fifth slower); fix: install binaryen {} (`apt-get install binaryen`, as scripts/setup.sh does) or point {TOOL_ENV} at its wasm-opt",
                pin.tool_version
            );
            Ok(RuntimeChoice::plain(req, paths, why))
        }
    }
}

/// A regular file (not a link) of the pinned size and sha256 (re-hashed unless a verification
/// stamp vouches for this exact size and mtime, as for the runtime itself).
fn matches_pin(path: &Path, pin: &OptimizedPin) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.file_type().is_file() {
        return false;
    }
    let spec = AssetSpec {
        what: "optimized Python runtime".into(),
        size: Some(pin.size),
        sha256: Some(pin.sha256.clone()),
        source: Source::Manual {
            hint: String::new(),
        },
    };
    fetch::Verified::check(path, &spec).is_ok()
}

/// Run the tool on the pinned runtime into a temporary file beside the target, check the result
/// against the pin, and rename it into place. `Err` says why not, for the warning.
fn make(paths: &RuntimePaths, pin: &OptimizedPin, tool: &Path) -> Result<(), String> {
    let version = Command::new(tool)
        .arg("--version")
        .output()
        .map_err(|e| format!("`{}` cannot be run: {e}", tool.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let words: Vec<&str> = version.split_whitespace().collect();
    let reported = words.windows(2).find(|w| w[0] == "version").map(|w| w[1]);
    if reported != Some(pin.tool_version.as_str()) {
        return Err(format!(
            "`{}` reports `{version}`, the pin needs binaryen {}",
            tool.display(),
            pin.tool_version
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".optimizing-")
        .suffix(".wasm")
        .tempfile_in(&paths.dir)
        .map_err(|e| format!("{}: {e}", paths.dir.display()))?;
    tracing::info!(tool = %tool.display(), args = ?pin.args, "optimizing the Python runtime (once)");
    let started = std::time::Instant::now();
    let out = Command::new(tool)
        .args(&pin.args)
        .arg(&paths.wasm)
        .arg("-o")
        .arg(tmp.path())
        .output()
        .map_err(|e| format!("`{}` cannot be run: {e}", tool.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed ({}): {}",
            tool.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let (size, digest) = fetch::sha256_file(tmp.path()).map_err(|e| e.to_string())?;
    if size != pin.size || digest != pin.sha256 {
        return Err(format!(
            "`{}` produced {size} bytes with sha256 {digest}, the pin is {} bytes with {}",
            tool.display(),
            pin.size,
            pin.sha256
        ));
    }
    let target = paths.dir.join(&pin.file);
    tmp.persist(&target)
        .map_err(|e| format!("{}: {}", target.display(), e.error))?;
    // Later opens skip re-hashing while the file keeps this size and mtime.
    if let Err(e) = fetch::Verified::stamp(&target) {
        tracing::debug!(error = %e, "could not stamp the optimized runtime");
    }
    tracing::info!(
        secs = started.elapsed().as_secs_f64(),
        "optimized the Python runtime"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;

    /// A fake `wasm-opt`: reports version 108 and writes `out` as its output.
    fn fake_tool(dir: &Path, out: &[u8]) -> PathBuf {
        let data = dir.join("fake-output");
        std::fs::write(&data, out).unwrap();
        let tool = dir.join("wasm-opt");
        std::fs::write(
            &tool,
            format!(
                "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'wasm-opt version 108'; exit 0; fi\n\
                 while [ \"$1\" != -o ]; do shift; done\ncp '{}' \"$2\"\n",
                data.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        tool
    }

    fn setup(optimized: &[u8]) -> (tempfile::TempDir, Requirements, RuntimePaths) {
        let dir = tempfile::tempdir().unwrap();
        let digest = hex::encode(Sha256::digest(optimized));
        let text = format!(
            "[runtime]\npackage = \"p\"\nversion = \"1\"\nmember = \"p/x.wasm\"\nfile = \"x.wasm\"\n\
             size = 3\nsha256 = \"{}\"\n\n[runtime.optimized]\ntool_version = \"108\"\n\
             args = [\"-O3\"]\nfile = \"x.O3.wasm\"\nsize = {}\nsha256 = \"{digest}\"\n",
            "a".repeat(64),
            optimized.len()
        );
        let req = Requirements::parse(&text).unwrap();
        let rt = dir.path().join("rt");
        std::fs::create_dir(&rt).unwrap();
        let paths = RuntimePaths::new(&rt, &req);
        std::fs::write(&paths.wasm, b"abc").unwrap();
        (dir, req, paths)
    }

    #[test]
    fn makes_the_pinned_output_once_and_uses_it() {
        let (dir, req, paths) = setup(b"optimized module");
        let tool = fake_tool(dir.path(), b"optimized module");
        let c = choose_with(&req, &paths, &tool, false).unwrap();
        assert!(c.optimized, "{c:?}");
        assert_eq!(std::fs::read(&c.wasm).unwrap(), b"optimized module");
        // Second open: the file matches its pin, the tool is not needed.
        let c2 = choose_with(&req, &paths, Path::new("/nonexistent/wasm-opt"), false).unwrap();
        assert_eq!(c, c2);
        // Asked for the plain runtime: the pinned one, with the reason.
        let p = choose_with(&req, &paths, &tool, true).unwrap();
        assert!(!p.optimized);
        assert_eq!(p.wasm, paths.wasm);
        assert_eq!(p.sha256, req.runtime.sha256);
    }

    #[test]
    fn output_that_differs_from_the_pin_is_refused() {
        let (dir, req, paths) = setup(b"optimized module");
        let tool = fake_tool(dir.path(), b"another module!!");
        let c = choose_with(&req, &paths, &tool, false).unwrap();
        assert!(!c.optimized);
        assert_eq!(c.wasm, paths.wasm);
        assert!(c.why_plain.as_deref().unwrap().contains("sha256"), "{c:?}");
        assert!(!paths.dir.join("x.O3.wasm").exists(), "nothing kept");
        let leftovers: Vec<_> = std::fs::read_dir(&paths.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "only the runtime: {leftovers:?}");
    }

    #[test]
    fn a_planted_or_damaged_optimized_file_is_never_loaded() {
        let (dir, req, paths) = setup(b"optimized module");
        let target = paths.dir.join("x.O3.wasm");
        // Same size, other bytes: replaced by the tool's (pinned) output.
        std::fs::write(&target, b"OPTIMIZED MODULE").unwrap();
        let tool = fake_tool(dir.path(), b"optimized module");
        let c = choose_with(&req, &paths, &tool, false).unwrap();
        assert!(c.optimized);
        assert_eq!(std::fs::read(&target).unwrap(), b"optimized module");
        // A link to a matching file is not accepted either, and without a tool the plain
        // runtime runs.
        let elsewhere = dir.path().join("elsewhere.wasm");
        std::fs::write(&elsewhere, b"optimized module").unwrap();
        std::fs::remove_file(&target).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &target).unwrap();
        let c = choose_with(&req, &paths, Path::new("/nonexistent/wasm-opt"), false).unwrap();
        assert!(!c.optimized, "{c:?}");
        assert!(!target.exists() && std::fs::symlink_metadata(&target).is_err());
    }

    #[test]
    fn wrong_tool_version_keeps_the_plain_runtime() {
        let (dir, req, paths) = setup(b"optimized module");
        let tool = dir.path().join("old-wasm-opt");
        std::fs::write(&tool, "#!/bin/sh\necho 'wasm-opt version 105'\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = choose_with(&req, &paths, &tool, false).unwrap();
        assert!(!c.optimized);
        assert!(c.why_plain.unwrap().contains("108"));
    }
}
