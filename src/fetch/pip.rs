//! `python3 -m pip download --no-deps NAME==VERSION` into a directory (pure-Python wheels).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::FetchError;

/// The Python interpreter used for pip: `$CODESWARM_PYTHON`, else `python3`.
pub fn python_command() -> String {
    std::env::var("CODESWARM_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Download one wheel (no dependencies) into `dir` and return its path: the pure-Python wheel
/// when there is one, else whatever wheel pip picks for this host (so that the caller can name a
/// native-only package as such instead of reporting "no matching distribution").
pub fn pip_download(package: &str, version: &str, dir: &Path) -> Result<PathBuf, FetchError> {
    match pip_download_with(package, version, dir, true) {
        Ok(p) => Ok(p),
        Err(pure) => pip_download_with(package, version, dir, false).map_err(|_| pure),
    }
}

fn pip_download_with(
    package: &str,
    version: &str,
    dir: &Path,
    pure_only: bool,
) -> Result<PathBuf, FetchError> {
    let python = python_command();
    let spec = format!("{package}=={version}");
    // Pure-Python wheels first (`*-none-any`): a package that also publishes platform wheels
    // must not resolve to the host's native one (the sandbox cannot load it, and its hash
    // would not match the pin).
    let mut args = vec!["-m", "pip", "download", "--no-deps", "--only-binary=:all:"];
    if pure_only {
        args.extend(["--platform", "any"]);
    }
    args.extend(["--disable-pip-version-check", "-q", "-d"]);
    let command = format!("{python} {} {} {spec}", args.join(" "), dir.display());
    tracing::debug!(%command, "pip download");
    let out = Command::new(&python)
        .args(&args)
        .arg(dir)
        .arg(&spec)
        .output()
        .map_err(|e| FetchError::NoPython(format!("{python}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .last()
            .unwrap_or("no output")
            .to_string();
        return Err(FetchError::Pip { command, detail });
    }
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '.'], "_");
    let want = norm(package);
    let entries = std::fs::read_dir(dir).map_err(super::io_err(dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".whl") && norm(name.split('-').next().unwrap_or("")) == want {
            return Ok(entry.path());
        }
    }
    Err(FetchError::Pip {
        command,
        detail: format!(
            "pip reported success but no wheel for {package} is in {}",
            dir.display()
        ),
    })
}
