//! `codeswarm report RUN_DIR`: gather a run directory's per-instance results and patches, and
//! print them as a table (instance, status, seconds, tokens, patch lines, and the repository
//! fixer's status of each patch when the run has one) with totals. The HTML page is
//! [`super::html`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::input_file::{read_input_string, Follow, MAX_RUN_FILE};

use super::fix_status::{FixStatus, StatusCounts};
use super::manifest::Manifest;
use super::predictions::read_predictions;
use super::runner::{changed_lines, InstanceResult, InstanceStatus, PATCH_FILE, TRAJECTORY_FILE};

/// Why a run directory could not be reported on.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{} is not a codeswarm run directory (no manifest.json and no instances/); pass the --run-dir of a `codeswarm batch` run (default: PREDICTIONS.run beside the predictions file)", path.display())]
    NotARunDir { path: PathBuf },
    #[error("{}: not a readable instance result ({detail}); restore it or delete it (the instance is then reported as incomplete, and a resumed batch solves it again)", path.display())]
    CorruptResult { path: PathBuf, detail: String },
    #[error(transparent)]
    Manifest(#[from] super::manifest::ManifestError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One instance of a run.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub instance_id: String,
    /// `result.json`, when the instance got that far.
    pub result: Option<InstanceResult>,
    /// The status word shown: the result's, or `recorded` (a prediction line without a
    /// result.json) or `incomplete` (a directory without either).
    pub status: String,
    /// The patch the solver returned (`patch.diff`), else the recorded prediction's.
    pub patch: String,
    /// Whether the predictions file has a line for it.
    pub in_predictions: bool,
    /// `instances/<id>/trajectory.json`, when present.
    pub trajectory: Option<PathBuf>,
    /// The repository fixer's status of the patch: `result.json`'s, else the prediction
    /// line's `codeswarm_status`; `None` for other solvers.
    pub fix_status: Option<FixStatus>,
}

impl ReportRow {
    pub fn seconds(&self) -> Option<f64> {
        self.result.as_ref().map(|r| r.seconds)
    }

    pub fn tokens(&self) -> Option<u64> {
        self.result.as_ref().map(|r| r.tokens)
    }

    pub fn patch_lines(&self) -> usize {
        changed_lines(&self.patch)
    }
}

/// A run directory, read.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub rows: Vec<ReportRow>,
}

/// Totals over a report's rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub instances: usize,
    pub patched: usize,
    pub no_patch: usize,
    pub failed: usize,
    pub other: usize,
    pub seconds: f64,
    pub tokens: u64,
    /// Instances per fix status (repository fixes only).
    pub by_status: StatusCounts,
}

impl RunReport {
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            instances: self.rows.len(),
            ..Totals::default()
        };
        for row in &self.rows {
            match row.result.as_ref().map(|r| r.status) {
                Some(InstanceStatus::Patched) => t.patched += 1,
                Some(InstanceStatus::NoPatch) => t.no_patch += 1,
                Some(s) if s.is_failure() => t.failed += 1,
                _ => t.other += 1,
            }
            t.by_status.add(row.fix_status);
            t.seconds += row.seconds().unwrap_or(0.0);
            t.tokens += row.tokens().unwrap_or(0);
        }
        t
    }
}

/// Read `run_dir`: its manifest, `instances/*/`, and the predictions file the manifest names.
pub fn load_run(run_dir: &Path) -> Result<RunReport, ReportError> {
    let manifest = Manifest::load(run_dir)?;
    let instances_dir = run_dir.join("instances");
    if manifest.is_none() && !instances_dir.is_dir() {
        return Err(ReportError::NotARunDir {
            path: run_dir.to_path_buf(),
        });
    }
    let predictions = match &manifest {
        Some(m) => match read_predictions(&m.settings.predictions) {
            Ok(read) => read.by_id(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the predictions file; reporting from the run directory only");
                Default::default()
            }
        },
        None => Default::default(),
    };
    let mut rows: BTreeMap<String, ReportRow> = BTreeMap::new();
    if instances_dir.is_dir() {
        let entries = std::fs::read_dir(&instances_dir).map_err(|source| ReportError::Io {
            path: instances_dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let dir = entry.path();
            // Nothing in a run directory is read through a link (a link there may point at
            // any host file): a linked instance directory is left out, a linked file refused.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let id = entry.file_name().to_string_lossy().into_owned();
            let result = InstanceResult::read(&dir)
                .map_err(|(path, detail)| ReportError::CorruptResult { path, detail })?;
            let patch_path = dir.join(PATCH_FILE);
            let patch = match read_input_string(&patch_path, "patch", MAX_RUN_FILE, Follow::No) {
                Ok(text) => text,
                Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => String::new(),
                Err(e) => {
                    return Err(ReportError::CorruptResult {
                        path: patch_path,
                        detail: e.to_string(),
                    })
                }
            };
            let trajectory = Some(dir.join(TRAJECTORY_FILE))
                .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
            let status = match &result {
                Some(r) => r.status.as_str().to_string(),
                None if predictions.contains_key(&id) => "recorded".into(),
                None => "incomplete".into(),
            };
            let fix_status = result
                .as_ref()
                .and_then(|r| r.fix_status)
                .or_else(|| predictions.get(&id).and_then(|p| p.codeswarm_status));
            rows.insert(
                id.clone(),
                ReportRow {
                    in_predictions: predictions.contains_key(&id),
                    instance_id: id,
                    result,
                    status,
                    patch,
                    trajectory,
                    fix_status,
                },
            );
        }
    }
    for (id, p) in &predictions {
        let row = rows.entry(id.clone()).or_insert_with(|| ReportRow {
            instance_id: id.clone(),
            result: None,
            status: "recorded".into(),
            patch: String::new(),
            in_predictions: true,
            trajectory: None,
            fix_status: p.codeswarm_status,
        });
        if row.patch.is_empty() {
            row.patch = p.model_patch.clone();
        }
    }
    Ok(RunReport {
        run_dir: run_dir.to_path_buf(),
        manifest,
        rows: rows.into_values().collect(),
    })
}

/// The summary table, as printed by `codeswarm report`.
///
/// A run of the repository fixer gets a `fix status` column after `status` (`-` for an
/// instance without one) and a line counting instances per fix status.
pub fn render_table(report: &RunReport) -> String {
    let with_status = report.rows.iter().any(|r| r.fix_status.is_some());
    let mut headers = vec!["instance", "status"];
    if with_status {
        headers.push("fix status");
    }
    headers.extend(["seconds", "tokens", "patch lines"]);
    let cells: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![
                crate::terminal_text::terminal_safe(&r.instance_id).into_owned(),
                crate::terminal_text::terminal_safe(&r.status).into_owned(),
            ];
            if with_status {
                row.push(r.fix_status.map_or("-".into(), |s| s.as_str().into()));
            }
            row.extend([
                r.seconds().map_or("-".into(), |s| format!("{s:.1}")),
                r.tokens().map_or("-".into(), |t| t.to_string()),
                r.patch_lines().to_string(),
            ]);
            row
        })
        .collect();
    let left = headers.len() - 3;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let fmt_row = |out: &mut String, row: &[String]| {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < left {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    };
    fmt_row(
        &mut out,
        &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    );
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", rule.join("  "));
    for row in &cells {
        fmt_row(&mut out, row);
    }
    let t = report.totals();
    let _ = writeln!(
        out,
        "{} instances: {} patched, {} without patch, {} failed{}; {:.1} s, {} tokens",
        t.instances,
        t.patched,
        t.no_patch,
        t.failed,
        if t.other > 0 {
            format!(", {} other", t.other)
        } else {
            String::new()
        },
        t.seconds,
        t.tokens
    );
    if !t.by_status.is_empty() {
        let _ = writeln!(out, "repository fixes: {}", t.by_status.line());
    }
    out
}
