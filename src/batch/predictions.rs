//! The predictions file: one JSON line per instance,
//! `{"instance_id": …, "model_name_or_path": …, "model_patch": …}`, exactly what the official
//! SWE-bench harness reads with `--predictions_path`. A repository fix's line also carries
//! `"codeswarm_status"` (the fixer's [`FixStatus`] of that patch, `no-patch` for an empty one):
//! the harness ignores keys it does not know; `merge-preds` keeps it and `evaluate` reports
//! resolved per status.
//!
//! Durability: each line is appended whole by a single `write(2)` on an `O_APPEND` file and
//! then `fsync`ed, so a crash (kill -9, power loss) can at worst leave the *last* line torn.
//! [`PredictionsWriter::open`] detects a torn tail (bytes after the last newline), reports it
//! and truncates it away before anything is appended (a tail that is a whole prediction only
//! missing its newline is completed instead). A short write is rolled back at once. The set of
//! finished instances is the set of ids with a complete line.
//!
//! A complete line in the middle of the file that is not a prediction cannot come from a crash
//! (only from an edit); it is an error naming the line rather than something to drop silently.
//!
//! Exclusion: the writer holds an exclusive `flock` on the file itself (not on a lock file
//! named after the path), so a second batch reaching the same file through a symlink or a hard
//! link is refused too. `--redo` rewrites the file atomically (through a symlink, keeping its
//! mode) and locks the new file before it takes the name.
//!
//! [`read_predictions`] reads without changing anything (for `merge-preds`, `evaluate`).

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fix_status::FixStatus;
use super::lock::{LockError, TryLock};
use crate::input_file::{read_input, Follow, MAX_DATA_FILE};

/// One prediction, in the harness's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub instance_id: String,
    pub model_name_or_path: String,
    /// Unified diff against the base commit; empty when the solver produced none (`null`, as
    /// some tools write for "no patch", reads as empty).
    #[serde(deserialize_with = "null_as_empty")]
    pub model_patch: String,
    /// The repository fixer's status of `model_patch` (absent for other solvers and other
    /// tools' predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codeswarm_status: Option<FixStatus>,
}

/// A string field where `null` means empty.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl Prediction {
    /// The line written to the file, newline included. Non-empty patches end with a newline
    /// (`git apply` rejects a last hunk line without one).
    pub fn to_line(&self) -> String {
        let mut p = self.clone();
        if !p.model_patch.is_empty() && !p.model_patch.ends_with('\n') {
            p.model_patch.push('\n');
        }
        let mut line = serde_json::to_string(&p).expect("strings always serialize");
        line.push('\n');
        line
    }
}

/// Why the predictions file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PredictionsError {
    #[error("predictions file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] crate::input_file::InputError),
    #[error("predictions file {} line {line} is not a prediction ({message}); every line must be {{\"instance_id\", \"model_name_or_path\", \"model_patch\"}}, with an optional \"codeswarm_status\" (verified, plausible, unverified or no-patch): fix or delete that line", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("short write to predictions file {} ({written} of {len} bytes, rolled back); is the disk full?", path.display())]
    ShortWrite {
        path: PathBuf,
        written: usize,
        len: usize,
    },
    #[error(transparent)]
    Locked(#[from] LockError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PredictionsError + '_ {
    move |source| PredictionsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Bytes after the last newline, left by an interrupted append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TornTail {
    /// Byte offset where the torn line starts (the length of the complete part).
    pub offset: u64,
    pub bytes: usize,
    /// The tail is a whole prediction missing only its newline.
    pub complete_json: bool,
}

/// A predictions file as read.
#[derive(Debug, Clone, Default)]
pub struct ReadPredictions {
    /// Complete lines in order, with their 1-based line numbers.
    pub lines: Vec<(usize, Prediction)>,
    /// Bytes after the last newline, if any.
    pub torn: Option<TornTail>,
    /// Ids with more than one line (the last line wins, as in the harness).
    pub duplicates: Vec<String>,
}

impl ReadPredictions {
    /// Ids with a complete line.
    pub fn finished(&self) -> HashSet<String> {
        self.lines
            .iter()
            .map(|(_, p)| p.instance_id.clone())
            .collect()
    }

    /// The ids with more than one line whose lines differ, each with its line numbers
    /// (identical repeats are harmless and left out).
    pub fn conflicting(&self) -> Vec<(String, Vec<usize>)> {
        self.duplicates
            .iter()
            .filter_map(|id| {
                let lines: Vec<&(usize, Prediction)> = self
                    .lines
                    .iter()
                    .filter(|(_, p)| &p.instance_id == id)
                    .collect();
                let differ = lines.windows(2).any(|w| w[0].1 != w[1].1);
                differ.then(|| (id.clone(), lines.iter().map(|(n, _)| *n).collect()))
            })
            .collect()
    }

    /// id → prediction (the last line of an id wins).
    pub fn by_id(&self) -> HashMap<String, Prediction> {
        self.lines
            .iter()
            .map(|(_, p)| (p.instance_id.clone(), p.clone()))
            .collect()
    }
}

/// Parse the text of a predictions file (`path` names it in errors).
pub fn parse_predictions(bytes: &[u8], path: &Path) -> Result<ReadPredictions, PredictionsError> {
    // A JSON array (as some tools write predictions) is read whole, even on one line.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let all: Vec<Prediction> =
            serde_json::from_slice(bytes).map_err(|e| PredictionsError::Corrupt {
                path: path.to_path_buf(),
                line: e.line(),
                message: format!("not a JSON array of predictions: {e}"),
            })?;
        let mut read = ReadPredictions::default();
        let mut seen = HashSet::new();
        for (i, p) in all.into_iter().enumerate() {
            if !seen.insert(p.instance_id.clone()) && !read.duplicates.contains(&p.instance_id) {
                read.duplicates.push(p.instance_id.clone());
            }
            read.lines.push((i + 1, p));
        }
        return Ok(read);
    }
    let complete_len = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut read = ReadPredictions::default();
    let mut seen = HashSet::new();
    for (n, raw) in bytes[..complete_len].split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(raw);
        if line.trim().is_empty() {
            continue;
        }
        let p =
            serde_json::from_str::<Prediction>(&line).map_err(|e| PredictionsError::Corrupt {
                path: path.to_path_buf(),
                line: n + 1,
                message: e.to_string(),
            })?;
        if !seen.insert(p.instance_id.clone()) && !read.duplicates.contains(&p.instance_id) {
            read.duplicates.push(p.instance_id.clone());
        }
        read.lines.push((n + 1, p));
    }
    let tail = &bytes[complete_len..];
    if !tail.is_empty() {
        let text = String::from_utf8_lossy(tail);
        let whole = serde_json::from_str::<Prediction>(&text);
        read.torn = Some(TornTail {
            offset: complete_len as u64,
            bytes: tail.len(),
            complete_json: whole.is_ok(),
        });
        if let Ok(p) = whole {
            if !seen.insert(p.instance_id.clone()) && !read.duplicates.contains(&p.instance_id) {
                read.duplicates.push(p.instance_id.clone());
            }
            let line_no = bytes[..complete_len]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            read.lines.push((line_no, p));
        }
    }
    Ok(read)
}

/// Read a predictions file without changing it; a missing file reads as empty. A torn tail is
/// reported in [`ReadPredictions::torn`] and left out (unless it is a whole prediction).
pub fn read_predictions(path: &Path) -> Result<ReadPredictions, PredictionsError> {
    match read_input(path, "--predictions", MAX_DATA_FILE, Follow::Yes) {
        Ok(bytes) => parse_predictions(&bytes, path),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => {
            Ok(ReadPredictions::default())
        }
        Err(e) => Err(PredictionsError::Input(e)),
    }
}

/// The appender, holding the file's lock for as long as it lives.
#[derive(Debug)]
pub struct PredictionsWriter {
    path: PathBuf,
    file: File,
    len: u64,
    finished: HashSet<String>,
    _lock: TryLock,
}

/// What opening found and repaired.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    pub torn: Option<TornTail>,
    pub lines: usize,
    pub duplicates: Vec<String>,
}

/// Whether the open `file` is the file `path` names now.
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (open, named) = (file.metadata()?, std::fs::metadata(path)?);
    Ok(open.dev() == named.dev() && open.ino() == named.ino())
}

#[cfg(not(unix))]
fn is_current(_file: &File, _path: &Path) -> std::io::Result<bool> {
    Ok(true)
}

/// Open `path` for appending (creating it) with the exclusive lock on the file itself.
fn open_locked(path: &Path) -> Result<(File, TryLock), PredictionsError> {
    let what = format!("predictions file {}", path.display());
    for _ in 0..16 {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(io_err(path))?;
        let lock = TryLock::on_file(file.try_clone().map_err(io_err(path))?, path, &what)?;
        // Another process's --redo may have renamed a new file over the path between the open
        // and the lock: then this lock guards a file nobody will read; open again.
        if is_current(&file, path).map_err(io_err(path))? {
            return Ok((file, lock));
        }
    }
    Err(io_err(path)(std::io::Error::other(
        "the file keeps being replaced while it is opened",
    )))
}

impl PredictionsWriter {
    /// Open (creating it and its directory if needed) for appending: take the lock, read the
    /// finished set, and repair a torn last line.
    pub fn open(path: &Path) -> Result<(PredictionsWriter, OpenReport), PredictionsError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        crate::input_file::check_regular_or_missing(path, "--predictions")?;
        let (mut file, lock) = open_locked(path)?;
        let bytes = read_input(path, "--predictions", MAX_DATA_FILE, Follow::Yes)?;
        // Appending JSONL lines after a JSON array would break both formats.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(PredictionsError::Corrupt {
                path: path.to_path_buf(),
                line: 1,
                message: "a JSON array: batch appends JSONL lines; give a new .jsonl file (evaluate reads arrays)".into(),
            });
        }
        let read = parse_predictions(&bytes, path)?;
        let mut len = bytes.len() as u64;
        if let Some(torn) = &read.torn {
            if torn.complete_json {
                tracing::warn!(file = %path.display(), "last prediction line lacked its newline; completed it");
                file.write_all(b"\n").map_err(io_err(path))?;
                len += 1;
            } else {
                tracing::warn!(file = %path.display(), bytes = torn.bytes, "removed a torn last line (an append was interrupted); that instance will be solved again");
                file.set_len(torn.offset).map_err(io_err(path))?;
                len = torn.offset;
            }
            file.sync_all().map_err(io_err(path))?;
        }
        for id in &read.duplicates {
            tracing::warn!(file = %path.display(), instance = %id, "instance has several prediction lines; the last one counts");
        }
        let report = OpenReport {
            torn: read.torn.clone(),
            lines: read.lines.len(),
            duplicates: read.duplicates.clone(),
        };
        Ok((
            PredictionsWriter {
                path: path.to_path_buf(),
                file,
                len,
                finished: read.finished(),
                _lock: lock,
            },
            report,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ids with a complete line.
    pub fn finished(&self) -> &HashSet<String> {
        &self.finished
    }

    /// Append one prediction: one `write`, then `fsync`. A short write is truncated away.
    pub fn append(&mut self, prediction: &Prediction) -> Result<(), PredictionsError> {
        let line = prediction.to_line();
        let bytes = line.as_bytes();
        let written = loop {
            match self.file.write(bytes) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Nothing or part of the line may be on disk: roll back.
                    let _ = self.file.set_len(self.len);
                    return Err(io_err(&self.path)(e));
                }
            }
        };
        if written != bytes.len() {
            let _ = self.file.set_len(self.len);
            let _ = self.file.sync_all();
            return Err(PredictionsError::ShortWrite {
                path: self.path.clone(),
                written,
                len: bytes.len(),
            });
        }
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.len += written as u64;
        self.finished.insert(prediction.instance_id.clone());
        Ok(())
    }

    /// Rewrite the file atomically without the lines of `ids` (for `--redo`); returns how many
    /// lines were dropped.
    pub fn remove(&mut self, ids: &HashSet<String>) -> Result<usize, PredictionsError> {
        let bytes = std::fs::read(&self.path).map_err(io_err(&self.path))?;
        let read = parse_predictions(&bytes, &self.path)?;
        let mut kept = String::new();
        let mut dropped = 0;
        for (_, p) in &read.lines {
            if ids.contains(&p.instance_id) {
                dropped += 1;
            } else {
                kept.push_str(&p.to_line());
            }
        }
        if dropped == 0 {
            return Ok(0);
        }
        // The new file is locked before it takes the name: the path never names an unlocked file.
        let what = format!("predictions file {}", self.path.display());
        let mut new_lock = None;
        crate::fsutil::write_atomic_with(&self.path, kept.as_bytes(), |tmp| {
            let lock = TryLock::on_file(tmp.try_clone()?, &self.path, &what)
                .map_err(std::io::Error::other)?;
            new_lock = Some(lock);
            Ok(())
        })
        .map_err(io_err(&self.path))?;
        if let Some(lock) = new_lock {
            self._lock = lock;
        }
        self.file = OpenOptions::new()
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        self.len = kept.len() as u64;
        self.finished = read
            .lines
            .into_iter()
            .map(|(_, p)| p.instance_id)
            .filter(|id| !ids.contains(id))
            .collect();
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn null_patches_read_as_empty_and_conflicting_repeats_are_named() {
        let text = concat!(
            r#"{"instance_id": "a", "model_name_or_path": "m", "model_patch": null}"#,
            "\n",
            r#"{"instance_id": "b", "model_name_or_path": "m", "model_patch": "x"}"#,
            "\n",
            r#"{"instance_id": "b", "model_name_or_path": "m", "model_patch": "y"}"#,
            "\n",
            r#"{"instance_id": "c", "model_name_or_path": "m", "model_patch": ""}"#,
            "\n",
            r#"{"instance_id": "c", "model_name_or_path": "m", "model_patch": ""}"#,
            "\n",
        );
        let read = parse_predictions(text.as_bytes(), Path::new("p.jsonl")).unwrap();
        assert_eq!(read.lines[0].1.model_patch, "");
        assert_eq!(read.conflicting(), [("b".to_string(), vec![2, 3])]);
    }

    #[test]
    fn a_json_array_is_read_whole_even_on_one_line() {
        let text = br#"[{"instance_id": "a__b-1", "model_name_or_path": "m", "model_patch": ""}, {"instance_id": "a__b-2", "model_name_or_path": "m", "model_patch": "diff"}]"#;
        let read = parse_predictions(text, Path::new("p.json")).unwrap();
        assert!(read.torn.is_none());
        let ids: Vec<&str> = read
            .lines
            .iter()
            .map(|(_, p)| p.instance_id.as_str())
            .collect();
        assert_eq!(ids, vec!["a__b-1", "a__b-2"]);
        let bad = parse_predictions(b"[{\"x\": 1}]", Path::new("p.json")).unwrap_err();
        assert!(
            bad.to_string().contains("not a JSON array of predictions"),
            "{bad}"
        );
        // The appender refuses an array instead of writing JSONL after it.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("p.json");
        std::fs::write(&f, text).unwrap();
        let e = PredictionsWriter::open(&f).unwrap_err().to_string();
        assert!(e.contains("batch appends JSONL"), "{e}");
        assert_eq!(std::fs::read(&f).unwrap(), text.to_vec(), "left unchanged");
    }

    use super::*;

    fn pred(id: &str, patch: &str) -> Prediction {
        Prediction {
            instance_id: id.into(),
            model_name_or_path: "m".into(),
            model_patch: patch.into(),
            codeswarm_status: None,
        }
    }

    #[test]
    fn a_status_follows_the_harness_fields_and_reads_back() {
        let p = Prediction {
            codeswarm_status: Some(FixStatus::Plausible),
            ..pred("a", "diff --git a/x b/x\n")
        };
        let line = p.to_line();
        assert_eq!(
            line,
            "{\"instance_id\":\"a\",\"model_name_or_path\":\"m\",\"model_patch\":\"diff --git a/x b/x\\n\",\"codeswarm_status\":\"plausible\"}\n"
        );
        let read = parse_predictions(line.as_bytes(), Path::new("p.jsonl")).unwrap();
        assert_eq!(read.lines[0].1, p);
        // Without the key (or with null): no status.
        let plain = "{\"instance_id\":\"b\",\"model_name_or_path\":\"m\",\"model_patch\":\"\",\"codeswarm_status\":null}\n";
        let read = parse_predictions(plain.as_bytes(), Path::new("p.jsonl")).unwrap();
        assert_eq!(read.lines[0].1.codeswarm_status, None);
        // An unknown status names the line and the statuses.
        let bad = "{\"instance_id\":\"c\",\"model_name_or_path\":\"m\",\"model_patch\":\"\",\"codeswarm_status\":\"sure\"}\n";
        let e = parse_predictions(bad.as_bytes(), Path::new("p.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1") && e.contains("sure") && e.contains("no-patch"),
            "{e}"
        );
    }

    #[test]
    fn lines_have_the_harness_fields_in_order() {
        let line = pred("a", "diff --git a/x b/x").to_line();
        assert_eq!(
            line,
            "{\"instance_id\":\"a\",\"model_name_or_path\":\"m\",\"model_patch\":\"diff --git a/x b/x\\n\"}\n"
        );
        assert_eq!(
            pred("b", "").to_line(),
            "{\"instance_id\":\"b\",\"model_name_or_path\":\"m\",\"model_patch\":\"\"}\n"
        );
    }

    #[test]
    fn append_then_reopen_finds_the_finished_set() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/preds.jsonl");
        let (mut w, report) = PredictionsWriter::open(&path).unwrap();
        assert_eq!(report.lines, 0);
        w.append(&pred("a", "p\n")).unwrap();
        w.append(&pred("b", "")).unwrap();
        assert!(w.finished().contains("a"));
        // A second writer on the same file is refused while the first lives.
        assert!(matches!(
            PredictionsWriter::open(&path),
            Err(PredictionsError::Locked(_))
        ));
        drop(w);
        let (w, report) = PredictionsWriter::open(&path).unwrap();
        assert_eq!(report.lines, 2);
        assert!(report.torn.is_none());
        assert_eq!(w.finished().len(), 2);
    }

    #[test]
    #[cfg(unix)]
    fn the_lock_is_on_the_file_whatever_path_reaches_it() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("preds.jsonl");
        let (mut w, _) = PredictionsWriter::open(&path).unwrap();
        let sym = d.path().join("sym.jsonl");
        std::os::unix::fs::symlink(&path, &sym).unwrap();
        let hard = d.path().join("hard.jsonl");
        std::fs::hard_link(&path, &hard).unwrap();
        for other in [&sym, &hard] {
            let err = PredictionsWriter::open(other).unwrap_err();
            assert!(matches!(err, PredictionsError::Locked(_)), "{err}");
            assert!(err.to_string().contains("in use by another"), "{err}");
        }
        // After a --redo rewrite (a new file under the name) the new file is locked too.
        w.append(&pred("a", "")).unwrap();
        w.append(&pred("b", "")).unwrap();
        w.remove(&HashSet::from(["a".to_string()])).unwrap();
        assert!(matches!(
            PredictionsWriter::open(&sym),
            Err(PredictionsError::Locked(_))
        ));
        assert!(matches!(
            PredictionsWriter::open(&path),
            Err(PredictionsError::Locked(_))
        ));
        drop(w);
        let (w, report) = PredictionsWriter::open(&sym).unwrap();
        assert_eq!(report.lines, 1);
        assert!(w.finished().contains("b"));
        assert!(
            !d.path().join(".preds.jsonl.lock").exists(),
            "no lock file beside it"
        );
    }

    #[test]
    fn a_torn_last_line_is_reported_and_truncated_before_appending() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("preds.jsonl");
        let good = pred("a", "p\n").to_line();
        let torn = &pred("b", "q\n").to_line()[..20];
        std::fs::write(&path, format!("{good}{torn}")).unwrap();
        let read = read_predictions(&path).unwrap();
        assert_eq!(read.finished(), HashSet::from(["a".to_string()]));
        assert_eq!(read.torn.as_ref().unwrap().bytes, 20);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().len(),
            good.len() + 20,
            "reading changes nothing"
        );

        let (mut w, report) = PredictionsWriter::open(&path).unwrap();
        let t = report.torn.unwrap();
        assert_eq!(
            (t.offset, t.bytes, t.complete_json),
            (good.len() as u64, 20, false)
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            good,
            "torn line truncated away"
        );
        w.append(&pred("b", "q\n")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{good}{}", pred("b", "q\n").to_line()));
    }

    #[test]
    fn a_whole_last_line_without_newline_is_completed() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("preds.jsonl");
        let line = pred("a", "p\n").to_line();
        std::fs::write(&path, line.trim_end()).unwrap();
        let (w, report) = PredictionsWriter::open(&path).unwrap();
        assert!(report.torn.unwrap().complete_json);
        assert!(w.finished().contains("a"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), line);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("preds.jsonl");
        std::fs::write(
            &path,
            format!(
                "{}garbage\n{}",
                pred("a", "").to_line(),
                pred("b", "").to_line()
            ),
        )
        .unwrap();
        let err = PredictionsWriter::open(&path).unwrap_err();
        assert!(
            matches!(err, PredictionsError::Corrupt { line: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"));
    }

    #[test]
    fn remove_rewrites_without_those_ids() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("preds.jsonl");
        let (mut w, _) = PredictionsWriter::open(&path).unwrap();
        for id in ["a", "b", "c"] {
            w.append(&pred(id, "")).unwrap();
        }
        let dropped = w.remove(&HashSet::from(["b".to_string()])).unwrap();
        assert_eq!(dropped, 1);
        assert!(!w.finished().contains("b"));
        w.append(&pred("b", "new\n")).unwrap();
        let read = read_predictions(&path).unwrap();
        let ids: Vec<&str> = read
            .lines
            .iter()
            .map(|(_, p)| p.instance_id.as_str())
            .collect();
        assert_eq!(ids, ["a", "c", "b"]);
        assert_eq!(read.by_id()["b"].model_patch, "new\n");
    }
}
