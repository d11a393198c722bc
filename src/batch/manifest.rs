//! The run manifest, `RUN_DIR/manifest.json`: the settings a run was started with, its progress
//! counts, and when it started and was last updated. Always written atomically.
//!
//! Policy when a run directory is reused:
//! - **Identity settings** decide what a prediction means: the model name, the instances
//!   file's sha256, the predictions file, the time limit and the repository URL template.
//!   Resuming with any of them changed is refused with an error listing each change, unless
//!   `--redo` is given: then the new settings replace the old ones (which are kept under
//!   `previous_settings`) and the selected instances are solved again.
//! - **Selection settings** (`--instance-ids`, `--limit`, `--shard`) may change freely between
//!   invocations (e.g. raise `--limit` to extend a run): each prediction is independent of the
//!   selection, finished instances are skipped, and the manifest records the latest selection.
//! - A different codeswarm version is only logged.

use crate::input_file::{read_input_string, Follow, MAX_RUN_FILE};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::instances::Filter;

/// The manifest format written by this version.
pub const MANIFEST_FORMAT: u32 = 1;

/// The manifest's file name inside a run directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Why a manifest could not be read, written or reused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] crate::input_file::InputError),
    #[error("run manifest {} is unreadable ({message}); it is not a codeswarm run directory, or the file was edited: choose another --run-dir, or delete the file to start the directory afresh", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("run manifest {} has format {found}, newer than this codeswarm understands ({MANIFEST_FORMAT}); use a newer codeswarm or another --run-dir", path.display())]
    NewerFormat { path: PathBuf, found: u32 },
    #[error("run directory {} was started with different settings:\n{}\nResume with the original settings, choose another --run-dir, or pass --redo to solve the selected instances again under the new settings", run_dir.display(), changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    SettingsChanged {
        run_dir: PathBuf,
        changes: Vec<Change>,
    },
}

/// The settings of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    /// `model_name_or_path` written into every prediction.
    pub model: String,
    /// The instances file as given (made absolute).
    pub instances_file: PathBuf,
    /// sha256 of the instances file's bytes.
    pub instances_sha256: String,
    /// The predictions file (absolute).
    pub predictions: PathBuf,
    /// The selection of the latest invocation.
    pub filter: Filter,
    /// Per-instance time limit in seconds (`None`: none).
    pub time_limit_s: Option<u64>,
    pub repo_url_template: String,
    /// Extra site-packages directory handed to the solver's sandbox.
    pub site: Option<PathBuf>,
    pub codeswarm_version: String,
}

/// One changed identity setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub was: String,
    pub now: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: was {}, now {}", self.field, self.was, self.now)
    }
}

impl RunSettings {
    /// The identity settings that differ between `self` (recorded) and `new`.
    pub fn identity_changes(&self, new: &RunSettings) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut check = |field: &str, was: String, now: String| {
            if was != now {
                changes.push(Change {
                    field: field.into(),
                    was,
                    now,
                });
            }
        };
        check("model", self.model.clone(), new.model.clone());
        if self.instances_sha256 != new.instances_sha256 {
            // The same content at another path is the same instance set.
            check(
                "instances file sha256",
                format!(
                    "{} ({})",
                    self.instances_sha256,
                    self.instances_file.display()
                ),
                format!(
                    "{} ({})",
                    new.instances_sha256,
                    new.instances_file.display()
                ),
            );
        }
        check(
            "predictions file",
            self.predictions.display().to_string(),
            new.predictions.display().to_string(),
        );
        let limit = |t: Option<u64>| t.map_or("none".to_string(), |s| format!("{s} s"));
        check(
            "time limit",
            limit(self.time_limit_s),
            limit(new.time_limit_s),
        );
        check(
            "repository URL template",
            self.repo_url_template.clone(),
            new.repo_url_template.clone(),
        );
        changes
    }
}

/// Progress counts, updated after every instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Instances selected by the latest invocation.
    pub selected: usize,
    /// Selected instances with a prediction line.
    pub done: usize,
    /// Done with a non-empty patch.
    pub patched: usize,
    /// Done without a patch (the solver found none, failed, panicked or ran out of time).
    pub empty: usize,
    /// Of `empty`: errors, panics and time limits.
    pub failed: usize,
    /// Selected instances still to do.
    pub remaining: usize,
    /// Model tokens spent in this run directory's recorded instances.
    pub tokens: u64,
}

/// Settings replaced by a `--redo` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSettings {
    pub replaced_at: String,
    pub settings: RunSettings,
}

/// `RUN_DIR/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub settings: RunSettings,
    pub progress: Progress,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub updated_at: String,
    /// How many times `codeswarm batch` has run in this directory.
    pub invocations: u32,
    /// The state of the latest invocation: `running`, `completed`, `interrupted`, `aborted`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_settings: Vec<PreviousSettings>,
}

impl Manifest {
    /// A new manifest for `settings`, started now.
    pub fn new(settings: RunSettings) -> Manifest {
        let now = now_rfc3339();
        Manifest {
            format: MANIFEST_FORMAT,
            settings,
            progress: Progress::default(),
            started_at: now.clone(),
            updated_at: now,
            invocations: 0,
            state: "running".into(),
            previous_settings: Vec::new(),
        }
    }

    pub fn path(run_dir: &Path) -> PathBuf {
        run_dir.join(MANIFEST_FILE)
    }

    /// Read `RUN_DIR/manifest.json`; `None` when there is none.
    pub fn load(run_dir: &Path) -> Result<Option<Manifest>, ManifestError> {
        let path = Self::path(run_dir);
        let text = match read_input_string(&path, "run manifest", MAX_RUN_FILE, Follow::No) {
            Ok(t) => t,
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => return Ok(None),
            Err(e) => return Err(ManifestError::Input(e)),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ManifestError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let found = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
        if found > u64::from(MANIFEST_FORMAT) {
            return Err(ManifestError::NewerFormat {
                path,
                found: found.min(u64::from(u32::MAX)) as u32,
            });
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ManifestError::Corrupt {
                path,
                message: e.to_string(),
            })
    }

    /// Stamp `updated_at` and write atomically.
    pub fn save(&mut self, run_dir: &Path) -> Result<(), ManifestError> {
        self.updated_at = now_rfc3339();
        let path = Self::path(run_dir);
        let mut text = serde_json::to_string_pretty(self).expect("manifest serializes");
        text.push('\n');
        crate::fsutil::write_atomic(&path, text.as_bytes())
            .map_err(|source| ManifestError::Io { path, source })
    }

    /// Reuse this (recorded) manifest for a new invocation with `new` settings, following the
    /// module's policy; `redo` allows identity changes.
    pub fn resume(
        mut self,
        new: RunSettings,
        redo: bool,
        run_dir: &Path,
    ) -> Result<Manifest, ManifestError> {
        let changes = self.settings.identity_changes(&new);
        if !changes.is_empty() {
            if !redo {
                return Err(ManifestError::SettingsChanged {
                    run_dir: run_dir.to_path_buf(),
                    changes,
                });
            }
            tracing::warn!(run_dir = %run_dir.display(), "--redo: settings changed ({}); the selected instances are solved again, other finished instances keep their earlier predictions",
                changes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("; "));
            self.previous_settings.push(PreviousSettings {
                replaced_at: now_rfc3339(),
                settings: self.settings.clone(),
            });
        }
        if self.settings.codeswarm_version != new.codeswarm_version {
            tracing::info!(was = %self.settings.codeswarm_version, now = %new.codeswarm_version, "resuming a run started by another codeswarm version");
        }
        self.settings = new;
        self.state = "running".into();
        Ok(self)
    }
}

/// The current time as RFC 3339 UTC with seconds (`2024-05-01T12:34:56Z`).
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::shard::Shard;

    fn settings() -> RunSettings {
        RunSettings {
            model: "codeswarm-qwen".into(),
            instances_file: "/data/in.jsonl".into(),
            instances_sha256: "aa".into(),
            predictions: "/out/preds.jsonl".into(),
            filter: Filter::default(),
            time_limit_s: Some(600),
            repo_url_template: "https://example.invalid/{repo}.git".into(),
            site: None,
            codeswarm_version: "0.1.0".into(),
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn round_trip_and_atomic_save() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(d.path()).unwrap(), None);
        let mut m = Manifest::new(settings());
        m.progress.done = 3;
        m.save(d.path()).unwrap();
        let back = Manifest::load(d.path()).unwrap().unwrap();
        assert_eq!(back, m);
        std::fs::write(Manifest::path(d.path()), "{").unwrap();
        assert!(matches!(
            Manifest::load(d.path()),
            Err(ManifestError::Corrupt { .. })
        ));
        std::fs::write(Manifest::path(d.path()), r#"{"format": 99}"#).unwrap();
        assert!(matches!(
            Manifest::load(d.path()),
            Err(ManifestError::NewerFormat { found: 99, .. })
        ));
    }

    #[test]
    fn identity_changes_need_redo_selection_changes_do_not() {
        let d = tempfile::tempdir().unwrap();
        let old = Manifest::new(settings());
        let mut selection = settings();
        selection.filter.limit = Some(20);
        selection.filter.shard = Some(Shard::new(1, 4).unwrap());
        selection.codeswarm_version = "0.2.0".into();
        let resumed = old
            .clone()
            .resume(selection.clone(), false, d.path())
            .unwrap();
        assert_eq!(resumed.settings, selection);

        let mut other = settings();
        other.model = "other-model".into();
        other.time_limit_s = None;
        let err = old
            .clone()
            .resume(other.clone(), false, d.path())
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("model: was codeswarm-qwen, now other-model"),
            "{msg}"
        );
        assert!(msg.contains("time limit: was 600 s, now none"), "{msg}");
        assert!(msg.contains("--redo"), "{msg}");
        let redone = old.resume(other.clone(), true, d.path()).unwrap();
        assert_eq!(redone.settings, other);
        assert_eq!(redone.previous_settings.len(), 1);
        assert_eq!(redone.previous_settings[0].settings.model, "codeswarm-qwen");

        // The same file content at another path is the same instance set.
        let mut moved = settings();
        moved.instances_file = "/elsewhere/in.jsonl".into();
        assert!(settings().identity_changes(&moved).is_empty());
        moved.instances_sha256 = "bb".into();
        assert_eq!(settings().identity_changes(&moved).len(), 1);
    }
}
