//! Helpers shared by the `codeswarm check` tests: a private codeswarm home that borrows the
//! installed sandbox runtime, fixture repositories, running the binary, test wheels.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use codeswarm::repo::fixture::{self, FixtureRepo};

/// A temporary `CODESWARM_HOME` whose `runtime/` is the installed runtime (prepared once by
/// `codeswarm sandbox --setup`), so caches the tests build (sites, mirrors, run dirs) stay
/// private and are removed.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        // Make sure the shared runtime is installed (fetched on first use).
        codeswarm::sandbox::Sandbox::open(&())
            .expect("sandbox runtime available (codeswarm sandbox --setup)");
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(codeswarm::paths::runtime_dir(), dir.path().join("runtime"))
            .unwrap();
        Home { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A fixture repository built into `dir`.
pub fn fixture_repo(name: &str, dir: &Path) -> FixtureRepo {
    fixture::by_name(name).unwrap().build(dir).unwrap()
}

/// Run `codeswarm ARGS` with `CODESWARM_HOME` set to `home` plus `env`.
pub fn codeswarm(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codeswarm"));
    c.args(args).env("CODESWARM_HOME", home.path());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run codeswarm")
}

/// Run `codeswarm check --repo REPO --base BASE --patch PATCH EXTRA…`.
pub fn check(home: &Home, repo: &str, base: &str, patch: &str, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--repo", repo, "--base", base, "--patch", patch];
    args.extend_from_slice(extra);
    codeswarm(home, &args, &[])
}

pub fn out(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Write `text` to `dir/name` and return the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A git-style patch that adds `path` with `content`.
pub fn add_file_patch(path: &str, content: &str) -> String {
    let lines: Vec<&str> = content.lines().collect();
    let mut p = format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
        lines.len()
    );
    for l in lines {
        p.push('+');
        p.push_str(l);
        p.push('\n');
    }
    p
}

/// A wheel `dist-version-TAG.whl` in `dir` holding `files` (path, content), with metadata.
pub fn make_wheel(
    dir: &Path,
    dist: &str,
    version: &str,
    tag: &str,
    files: &[(&str, &str)],
) -> PathBuf {
    let module = dist.replace('-', "_");
    let path = dir.join(format!("{module}-{version}-{tag}.whl"));
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for (name, content) in files {
        z.start_file(*name, opts).unwrap();
        z.write_all(content.as_bytes()).unwrap();
    }
    let info = format!("{module}-{version}.dist-info");
    z.start_file(format!("{info}/METADATA"), opts).unwrap();
    write!(
        z,
        "Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    )
    .unwrap();
    z.start_file(format!("{info}/WHEEL"), opts).unwrap();
    write!(
        z,
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n"
    )
    .unwrap();
    z.start_file(format!("{info}/RECORD"), opts).unwrap();
    z.finish().unwrap();
    path
}

/// sha256 of every file under `dir` (`.git` included), by relative path.
pub fn tree_hashes(dir: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.insert(rel, hex::encode(sha2::Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// Run `git ARGS` in `dir` with a fixed author, asserting success; its standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
