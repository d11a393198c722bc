//! Hostile programs (tests/hostile/*.py) run in the real sandbox: each must end within its
//! limit with the expected status, print no `ESCAPED` line (every attack attempt inside a
//! program reports `blocked <what>` or `ESCAPED <what>`), leave a host sentinel directory
//! byte-for-byte unchanged, and leave the process able to run the next job.
//!
//! Needs the sandbox runtime (fetched with pip on first use, or `codeswarm sandbox --setup`).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use codeswarm::sandbox::{Job, Limits, Outcome, Sandbox, Status, DEFAULT_OPEN_FILES};
use sha2::{Digest, Sha256};

const TIMEOUT: Duration = Duration::from_secs(4);
const MEMORY: u64 = 256 << 20;
const DISK: u64 = 16 << 20;
const OUTPUT_CAP: usize = 1 << 20;
/// How far past its timeout a run may end (thread scheduling on a loaded 2-core machine).
const SLACK: Duration = Duration::from_secs(3);
const FAKE_SECRET: &str = "hunter2-codeswarm-fake-secret";

struct Fixture {
    sandbox: Sandbox,
    /// Host files no guest may read or change.
    sentinel: tempfile::TempDir,
    /// A read-only mount with symlinks planted by the host.
    planted: tempfile::TempDir,
    /// A source dir holding a symlink (must not be copied in).
    source: tempfile::TempDir,
    /// A host "site-packages" with a module the guest must not import.
    host_site: tempfile::TempDir,
    /// A host TCP port nobody in the sandbox may reach.
    listener: TcpListener,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A secret in the host process's environment: the guest must never see it.
        std::env::set_var("CODESWARM_FAKE_SECRET", FAKE_SECRET);
        let sandbox =
            Sandbox::open(&()).expect("the sandbox runtime (run `codeswarm sandbox --setup`)");
        let sentinel = tempfile::tempdir().unwrap();
        std::fs::write(
            sentinel.path().join("secret.txt"),
            "SENTINEL-SECRET-CONTENT\n",
        )
        .unwrap();
        std::fs::create_dir(sentinel.path().join("sub")).unwrap();
        std::fs::write(sentinel.path().join("sub/data.bin"), [7u8; 4096]).unwrap();

        let planted = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            sentinel.path().join("secret.txt"),
            planted.path().join("secret_link"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", planted.path().join("etc_link")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", planted.path().join("up_link")).unwrap();

        let source = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            sentinel.path().join("secret.txt"),
            source.path().join("src_link"),
        )
        .unwrap();
        std::fs::write(source.path().join("regular.txt"), "copied\n").unwrap();

        let host_site = tempfile::tempdir().unwrap();
        std::fs::write(
            host_site.path().join("host_only_module.py"),
            "SECRET = 'host module imported'\n",
        )
        .unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Fixture {
            sandbox,
            sentinel,
            planted,
            source,
            host_site,
            listener,
        }
    })
}

/// sha256 over every path, file type and content under `dir` (symlinks by their target).
fn hash_tree(dir: &Path) -> String {
    fn walk(dir: &Path, root: &Path, h: &mut Sha256) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            h.update(p.strip_prefix(root).unwrap().to_string_lossy().as_bytes());
            h.update(
                format!(
                    "{:o}",
                    std::os::unix::fs::PermissionsExt::mode(&meta.permissions())
                )
                .as_bytes(),
            );
            if meta.file_type().is_symlink() {
                h.update(std::fs::read_link(&p).unwrap().to_string_lossy().as_bytes());
            } else if meta.is_dir() {
                walk(&p, root, h);
            } else {
                let mut f = std::fs::File::open(&p).unwrap();
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).unwrap();
                h.update(&buf);
            }
        }
    }
    let mut h = Sha256::new();
    walk(dir, dir, &mut h);
    hex::encode(h.finalize())
}

fn program(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hostile")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn limits() -> Limits {
    Limits {
        timeout: TIMEOUT,
        memory_bytes: MEMORY,
        disk_write_bytes: DISK,
        stdout_bytes: OUTPUT_CAP,
        stderr_bytes: OUTPUT_CAP,
        fuel: None,
        open_files: DEFAULT_OPEN_FILES,
    }
}

/// Run `tests/hostile/<name>` with the fixture's environment and check the invariants every
/// hostile run shares; `adjust` may add mounts or change limits.
fn hostile(name: &str, adjust: impl FnOnce(Job) -> Job) -> Outcome {
    let fx = fixture();
    let before = hash_tree(fx.sentinel.path());
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let job = Job::python([name])
        .file(name, program(name))
        .file("_common.py", program("_common.py"))
        .env("SENTINEL", fx.sentinel.path().to_string_lossy())
        .env("HOST_HOME", home)
        .env("HOST_SITE", fx.host_site.path().to_string_lossy())
        .env(
            "HOST_PORT",
            fx.listener.local_addr().unwrap().port().to_string(),
        )
        .limits(limits());
    let job = adjust(job);
    let started = Instant::now();
    let outcome = fx
        .sandbox
        .run(&job)
        .expect("a hostile program is an outcome, never a host error");
    let elapsed = started.elapsed();
    let (out, err) = (outcome.stdout_lossy(), outcome.stderr_lossy());
    eprintln!(
        "--- {name}: {:?} in {elapsed:?}\nstdout: {}\nstderr: {}",
        outcome.status,
        tail(&out),
        tail(&err)
    );
    assert!(
        elapsed < job.limits.timeout + SLACK,
        "{name} ran {elapsed:?}, limit {:?}",
        job.limits.timeout
    );
    assert!(
        !out.contains("ESCAPED") && !err.contains("ESCAPED"),
        "{name} escaped:\n{out}\n{err}"
    );
    assert!(
        !out.contains(FAKE_SECRET) && !err.contains(FAKE_SECRET),
        "{name} saw the host's secret"
    );
    assert!(
        !out.contains("SENTINEL-SECRET-CONTENT") && !err.contains("SENTINEL-SECRET-CONTENT"),
        "{name} read the sentinel"
    );
    assert_eq!(
        hash_tree(fx.sentinel.path()),
        before,
        "{name} changed the host sentinel dir"
    );
    assert!(
        std::fs::metadata("/tmp/codeswarm-pwned").is_err()
            && std::fs::metadata("/tmp/codeswarm-escape").is_err()
    );
    outcome
}

fn tail(s: &str) -> &str {
    let mut start = s.len().saturating_sub(1500);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The program ran to its end and every attempt in it was blocked.
fn assert_all_blocked(o: &Outcome, attempts: usize) {
    let out = o.stdout_lossy();
    assert_eq!(
        o.status,
        Status::Exited(0),
        "stdout: {out}\nstderr: {}",
        o.stderr_lossy()
    );
    assert!(
        out.contains("\ndone\n") || out.starts_with("done\n"),
        "did not finish: {out}"
    );
    let blocked = out.lines().filter(|l| l.starts_with("blocked ")).count();
    assert_eq!(
        blocked, attempts,
        "expected {attempts} blocked attempts:\n{out}"
    );
}

fn no_connection_arrived() {
    match fixture().listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the guest reached the host listener from {peer}"),
        Err(e) => panic!("listener error: {e}"),
    }
}

#[test]
fn reads_etc_passwd() {
    let o = hostile("read_etc_passwd.py", |j| j);
    assert_all_blocked(&o, 6);
    assert!(!o.stdout_lossy().contains("root:"));
}

#[test]
fn reads_host_home_and_sentinel() {
    assert_all_blocked(&hostile("read_host_home.py", |j| j), 6);
}

#[test]
fn climbs_out_with_dotdot() {
    assert_all_blocked(&hostile("traversal.py", |j| j), 13);
}

#[test]
fn follows_symlinks_planted_by_the_host() {
    let fx = fixture();
    let o = hostile("planted_symlink.py", |j| {
        j.mount(fx.planted.path(), "/planted")
            .source_dir(fx.source.path())
    });
    assert_all_blocked(&o, 5);
}

#[test]
fn creates_symlinks_pointing_outside() {
    let o = hostile("guest_symlink.py", |j| j);
    assert_eq!(o.status, Status::Exited(0));
    let out = o.stdout_lossy();
    assert!(out.contains("done"));
    // Each link is either refused at creation or unreadable; the listing through `..` is blocked.
    for link in ["abs_passwd", "rel_passwd", "sentinel"] {
        assert!(
            out.contains(&format!("blocked create {link}"))
                || out.contains(&format!("blocked read via {link}")),
            "{link}: {out}"
        );
    }
    assert!(out.contains("blocked list via root_up"), "{out}");
}

#[test]
fn writes_outside_the_work_dir() {
    let fx = fixture();
    let env_dir = fx.sandbox.paths().env.clone();
    let runtime_before = hash_tree(&env_dir);
    let o = hostile("write_outside.py", |j| j);
    assert_all_blocked(&o, 11);
    assert!(o.stdout_lossy().contains("inside ok"));
    assert_eq!(
        hash_tree(&env_dir),
        runtime_before,
        "the installed runtime dirs changed"
    );
    // The next run still imports an untouched pytest and json.
    let check = fx
        .sandbox
        .run(&Job::python([
            "-c",
            "import json, pytest; print(json.dumps([pytest.__version__]))",
        ]))
        .unwrap();
    assert_eq!(check.status, Status::Exited(0), "{}", check.stderr_lossy());
    assert_eq!(check.stdout_lossy().trim(), r#"["8.3.5"]"#);
}

#[test]
fn lists_the_root() {
    let o = hostile("list_root.py", |j| j);
    assert_eq!(o.status, Status::Exited(0), "{}", o.stderr_lossy());
    let out = o.stdout_lossy();
    assert!(out.contains("blocked walk"), "{out}");
    // The root is the work dir: exactly the job's files.
    assert!(
        out.contains("root: ['_common.py', 'list_root.py']"),
        "{out}"
    );
    assert!(out.contains("dev: ['null']"), "{out}");
}

#[test]
fn looks_for_secrets_in_the_environment() {
    let o = hostile("env_secrets.py", |j| j);
    assert_eq!(o.status, Status::Exited(0));
    let out = o.stdout_lossy();
    assert!(out.contains("blocked env secret"), "{out}");
    let keys: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("env "))
        .map(|l| l.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "HOST_HOME",
            "HOST_PORT",
            "HOST_SITE",
            "PYTHONDONTWRITEBYTECODE",
            "PYTHONPATH",
            "SENTINEL"
        ],
        "{out}"
    );
    assert!(
        std::env::var("CODESWARM_FAKE_SECRET").is_ok(),
        "the secret is set on the host side"
    );
}

#[test]
fn opens_sockets() {
    assert_all_blocked(&hostile("socket_connect.py", |j| j), 5);
    no_connection_arrived();
}

#[test]
fn makes_http_requests() {
    assert_all_blocked(&hostile("urllib_request.py", |j| j), 3);
    no_connection_arrived();
}

#[test]
fn spawns_processes() {
    assert_all_blocked(&hostile("subprocess_spawn.py", |j| j), 8);
}

#[test]
fn loops_forever() {
    let o = hostile("infinite_loop.py", |j| j);
    assert_eq!(o.status, Status::Timeout);
    assert!(
        o.duration >= TIMEOUT && o.duration < TIMEOUT + SLACK,
        "{:?}",
        o.duration
    );
    assert_eq!(
        o.stdout_lossy(),
        "spinning\n",
        "output before the timeout is kept"
    );
}

#[test]
fn sleeps_forever_in_a_host_call() {
    let o = hostile("sleep_forever.py", |j| j.timeout(Duration::from_secs(2)));
    assert_eq!(o.status, Status::Timeout);
    assert!(
        o.duration >= Duration::from_secs(2) && o.duration < Duration::from_secs(2) + SLACK,
        "{:?}",
        o.duration
    );
}

#[test]
fn starts_busy_threads() {
    let o = hostile("busy_threads.py", |j| j);
    assert_eq!(o.status, Status::Timeout);
    assert!(
        o.stdout_lossy().contains("blocked threads"),
        "{}",
        o.stdout_lossy()
    );
}

#[test]
fn allocates_without_bound() {
    let o = hostile("memory_bomb.py", |j| j);
    assert_eq!(o.status, Status::MemoryExceeded, "{}", o.stderr_lossy());
    assert!(o.limits_hit.memory);
}

#[test]
fn allocates_one_huge_buffer() {
    let o = hostile("memory_single.py", |j| j);
    assert_eq!(o.status, Status::MemoryExceeded, "{}", o.stderr_lossy());
    assert!(o.stderr_lossy().contains("MemoryError"));
}

#[test]
fn recurses_deeply_in_python() {
    // 3.12 keeps Python frames in linear memory: unbounded recursion is a memory bomb. Filling
    // the memory cap takes about 3.5 s alone, more on a loaded machine: a longer time limit keeps
    // the test about memory, not speed.
    let o = hostile("deep_recursion.py", |j| j.timeout(Duration::from_secs(20)));
    assert_eq!(
        o.status,
        Status::MemoryExceeded,
        "{}",
        tail(&o.stderr_lossy())
    );
}

#[test]
fn recurses_deeply_through_c() {
    let fx = fixture();
    let o = hostile("native_recursion.py", |j| j);
    // The C stack lives at the bottom of linear memory: overflowing it faults below address 0.
    match &o.status {
        Status::Trap(t) => assert!(t.contains("out of bounds") || t.contains("stack"), "{t}"),
        other => panic!("expected a trap, got {other:?}: {}", o.stderr_lossy()),
    }
    // The host is fine and runs the next job.
    let next = fx
        .sandbox
        .run(&Job::python(["-c", "print(6 * 7)"]))
        .unwrap();
    assert_eq!(
        (next.status.clone(), next.stdout_lossy()),
        (Status::Exited(0), "42\n".to_string())
    );
}

#[test]
fn floods_stdout_and_stderr() {
    let o = hostile("print_flood.py", |j| j.timeout(Duration::from_secs(20)));
    assert_eq!(
        o.status,
        Status::Exited(0),
        "the flood must not fail the guest"
    );
    assert!(o.truncated.stdout && o.truncated.stderr);
    assert_eq!(o.stdout.len(), OUTPUT_CAP);
    assert_eq!(o.stderr.len(), OUTPUT_CAP);
    assert!(o.stdout.iter().all(|&b| b == b'x' || b == b'\n'));
}

#[test]
fn writes_a_huge_file() {
    let o = hostile("huge_file.py", |j| j);
    assert_eq!(o.status, Status::DiskQuotaExceeded, "{}", o.stderr_lossy());
    assert!(
        o.stderr_lossy().contains("No space left on device"),
        "{}",
        o.stderr_lossy()
    );
}

#[test]
fn creates_a_flood_of_files() {
    // 2 MiB of quota = 512 inodes at 4 KiB each (creating files is slow on some file systems).
    let o = hostile("many_files.py", |mut j| {
        j.limits.disk_write_bytes = 2 << 20;
        j
    });
    assert_eq!(o.status, Status::DiskQuotaExceeded, "{}", o.stderr_lossy());
}

#[test]
fn nests_directories_deeply() {
    let fx = fixture();
    let o = hostile("deep_dirs.py", |j| j);
    // Either the quota (4 KiB per directory) or the clock ends it; then the host removes the
    // tree and carries on.
    assert!(
        matches!(o.status, Status::DiskQuotaExceeded | Status::Timeout),
        "{:?}: {}",
        o.status,
        o.stderr_lossy()
    );
    assert!(
        o.stdout_lossy().starts_with("depth "),
        "{}",
        o.stdout_lossy()
    );
    let next = fx
        .sandbox
        .run(&Job::python(["-c", "print('still here')"]))
        .unwrap();
    assert_eq!(next.stdout_lossy(), "still here\n");
}

#[test]
fn grows_a_sparse_terabyte() {
    let o = hostile("sparse_file.py", |j| j);
    assert_eq!(o.status, Status::DiskQuotaExceeded, "{}", o.stderr_lossy());
}

#[test]
fn grows_many_sparse_files_with_one_byte_each() {
    // 50 files, each one byte written 1 TiB past its end: charged by length, none fits.
    let o = hostile("sparse_many.py", |j| j);
    assert_all_blocked(&o, 50);
    assert!(o.limits_hit.disk);
    assert!(
        o.stdout_lossy().contains("blocked pwrite 24: OSError"),
        "{}",
        o.stdout_lossy()
    );
}

#[test]
fn floods_dev_null() {
    // 320 MiB written and 5,000 opens for writing against a 16 MiB quota: /dev/null discards,
    // is not charged, stays empty, and the quota is left for a 12 MiB real file.
    let o = hostile("devnull_flood.py", |j| j.timeout(Duration::from_secs(20)));
    let out = o.stdout_lossy();
    assert_eq!(o.status, Status::Exited(0), "{out}\n{}", o.stderr_lossy());
    assert!(out.contains("wrote 320 MiB to /dev/null"), "{out}");
    assert!(out.contains("opened /dev/null 5000 times"), "{out}");
    assert!(out.contains("null size 0 read 0"), "{out}");
    assert!(out.contains(&format!("real file {}", 12 << 20)), "{out}");
    assert!(!o.limits_hit.disk, "/dev/null was charged");
}

#[test]
fn opens_descriptors_without_end() {
    let fx = fixture();
    let o = hostile("fd_flood.py", |j| j);
    let out = o.stdout_lossy();
    assert_eq!(o.status, Status::Exited(0), "{out}\n{}", o.stderr_lossy());
    let opened: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("blocked open after "))
        .and_then(|l| l.strip_suffix(": EMFILE"))
        .unwrap_or_else(|| panic!("no EMFILE refusal: {out}"))
        .parse()
        .unwrap();
    // The cap counts stdio and the preopened dirs too; Python holds a few of its own.
    assert!(
        opened > DEFAULT_OPEN_FILES - 32 && opened < DEFAULT_OPEN_FILES,
        "{out}"
    );
    assert!(
        out.contains("reopened 500"),
        "closing gives them back: {out}"
    );
    assert!(o.limits_hit.open_files);
    // A smaller cap is the job's own.
    let o = hostile("fd_flood.py", |mut j| {
        j.limits.open_files = 64;
        j
    });
    let out = o.stdout_lossy();
    assert!(out.contains("blocked open after"), "{out}");
    assert!(!out.contains("reopened 500"), "{out}");
    // The host process still opens files.
    let next = fx
        .sandbox
        .run(&Job::python([
            "-c",
            "print(open('/dev/null').read() == '')",
        ]))
        .unwrap();
    assert_eq!(next.stdout_lossy(), "True\n");
}

#[test]
fn redirects_a_file_onto_stdout() {
    let o = hostile("stdout_redirect.py", |j| j);
    let err = o.stderr_lossy();
    if err.contains("blocked dup2") {
        assert_eq!(o.status, Status::Exited(0));
    } else {
        assert!(err.contains("dup2 ok"), "{err}");
        assert_eq!(o.status, Status::DiskQuotaExceeded, "{err}");
    }
}

#[test]
fn loads_native_code() {
    assert_all_blocked(&hostile("ctypes_load.py", |j| j), 4);
}

#[test]
fn imports_host_site_packages() {
    assert_all_blocked(&hostile("host_site_packages.py", |j| j), 3);
}
