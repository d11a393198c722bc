//! Localizer: narrows a repository down to what a small model can edit. Given the files ranked
//! by BM25 and the issue's mentions (rendered as skeletons within the context budget), the
//! model picks files; given outlines of those files, it picks functions and classes. Answers
//! are validated against the repository map; when the model names nothing valid, the ranking's
//! own choice is used and the trace says so.

use minijinja::context;
use serde::Serialize;

use super::{AgentError, Crew};
use crate::models::AgentRole;
use crate::repo::map::{self, Budget, RepoMap, SkeletonStyle};
use crate::repo::rank::Ranking;

/// What localization chose, and how.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Localization {
    pub files: Vec<String>,
    /// `(path, qualname)` of the functions and classes to show the Repairer.
    pub symbols: Vec<(String, String)>,
    /// `model` or `ranking` for each stage.
    pub files_from: String,
    pub symbols_from: String,
    /// The candidates the model was shown (best first).
    pub candidates: Vec<String>,
}

/// Pick files, then symbols. `budget_tokens` bounds each rendering of code in a prompt.
pub fn localize(
    crew: &mut Crew<'_>,
    issue: &str,
    map: &RepoMap,
    ranking: &Ranking,
    budget_tokens: usize,
) -> Result<Localization, AgentError> {
    let candidates: Vec<String> = ranking
        .candidates
        .iter()
        .take(crew.config.fix.localize_candidates)
        .map(|c| c.path.clone())
        .collect();
    let mut loc = Localization {
        candidates: candidates.clone(),
        ..Default::default()
    };
    if candidates.is_empty() {
        loc.files_from = "none".into();
        loc.symbols_from = "none".into();
        return Ok(loc);
    }

    // Stage 1: files.
    let paths: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let skeletons = render(crew, |count| {
        map::render_skeletons(
            map,
            &paths,
            &Budget {
                count,
                max_tokens: budget_tokens,
            },
        )
        .text
    })?;
    let messages = crew.opening("localize_files", context! { issue, skeletons })?;
    let reply = crew.chat(AgentRole::Localizer, &messages)?.text;
    let picked: Vec<String> = candidates
        .iter()
        .filter(|c| reply.contains(c.as_str()))
        .cloned()
        .collect();
    let mut picked = order_by_mention(&reply, picked);
    picked.truncate(crew.config.fix.localize_files);
    if picked.is_empty() {
        loc.files = candidates.iter().take(1).cloned().collect();
        loc.files_from = "ranking".into();
    } else {
        loc.files = picked;
        loc.files_from = "model".into();
    }

    // Stage 2: symbols, from outlines with line spans of the chosen files.
    let outline: String = loc
        .files
        .iter()
        .filter_map(|p| map.file(p))
        .map(|f| {
            map::skeleton(
                f,
                SkeletonStyle {
                    docstrings: true,
                    members: true,
                    variables: false,
                    line_numbers: true,
                },
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let outline = fit(crew, &outline, budget_tokens)?;
    let messages = crew.opening("localize_symbols", context! { issue, skeletons => outline })?;
    let reply = crew.chat(AgentRole::Localizer, &messages)?.text;
    let mut symbols = vec![];
    for line in reply.lines() {
        if let Some((path, name)) = parse_symbol_line(line, &loc.files) {
            if map.file(&path).and_then(|f| f.find(&name)).is_some()
                && !symbols.contains(&(path.clone(), name.clone()))
            {
                symbols.push((path, name));
            }
        }
    }
    symbols.truncate(crew.config.fix.localize_symbols);
    if symbols.is_empty() {
        loc.symbols_from = "ranking".into();
        for f in &loc.files {
            if let Some(r) = ranking.candidates.iter().find(|c| &c.path == f) {
                symbols.extend(
                    r.symbols
                        .iter()
                        .take(crew.config.fix.fallback_symbols_per_file)
                        .map(|s| (f.clone(), s.qualname.clone())),
                );
            }
        }
        if symbols.is_empty() {
            // Whole top-level definitions of the first file, as many as fit later.
            if let Some(file) = loc.files.first().and_then(|p| map.file(p)) {
                symbols.extend(
                    file.symbols
                        .iter()
                        .take(crew.config.fix.fallback_definitions)
                        .map(|s| (file.path.clone(), s.qualname.clone())),
                );
            }
        }
    } else {
        loc.symbols_from = "model".into();
    }
    loc.symbols = symbols;
    Ok(loc)
}

/// Run a rendering with the model's token counter.
fn render(
    crew: &mut Crew<'_>,
    f: impl FnOnce(&dyn Fn(&str) -> usize) -> String,
) -> Result<String, AgentError> {
    let model = crew.models.model_for(AgentRole::Localizer)?;
    let count = |s: &str| model.count_tokens(s);
    Ok(f(&count))
}

/// Cut `text` at a line boundary to at most `budget` tokens.
pub fn fit(crew: &mut Crew<'_>, text: &str, budget: usize) -> Result<String, AgentError> {
    if crew.count_tokens(AgentRole::Localizer, text)? <= budget {
        return Ok(text.to_string());
    }
    let lines: Vec<&str> = text.lines().collect();
    let (mut lo, mut hi) = (0usize, lines.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if crew.count_tokens(AgentRole::Localizer, &lines[..mid].join("\n"))? <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(format!(
        "{}\n# ... (cut to fit the context)",
        lines[..lo].join("\n")
    ))
}

/// Keep `picked` in the order the reply names them.
fn order_by_mention(reply: &str, mut picked: Vec<String>) -> Vec<String> {
    picked.sort_by_key(|p| reply.find(p.as_str()).unwrap_or(usize::MAX));
    picked
}

/// `path::name`, `path:name`, or `name` alone (then the first chosen file), tolerant of
/// bullets, backticks and trailing parentheses.
fn parse_symbol_line(line: &str, files: &[String]) -> Option<(String, String)> {
    let t = line
        .trim()
        .trim_start_matches(['-', '*', '•', ' '])
        .trim()
        .trim_matches('`')
        .trim();
    let t = t
        .split_whitespace()
        .next()?
        .trim_end_matches(['(', ')', ':', ',', '.', '`']);
    if t.is_empty() {
        return None;
    }
    if let Some((path, name)) = t
        .split_once("::")
        .or_else(|| t.split_once(".py:").map(|(p, n)| (p, n)))
    {
        let path = if path.ends_with(".py") {
            path.to_string()
        } else {
            format!("{path}.py")
        };
        let path = files
            .iter()
            .find(|f| f.ends_with(&path) || path.ends_with(f.as_str()))
            .cloned()
            .unwrap_or(path);
        return Some((path, name.trim_start_matches(':').to_string()));
    }
    let name = t.rsplit('/').next()?.to_string();
    files.first().map(|f| (f.clone(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_lines_are_parsed_leniently() {
        let files = vec!["pkg/util.py".to_string()];
        assert_eq!(
            parse_symbol_line("- `pkg/util.py::truncate`", &files),
            Some(("pkg/util.py".into(), "truncate".into()))
        );
        assert_eq!(
            parse_symbol_line("util.py::Cart.add_item()", &files),
            Some(("pkg/util.py".into(), "Cart.add_item".into()))
        );
        assert_eq!(
            parse_symbol_line("truncate", &files),
            Some(("pkg/util.py".into(), "truncate".into()))
        );
        assert_eq!(
            parse_symbol_line("pkg/util.py:truncate", &files),
            Some(("pkg/util.py".into(), "truncate".into()))
        );
        assert_eq!(parse_symbol_line("   ", &files), None);
    }

    #[test]
    fn picked_files_follow_the_reply_order() {
        let got = order_by_mention("b.py then a.py", vec!["a.py".into(), "b.py".into()]);
        assert_eq!(got, vec!["b.py", "a.py"]);
    }
}
