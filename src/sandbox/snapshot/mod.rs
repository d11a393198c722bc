//! Pytest snapshots: start `python -m pytest` runs from a copy of an interpreter that has
//! already imported pytest and its plugins, instead of from scratch.
//!
//! `import pytest` and its plugins are ~300 modules; on the WASI interpreter that is most of a
//! small test run (the 2-test file: ~290 ms of ~530 ms). The runtime has no initialization
//! export to pre-initialize through (Wizer's way), so the snapshot is taken from outside:
//!
//! 1. **Take** (once per runtime, environment and job shape; then cached on disk): the host runs
//!    `python -i -c take.py` in a run with empty work dir and empty mounts. The script imports
//!    pytest and exactly the plugins `-m pytest` with the job's `-p` options imports before any
//!    job code, resets the import caches, prints the imported top-level names, and sets
//!    `sys.__interactivehook__ = os.abort`: after the command, CPython calls that hook from C
//!    with no Python frame running, and the guest traps in `abort`. The host copies the guest's
//!    linear memory there: a live interpreter with nothing on the stack.
//! 2. **Check** the module once ([`module_check`]): all state outside linear memory is the
//!    stack pointer (whose initial value is right with no call running), and `_start` begins
//!    with wasi-libc's run-once flag, which the image clears. The image ([`image`]) stores the
//!    chunks that differ from a fresh instance.
//! 3. **Probe** before first use: `probe.py` runs from scratch and from the image with the same
//!    environment; the interpreter state it reports (argv, `sys.path`, environment, flags,
//!    `__main__`, warning filters, streams, `sys.modules`…) and the test results must be equal,
//!    or the snapshot is not used.
//! 4. **Resume**: a fresh instance (with the job's own preopens, arguments and environment),
//!    its memory grown and overwritten with the image, then `_start` as always. CPython's
//!    start-up finds its runtime initialized and only reconfigures it (`sys.argv`, flags, …),
//!    runs the job, and finalizes as usual.
//!
//! **When a job uses one.** Only `python -m pytest …` with no interpreter options, in a sandbox
//! without fuel metering, with the memory limit above the snapshot's size, and when nothing on
//! the job's import path (the work dir and its `PYTHONPATH` dirs) holds a top-level name the
//! snapshot imported (`ast.py`, a `packaging/` of the repository's own…) or a
//! `sitecustomize`/`usercustomize` (which `site` runs at start-up): a fresh start would import
//! that file, so such jobs start from scratch. The snapshot key covers
//! everything else a fresh start depends on: the runtime's sha256, the installed environment,
//! the full environment variables, the mount points, the `-p` options and the script.
//!
//! **What differs from a fresh start**, by construction: `str` hashes use the snapshot's
//! hash secret and the `random` module starts from the snapshot's state (the same in every run
//! from one snapshot, as with a fixed `PYTHONHASHSEED`); the interpreter's memory layout, so
//! `id()` values. Everything the probe checks is equal.
//!
//! **Security.** The snapshot is taken by the host from the pinned runtime and environment with
//! a fixed script, in a run that sees only empty dirs; no job's files or code take part. Each
//! run gets its own copy of the image in a fresh instance, so nothing a job does reaches the
//! image or the next job. The file is stored under the runtime cache with a checksum, checked
//! on load, like the compiled module beside it.

mod image;
pub(crate) mod module_check;
pub mod store;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

pub(crate) use image::Image;

use super::engine::Runtime;
use super::layout::{GUEST_DEV, GUEST_SITE, GUEST_STDLIB, GUEST_TMP, GUEST_WORK};
use super::run::{self, GuestEnv};
use super::workdir::RunDirs;
use super::{Job, Mount, Status};

const TAKE_SCRIPT: &str = include_str!("take.py");
const PROBE: &str = include_str!("probe.py");
const PROBE_FILE: &str = "test_codeswarm_snapshot_probe.py";
/// Set to `1` to start every run from scratch (for measuring).
pub const DISABLE_ENV: &str = "CODESWARM_NO_SNAPSHOT";

/// The snapshots of one sandbox: taken on first use, kept in memory and on disk.
pub(crate) struct Snapshots {
    wasm: PathBuf,
    wasm_sha256: String,
    env_name: String,
    dir: PathBuf,
    guard: OnceLock<Result<module_check::StartGuard, String>>,
    /// `None`: this key cannot have a snapshot (taking or probing it failed).
    entries: Mutex<HashMap<String, Option<Arc<Image>>>>,
    used: AtomicU64,
    /// Bound of `dir` (see [`store`]).
    max_bytes: u64,
}

impl Snapshots {
    /// Snapshots of the runtime `wasm` (sha256 `wasm_sha256`) with the installed environment
    /// `env_name`, stored under `dir`, which is kept within `max_bytes` (least recently used
    /// snapshots removed first).
    pub fn new(wasm: &Path, wasm_sha256: &str, env_name: &str, dir: &Path, max_bytes: u64) -> Self {
        Self {
            wasm: wasm.to_path_buf(),
            wasm_sha256: wasm_sha256.to_string(),
            env_name: env_name.to_string(),
            dir: dir.to_path_buf(),
            guard: OnceLock::new(),
            entries: Mutex::new(HashMap::new()),
            used: AtomicU64::new(0),
            max_bytes,
        }
    }

    /// Runs started from a snapshot so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The image `job` starts from, if it qualifies (see the module docs); takes the snapshot
    /// on first use. `dirs` are the job's run dirs, already filled.
    pub fn for_job(
        &self,
        rt: &Runtime,
        env: &GuestEnv,
        job: &Job,
        dirs: &RunDirs,
    ) -> Option<Arc<Image>> {
        if rt.fuel || env.writable {
            return None;
        }
        let p_args = pytest_p_args(&job.args)?;
        let fresh = |why: String| {
            tracing::debug!(%why, "this run starts from scratch: {why}");
            None
        };
        let entries = match importable_entries(job, dirs) {
            Ok(entries) => entries,
            Err(why) => return fresh(why),
        };
        // Before taking a snapshot no run of this job could use.
        if let Some(why) = shadowing(&entries, &[]) {
            return fresh(why);
        }
        let key = self.key(env, job, &p_args);
        let image = self.get_or_take(&key, rt, env, job, &p_args)?;
        if image.memory_bytes() > job.limits.memory_bytes {
            return None;
        }
        if let Some(why) = shadowing(&entries, &image.names) {
            return fresh(why);
        }
        self.used.fetch_add(1, Ordering::Relaxed);
        Some(image)
    }

    fn key(&self, env: &GuestEnv, job: &Job, p_args: &[String]) -> String {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field("pytest-snapshot-v1");
        field(&self.wasm_sha256);
        field(&self.env_name);
        field(TAKE_SCRIPT);
        for (k, v) in run::runtime_env(env, job) {
            field(&k);
            field(&v);
        }
        field("mounts");
        for m in &job.mounts {
            field(&m.guest);
        }
        field("p");
        for a in p_args {
            field(a);
        }
        hex::encode(h.finalize())
    }

    fn get_or_take(
        &self,
        key: &str,
        rt: &Runtime,
        env: &GuestEnv,
        job: &Job,
        p_args: &[String],
    ) -> Option<Arc<Image>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.get(key) {
            return entry.clone();
        }
        let path = self.dir.join(format!("pytest-{}.img", &key[..32]));
        let entry = match Image::load(&path) {
            Some(image) => {
                store::touch(&path);
                Some(Arc::new(image))
            }
            None => {
                let started = std::time::Instant::now();
                match self.take(rt, env, job, p_args) {
                    Ok(image) => {
                        tracing::info!(
                            ms = started.elapsed().as_millis() as u64,
                            pages = image.pages,
                            "took a pytest snapshot (once per runtime and environment)"
                        );
                        if let Err(e) = image.store(&path) {
                            tracing::warn!(error = %e, "could not store the pytest snapshot; it is used in this process only");
                        } else {
                            let removed = store::prune(&self.dir, self.max_bytes, &path);
                            if !removed.is_empty() {
                                tracing::info!(
                                    removed = removed.len(),
                                    max_mib = self.max_bytes >> 20,
                                    "removed the least recently used pytest snapshots to keep the directory within its bound"
                                );
                            }
                        }
                        Some(Arc::new(image))
                    }
                    Err(why) => {
                        tracing::warn!(%why, "no pytest snapshot: pytest runs start from scratch (slower, same results)");
                        None
                    }
                }
            }
        };
        entries.insert(key.to_string(), entry.clone());
        entry
    }

    /// Take, check and probe a snapshot for jobs shaped like `job`.
    fn take(
        &self,
        rt: &Runtime,
        env: &GuestEnv,
        job: &Job,
        p_args: &[String],
    ) -> Result<Image, String> {
        let guard = self
            .guard
            .get_or_init(|| {
                let wasm = std::fs::read(&self.wasm)
                    .map_err(|e| format!("cannot read {}: {e}", self.wasm.display()))?;
                module_check::check(&wasm)
            })
            .clone()?;
        let empty = tempfile::Builder::new()
            .prefix("snapshot-mounts-")
            .tempdir_in(crate::paths::tmp_dir())
            .map_err(|e| format!("cannot make empty mount dirs: {e}"))?;
        let mounts = empty_mounts(&job.mounts, empty.path())?;
        let script = TAKE_SCRIPT.replace(
            "P_ARGS",
            &serde_json::to_string(p_args).map_err(|e| e.to_string())?,
        );
        let take = Job {
            args: vec!["-i".into(), "-c".into(), script],
            mounts: mounts.clone(),
            env: job.env.clone(),
            ..Job::default()
        }
        .timeout(std::time::Duration::from_secs(120));
        let fresh = run::capture(rt, env, &take, run::Capture::Fresh)?;
        let taken = run::capture(rt, env, &take, run::Capture::AfterRun)?;
        if !taken.unreachable {
            return Err(format!(
                "the snapshot script did not stop at its hook ({:?}): {}",
                taken.status,
                tail(&taken.stderr)
            ));
        }
        if !taken.stderr.is_empty() {
            return Err(format!(
                "the snapshot script wrote errors: {}",
                tail(&taken.stderr)
            ));
        }
        let names = taken
            .stdout
            .strip_prefix("codeswarm-snapshot ")
            .and_then(|s| s.strip_suffix('\n'))
            .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
            .ok_or_else(|| format!("unexpected snapshot output: {}", tail(&taken.stdout)))?;
        let (fresh, mut memory) = (fresh.memory, taken.memory);
        let a = guard.address as usize;
        let flag = |m: &[u8]| {
            m.get(a..a + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if flag(&fresh) != Some(0) || flag(&memory) != Some(1) {
            return Err("`_start`'s run-once flag is not where the module check found it".into());
        }
        memory[a..a + 4].fill(0);
        let image = Image::diff(&fresh, &memory, names)?;
        self.probe(rt, env, job, p_args, &mounts, &image)?;
        Ok(image)
    }

    /// Run the probe from scratch and from `image`; they must agree.
    fn probe(
        &self,
        rt: &Runtime,
        env: &GuestEnv,
        job: &Job,
        p_args: &[String],
        mounts: &[Mount],
        image: &Image,
    ) -> Result<(), String> {
        let mut args = vec!["-m".to_string(), "pytest".to_string()];
        args.extend(p_args.iter().cloned());
        args.extend(["--capture=sys", "-q", "--color=no", PROBE_FILE].map(String::from));
        let probe = Job {
            args,
            mounts: mounts.to_vec(),
            env: job.env.clone(),
            ..Job::default()
        }
        .file(PROBE_FILE, PROBE)
        .timeout(std::time::Duration::from_secs(120));
        let err = |e: super::SandboxError| e.to_string();
        let fresh = run::run_from(rt, env, &probe, None).map_err(err)?;
        let resumed = run::run_from(rt, env, &probe, Some(image)).map_err(err)?;
        let report = |o: &super::Outcome| -> Result<(serde_json::Value, String), String> {
            let stdout = String::from_utf8_lossy(&o.stdout);
            let line = stdout
                .lines()
                .find_map(|l| l.strip_prefix("codeswarm-probe "))
                .ok_or_else(|| format!("the probe reported nothing: {}", tail(&stdout)))?;
            let state = serde_json::from_str(line).map_err(|e| e.to_string())?;
            let summary = stdout.lines().last().unwrap_or_default();
            let summary = regex::Regex::new(r" in [0-9.]+s")
                .map(|re| re.replace(summary, "").into_owned())
                .unwrap_or_default();
            Ok((state, summary))
        };
        let (a, b) = (report(&fresh)?, report(&resumed)?);
        if fresh.status != Status::Exited(1) || resumed.status != fresh.status {
            return Err(format!(
                "the probe ended {:?} from scratch and {:?} from the snapshot (1 expected)",
                fresh.status, resumed.status
            ));
        }
        if a.1 != b.1 || !a.1.contains("1 failed, 2 passed") {
            return Err(format!("the probe's results differ: `{}` / `{}`", a.1, b.1));
        }
        if a.0 != b.0 {
            let differing: Vec<String> = match (&a.0, &b.0) {
                (serde_json::Value::Object(x), serde_json::Value::Object(y)) => x
                    .iter()
                    .filter(|(k, v)| y.get(*k) != Some(v))
                    .map(|(k, v)| {
                        let show = |v: Option<&serde_json::Value>| {
                            tail(&v.map(|v| v.to_string()).unwrap_or_default())
                        };
                        format!(
                            "{k} ({} from scratch, {} from the snapshot)",
                            show(Some(v)),
                            show(y.get(k))
                        )
                    })
                    .collect(),
                _ => vec!["everything".into()],
            };
            return Err(format!(
                "the interpreter state differs from a fresh start in: {}",
                differing.join(", ")
            ));
        }
        Ok(())
    }
}

/// The `-p` options of `python -m pytest …` (as `-p`, value pairs), or `None` for any other
/// command (interpreter options before `-m` included).
fn pytest_p_args(args: &[String]) -> Option<Vec<String>> {
    let rest = match args {
        [m, pytest, rest @ ..] if m == "-m" && pytest == "pytest" => rest,
        _ => return None,
    };
    let mut out = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let value = if a == "-p" {
            it.next().cloned()
        } else {
            a.strip_prefix("-p")
                .filter(|v| !v.is_empty() && !a.starts_with("--"))
                .map(String::from)
        };
        if let Some(v) = value {
            out.extend(["-p".to_string(), v]);
        }
    }
    Some(out)
}

/// The job's mount points over empty host dirs under `root`.
fn empty_mounts(mounts: &[Mount], root: &Path) -> Result<Vec<Mount>, String> {
    mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let host = root.join(i.to_string());
            std::fs::create_dir(&host).map_err(|e| format!("{}: {e}", host.display()))?;
            Ok(Mount {
                host,
                guest: m.guest.clone(),
            })
        })
        .collect()
}

/// Modules a fresh start tries to import (`site` does, at start-up) that the snapshot, taken
/// with empty dirs, did not find: a job that has one must start fresh to run it.
const STARTUP_HOOKS: &[&str] = &["sitecustomize", "usercustomize"];

/// An entry a fresh start could import from the job's own files.
struct Importable {
    /// The guest dir it is in.
    dir: String,
    /// Its file or dir name.
    name: String,
    /// The module name it is importable as.
    module: String,
}

/// The importable entries of the dirs a fresh start searches before the standard library: the
/// work dir, which `-m` puts first, and the job's `PYTHONPATH` dirs. `Err` when one cannot be
/// checked.
fn importable_entries(job: &Job, dirs: &RunDirs) -> Result<Vec<Importable>, String> {
    let path = job
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PYTHONPATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let mut found = Vec::new();
    let entries = std::iter::once(GUEST_WORK).chain(path.split(':').filter(|p| !p.is_empty()));
    for guest in entries {
        let Some(host) = host_dir(guest, job, dirs) else {
            return Err(format!("the PYTHONPATH entry `{guest}` cannot be checked"));
        };
        let Some(host) = host else { continue };
        let Ok(meta) = std::fs::metadata(&host) else {
            continue;
        };
        if !meta.is_dir() {
            return Err(format!("the PYTHONPATH entry `{guest}` is not a directory"));
        }
        let listing =
            std::fs::read_dir(&host).map_err(|_| format!("`{guest}` cannot be listed"))?;
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(module) = importable_as(&name, entry.path().is_dir()) {
                found.push(Importable {
                    dir: guest.to_string(),
                    module: module.to_string(),
                    name,
                });
            }
        }
    }
    Ok(found)
}

/// Why a fresh start could import one of `entries` where the snapshot has something else: one
/// is named like a module of `names` or like one of the [`STARTUP_HOOKS`].
fn shadowing(entries: &[Importable], names: &[String]) -> Option<String> {
    entries
        .iter()
        .find(|e| STARTUP_HOOKS.contains(&e.module.as_str()) || names.contains(&e.module))
        .map(|e| {
            format!(
                "`{}` holds `{}`, named like a module a fresh start imports",
                e.dir, e.name
            )
        })
}

/// The module name a directory entry can be imported as: a dir (package or namespace portion)
/// by its name, a file by its name before a source, bytecode or extension suffix
/// (`ast.py`, `ast.pyc`, `ast.cpython-312-wasm32-wasi.so`); `pytest.ini` is none.
fn importable_as(name: &str, is_dir: bool) -> Option<&str> {
    if is_dir {
        return (!name.contains('.')).then_some(name);
    }
    let (stem, rest) = name.split_once('.')?;
    let ext = rest.rsplit('.').next().unwrap_or(rest);
    let importable = matches!(rest, "py" | "pyc" | "pyw") || matches!(ext, "so" | "pyd");
    importable.then_some(stem)
}

/// The host dir behind a guest dir: `Some(None)` for the runtime's own read-only dirs (the
/// same in the snapshot), `None` when it cannot be resolved.
fn host_dir(guest: &str, job: &Job, dirs: &RunDirs) -> Option<Option<PathBuf>> {
    let guest = if guest.starts_with('/') {
        guest.to_string()
    } else {
        format!("/{guest}")
    };
    let p = Path::new(&guest);
    if !p.components().all(|c| {
        matches!(
            c,
            Component::RootDir | Component::Normal(_) | Component::CurDir
        )
    }) {
        return None;
    }
    let mut points: Vec<(&str, Option<&Path>)> = vec![
        (GUEST_WORK, Some(&dirs.work)),
        (GUEST_TMP, Some(&dirs.tmp)),
        (GUEST_DEV, Some(&dirs.dev)),
        (GUEST_SITE, None),
        (GUEST_STDLIB, None),
    ];
    points.extend(
        job.mounts
            .iter()
            .map(|m| (m.guest.as_str(), Some(m.host.as_path()))),
    );
    let (point, host) = points
        .into_iter()
        .filter(|(point, _)| p.starts_with(point))
        .max_by_key(|(point, _)| point.len())?;
    let rest = p.strip_prefix(point).ok()?;
    Some(host.map(|h| h.join(rest)))
}

fn tail(s: &str) -> String {
    let start = s.len().saturating_sub(600);
    let start = (start..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn shadowed(names: &[String], job: &Job, dirs: &RunDirs) -> Option<String> {
        match importable_entries(job, dirs) {
            Ok(entries) => shadowing(&entries, names),
            Err(why) => Some(why),
        }
    }

    #[test]
    fn importable_names() {
        assert_eq!(importable_as("ast.py", false), Some("ast"));
        assert_eq!(importable_as("ast.pyc", false), Some("ast"));
        assert_eq!(
            importable_as("_x.cpython-312-wasm32-wasi.so", false),
            Some("_x")
        );
        assert_eq!(importable_as("pytest", true), Some("pytest"));
        assert_eq!(importable_as("pytest.ini", false), None);
        assert_eq!(importable_as("pkg.egg-info", true), None);
        assert_eq!(importable_as("README", false), None);
    }

    #[test]
    fn only_plain_pytest_module_runs_qualify() {
        assert_eq!(
            pytest_p_args(&s(&[
                "-m", "pytest", "-p", "no:x", "-pno:y", "-q", "--", "-p", "z"
            ])),
            Some(s(&["-p", "no:x", "-p", "no:y"]))
        );
        assert_eq!(pytest_p_args(&s(&["-m", "pytest"])), Some(vec![]));
        assert_eq!(pytest_p_args(&s(&["-I", "-m", "pytest"])), None);
        assert_eq!(pytest_p_args(&s(&["-c", "import pytest"])), None);
        assert_eq!(pytest_p_args(&s(&["-m", "unittest"])), None);
    }

    #[test]
    fn a_module_on_the_import_path_named_like_a_snapshot_module_means_a_fresh_start() {
        let job = Job::python(["-m", "pytest"]).file("ast.py", "");
        let dirs = RunDirs::create(&job).unwrap();
        let names = s(&["ast", "pytest"]);
        assert!(shadowed(&names, &job, &dirs).unwrap().contains("ast.py"));
        let job = Job::python(["-m", "pytest"])
            .file("test_ast.py", "")
            .file("pytest.ini", "")
            .file("ast.txt", "");
        let dirs = RunDirs::create(&job).unwrap();
        assert_eq!(shadowed(&names, &job, &dirs), None);

        let deps = tempfile::tempdir().unwrap();
        std::fs::create_dir(deps.path().join("pytest")).unwrap();
        let job = Job::python(["-m", "pytest"])
            .mount(deps.path(), "/deps")
            .env("PYTHONPATH", "/deps");
        let dirs = RunDirs::create(&job).unwrap();
        assert!(shadowed(&names, &job, &dirs).unwrap().contains("/deps"));
        let job = Job::python(["-m", "pytest"]).mount(deps.path(), "/deps");
        let dirs = RunDirs::create(&job).unwrap();
        assert_eq!(
            shadowed(&names, &job, &dirs),
            None,
            "a mount not on PYTHONPATH"
        );
        let hook = Job::python(["-m", "pytest"])
            .file("compat/sitecustomize.py", "")
            .env("PYTHONPATH", "/compat");
        let dirs = RunDirs::create(&hook).unwrap();
        // Found before any snapshot is taken: no module names needed.
        assert!(shadowed(&[], &hook, &dirs)
            .unwrap()
            .contains("sitecustomize.py"));
        let job = Job::python(["-m", "pytest"]).env("PYTHONPATH", "src/../..");
        let dirs = RunDirs::create(&job).unwrap();
        assert!(shadowed(&names, &job, &dirs).is_some());
    }
}
