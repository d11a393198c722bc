//! `codeswarm doctor` as a library call: what is set up and what is not. Each check has a
//! status, says whether a working set-up needs it, and carries the exact command that fixes it.
//! Nothing is fetched or repaired here: the doctor only looks (and times two tiny runs).
//!
//! Checks, in order: the build (CUDA or CPU), the CPU features it was built for against this
//! CPU ([`cpu`]), the cache directory and its size, every registry model (present, sha256 against
//! its registry entry), the sandbox runtime (the CPython WASI binary's sha256 and the installed
//! environment against its manifest), a tiny timed generation and a tiny timed sandbox run
//! ([`timed`]).

pub mod cpu;
pub mod timed;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fetch::{self, AssetSpec, FetchError};
use crate::models::memory::human;
use crate::models::registry::{Entry, Registry};
use crate::sandbox::{manifest, Requirements, RuntimePaths};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Works, with something worth changing (e.g. CPU features left unused).
    Warn,
    /// Not there.
    Missing,
    /// There but wrong (a checksum mismatch, a failed run).
    Failed,
    /// Not run, with the reason in the detail.
    Skipped,
    /// For information only (an optional model not downloaded, a CPU build).
    Info,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "MISSING",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
            Status::Info => "info",
        }
    }

    /// Missing or failed.
    pub fn is_problem(self) -> bool {
        matches!(self, Status::Missing | Status::Failed)
    }
}

/// One line of the doctor's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable id: `build`, `cpu`, `cache`, `model:NAME`, `runtime`, `generate`, `sandbox_run`.
    pub id: String,
    pub status: Status,
    /// A working set-up needs this one: a problem here makes the doctor exit non-zero.
    pub required: bool,
    pub detail: String,
    /// The command (or step) that fixes a problem.
    pub fix: Option<String>,
    /// Wall time of a timed check.
    pub seconds: Option<f64>,
}

impl Check {
    fn new(id: impl Into<String>, status: Status, required: bool, detail: String) -> Self {
        Self {
            id: id.into(),
            status,
            required,
            detail,
            fix: None,
            seconds: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// The model the set-up must have (registry name or path; default: the registry default).
    pub model: Option<String>,
    /// Trust the verification stamps written when a file was last hashed (size and mtime
    /// unchanged), check the runtime environment's file sizes only, and skip the timed runs.
    pub quick: bool,
    /// Skip the timed generation (the sandbox run still happens).
    pub no_generate: bool,
}

/// The doctor's answer.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// No required check is missing or failed.
    pub ok: bool,
    pub version: String,
    pub home: PathBuf,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// 0 when every required piece is there, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.ok {
            0
        } else {
            1
        }
    }

    /// The readable answer: one line per check, the fix under each problem, and a verdict.
    pub fn text(&self) -> String {
        let mut s = format!(
            "codeswarm doctor (codeswarm {}, home {})\n",
            self.version,
            self.home.display()
        );
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in &self.checks {
            let time = c.seconds.map(|t| format!(" [{t:.2}s]")).unwrap_or_default();
            s += &format!(
                "  {:<7} {:<width$}  {}{time}\n",
                c.status.label(),
                c.id,
                c.detail
            );
            if let Some(fix) = &c.fix {
                s += &format!("  {:<7} {:<width$}  fix: {fix}\n", "", "");
            }
        }
        let problems: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.required && c.status.is_problem())
            .collect();
        if problems.is_empty() {
            s += "ready: every required piece is set up\n";
        } else {
            s += &format!(
                "not ready: {} required piece(s) missing or broken ({}); run the fix lines above\n",
                problems.len(),
                problems
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        s
    }
}

/// Run every check.
pub fn diagnose(opts: &DoctorOptions) -> DoctorReport {
    let registry = Registry::builtin();
    let home = crate::paths::home();
    let mut checks = vec![build_check(), cpu_check(), cache_check(&home)];
    let wanted = opts
        .model
        .clone()
        .unwrap_or_else(|| registry.default.clone());
    let mut model_ready: Option<String> = None;
    let wanted_entry = registry.get(&wanted).map(|e| e.name.clone());
    if wanted_entry.is_none() {
        let c = path_model_check(&registry, &wanted, opts.quick);
        if c.status == Status::Ok {
            model_ready = Some(wanted.clone());
        }
        checks.push(c);
    }
    for entry in &registry.models {
        let required = wanted_entry.as_deref() == Some(entry.name.as_str());
        let c = model_check(entry, required, opts.quick);
        if required && c.status == Status::Ok {
            model_ready = Some(entry.name.clone());
        }
        checks.push(c);
    }
    let runtime = runtime_check(opts.quick);
    let runtime_ok = runtime.status == Status::Ok;
    checks.push(runtime);
    checks.push(if opts.quick || opts.no_generate {
        Check::new(
            "generate",
            Status::Skipped,
            false,
            format!(
                "skipped ({})",
                if opts.quick {
                    "--quick"
                } else {
                    "--no-generate"
                }
            ),
        )
    } else {
        match &model_ready {
            Some(m) => timed::generation(m),
            None => Check::new(
                "generate",
                Status::Skipped,
                false,
                format!("skipped: the model `{wanted}` is not ready (see its line above)"),
            ),
        }
    });
    checks.push(if opts.quick {
        Check::new(
            "sandbox_run",
            Status::Skipped,
            false,
            "skipped (--quick)".into(),
        )
    } else if runtime_ok {
        timed::sandbox_run()
    } else {
        Check::new(
            "sandbox_run",
            Status::Skipped,
            false,
            "skipped: the sandbox runtime is not ready (see its line above)".into(),
        )
    });
    DoctorReport {
        ok: !checks.iter().any(|c| c.required && c.status.is_problem()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        home,
        checks,
    }
}

/// Whether a CUDA device seems present on this machine (the driver's files).
fn cuda_device_present() -> bool {
    Path::new("/proc/driver/nvidia/version").exists() || Path::new("/dev/nvidia0").exists()
}

fn build_check() -> Check {
    let opt = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if cfg!(feature = "cuda") {
        return Check::new(
            "build",
            Status::Ok,
            false,
            format!("{opt} build with CUDA (llama.cpp offloads layers to the GPU)"),
        );
    }
    let c = Check::new(
        "build",
        Status::Info,
        false,
        format!("{opt} build for the CPU (no `cuda` feature)"),
    );
    if cuda_device_present() {
        Check {
            status: Status::Warn,
            detail: format!("{opt} build for the CPU, but this machine has an NVIDIA driver"),
            ..c
        }
        .fix("cargo build --release --locked --features cuda (needs the CUDA toolkit)")
    } else {
        c
    }
}

fn cpu_check() -> Check {
    let features = cpu::features();
    let (unsupported, unused) = cpu::compare(&features);
    let built: Vec<&str> = features
        .iter()
        .filter(|f| f.built)
        .map(|f| f.name)
        .collect();
    let ggml: Vec<String> = cpu::ggml_options()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut detail = format!(
        "built for {}",
        if built.is_empty() {
            "the baseline instruction set only".to_string()
        } else {
            built.join(" ")
        }
    );
    if !ggml.is_empty() {
        detail += &format!(" ({})", ggml.join(", "));
    }
    let fix = "scripts/cpu-flags.sh && cargo build --release --locked";
    if !unsupported.is_empty() {
        return Check::new(
            "cpu",
            Status::Failed,
            true,
            format!(
                "{detail}; this CPU lacks {} (the model will crash)",
                unsupported.join(" ")
            ),
        )
        .fix(fix);
    }
    if !unused.is_empty() {
        return Check::new(
            "cpu",
            Status::Warn,
            false,
            format!(
                "{detail}; this CPU also offers {} (unused: slower generation)",
                unused.join(" ")
            ),
        )
        .fix(fix);
    }
    Check::new(
        "cpu",
        Status::Ok,
        true,
        format!("{detail}; this CPU has all of them"),
    )
}

/// Total size of the files under `dir` (links not followed).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn cache_check(home: &Path) -> Check {
    match std::fs::metadata(home) {
        Ok(m) if m.is_dir() => {
            let parts: Vec<String> = ["models", "runtime", "repos", "datasets"]
                .iter()
                .map(|d| (d, home.join(d)))
                .filter(|(_, p)| p.is_dir())
                .map(|(d, p)| format!("{d} {}", human(dir_size(&p))))
                .collect();
            Check::new(
                "cache",
                Status::Ok,
                true,
                format!(
                    "{} holds {}{}",
                    home.display(),
                    human(dir_size(home)),
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", parts.join(", "))
                    }
                ),
            )
        }
        Ok(_) => Check::new(
            "cache",
            Status::Failed,
            true,
            format!("{} is not a directory", home.display()),
        )
        .fix(format!(
            "move {} away, or point CODESWARM_HOME at a directory",
            home.display()
        )),
        Err(_) => Check::new(
            "cache",
            Status::Missing,
            true,
            format!(
                "{} does not exist (nothing fetched yet; CODESWARM_HOME or the XDG cache dir)",
                home.display()
            ),
        )
        .fix("scripts/setup.sh demo (or: codeswarm models pull && codeswarm sandbox --setup)"),
    }
}

/// Size and sha256 of `path` against `spec`: with `quick`, a verification stamp for this exact
/// file state is trusted; otherwise the whole file is hashed (after the size matched).
fn verify(path: &Path, spec: &AssetSpec, quick: bool) -> Result<(), FetchError> {
    if quick {
        return fetch::Verified::check(path, spec);
    }
    let what = format!("{} ({})", spec.what, path.display());
    let size = std::fs::metadata(path)
        .map_err(|source| FetchError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if let Some(expected) = spec.size.filter(|&e| e != size) {
        return Err(FetchError::Size {
            what,
            expected,
            actual: size,
        });
    }
    if let Some(expected) = &spec.sha256 {
        let (_, digest) = fetch::sha256_file(path)?;
        if !expected.eq_ignore_ascii_case(&digest) {
            return Err(FetchError::Sha256 {
                what,
                expected: expected.clone(),
                actual: digest,
            });
        }
    }
    Ok(())
}

fn model_check(entry: &Entry, required: bool, quick: bool) -> Check {
    let id = format!("model:{}", entry.name);
    let path = entry.path();
    let pull = match &entry.source {
        fetch::Source::Manual { hint } => hint.replace(
            "$CODESWARM_HOME/models/",
            &format!("{}/", crate::paths::models_dir().display()),
        ),
        _ => format!("codeswarm models pull {}", entry.name),
    };
    let role = if required {
        "the model runs use"
    } else {
        "optional"
    };
    if !path.exists() {
        let c = Check::new(
            id,
            if required {
                Status::Missing
            } else {
                Status::Info
            },
            required,
            format!(
                "not downloaded ({role}; {}, {})",
                entry.display_size(),
                path.display()
            ),
        );
        return c.fix(pull);
    }
    let started = std::time::Instant::now();
    let result = verify(&path, &entry.spec(), quick);
    let seconds = started.elapsed().as_secs_f64();
    let how = match (&entry.sha256, quick) {
        (None, _) => "size checked; the registry has no sha256 for it",
        (Some(_), true) => "sha256 verified (a stamp of the last full check trusted: --quick)",
        (Some(_), false) => "sha256 verified",
    };
    match result {
        Ok(()) => Check {
            seconds: Some(seconds),
            ..Check::new(
                id,
                Status::Ok,
                required,
                format!("{} ({role}; {how})", path.display()),
            )
        },
        Err(e) => Check::new(id, Status::Failed, required, format!("{e} ({role})"))
            // `pull` fetches a file that fails verification again.
            .fix(pull),
    }
}

/// `--model PATH`: a GGUF file that exists and parses (checked against the registry entry when
/// it carries a registry file name).
fn path_model_check(registry: &Registry, arg: &str, quick: bool) -> Check {
    let id = format!("model:{arg}");
    let bar = indicatif::ProgressBar::hidden();
    let fix = "pass a .gguf file or a registry name (`codeswarm models list`)";
    let resolved = match registry.resolve(Some(arg), false, &bar) {
        Ok(r) => r,
        Err(e) => {
            return Check::new(id, Status::Missing, true, e.to_string()).fix(fix);
        }
    };
    if let Some(entry) = &resolved.entry {
        if let Err(e) = verify(&resolved.path, &entry.spec(), quick) {
            return Check::new(id, Status::Failed, true, e.to_string()).fix(fix);
        }
    }
    match crate::models::gguf::GgufInfo::read(&resolved.path) {
        Ok(info) => Check::new(
            id,
            Status::Ok,
            true,
            format!(
                "{} ({}, {} parameters; not in the registry: no sha256 to check)",
                resolved.path.display(),
                info.architecture,
                info.params_human()
            ),
        ),
        Err(e) => Check::new(id, Status::Failed, true, e.to_string()).fix(fix),
    }
}

fn runtime_check(quick: bool) -> Check {
    let fix = "codeswarm sandbox --setup";
    let req = match Requirements::builtin() {
        Ok(r) => r,
        Err(e) => return Check::new("runtime", Status::Failed, true, e.to_string()),
    };
    let paths = RuntimePaths::new(&crate::paths::runtime_dir(), &req);
    if !paths.wasm.exists() {
        return Check::new(
            "runtime",
            Status::Missing,
            true,
            format!(
                "the CPython WASI runtime is not installed ({})",
                paths.wasm.display()
            ),
        )
        .fix(fix);
    }
    let started = std::time::Instant::now();
    if let Err(e) = verify(&paths.wasm, &req.runtime_spec(), quick) {
        return Check::new("runtime", Status::Failed, true, e.to_string()).fix(fix);
    }
    if std::fs::symlink_metadata(&paths.env).is_err() {
        return Check::new(
            "runtime",
            Status::Missing,
            true,
            format!(
                "{} verified, but its environment (pytest and the standard library) is not built ({})",
                paths.wasm.display(),
                paths.env.display()
            ),
        )
        .fix(fix);
    }
    let level = if quick {
        manifest::Check::Quick
    } else {
        manifest::Check::Full
    };
    if let Err(problem) = manifest::check(&paths.env, level) {
        return Check::new(
            "runtime",
            Status::Failed,
            true,
            format!(
                "the environment {} is damaged: {problem}",
                paths.env.display()
            ),
        )
        .fix(fix);
    }
    Check {
        seconds: Some(started.elapsed().as_secs_f64()),
        ..Check::new(
            "runtime",
            Status::Ok,
            true,
            format!(
                "{} and its environment verified ({})",
                paths.wasm.display(),
                if quick {
                    "sizes; sha256 stamps trusted: --quick"
                } else {
                    "every file's sha256"
                }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_puts_the_fix_under_each_problem_and_names_what_is_missing() {
        let report = DoctorReport {
            ok: false,
            version: "0".into(),
            home: PathBuf::from("/h"),
            checks: vec![
                Check::new("cpu", Status::Ok, true, "built for avx2".into()),
                Check::new("runtime", Status::Missing, true, "not installed".into())
                    .fix("codeswarm sandbox --setup"),
                Check::new("model:x", Status::Info, false, "not downloaded".into())
                    .fix("codeswarm models pull x"),
            ],
        };
        let t = report.text();
        let lines: Vec<&str> = t.lines().collect();
        let at = lines.iter().position(|l| l.contains("MISSING")).unwrap();
        assert!(
            lines[at + 1].ends_with("fix: codeswarm sandbox --setup"),
            "{t}"
        );
        assert!(
            t.contains("not ready: 1 required piece(s) missing or broken (runtime)"),
            "{t}"
        );
        assert_eq!(report.exit_code(), 1);
    }

    #[test]
    fn dir_size_adds_up_files_below() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/x"), [0u8; 10]).unwrap();
        std::fs::write(d.path().join("y"), [0u8; 5]).unwrap();
        assert_eq!(dir_size(d.path()), 15);
        assert_eq!(dir_size(&d.path().join("none")), 0);
    }
}
