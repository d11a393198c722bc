//! Localize: what to change and which tests guard it. Definitions the issue itself names in
//! code (traceback frames into the repository, imports and calls in its snippets, dotted
//! paths; [`super::named`]) come first and need no model call; otherwise the BM25 ranking and
//! the model's picks ([`crate::agents::localizer`]). The report records which source chose
//! each location. The code shown to the model is the chosen definitions' exact source, as many
//! as fit the context budget.

use super::named::{NameSource, NamedLocation};
use super::report::RankedSummary;
use crate::agents::localizer::{self, Localization};
use crate::agents::{repairer, AgentError, Crew};
use crate::models::AgentRole;
use crate::repo::map::{self, Budget, RepoMap, SymbolKind};
use crate::repo::rank::{self, RankOptions, Ranking};

/// What the later stages work on.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub localization: Localization,
    pub ranking: Vec<RankedSummary>,
    /// `(path, qualname)` shown to the model.
    pub targets: Vec<(String, String)>,
    /// Their source, as shown.
    pub focus: String,
    /// Modules of the chosen files (the reproduction tests import them).
    pub modules: Vec<String>,
    /// The chosen definitions' short names (reproduction tests must not copy them).
    pub names: Vec<String>,
    /// Related tests: node ids naming the chosen definitions, else whole test files.
    pub related: Vec<String>,
}

fn source_name(s: NameSource) -> &'static str {
    match s {
        NameSource::Traceback => "traceback",
        NameSource::Import => "import",
        NameSource::Call => "call",
        NameSource::Dotted => "dotted",
        NameSource::Message => "message",
        NameSource::Mention => "mention",
    }
}

/// Sources that pin the place of the failure (not only what the user called).
fn is_strong(s: NameSource) -> bool {
    matches!(s, NameSource::Traceback | NameSource::Message)
}

/// `named` first, then the model's (or the ranking's) picks, at most `max` definitions.
fn merge(named: Localization, picked: Localization, max: usize) -> Localization {
    let mut out = named;
    for f in picked.files {
        if !out.files.contains(&f) {
            out.files.push(f);
        }
    }
    for s in picked.symbols {
        if out.symbols.len() < max.max(1) && !out.symbols.contains(&s) {
            out.symbols.push(s);
        }
    }
    out.files_from = format!("{} + {}", out.files_from, picked.files_from);
    out.symbols_from = format!("{} + {}", out.symbols_from, picked.symbols_from);
    out.candidates = picked.candidates;
    out
}

/// The localization taken from what the issue names, if it names anything in the repository.
pub fn from_named(named: &[NamedLocation], max: usize) -> Option<Localization> {
    let chosen: Vec<&NamedLocation> = named.iter().take(max).collect();
    let first = chosen.first()?;
    let mut files: Vec<String> = vec![];
    for n in &chosen {
        if !files.contains(&n.path) {
            files.push(n.path.clone());
        }
    }
    let from = format!("issue ({})", source_name(first.source));
    Some(Localization {
        files,
        symbols: chosen
            .iter()
            .map(|n| (n.path.clone(), n.qualname.clone()))
            .collect(),
        files_from: from.clone(),
        symbols_from: chosen
            .iter()
            .map(|n| source_name(n.source))
            .fold(Vec::<&str>::new(), |mut v, s| {
                if !v.contains(&s) {
                    v.push(s);
                }
                v
            })
            .join(", "),
        candidates: vec![],
    })
    .map(|mut l| {
        l.symbols_from = format!("issue ({})", l.symbols_from);
        l
    })
}

/// The methods of class `qualname` in `path` whose source shares the most words with the
/// issue, best first, at most `max` (`__init__` when none shares any); empty when it is no
/// class.
pub fn class_methods(
    map: &RepoMap,
    path: &str,
    qualname: &str,
    issue: &str,
    max: usize,
) -> Vec<String> {
    let Some(file) = map.file(path) else {
        return vec![];
    };
    let Some(class) = file.find(qualname).filter(|s| s.kind == SymbolKind::Class) else {
        return vec![];
    };
    let words: std::collections::BTreeSet<String> = issue
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .flat_map(rank::identifier_parts)
        .map(|w| w.to_lowercase())
        .filter(|w| w.len() >= 3)
        .collect();
    let mut scored: Vec<(usize, usize, String)> = class
        .children
        .iter()
        .filter(|m| m.kind == SymbolKind::Method || m.kind == SymbolKind::Function)
        .enumerate()
        .map(|(i, m)| {
            let body = file.lines(m.start_line, m.end_line).to_lowercase();
            let source_words: std::collections::BTreeSet<String> = body
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .flat_map(rank::identifier_parts)
                .map(|w| w.to_lowercase())
                .collect();
            let shared = words.intersection(&source_words).count();
            (shared, i, m.qualname.clone())
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<String> = scored
        .iter()
        .filter(|(shared, _, _)| *shared > 0)
        .take(max)
        .map(|(_, _, q)| q.clone())
        .collect();
    if out.is_empty() {
        out.extend(
            class
                .children
                .iter()
                .find(|m| m.name == "__init__")
                .map(|m| m.qualname.clone()),
        );
    }
    out
}

/// Localize `issue` in `map`. A budget that runs out mid-way is an error the driver turns into
/// the end of the work.
pub fn localize(
    crew: &mut Crew<'_>,
    map: &RepoMap,
    issue: &str,
    named: &[NamedLocation],
) -> Result<Located, AgentError> {
    let fix = crew.config.fix.clone();
    let ranking: Ranking = rank::rank_files(
        map,
        issue,
        &RankOptions {
            limit: fix.rank_files,
            test_limit: fix.rank_tests,
        },
    );
    let budget = crew.n_ctx(AgentRole::Localizer)? * fix.code_context_percent / 100;
    let localization = match from_named(named, fix.named_locations) {
        // A traceback frame or an error message in the code pins the place: no model call.
        Some(l) if named.first().is_some_and(|n| is_strong(n.source)) => l,
        // Names of the issue's code and prose often name the public API the user called, not
        // the code to change: they come first, and the model's picks are added.
        Some(l) => merge(
            l,
            localizer::localize(crew, issue, map, &ranking, budget)?,
            fix.localize_symbols,
        ),
        None => localizer::localize(crew, issue, map, &ranking, budget)?,
    };
    let mut out = Located {
        ranking: ranking
            .candidates
            .iter()
            .take(fix.localize_candidates)
            .map(|c| RankedSummary {
                path: c.path.clone(),
                score: c.score,
                reasons: c.reasons.iter().map(|r| format!("{r:?}")).collect(),
            })
            .collect(),
        ..Located::default()
    };
    // The code shown: the chosen definitions' exact source, as many as fit the budget; a class
    // too large to show whole is shown as the methods the issue's words point at.
    let mut targets = Vec::new();
    for (path, q) in &localization.symbols {
        let whole = repairer::show_targets(map, &[(path.clone(), q.clone())]);
        let methods = if crew.count_tokens(AgentRole::Repairer, &whole)? > budget / 2 {
            class_methods(map, path, q, issue, fix.class_methods)
        } else {
            vec![]
        };
        if methods.is_empty() {
            targets.push((path.clone(), q.clone()));
        } else {
            targets.extend(methods.into_iter().map(|m| (path.clone(), m)));
        }
    }
    targets.dedup();
    let mut focus = repairer::show_targets(map, &targets);
    while targets.len() > 1 && crew.count_tokens(AgentRole::Repairer, &focus)? > budget {
        targets.pop();
        focus = repairer::show_targets(map, &targets);
    }
    if focus.trim().is_empty() {
        let model = crew
            .models
            .model_for(AgentRole::Repairer)
            .map_err(AgentError::from)?;
        let count = |s: &str| model.count_tokens(s);
        let files: Vec<&str> = localization.files.iter().map(String::as_str).collect();
        focus = map::render_skeletons(
            map,
            &files,
            &Budget {
                count: &count,
                max_tokens: budget,
            },
        )
        .text;
    }
    out.modules = localization
        .files
        .iter()
        .map(|p| map::module_name(p))
        .collect();
    out.names = targets
        .iter()
        .map(|(_, q)| q.rsplit('.').next().unwrap_or(q).to_string())
        .collect();
    // Of the related test files, the tests that name what is edited: whole modules can hold
    // hundreds of tests that cannot notice the edit. None names it: the whole files run.
    let files: Vec<String> = ranking
        .tests
        .iter()
        .take(fix.related_tests)
        .map(|t| t.path.clone())
        .collect();
    let qualnames: Vec<String> = localization
        .symbols
        .iter()
        .map(|(_, q)| q.clone())
        .collect();
    let selected = crate::repo::test_select::tests_naming(map, &files, &qualnames);
    out.related = if selected.is_empty() {
        files
    } else {
        selected.into_iter().take(fix.regression_tests).collect()
    };
    out.targets = targets;
    out.focus = focus;
    out.localization = localization;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_locations_come_first_and_say_where_they_came_from() {
        let named = vec![
            NamedLocation {
                path: "pkg/deep/util.py".into(),
                qualname: "Helper.parse".into(),
                source: NameSource::Traceback,
                evidence: "File \"/x/site-packages/pkg/deep/util.py\", line 9".into(),
            },
            NamedLocation {
                path: "pkg/api.py".into(),
                qualname: "load".into(),
                source: NameSource::Call,
                evidence: "load(".into(),
            },
            NamedLocation {
                path: "pkg/deep/util.py".into(),
                qualname: "other".into(),
                source: NameSource::Call,
                evidence: "other(".into(),
            },
        ];
        let l = from_named(&named, 3).unwrap();
        assert_eq!(l.files, vec!["pkg/deep/util.py", "pkg/api.py"]);
        assert_eq!(
            l.symbols[0],
            ("pkg/deep/util.py".into(), "Helper.parse".into())
        );
        assert_eq!(l.files_from, "issue (traceback)");
        assert!(
            l.symbols_from.starts_with("issue (traceback, call"),
            "{}",
            l.symbols_from
        );
        assert_eq!(from_named(&named, 1).unwrap().symbols.len(), 1);
        assert!(from_named(&[], 3).is_none());
        let map = RepoMap::from_sources([(
            "pkg/bp.py",
            "class Blueprint:\n    def __init__(self, name):\n        self.name = name\n\n    def route(self, rule):\n        return rule\n\n    def register(self, app, name_prefix):\n        if '.' in name_prefix:\n            pass\n",
        )]);
        assert_eq!(
            class_methods(
                &map,
                "pkg/bp.py",
                "Blueprint",
                "A dot in a name_prefix should raise when registering",
                2
            ),
            vec!["Blueprint.register", "Blueprint.__init__"],
            "most shared words first"
        );
        assert_eq!(
            class_methods(&map, "pkg/bp.py", "Blueprint", "zzz", 2),
            vec!["Blueprint.__init__"]
        );
        assert!(class_methods(&map, "pkg/bp.py", "Blueprint.route", "x", 2).is_empty());
        assert!(is_strong(NameSource::Traceback) && !is_strong(NameSource::Call));
        let model = Localization {
            files: vec!["pkg/api.py".into(), "pkg/other.py".into()],
            symbols: vec![
                ("pkg/api.py".into(), "load".into()),
                ("pkg/other.py".into(), "fix_me".into()),
            ],
            files_from: "model".into(),
            symbols_from: "model".into(),
            candidates: vec![],
        };
        let m = merge(from_named(&named[1..2], 3).unwrap(), model, 2);
        assert_eq!(m.files, vec!["pkg/api.py", "pkg/other.py"]);
        assert_eq!(
            m.symbols,
            vec![
                ("pkg/api.py".to_string(), "load".to_string()),
                ("pkg/other.py".to_string(), "fix_me".to_string())
            ]
        );
        assert_eq!(m.files_from, "issue (call) + model");
    }
}
