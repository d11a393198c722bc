//! What a sandboxed run produced: how it ended, its captured output, and the tests pytest
//! reported. Serializable for `report.json`; output bytes are kept as bytes and shown lossily.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::junit::{TestCase, TestOutcome};

/// How the guest ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Status {
    /// The interpreter exited with this code (0 = success).
    Exited(i32),
    /// The wall-clock deadline passed (or the fuel budget ran out) and the guest was stopped.
    Timeout,
    /// The guest needed more linear memory than allowed and failed because of it.
    MemoryExceeded,
    /// The guest wrote more bytes to files than allowed and failed because of it.
    DiskQuotaExceeded,
    /// The guest trapped (stack overflow, unreachable, ...): the trap's description.
    Trap(String),
}

impl Status {
    /// The conventional shell exit code for this status (124 timeout, 137 memory).
    pub fn exit_code(&self) -> i32 {
        match self {
            Status::Exited(c) => *c,
            Status::Timeout => 124,
            Status::MemoryExceeded => 137,
            Status::DiskQuotaExceeded => 122,
            Status::Trap(_) => 134,
        }
    }
}

impl std::fmt::Display for Status {
    /// `exited(N)`, `timeout`, `memory exceeded`, `disk quota exceeded`, `trap: ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exited({c})"),
            Status::Timeout => f.write_str("timeout"),
            Status::MemoryExceeded => f.write_str("memory exceeded"),
            Status::DiskQuotaExceeded => f.write_str("disk quota exceeded"),
            Status::Trap(t) => write!(f, "trap: {t}"),
        }
    }
}

/// Which captured streams lost bytes to their cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Truncated {
    pub stdout: bool,
    pub stderr: bool,
}

/// Limits the guest ran into, whether or not they ended the run (a guest may catch
/// `MemoryError`, `OSError(ENOSPC)` or `OSError(EMFILE)` and exit normally).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LimitsHit {
    pub memory: bool,
    pub disk: bool,
    /// The guest was refused a descriptor (`EMFILE`) at the open-files cap.
    pub open_files: bool,
}

/// The result of [`Sandbox::run`](super::Sandbox::run).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    #[serde(serialize_with = "lossy")]
    pub stdout: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub stderr: Vec<u8>,
    pub truncated: Truncated,
    pub limits_hit: LimitsHit,
    /// Wall time of the guest run (instantiation to exit), not counting work-dir setup.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Tests from pytest's JUnit report; empty when the job wrote none.
    pub tests: Vec<TestCase>,
    /// Why the JUnit report could not be read, when the job expected one.
    pub junit_error: Option<String>,
}

fn lossy<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Outcome {
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// The last `max_bytes` of stdout then stderr (lossy), cut at a line start where possible:
    /// what a report shows of a run (pytest's summary and collection errors live at the end).
    pub fn output_tail(&self, max_bytes: usize) -> String {
        let mut text = self.stdout_lossy();
        if !self.stderr.is_empty() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&self.stderr_lossy());
        }
        if text.len() <= max_bytes {
            return text;
        }
        let mut start = text.len() - max_bytes;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        let tail = &text[start..];
        match tail.find('\n') {
            Some(nl) if nl + 1 < tail.len() => tail[nl + 1..].to_string(),
            _ => tail.to_string(),
        }
    }

    /// The interpreter exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Status::Exited(0)
    }
    /// Count of tests with the given outcome.
    pub fn count(&self, outcome: TestOutcome) -> usize {
        self.tests.iter().filter(|t| t.outcome == outcome).count()
    }
    /// The run succeeded, reported at least one test, and none failed or errored.
    pub fn all_tests_passed(&self) -> bool {
        self.success()
            && !self.tests.is_empty()
            && self
                .tests
                .iter()
                .all(|t| matches!(t.outcome, TestOutcome::Passed | TestOutcome::Skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_bytes_lossily_and_status_tagged() {
        let o = Outcome {
            status: Status::Exited(1),
            stdout: b"ok \xff".to_vec(),
            stderr: vec![],
            truncated: Truncated {
                stdout: true,
                stderr: false,
            },
            limits_hit: LimitsHit::default(),
            duration: Duration::from_millis(1500),
            tests: vec![],
            junit_error: None,
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(
            v["status"],
            serde_json::json!({"kind": "exited", "detail": 1})
        );
        assert_eq!(v["stdout"], "ok \u{fffd}");
        assert_eq!(v["truncated"]["stdout"], true);
        assert_eq!(v["duration"], 1.5);
        assert_eq!(o.stdout, b"ok \xff", "bytes are kept");
        assert_eq!(
            serde_json::to_value(Status::Timeout).unwrap(),
            serde_json::json!({"kind": "timeout"})
        );
        assert_eq!(o.status.to_string(), "exited(1)");
        assert_eq!(
            Status::Trap("wasm trap: unreachable".into()).to_string(),
            "trap: wasm trap: unreachable"
        );
    }

    #[test]
    fn output_tail_keeps_whole_lines_at_the_end() {
        let o = Outcome {
            status: Status::Exited(1),
            stdout: b"line one\nline two\nsummary: 1 failed\n".to_vec(),
            stderr: b"warning".to_vec(),
            truncated: Truncated::default(),
            limits_hit: LimitsHit::default(),
            duration: Duration::ZERO,
            tests: vec![],
            junit_error: None,
        };
        assert_eq!(
            o.output_tail(1000),
            "line one\nline two\nsummary: 1 failed\nwarning"
        );
        assert_eq!(o.output_tail(30), "summary: 1 failed\nwarning");
    }
}
