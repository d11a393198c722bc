//! After a run: compile the sources the guest had to compile itself, for the next runs.
//!
//! The guest's part is only a hint ([`Hints`]: the `.py` files it opened in its work dir). The
//! host takes each hinted file's bytes from the job's own inputs (its in-memory files, or its
//! source dir on the host; never the work dir, which the guest may have changed), checks them
//! against the digest recorded when they were copied in, and hands them to a compile job: a
//! fresh guest running the fixed [`SCRIPT`] in isolated mode with the bytes on a read-only
//! mount. Its output is read from stdout and stored by the host under keys the host computed.

use std::collections::BTreeSet;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::place::{kinds, SourceIndex};
use super::{guest_name, BytecodeCache, Kind, CACHE_TAG};
use crate::sandbox::layout::{GUEST_SITE, GUEST_STDLIB};
use crate::sandbox::{Job, Limits, Outcome, SandboxError, Status};

/// Most distinct paths remembered from one run.
pub const MAX_HINTS: usize = 20_000;
/// Longest hinted path, in bytes.
const MAX_HINT_LEN: usize = 4096;
/// Where the compile job sees its inputs.
const GUEST_INPUT: &str = "/.codeswarm-bytecode-in";
/// The compile job's time limit.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(300);
/// Fewest bytes of uncached source that make a compile job worth its start (a fresh guest
/// importing pytest's rewriter costs about what compiling this much does in the job itself):
/// below it, small jobs such as the Coordinator's two-file runs just compile in the guest.
pub const DEFAULT_MIN_BYTES: u64 = 64 << 10;

/// The `.py` files a guest opened (for reading) through its work-dir preopen.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    enabled: bool,
    pub paths: BTreeSet<String>,
}

impl Hints {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            paths: BTreeSet::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Note a path the guest opened relative to its work dir (raw bytes from guest memory).
    pub fn note(&mut self, raw: &[u8]) {
        if !self.enabled || self.paths.len() >= MAX_HINTS || raw.len() > MAX_HINT_LEN {
            return;
        }
        if !raw.ends_with(b".py") {
            return;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            return;
        };
        let mut parts = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => return,
                p if p.chars().any(char::is_control) => return,
                p => parts.push(p),
            }
        }
        if !parts.is_empty() {
            self.paths.insert(parts.join("/"));
        }
    }
}

/// The compile job's program. Reads `list.txt` (`N<TAB>FILE<TAB>KIND<TAB>GUEST NAME` per line)
/// and `FILE.py` from its read-only input mount and prints a tag line, then one line per compiled
/// entry: `N KIND HEX(marshal(code))`. A source that does not compile is left out (the guest
/// reports the error itself when it imports it).
pub const SCRIPT: &str = r#"import sys
sys.path[:0] = [STDLIB, SITE]
import ast, importlib.util, marshal
from _pytest.assertion.rewrite import rewrite_asserts
out = sys.stdout
out.write("TAG %s %s\n" % (sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex()))
with open(INPUT + "/list.txt", encoding="utf-8") as f:
    items = [line.rstrip("\n").split("\t", 3) for line in f if line.strip()]
for n, file, kind, name in items:
    with open("%s/%s.py" % (INPUT, file), "rb") as f:
        source = f.read()
    try:
        if kind == "rewritten":
            tree = ast.parse(source, filename=name)
            rewrite_asserts(tree, source, name, None)
            co = compile(tree, name, "exec", dont_inherit=True)
        else:
            co = compile(source, name, "exec", dont_inherit=True, optimize=-1)
    except Exception:
        continue
    out.write("%s %s %s\n" % (n, kind, marshal.dumps(co).hex()))
"#;

fn script() -> String {
    format!("STDLIB = {GUEST_STDLIB:?}\nSITE = {GUEST_SITE:?}\nINPUT = {GUEST_INPUT:?}\n{SCRIPT}")
}

/// The bytes of work-dir file `rel` as the job supplied them: its in-memory file (the last one
/// of that path wins, as when they were written), else its source dir's file.
fn job_source(job: &Job, rel: &str) -> Option<Vec<u8>> {
    if let Some((_, bytes)) = job
        .files
        .iter()
        .rev()
        .find(|(p, _)| p.to_str().map(|s| s.trim_start_matches("./")) == Some(rel))
    {
        return Some(bytes.clone());
    }
    let dir = job.source_dir.as_ref()?;
    let path = dir.join(rel);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    std::fs::read(&path).ok()
}

/// One source to compile.
struct Item {
    rel: String,
    kind: Kind,
    key: String,
}

/// Compile what the run's hints name and the cache lacks, with `run` (the sandbox, running the
/// compile job). Returns how many entries were stored.
pub(crate) fn fill(
    cache: &BytecodeCache,
    job: &Job,
    index: &SourceIndex,
    hints: &BTreeSet<String>,
    min_bytes: u64,
    run: &dyn Fn(&Job) -> Result<Outcome, SandboxError>,
) -> Result<usize, SandboxError> {
    let mut items = Vec::new();
    for rel in hints {
        let Some(sha) = index.get(rel) else { continue };
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let guest = guest_name(rel);
        for kind in kinds(name) {
            let key = cache.key(kind, &guest, sha);
            if !cache.has(&key) {
                items.push(Item {
                    rel: rel.clone(),
                    kind,
                    key,
                });
            }
        }
    }
    if items.is_empty() {
        return Ok(0);
    }
    let base = crate::paths::tmp_dir();
    std::fs::create_dir_all(&base).map_err(crate::sandbox::error::io_err(&base))?;
    let input = tempfile::Builder::new()
        .prefix("bytecode-in-")
        .tempdir_in(&base)
        .map_err(crate::sandbox::error::io_err(&base))?;
    let mut list = String::new();
    // Work-dir path -> input file number, for the sources verified and written.
    let mut files: std::collections::BTreeMap<&str, Option<usize>> = Default::default();
    let mut total = 0u64;
    for (pos, item) in items.iter().enumerate() {
        let next = files.len();
        let file = *files.entry(item.rel.as_str()).or_insert_with(|| {
            // Only the bytes the host copied in: checked against the digest taken then.
            let bytes = job_source(job, &item.rel)
                .filter(|bytes| Sha256::digest(bytes).as_slice() == index[&item.rel].as_slice())?;
            total += bytes.len() as u64;
            let path = input.path().join(format!("{next}.py"));
            std::fs::write(&path, bytes).ok()?;
            Some(next)
        });
        if let Some(file) = file {
            list += &format!(
                "{pos}\t{file}\t{}\t{}\n",
                item.kind.as_str(),
                guest_name(&item.rel)
            );
        }
    }
    let written = files.values().flatten().count();
    if written == 0 || total < min_bytes {
        return Ok(0);
    }
    let list_path = input.path().join("list.txt");
    std::fs::write(&list_path, list).map_err(crate::sandbox::error::io_err(&list_path))?;
    let compile = Job::python(["-I".to_string(), "-c".to_string(), script()])
        .mount(input.path(), GUEST_INPUT)
        .limits(Limits {
            timeout: COMPILE_TIMEOUT,
            stdout_bytes: 1 << 30,
            ..Limits::default()
        });
    let started = std::time::Instant::now();
    let outcome = run(&compile)?;
    if outcome.status != Status::Exited(0) || outcome.truncated.stdout {
        tracing::warn!(status = ?outcome.status, stderr = %outcome.stderr_lossy(), "bytecode cache: the compile job failed; nothing stored");
        return Ok(0);
    }
    let stored = store(cache, &items, &outcome.stdout)?;
    tracing::debug!(
        files = written,
        stored,
        secs = started.elapsed().as_secs_f64(),
        "bytecode cache: compiled the sources the run compiled itself"
    );
    Ok(stored)
}

/// Read the compile job's output and store its entries under the host's keys.
fn store(cache: &BytecodeCache, items: &[Item], stdout: &[u8]) -> Result<usize, SandboxError> {
    let text = String::from_utf8_lossy(stdout);
    let mut lines = text.lines();
    let magic = match lines.next().map(|l| l.split(' ').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 3 && parts[0] == "TAG" && parts[1] == CACHE_TAG => {
            match hex::decode(parts[2]) {
                Ok(m) if m.len() == 4 => m,
                _ => return Ok(0),
            }
        }
        _ => {
            tracing::warn!(
                "bytecode cache: the compile job's interpreter is not {CACHE_TAG}; nothing stored"
            );
            return Ok(0);
        }
    };
    let mut stored = 0;
    for line in lines {
        let mut parts = line.splitn(3, ' ');
        let (Some(id), Some(kind), Some(code)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pos) = id.parse::<usize>() else {
            continue;
        };
        let Some(item) = items.get(pos) else { continue };
        if item.kind.as_str() != kind {
            continue;
        }
        let Ok(code) = hex::decode(code) else {
            continue;
        };
        let mut payload = magic.clone();
        payload.extend_from_slice(&code);
        cache.put(&item.key, &payload)?;
        stored += 1;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_normalized_and_bounded() {
        let mut h = Hints::new(true);
        h.note(b"./pkg//mod.py");
        h.note(b"../escape.py");
        h.note(b"data.txt");
        h.note(b"a/\n.py");
        h.note(b"test_x.py");
        assert_eq!(
            h.paths.iter().map(String::as_str).collect::<Vec<_>>(),
            ["pkg/mod.py", "test_x.py"]
        );
        let mut off = Hints::new(false);
        off.note(b"mod.py");
        assert!(off.paths.is_empty());
    }
}
