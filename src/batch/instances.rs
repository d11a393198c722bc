//! SWE-bench instances: reading them, validating them, and choosing which to run.
//!
//! The input is a `.json` file holding an array of instances or a `.jsonl` file with one per
//! line (the format is recognised by the first non-blank character, `[` or not, whatever the
//! extension). The fields are the dataset's own: `instance_id`, `repo`, `base_commit`,
//! `problem_statement`, `hints_text`, `version` and `environment_setup_commit` (optional; the
//! version chooses the test environment, [`crate::testing::specs`]) and, for evaluation only, `FAIL_TO_PASS`,
//! `PASS_TO_PASS` (lists of test ids; the dataset stores them as strings holding JSON arrays,
//! real arrays are accepted too), `test_patch` and `patch` (the gold patch). Other fields are
//! ignored. A malformed line or entry is reported with its line number (or array index) and
//! skipped; it never stops a run.
//!
//! What a solver may see is a [`SolverView`]: id, repository, base commit, problem statement
//! and hints, nothing else. The evaluation fields live apart in [`EvalSpec`], and the solver
//! API only ever receives a `&SolverView`.
//!
//! [`Filter`] selects instances: `--instance-ids` first (file order is kept), then `--limit`
//! (the first N of what is left), then `--shard I/N` — so the shards of a limited run together
//! hold exactly the instances the unsharded run would have.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::input_file::{read_input, Follow, MAX_DATA_FILE};
use crate::terminal_text::{terminal_safe, terminal_safe_max, MAX_MESSAGE_CHARS};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::shard::Shard;

/// Why an instances file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum InstancesError {
    #[error("cannot read instances file {}: {source}; pass an existing .json, .jsonl or .parquet file (or a directory of .parquet shards) with --instances", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}; pass a .json or .jsonl file with --instances")]
    Input(#[from] crate::input_file::InputError),
    #[error("instances file {} is not valid JSON at line {line}, column {column}: {message}; a .json file must hold one array of instances (or use .jsonl, one instance per line)", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("instances file {} holds a JSON {kind}, not an array of instances; use an array, or one instance per line (.jsonl)", path.display())]
    NotAnArray { path: PathBuf, kind: &'static str },
    #[error(transparent)]
    Parquet(#[from] super::parquet::ParquetError),
}

/// Why a selection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("--instance-ids names instances that are not in {}: {}; check the spelling or the --instances file", path.display(), ids.join(", "))]
    UnknownIds { path: PathBuf, ids: Vec<String> },
    #[error("--limit must be at least 1")]
    ZeroLimit,
}

/// Where an entry sits in the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// 1-based line of a `.jsonl` file.
    Line(usize),
    /// 0-based index in the array of a `.json` file.
    Index(usize),
    /// 0-based row of Parquet input (across its shards, in path order).
    Row(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Index(i) => write!(f, "array index {i}"),
            Location::Row(i) => write!(f, "row {i}"),
        }
    }
}

/// A malformed entry that was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputProblem {
    pub location: Location,
    /// The entry's id when it could be read.
    pub instance_id: Option<String>,
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.instance_id {
            Some(id) => write!(
                f,
                "{} ({}): {}",
                self.location,
                terminal_safe(id),
                terminal_safe_max(&self.message, MAX_MESSAGE_CHARS)
            ),
            None => write!(
                f,
                "{}: {}",
                self.location,
                terminal_safe_max(&self.message, MAX_MESSAGE_CHARS)
            ),
        }
    }
}

/// Everything a solver may see of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SolverView {
    pub instance_id: String,
    /// `owner/name`, resolved to a clone URL through the URL template.
    pub repo: String,
    pub base_commit: String,
    pub problem_statement: String,
    pub hints_text: Option<String>,
    /// The dataset's `version` of the repository (chooses the test environment).
    pub version: Option<String>,
    /// The commit the dataset's environment was installed from.
    pub environment_setup_commit: Option<String>,
}

/// The evaluation-only fields, never shown to a solver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvalSpec {
    /// Tests that must go from failing to passing (`None`: the field was absent).
    pub fail_to_pass: Option<Vec<String>>,
    /// Tests that must keep passing.
    pub pass_to_pass: Option<Vec<String>>,
    /// The patch adding the instance's tests, applied after the model patch.
    pub test_patch: Option<String>,
    /// The reference fix (`patch`).
    pub gold_patch: Option<String>,
}

/// One instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub view: SolverView,
    pub eval: EvalSpec,
    /// Where it was read from.
    pub location: Location,
}

impl Instance {
    pub fn id(&self) -> &str {
        &self.view.instance_id
    }
}

/// A read instances file.
#[derive(Debug, Clone)]
pub struct InstanceSet {
    pub path: PathBuf,
    /// sha256 of the file's bytes (hex), recorded in run manifests.
    pub sha256: String,
    /// Valid instances, in file order.
    pub instances: Vec<Instance>,
    /// Skipped entries.
    pub problems: Vec<InputProblem>,
}

impl InstanceSet {
    pub fn get(&self, id: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.id() == id)
    }

    /// Log every skipped entry as a warning.
    pub fn warn_problems(&self) {
        for p in &self.problems {
            tracing::warn!(file = %self.path.display(), "skipped malformed instance at {p}");
        }
    }
}

/// Read and validate an instances file.
pub fn load_instances(path: &Path) -> Result<InstanceSet, InstancesError> {
    if super::parquet::is_parquet_source(path) {
        let (rows, sha256) = super::parquet::read_rows(path)?;
        let entries = rows
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Location::Row(i), Ok(v)))
            .collect();
        let mut set = instances_from_entries(entries, path);
        set.sha256 = sha256;
        return Ok(set);
    }
    let bytes = read_input(path, "--instances", MAX_DATA_FILE, Follow::Yes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut set = parse_instances(text, path)?;
    set.sha256 = sha256;
    Ok(set)
}

/// Parse instances from text (`path` names the source in messages).
pub fn parse_instances(text: &str, path: &Path) -> Result<InstanceSet, InstancesError> {
    let mut entries: Vec<(Location, Result<Value, String>)> = Vec::new();
    if text.trim_start().starts_with('[') {
        let value: Value = serde_json::from_str(text).map_err(|e| InstancesError::NotJson {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let Value::Array(items) = value else {
            unreachable!("text starting with `[` parsed as JSON is an array")
        };
        entries.extend(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Location::Index(i), Ok(v))),
        );
    } else if text.trim_start().starts_with('{')
        && serde_json::from_str::<Value>(text).is_ok()
        && text.trim().lines().count() > 1
    {
        return Err(InstancesError::NotAnArray {
            path: path.to_path_buf(),
            kind: "object spread over several lines",
        });
    } else {
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed =
                serde_json::from_str::<Value>(line).map_err(|e| format!("not valid JSON ({e})"));
            entries.push((Location::Line(n + 1), parsed));
        }
    }

    Ok(instances_from_entries(entries, path))
}

/// The instances of parsed entries; malformed ones become problems.
fn instances_from_entries(
    entries: Vec<(Location, Result<Value, String>)>,
    path: &Path,
) -> InstanceSet {
    let mut set = InstanceSet {
        path: path.to_path_buf(),
        sha256: String::new(),
        instances: Vec::new(),
        problems: Vec::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    for (location, parsed) in entries {
        let value = match parsed {
            Ok(v) => v,
            Err(message) => {
                set.problems.push(InputProblem {
                    location,
                    instance_id: None,
                    message,
                });
                continue;
            }
        };
        match instance_from_value(&value, location) {
            Ok(inst) => {
                if !seen.insert(inst.id().to_string()) {
                    set.problems.push(InputProblem {
                        location,
                        instance_id: Some(inst.id().to_string()),
                        message: "duplicate instance_id; the first occurrence is used".into(),
                    });
                    continue;
                }
                set.instances.push(inst);
            }
            Err(message) => set.problems.push(InputProblem {
                location,
                instance_id: value
                    .get("instance_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                message,
            }),
        }
    }
    set
}

/// Check that an instance id can name a directory of its own (`RUN_DIR/instances/<id>`).
pub fn check_instance_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err("instance_id is empty".into());
    }
    if id.len() > 200 {
        return Err("instance_id is longer than 200 bytes".into());
    }
    if id.starts_with('.') {
        return Err(format!("instance_id `{id}` starts with `.`"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '\0') || c.is_control())
    {
        return Err(format!(
            "instance_id `{}` contains {c:?}, which cannot be part of a directory name",
            id.escape_debug()
        ));
    }
    Ok(())
}

fn instance_from_value(value: &Value, location: Location) -> Result<Instance, String> {
    let Value::Object(map) = value else {
        return Err(format!("expected a JSON object, found {}", kind_of(value)));
    };
    let required = |name: &str| -> Result<String, String> {
        match map.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(format!("field `{name}` is empty")),
            Some(other) => Err(format!(
                "field `{name}` must be a string, found {}",
                kind_of(other)
            )),
            None => Err(format!("missing field `{name}`")),
        }
    };
    let optional = |name: &str| -> Result<Option<String>, String> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "field `{name}` must be a string, found {}",
                kind_of(other)
            )),
        }
    };
    let instance_id = required("instance_id")?;
    check_instance_id(&instance_id)?;
    let problem_statement = match map.get("problem_statement") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "field `problem_statement` must be a string, found {}",
                kind_of(other)
            ))
        }
        None => return Err("missing field `problem_statement`".into()),
    };
    let repo = required("repo")?;
    crate::repo::checkout::check_owner_name(&repo).map_err(|e| format!("field `repo`: {e}"))?;
    let view = SolverView {
        repo,
        base_commit: required("base_commit")?,
        problem_statement,
        hints_text: optional("hints_text")?.filter(|h| !h.trim().is_empty()),
        version: match map.get("version") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            // Some copies of the dataset store versions as numbers (`0.12`).
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(format!(
                    "field `version` must be a string, found {}",
                    kind_of(other)
                ))
            }
        },
        environment_setup_commit: optional("environment_setup_commit")?
            .filter(|c| !c.trim().is_empty()),
        instance_id,
    };
    let eval = EvalSpec {
        fail_to_pass: test_list(map.get("FAIL_TO_PASS"), "FAIL_TO_PASS")?,
        pass_to_pass: test_list(map.get("PASS_TO_PASS"), "PASS_TO_PASS")?,
        test_patch: optional("test_patch")?.filter(|p| !p.trim().is_empty()),
        gold_patch: optional("patch")?.filter(|p| !p.trim().is_empty()),
    };
    Ok(Instance {
        view,
        eval,
        location,
    })
}

/// A list of test ids: a string holding a JSON array (the dataset's encoding) or an array.
fn test_list(value: Option<&Value>, name: &str) -> Result<Option<Vec<String>>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Some(Vec::new())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                return Err(format!(
                    "field `{name}` must encode a JSON array of test ids, found {}",
                    kind_of(&other)
                ))
            }
            Err(e) => {
                return Err(format!(
                    "field `{name}` is a string but not a JSON-encoded list of test ids ({e})"
                ))
            }
        },
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err(format!(
                "field `{name}` must be a list of test ids, found {}",
                kind_of(other)
            ))
        }
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            other => Err(format!(
                "field `{name}` must list strings, found {}",
                kind_of(&other)
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which instances to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Filter {
    /// Only these ids (`--instance-ids a,b`).
    pub instance_ids: Option<Vec<String>>,
    /// The first N (`--limit N`), after the id filter.
    pub limit: Option<usize>,
    /// One shard (`--shard I/N`, 0-based), after the limit.
    pub shard: Option<Shard>,
}

impl Filter {
    /// Select from `set`: ids, then limit, then shard. Unknown ids are an error.
    pub fn apply<'a>(&self, set: &'a InstanceSet) -> Result<Vec<&'a Instance>, FilterError> {
        let mut selected: Vec<&Instance> = set.instances.iter().collect();
        if let Some(ids) = &self.instance_ids {
            let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let unknown: Vec<String> = ids
                .iter()
                .filter(|id| set.get(id).is_none())
                .cloned()
                .collect();
            if !unknown.is_empty() {
                return Err(FilterError::UnknownIds {
                    path: set.path.clone(),
                    ids: unknown,
                });
            }
            selected.retain(|i| wanted.contains(i.id()));
        }
        if let Some(limit) = self.limit {
            if limit == 0 {
                return Err(FilterError::ZeroLimit);
            }
            selected.truncate(limit);
        }
        if let Some(shard) = &self.shard {
            selected.retain(|i| shard.contains(i.id()));
        }
        Ok(selected)
    }
}

/// Split `--instance-ids a,b, c` into ids (blanks dropped).
pub fn parse_id_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str) -> String {
        serde_json::json!({
            "instance_id": id, "repo": "o/r", "base_commit": "abc", "problem_statement": "p",
            "hints_text": "", "FAIL_TO_PASS": "[\"t::a\"]", "PASS_TO_PASS": ["t::b", "t::c"],
            "test_patch": "diff", "patch": "gold", "version": "1.0"
        })
        .to_string()
    }

    #[test]
    fn malformed_lines_are_reported_with_line_numbers_and_skipped() {
        let text = [
            line("a__a-1"),
            "{not json".to_string(),
            String::new(),
            r#"{"instance_id": "b", "repo": "o/r", "problem_statement": "p"}"#.to_string(),
            r#"["an array"]"#.to_string(),
            line("c__c-3").replace("[\\\"t::a\\\"]", "not a list"),
            line("a__a-1"),
            r#"{"instance_id": "../up", "repo": "o/r", "base_commit": "x", "problem_statement": "p"}"#.to_string(),
            line("d__d-4"),
        ]
        .join("\n");
        let set = parse_instances(&text, Path::new("in.jsonl")).unwrap();
        let ids: Vec<&str> = set.instances.iter().map(|i| i.id()).collect();
        assert_eq!(ids, ["a__a-1", "d__d-4"]);
        let lines: Vec<Location> = set.problems.iter().map(|p| p.location).collect();
        assert_eq!(
            lines,
            [2, 4, 5, 6, 7, 8].map(Location::Line),
            "{:#?}",
            set.problems
        );
        assert!(set.problems[0].message.contains("not valid JSON"));
        assert!(set.problems[1]
            .message
            .contains("missing field `base_commit`"));
        assert_eq!(set.problems[1].instance_id.as_deref(), Some("b"));
        assert!(set.problems[2].message.contains("expected a JSON object"));
        assert!(
            set.problems[3].message.contains("FAIL_TO_PASS"),
            "{}",
            set.problems[3]
        );
        assert!(set.problems[4].message.contains("duplicate"));
        assert!(
            set.problems[5].message.contains("starts with `.`")
                || set.problems[5].message.contains("'/'"),
            "{}",
            set.problems[5]
        );
        assert_eq!(
            set.problems[0].to_string().split(':').next(),
            Some("line 2")
        );
    }

    #[test]
    fn official_fields_decode_both_list_encodings() {
        let set = parse_instances(&line("a__a-1"), Path::new("x.jsonl")).unwrap();
        let inst = &set.instances[0];
        assert_eq!(
            inst.eval.fail_to_pass.as_deref(),
            Some(&["t::a".to_string()][..])
        );
        assert_eq!(inst.eval.pass_to_pass.as_ref().unwrap().len(), 2);
        assert_eq!(inst.eval.test_patch.as_deref(), Some("diff"));
        assert_eq!(inst.eval.gold_patch.as_deref(), Some("gold"));
        assert_eq!(inst.view.hints_text, None, "empty hints are no hints");
        assert_eq!(inst.view.repo, "o/r");
    }

    #[test]
    fn version_and_environment_commit_are_kept_and_unknown_fields_ignored() {
        let text = r#"{"instance_id":"o__r-1","repo":"o/r","base_commit":"abc","problem_statement":"p","version":"5.4","environment_setup_commit":"def","created_at":"2020","FAIL_TO_PASS":"[\"t::a\"]","PASS_TO_PASS":[],"something_new":{"x":1}}
{"instance_id":"o__r-2","repo":"o/r","base_commit":"abc","problem_statement":"p","version":0.12}
[{"instance_id":"o__r-3","repo":"o/r","base_commit":"abc","problem_statement":"p"}]"#;
        let lines: Vec<&str> = text.lines().collect();
        let set = parse_instances(
            &format!("{}\n{}\n", lines[0], lines[1]),
            Path::new("x.jsonl"),
        )
        .unwrap();
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let a = &set.instances[0].view;
        assert_eq!(a.version.as_deref(), Some("5.4"));
        assert_eq!(a.environment_setup_commit.as_deref(), Some("def"));
        assert_eq!(set.instances[0].eval.pass_to_pass.as_deref(), Some(&[][..]));
        assert_eq!(set.instances[1].view.version.as_deref(), Some("0.12"));
        let arr = parse_instances(lines[2], Path::new("x.json")).unwrap();
        assert_eq!(arr.instances[0].view.version, None);
    }

    #[test]
    fn json_arrays_report_the_index() {
        let text = format!("[{}, 7, {}]", line("a"), line("b"));
        let set = parse_instances(&text, Path::new("x.json")).unwrap();
        assert_eq!(set.instances.len(), 2);
        assert_eq!(set.problems.len(), 1);
        assert_eq!(set.problems[0].location, Location::Index(1));
        assert!(set.problems[0].to_string().starts_with("array index 1"));
        let err = parse_instances("[{]", Path::new("x.json")).unwrap_err();
        assert!(
            matches!(err, InstancesError::NotJson { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn filters_apply_ids_then_limit_then_shard() {
        let text: Vec<String> = (0..40).map(|i| line(&format!("r__r-{i}"))).collect();
        let set = parse_instances(&text.join("\n"), Path::new("x.jsonl")).unwrap();
        let f = Filter {
            instance_ids: Some(vec!["r__r-5".into(), "r__r-2".into()]),
            ..Filter::default()
        };
        let ids: Vec<&str> = f.apply(&set).unwrap().iter().map(|i| i.id()).collect();
        assert_eq!(ids, ["r__r-2", "r__r-5"], "file order is kept");
        let f = Filter {
            instance_ids: Some(vec!["r__r-5".into(), "nope".into()]),
            ..Filter::default()
        };
        let err = f.apply(&set).unwrap_err().to_string();
        assert!(err.contains("nope") && !err.contains("r__r-5"), "{err}");

        let limited = Filter {
            limit: Some(10),
            ..Filter::default()
        };
        let first10: Vec<&str> = limited
            .apply(&set)
            .unwrap()
            .iter()
            .map(|i| i.id())
            .collect();
        assert_eq!(first10.len(), 10);
        let mut union: Vec<&str> = Vec::new();
        for index in 0..3 {
            let f = Filter {
                limit: Some(10),
                shard: Some(Shard::new(index, 3).unwrap()),
                ..Filter::default()
            };
            union.extend(f.apply(&set).unwrap().iter().map(|i| i.id()));
        }
        union.sort();
        let mut expected = first10.clone();
        expected.sort();
        assert_eq!(union, expected, "shards of a limited run make up that run");
        assert_eq!(parse_id_list(" a, b,,c "), ["a", "b", "c"]);
    }
}
