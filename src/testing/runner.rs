//! A repository's tests in the WASI sandbox, under the environment its spec describes
//! ([`super::specs`]): a copy of the worktree (without `.git`) as the guest's `/`, the spec's
//! generated files written into it, the spec's `path` dirs first on `sys.path`, then its pinned
//! dependencies (a cached site mounted read-only at [`GUEST_DEPS`]), then the user's `--site`
//! or `--requirements` (at [`GUEST_USER_DEPS`]), then the standard library and the sandbox's own
//! pytest. The runner is the spec's: pytest (results from its JUnit report, or its `-rA`
//! summary when no report was written), sympy's `bin/test` or Django's `runtests.py` (results
//! from their output, [`super::logs`]).
//!
//! Tests that cannot run in the sandbox (Python version, C extensions, missing dependencies,
//! sockets, subprocesses) are told apart from tests that fail ([`super::environment`]), so they
//! are never counted against a patch; a timeout is reported as a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::environment::{case_limit, is_local_module, run_limit};
use super::logs::{parse_django, parse_pytest_summary, parse_sympy};
use super::results::{CaseOutcome, TestCase, TestRun};
use super::specs::{RunnerKind, Spec};
use crate::config::SandboxSettings;
use crate::fetch::Progress;
use crate::repo::site::{SiteCache, SiteError};
use crate::sandbox::{Job, Sandbox, SandboxError, Status};

/// Where the spec's pinned dependencies appear inside the guest.
pub const GUEST_DEPS: &str = "/.codeswarm-deps";
/// Where the user's `--site` dir (or the site built from `--requirements`) appears.
pub const GUEST_USER_DEPS: &str = "/.codeswarm-deps-user";

/// Runs tests of repository worktrees in the sandbox under one environment.
#[derive(Clone)]
pub struct RepoTests {
    pub sandbox: Sandbox,
    /// The user's own dependencies (`--site`, `--requirements`).
    pub site: Option<PathBuf>,
    /// The environment: runner, path, generated files.
    pub spec: Spec,
    /// The instance's version (fills `{version}` in generated files).
    pub version: Option<String>,
    /// The spec's pinned dependencies, built.
    pub spec_site: Option<PathBuf>,
    pub timeout: Duration,
    pub memory_bytes: u64,
    /// Bytes of output kept in each [`RepoTestRun`] (`output_tail_bytes`).
    pub output_tail_bytes: usize,
    /// No run goes past this instant (a batch instance's time limit): each run's timeout is cut
    /// to what is left.
    pub deadline: Option<std::time::Instant>,
}

/// One run over a worktree.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RepoTestRun {
    pub label: String,
    pub targets: Vec<String>,
    /// The runner used (`pytest`, `sympy`, `django`).
    pub runner: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub cases: Vec<TestCase>,
    /// Why the tests could not run in the sandbox at all, when that is what happened.
    pub not_runnable: Option<String>,
    /// Tests that failed on an environment limit (id, why): not failures of the code.
    pub limited: Vec<(String, String)>,
    pub output_tail: String,
    pub seconds: f64,
    /// Targets pytest refused as not existing (exit code 4, nothing run); the others ran again
    /// without them ([`super::named_run`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<String>,
    /// The status of a first run that crashed with no results, after which the listed node ids
    /// ran alone ([`super::named_run`]): files and dirs named beside them were not run whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crashed_first: Option<String>,
}

/// The leaf name of a test id: `test_x` of `a/b.py::C::test_x`, of `test_x (mod.C)`, or of a
/// bare `test_x`.
fn leaf(id: &str) -> &str {
    let id = id.split(" (").next().unwrap_or(id);
    id.rsplit("::").next().unwrap_or(id)
}

impl RepoTestRun {
    fn case(&self, node_id: &str) -> Option<&TestCase> {
        if let Some(c) = self.cases.iter().find(|c| c.id == node_id) {
            return Some(c);
        }
        match node_id.split_once("::") {
            // The same test reported with a different class path.
            Some((file, _)) => {
                let want = leaf(node_id);
                self.cases.iter().find(|c| {
                    c.id.strip_prefix(file).is_some_and(|r| r.starts_with("::"))
                        && leaf(&c.id) == want
                })
            }
            // A bare name (sympy's ids in the dataset): unique by leaf.
            None if !node_id.contains(' ') => {
                let mut found = self.cases.iter().filter(|c| leaf(&c.id) == node_id);
                let first = found.next()?;
                found.next().is_none().then_some(first)
            }
            None => None,
        }
    }

    /// The outcome of `node_id` (exact, the same test reported with a different class path, or
    /// a bare test name matching one test).
    pub fn outcome(&self, node_id: &str) -> Option<CaseOutcome> {
        if let Some(c) = self.case(node_id) {
            return Some(c.outcome);
        }
        // The dataset cuts parametrized ids at their first space (`test_x[a b]` is listed as
        // `test_x[a`), as the harness's log parser does: every test the cut id begins must pass.
        if node_id.contains('[') && !node_id.ends_with(']') {
            let rank = |o: CaseOutcome| match o {
                CaseOutcome::Passed => 0,
                CaseOutcome::Skipped => 1,
                CaseOutcome::Failed => 2,
                CaseOutcome::Error => 3,
            };
            return self
                .cases
                .iter()
                .filter(|c| c.id.starts_with(node_id))
                .map(|c| c.outcome)
                .max_by_key(|o| rank(*o));
        }
        None
    }

    /// Why `node_id` could not run here, when it failed on an environment limit.
    pub fn limit_of(&self, node_id: &str) -> Option<&str> {
        let id = &self.case(node_id)?.id;
        self.limited
            .iter()
            .find(|(l, _)| l == id)
            .map(|(_, why)| why.as_str())
    }

    /// A collection error of the file `node_id` lives in (pytest reports it as a case named by
    /// the file): every test of that file errored.
    pub fn file_error(&self, node_id: &str) -> Option<&TestCase> {
        let (file, _) = node_id.split_once("::")?;
        self.cases
            .iter()
            .find(|c| c.id == file && c.outcome == CaseOutcome::Error)
    }

    pub fn passed(&self, node_id: &str) -> bool {
        self.outcome(node_id) == Some(CaseOutcome::Passed)
    }

    pub fn summary(&self) -> String {
        if let Some(why) = &self.not_runnable {
            return format!("not runnable in sandbox: {why}");
        }
        let count = |o| self.cases.iter().filter(|c| c.outcome == o).count();
        let mut s = format!(
            "{} passed, {} failed, {} errors, {} skipped ({})",
            count(CaseOutcome::Passed),
            count(CaseOutcome::Failed),
            count(CaseOutcome::Error),
            count(CaseOutcome::Skipped),
            self.status
        );
        if !self.limited.is_empty() {
            s += &format!(", {} not runnable here", self.limited.len());
        }
        s
    }

    /// The same results in the Coordinator's form (for its failure report).
    pub fn as_test_run(&self) -> TestRun {
        TestRun {
            label: self.label.clone(),
            status: self.status.clone(),
            exit_code: self.exit_code,
            cases: self.cases.clone(),
            output_tail: self.output_tail.clone(),
            seconds: self.seconds,
        }
    }

    /// Cases whose node id lies in `file`.
    pub fn in_file<'a>(&'a self, file: &'a str) -> impl Iterator<Item = &'a TestCase> + 'a {
        self.cases
            .iter()
            .filter(move |c| c.id == file || c.id.starts_with(&format!("{file}::")))
    }
}

/// Django's test labels for test files: `tests/queries/tests.py` → `queries.tests`.
pub fn django_labels(files: &[String]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            let f = f.strip_prefix("tests/").unwrap_or(f);
            let f = f.strip_suffix(".py").unwrap_or(f);
            f.replace('/', ".")
        })
        .collect()
}

impl RepoTests {
    /// The default environment (pytest from the repository root), limits from `settings`.
    pub fn new(sandbox: Sandbox, site: Option<PathBuf>, settings: &SandboxSettings) -> Self {
        Self {
            sandbox,
            site,
            spec: Spec::default_for("local/repository"),
            version: None,
            spec_site: None,
            timeout: Duration::from_secs(settings.timeout_seconds),
            memory_bytes: settings.memory_mb << 20,
            output_tail_bytes: settings.output_tail_bytes,
            deadline: None,
        }
    }

    /// The same runner under `spec` at `version`: its dependencies built (or found in the cache)
    /// and its time limit applied. A spec that is known not to run here still returns a runner;
    /// [`RepoTests::run`] then reports that reason without starting the sandbox.
    pub fn with_spec(
        &self,
        spec: &Spec,
        version: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<RepoTests, SiteError> {
        let mut t = self.clone();
        t.spec = spec.clone();
        t.version = version.map(str::to_string);
        t.spec_site = if spec.requirements.trim().is_empty() || spec.not_runnable.is_some() {
            None
        } else {
            let origin = PathBuf::from(format!("specs/repos.toml ({})", spec.label()));
            Some(SiteCache::at_default_location().ensure_pins(
                spec.requirements.as_bytes(),
                &origin,
                Some(&self.sandbox),
                progress,
            )?)
        };
        if let Some(s) = spec.timeout_seconds {
            t.timeout = Duration::from_secs(s);
        }
        Ok(t)
    }

    /// The sandbox job for `targets` (test files or node ids) over `worktree`.
    fn job(&self, worktree: &Path, extra: &[(String, String)], targets: &[String]) -> Job {
        let files = files_of(&self.spec, self.version.as_deref(), extra);
        let file_arg = |t: &String| t.split("::").next().unwrap_or(t).to_string();
        let mut job = match self.spec.runner {
            RunnerKind::Pytest => {
                let mut args = vec![
                    "-rA".to_string(),
                    "--continue-on-collection-errors".to_string(),
                    "-p".to_string(),
                    "no:randomly".to_string(),
                    // Node ids relative to the repository root (the guest's `/`) even when the
                    // repository has no pytest configuration file, which would make pytest pick
                    // the common directory of the targets.
                    "--rootdir=/".to_string(),
                ];
                args.extend(targets.iter().cloned());
                let mut job = Job::pytest(files, args);
                // A repository's own configuration may use any plugin's options
                // (`--doctest-modules` in addopts, `--trace`): only the plugins WASI cannot run
                // (faulthandler) and the cache (fresh copies) stay off.
                let mut kept = Vec::with_capacity(job.args.len());
                let mut i = 0;
                while i < job.args.len() {
                    let a = &job.args[i];
                    if a == "-p"
                        && job.args.get(i + 1).is_some_and(|p| {
                            p.starts_with("no:")
                                && p != "no:faulthandler"
                                && p != "no:cacheprovider"
                        })
                    {
                        i += 2;
                        continue;
                    }
                    kept.push(a.clone());
                    i += 1;
                }
                job.args = kept;
                // The report's name is chosen per run, so a file the code under test ships
                // cannot stand in for it.
                let report = unguessable_report_name();
                for a in job.args.iter_mut() {
                    if a.starts_with("--junitxml=") {
                        *a = format!("--junitxml={report}");
                    }
                }
                job.junit_report = Some(report);
                job
            }
            RunnerKind::Sympy => {
                let mut args = vec![
                    "bin/test".to_string(),
                    "-C".to_string(),
                    "--verbose".to_string(),
                    "--no-subprocess".to_string(),
                ];
                args.extend(targets.iter().map(file_arg));
                let mut job = Job::python(args);
                job.files = files;
                job
            }
            RunnerKind::Django => {
                let mut args = vec![
                    "tests/runtests.py".to_string(),
                    "--verbosity".to_string(),
                    "2".to_string(),
                    "--settings=test_sqlite".to_string(),
                    "--parallel".to_string(),
                    "1".to_string(),
                ];
                let test_files: Vec<String> = targets.iter().map(file_arg).collect();
                args.extend(django_labels(&test_files));
                let mut job = Job::python(args);
                job.files = files;
                job
            }
        }
        .source_dir(worktree)
        .timeout(self.timeout)
        .memory(self.memory_bytes);
        let mut path: Vec<String> = self.spec.path.iter().map(|p| format!("/{p}")).collect();
        if let Some(site) = &self.spec_site {
            job = job.mount(site, GUEST_DEPS);
            path.push(GUEST_DEPS.into());
        }
        if let Some(site) = &self.site {
            job = job.mount(site, GUEST_USER_DEPS);
            path.push(GUEST_USER_DEPS.into());
        }
        if !path.is_empty() {
            job = job.env("PYTHONPATH", path.join(":"));
        }
        for (k, v) in &self.spec.env {
            job = job.env(k, v);
        }
        job
    }

    /// Run the spec's runner on `targets` (node ids or paths) in a copy of `worktree` plus
    /// `extra` files.
    pub fn run(
        &self,
        worktree: &Path,
        extra: &[(String, String)],
        targets: &[String],
        label: &str,
    ) -> Result<RepoTestRun, SandboxError> {
        crate::activity::set(&format!("tests: {label}"));
        let mut run = RepoTestRun {
            label: label.to_string(),
            targets: targets.to_vec(),
            runner: self.spec.runner.as_str().to_string(),
            ..RepoTestRun::default()
        };
        if let Some(why) = &self.spec.not_runnable {
            run.status = "not started".into();
            run.not_runnable = Some(format!("{} ({})", why, self.spec.label()));
            return Ok(run);
        }
        let mut job = self.job(worktree, extra, targets);
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left < Duration::from_secs(1) {
                run.status = "not started".into();
                run.timed_out = true;
                run.output_tail = "the time limit was already reached".into();
                return Ok(run);
            }
            job.limits.timeout = job.limits.timeout.min(left);
        }
        let out = self.sandbox.run(&job)?;
        let output = format!("{}\n{}", out.stdout_lossy(), out.stderr_lossy());
        let mut cases: Vec<TestCase> = match self.spec.runner {
            RunnerKind::Pytest if job.junit_report.is_some() && !out.tests.is_empty() => {
                out.tests.iter().map(TestCase::from).collect()
            }
            RunnerKind::Pytest => parse_pytest_summary(&output),
            RunnerKind::Sympy => parse_sympy(&output),
            RunnerKind::Django => parse_django(&output),
        };
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        cases.dedup_by(|a, b| a.id == b.id);
        let local = |m: &str| is_local_module(worktree, &self.spec.path, m);
        run.output_tail = out.output_tail(self.output_tail_bytes);
        run.not_runnable = run_limit(&out.status, &cases, &output, &local);
        run.limited = cases
            .iter()
            .filter_map(|c| case_limit(c, &local).map(|why| (c.id.clone(), why)))
            .collect();
        run.timed_out = out.status == Status::Timeout;
        run.status = out.status.to_string();
        run.exit_code = match out.status {
            Status::Exited(c) => Some(c),
            _ => None,
        };
        run.cases = cases;
        run.seconds = out.duration.as_secs_f64();
        Ok(run)
    }
}

/// `.codeswarm-junit-<16 hex digits>.xml`, from the process's random hasher keys, the time and
/// a counter.
fn unguessable_report_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!(".codeswarm-junit-{:016x}.xml", h.finish())
}

fn files_of(
    spec: &Spec,
    version: Option<&str>,
    extra: &[(String, String)],
) -> Vec<(PathBuf, Vec<u8>)> {
    spec.files_for(version)
        .into_iter()
        .map(|(p, t)| (PathBuf::from(p), t.into_bytes()))
        .chain(
            extra
                .iter()
                .map(|(p, c)| (PathBuf::from(p), c.as_bytes().to_vec())),
        )
        .collect()
}

impl From<&crate::sandbox::TestCase> for TestCase {
    fn from(t: &crate::sandbox::TestCase) -> Self {
        use crate::sandbox::TestOutcome;
        // A collection error is reported by module (`tests.test_x`, no class): name its file.
        let id = if t.outcome == TestOutcome::Error
            && !t.node_id.contains("::")
            && !t.node_id.ends_with(".py")
            && t.message.as_deref() == Some("collection failure")
        {
            format!("{}.py", t.node_id.replace('.', "/"))
        } else {
            t.node_id.clone()
        };
        TestCase {
            id,
            outcome: match t.outcome {
                TestOutcome::Passed => CaseOutcome::Passed,
                TestOutcome::Failed => CaseOutcome::Failed,
                TestOutcome::Error => CaseOutcome::Error,
                TestOutcome::Skipped => CaseOutcome::Skipped,
            },
            message: t.message.clone().unwrap_or_default(),
            details: t.details.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, outcome: CaseOutcome) -> TestCase {
        TestCase {
            id: id.into(),
            outcome,
            message: String::new(),
            details: String::new(),
        }
    }

    #[test]
    fn outcomes_match_exact_class_qualified_and_bare_ids() {
        let run = RepoTestRun {
            cases: vec![
                case("tests/test_a.py::TestA::test_x", CaseOutcome::Passed),
                case("tests/test_a.py::test_y[1]", CaseOutcome::Failed),
                case(
                    "sympy/core/tests/test_b.py::test_issue_1",
                    CaseOutcome::Passed,
                ),
                case("tests/test_c.py", CaseOutcome::Error),
                case("test_q (queries.tests.T)", CaseOutcome::Failed),
            ],
            ..Default::default()
        };
        assert!(run.passed("tests/test_a.py::TestA::test_x"));
        assert!(run.passed("tests/test_a.py::test_x"));
        assert_eq!(
            run.outcome("tests/test_a.py::test_y[1]"),
            Some(CaseOutcome::Failed)
        );
        assert_eq!(run.outcome("tests/test_a.py::test_z"), None);
        assert!(run.passed("test_issue_1"));
        assert_eq!(
            run.outcome("test_q (queries.tests.T)"),
            Some(CaseOutcome::Failed)
        );
        assert_eq!(run.outcome("test_q"), Some(CaseOutcome::Failed));
        assert!(run.file_error("tests/test_c.py::test_gone").is_some());
        let cut = RepoTestRun {
            cases: vec![
                case(
                    "t.py::test_fail[custom-Custom message]",
                    CaseOutcome::Passed,
                ),
                case("t.py::test_fail[custom-Custom other]", CaseOutcome::Failed),
                case("t.py::test_ok[a b]", CaseOutcome::Passed),
            ],
            ..Default::default()
        };
        assert_eq!(
            cut.outcome("t.py::test_fail[custom-Custom"),
            Some(CaseOutcome::Failed)
        );
        assert_eq!(cut.outcome("t.py::test_ok[a"), Some(CaseOutcome::Passed));
        assert!(run.file_error("tests/test_a.py::test_gone").is_none());
    }

    #[test]
    fn a_bare_name_in_two_files_matches_neither() {
        let run = RepoTestRun {
            cases: vec![
                case("a/test_1.py::test_same", CaseOutcome::Passed),
                case("b/test_2.py::test_same", CaseOutcome::Failed),
            ],
            ..Default::default()
        };
        assert_eq!(run.outcome("test_same"), None);
    }

    #[test]
    fn django_labels_are_modules_under_tests() {
        assert_eq!(
            django_labels(&[
                "tests/queries/tests.py".into(),
                "tests/admin_views/test_forms.py".into()
            ]),
            ["queries.tests", "admin_views.test_forms"]
        );
    }
}
