//! `codeswarm check`: the CI gate over a produced diff (see [`crate::gate`]).
//!
//! Exit codes: 0 the patch passes; 1 it fails (refused — too large, not UTF-8, links out of the
//! repository —, does not apply — empty and binary patches included —, a syntax error, a
//! failing, missing or skipped test, no test run at all, tests the sandbox cannot run unless
//! `--allow-not-runnable`, an abnormal test run); 2 the gate could not judge (bad arguments,
//! missing repository or base revision, a patch file that cannot be opened, unusable
//! requirements, no sandbox).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::opts::DepsOpts;

use crate::gate::{check_with, github, junit::junit_xml, CheckError, CheckReport, CheckRequest};

/// How `check` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The readable summary.
    Human,
    /// The whole report as JSON (what `--json` prints).
    Json,
    /// GitHub Actions: `::error file=…,line=…::` annotations, then the summary; the Markdown
    /// summary goes to `$GITHUB_STEP_SUMMARY` when set (else it is printed too).
    Github,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The local git repository. It is only read: the patch is applied in a temporary worktree.
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// The revision the patch applies to (a sha, branch, tag, `HEAD~1`, …).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub base: String,
    /// The unified diff to check (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub patch: PathBuf,
    /// Tests to run: pytest node ids or paths, comma-separated (commas inside `[…]` parameter
    /// ids are kept); may be repeated. Default: the test files the patch adds or changes.
    #[arg(long, value_name = "NODEIDS")]
    pub tests: Vec<String>,
    /// Read tests to run from FILE, one node id or path per line (`#` comments).
    #[arg(long, value_name = "FILE")]
    pub tests_from: Option<PathBuf>,
    /// Also write the results as JUnit XML (gate steps and tests as test cases).
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
    /// How to print the report: `human` (the summary; default), `json`, or `github`
    /// (annotations on the diff and a job summary in `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Print the report as JSON: the same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Also write the Markdown summary (the job summary of `--format github`) to FILE.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Accept tests the sandbox cannot run (C extensions, missing dependencies): by default
    /// they fail the gate, since no test run is no evidence.
    #[arg(long)]
    pub allow_not_runnable: bool,
    /// Run the tests with the patch's changes to test configuration (conftest.py,
    /// pytest.ini/tox.ini/setup.cfg/pyproject.toml, a test package's __init__.py); by default
    /// the base revision's are used.
    #[arg(long)]
    pub allow_test_config: bool,
    /// Without --tests, run the patch's versions of the existing test files it changes; by
    /// default they run as at the base revision, so a patch may only add tests.
    #[arg(long)]
    pub allow_test_edits: bool,
    /// Largest patch judged, e.g. `5MiB`, `200KB`; a larger one fails the gate.
    #[arg(long, value_name = "SIZE", default_value = "5MiB", value_parser = crate::models::memory::parse_size)]
    pub max_patch_size: u64,
    /// Accepted for compatibility: not-runnable tests now fail by default.
    #[arg(long, hide = true)]
    pub strict: bool,
    #[command(flatten)]
    pub deps: DepsOpts,
    /// Configuration file (sandbox time and memory limits).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Split `a,b[1,2],c` on the commas outside brackets.
pub fn split_tests(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in arg.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The verdict on a patch over `--max-patch-size`.
fn too_large(max: u64) -> (String, Option<String>) {
    (
        String::new(),
        Some(format!(
            "the patch is larger than {max} bytes (--max-patch-size); split it or raise the limit"
        )),
    )
}

/// The patch text, read up to one byte past `max` (a larger patch is refused without being
/// read whole), or why its content is unusable (too large, not UTF-8: the gate fails, exit 1).
/// A file that cannot be read at all is an error (exit 2).
fn read_patch(path: &Path, max: u64) -> anyhow::Result<(String, Option<String>)> {
    let limit = max.saturating_add(1);
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("cannot read the patch from standard input")?;
    } else {
        anyhow::ensure!(
            !path.is_dir(),
            "--patch {} is a directory; pass the diff file (or - for standard input)",
            path.display()
        );
        // A FIFO or device is refused (exit 2); a file over the limit is the gate's "too
        // large" verdict below, read no further than one byte past it.
        match crate::input_file::read_input(
            path,
            "the patch file",
            max,
            crate::input_file::Follow::Yes,
        ) {
            Ok(b) => bytes = b,
            Err(crate::input_file::InputError::TooLarge { .. }) => return Ok(too_large(max)),
            Err(e) => return Err(e.into()),
        }
    }
    if bytes.len() as u64 > max {
        return Ok(too_large(max));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, None)),
        Err(_) => Ok((
            String::new(),
            Some("the patch is not UTF-8 text; produce it with `git diff`".into()),
        )),
    }
}

fn selected_tests(a: &CheckArgs) -> anyhow::Result<Option<Vec<String>>> {
    if a.tests.is_empty() && a.tests_from.is_none() {
        return Ok(None);
    }
    let mut tests: Vec<String> = a.tests.iter().flat_map(|t| split_tests(t)).collect();
    if let Some(file) = &a.tests_from {
        let text = crate::input_file::read_input_string(
            file,
            "--tests-from",
            crate::input_file::MAX_TEXT_FILE,
            crate::input_file::Follow::Yes,
        )?;
        tests.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    // pytest would read these as options, whatever the gate meant to run.
    if let Some(t) = tests.iter().find(|t| t.starts_with('-')) {
        anyhow::bail!(
            "--tests/--tests-from: `{t}` is an option, not a test; give pytest node ids or paths (options cannot be passed to the gate's pytest)"
        );
    }
    let mut seen = std::collections::HashSet::new();
    tests.retain(|t| seen.insert(t.clone()));
    anyhow::ensure!(
        !tests.is_empty(),
        "--tests/--tests-from name no test; give pytest node ids or paths, or leave both out to run the test files the patch touches"
    );
    Ok(Some(tests))
}

impl CheckArgs {
    /// `--format`, with `--json` as `--format json`.
    pub fn output_format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or(Format::Human)
        }
    }
}

/// `$GITHUB_STEP_SUMMARY` when it names a file to append to.
fn step_summary_file() -> Option<PathBuf> {
    std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Append the Markdown summary to `$GITHUB_STEP_SUMMARY` (as every step of a job does).
fn append_step_summary(path: &Path, markdown: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open $GITHUB_STEP_SUMMARY {}", path.display()))?;
    f.write_all(markdown.as_bytes())
        .with_context(|| format!("cannot write $GITHUB_STEP_SUMMARY {}", path.display()))
}

/// Write the report's files (`--junit`, `--summary`, the job summary) and print it.
fn emit(a: &CheckArgs, report: &CheckReport) -> anyhow::Result<()> {
    if let Some(out) = &a.junit {
        crate::fsutil::write_atomic(out, &junit_xml(report))
            .with_context(|| format!("cannot write --junit {}", out.display()))?;
    }
    let markdown = github::markdown_summary(report);
    if let Some(out) = &a.summary {
        crate::fsutil::write_atomic(out, markdown.as_bytes())
            .with_context(|| format!("cannot write --summary {}", out.display()))?;
    }
    match a.output_format() {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Human => {
            print!("{}", report.summary());
            if let Some(out) = &a.junit {
                println!("  junit:  {}", out.display());
            }
            if let Some(out) = &a.summary {
                println!("  summary: {}", out.display());
            }
        }
        Format::Github => match step_summary_file() {
            Some(path) => {
                print!("{}", github::render(report, None));
                append_step_summary(&path, &markdown)?;
            }
            None => print!("{}", github::render(report, Some(&markdown))),
        },
    }
    Ok(())
}

pub fn run(a: CheckArgs) -> anyhow::Result<i32> {
    let tests = selected_tests(&a)?;
    let (patch, patch_problem) = read_patch(&a.patch, a.max_patch_size)?;
    // Fail early when an output file cannot be written, not after the tests ran.
    for (out, flag) in [(&a.junit, "--junit"), (&a.summary, "--summary")] {
        if let Some(out) = out {
            crate::fsutil::check_output_file(out, flag).map_err(anyhow::Error::msg)?;
        }
    }
    let config = crate::config::Config::load(a.config.as_deref())?;
    let bar = if a.output_format() != Format::Human {
        indicatif::ProgressBar::hidden()
    } else {
        crate::progress::spinner("codeswarm check")
    };
    // Bad dependency options are set-up errors (exit 2) whether or not tests end up running.
    let early: anyhow::Result<()> = a
        .deps
        .resolve(&bar)
        .map_err(anyhow::Error::from)
        .and_then(|_| a.deps.spec_set().map(drop));
    if let Err(e) = early {
        bar.finish_and_clear();
        return Err(e);
    }
    let request = CheckRequest {
        repo: a.repo.clone(),
        base: Some(a.base.clone()),
        patch,
        patch_name: if a.patch.as_os_str() == "-" {
            "<stdin>".to_string()
        } else {
            a.patch.display().to_string()
        },
        tests,
        allow_not_runnable: a.allow_not_runnable,
        allow_test_config: a.allow_test_config,
        allow_test_edits: a.allow_test_edits,
        max_patch_bytes: usize::try_from(a.max_patch_size).unwrap_or(usize::MAX),
        patch_problem,
        site: None,
        work_dir: None,
    };
    let report = check_with(&request, &bar, &mut || {
        a.deps
            .repo_tests(&config, None, &bar)
            .map_err(|e| CheckError::Environment(format!("{e:#}")))
    });
    bar.finish_and_clear();
    let report = report?;
    emit(&a, &report)?;
    Ok(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lists_split_outside_brackets() {
        assert_eq!(
            split_tests("a.py::t, b.py::u[1,2] ,,c.py"),
            ["a.py::t", "b.py::u[1,2]", "c.py"]
        );
        assert!(split_tests(" , ").is_empty());
    }
}
