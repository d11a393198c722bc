//! Repairer: resolves a repository issue by editing the code the Localizer chose. Two formats:
//! `function` (default; the model returns complete corrected functions or classes, which small
//! models manage) and `search-replace` (Aider-style blocks, for larger models). Both become
//! search/replace blocks applied by [`crate::repo::edit`]; a block that does not apply, or an
//! edit that breaks a file's syntax, goes back to the model with the reason (closest lines,
//! several matches, `file:line:col`), a bounded number of times.

use std::path::Path;

use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{extract, AgentError, Crew};
use crate::models::{AgentRole, Message};
use crate::repo::edit::{self, EditBlock, WritePolicy, FORMAT_EXAMPLE};
use crate::repo::map::RepoMap;
use crate::repo::rewrite;

/// How the Repairer writes edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EditFormat {
    #[default]
    Function,
    SearchReplace,
}

#[derive(Debug, Clone)]
pub struct RepairRequest<'a> {
    pub issue: &'a str,
    /// `(path, qualname)` of the code to change.
    pub targets: &'a [(String, String)],
    /// The code as shown to the model (exact source under `# path` headers).
    pub code: &'a str,
    /// A previous attempt's diff and what the tests said about it.
    pub previous: Option<(&'a str, &'a str)>,
}

/// One proposed edit, as a value: nothing is written to the worktree.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Proposal {
    /// Every block applied and every edited file parses.
    pub applied: bool,
    /// Path → new content of each changed file (empty unless `applied`).
    #[serde(skip)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Files that did not exist before.
    pub created: Vec<String>,
    pub retries: u32,
    /// Why each retry was needed.
    pub problems: Vec<String>,
}

/// The exact source of `targets` under `# path` headers, as the Repairer sees it.
pub fn show_targets(map: &RepoMap, targets: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut last = "";
    for (path, qualname) in targets {
        let Some(text) = map
            .file(path)
            .and_then(|f| crate::repo::map::source_of(f, qualname, false))
        else {
            continue;
        };
        if last != path {
            out.push_str(&format!("# {path}\n"));
            last = path;
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// Ask for edits and apply them in memory to the files of `worktree` (at the base; nothing
/// is written): the proposal holds the new contents.
pub fn propose(
    crew: &mut Crew<'_>,
    worktree: &Path,
    map: &RepoMap,
    format: EditFormat,
    req: &RepairRequest<'_>,
) -> Result<Proposal, AgentError> {
    let (previous, failures) = req.previous.unwrap_or(("", ""));
    let template = match format {
        EditFormat::Function => "repair_function",
        EditFormat::SearchReplace => "repair",
    };
    let mut messages = crew.opening(template, context! { issue => req.issue, code => req.code, previous, failures, format => FORMAT_EXAMPLE })?;
    let retries = crew.config.limits.syntax_retries;
    let mut out = Proposal::default();
    for attempt in 0..=retries {
        let g = crew.chat(AgentRole::Repairer, &messages)?;
        let problem = match blocks(&g.text, format, map, req.targets) {
            Err(e) => e,
            Ok(blocks) => {
                let mut outcome = edit::apply_edits_to_dir(worktree, &blocks, WritePolicy::Nothing);
                // A file given back unchanged is no edit.
                outcome
                    .files
                    .retain(|p, new| map.file(p).is_none_or(|f| f.source != *new));
                if outcome.is_clean() && !outcome.files.is_empty() {
                    out.applied = true;
                    out.files = outcome.files;
                    out.created = outcome.created;
                    return Ok(out);
                }
                if outcome.is_clean() {
                    "the reply changes nothing: it is the same as the current code".to_string()
                } else {
                    outcome.error_report()
                }
            }
        };
        let repeated = out.problems.last() == Some(&problem);
        out.problems.push(problem.clone());
        if attempt == retries || repeated {
            break;
        }
        out.retries += 1;
        messages.push(Message::assistant(g.text));
        messages.push(Message::user(
            crew.prompts
                .render("repair_retry", context! { errors => problem })?,
        ));
    }
    Ok(out)
}

fn blocks(
    reply: &str,
    format: EditFormat,
    map: &RepoMap,
    targets: &[(String, String)],
) -> Result<Vec<EditBlock>, String> {
    match format {
        EditFormat::SearchReplace => edit::parse_edits(reply).map_err(|e| e.to_string()),
        EditFormat::Function => {
            let code = extract::python_code(reply).ok_or("no Python code block in the reply; reply with the corrected functions in one ```python block")?;
            let shown: Vec<_> = targets
                .iter()
                .filter_map(|(p, q)| map.file(p).and_then(|f| f.find(q).map(|s| (f, s))))
                .collect();
            let (blocks, _) = rewrite::blocks_from_reply(&code, &shown);
            if blocks.is_empty() {
                let names: Vec<_> = shown.iter().map(|(_, s)| s.name.as_str()).collect();
                let redefined = crate::syntax::defined_names(&code)
                    .iter()
                    .any(|n| names.contains(&n.as_str()));
                return Err(if redefined {
                    format!("the reply is the same as the current code of {}; change the code so that it resolves the issue", names.join(", "))
                } else {
                    format!("the reply redefines none of {}; reply with the complete corrected definition of the ones that must change", names.join(", "))
                });
            }
            Ok(blocks)
        }
    }
}
