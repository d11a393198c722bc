//! Localization: rank the repository's Python files against an issue text, so a small model
//! only sees the few files (and functions) that matter.
//!
//! The base score is BM25 (the `bm25` crate) over one document per file (its path, weighted, and
//! its contents; identifiers are split into their snake_case/CamelCase parts), normalized to
//! 0..1. Explicit mentions in the issue then add boosts, each recorded as a [`Reason`]:
//! traceback frames (`File "x/y.py", line N, in func`), file paths, dotted module paths,
//! identifiers the file defines, and the file's name. Test files (`tests/`, `test_*.py`,
//! `*_test.py`, `conftest.py`) are never fix candidates; they are ranked separately, with an
//! extra boost for tests that reference the top candidate, for the test writer.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use bm25::{DefaultTokenizer, Embedder, EmbedderBuilder, Embedding, Language, Scorer, Tokenizer};
use regex::Regex;
use serde::Serialize;

use super::map::{FileMap, RepoMap, SymbolKind};

/// Boost for the innermost traceback frame in a non-test file.
pub const BOOST_TRACEBACK_INNERMOST: f32 = 3.0;
/// Boost for any other traceback frame.
pub const BOOST_TRACEBACK: f32 = 1.5;
/// Boost for a file whose path is named.
pub const BOOST_PATH: f32 = 2.5;
/// Boost for a file whose dotted module path is named.
pub const BOOST_MODULE: f32 = 2.0;
/// Boost for the first identifier the file defines; further ones add half, up to [`BOOST_IDENTIFIER_CAP`].
pub const BOOST_IDENTIFIER: f32 = 1.0;
pub const BOOST_IDENTIFIER_CAP: f32 = 2.0;
/// Boost for a file whose name (without `.py`) is a word of the issue.
pub const BOOST_FILE_NAME: f32 = 0.3;
/// Boost for a test file that references the top fix candidate.
pub const BOOST_RELATED_TEST: f32 = 1.0;

/// Why a file got a boost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A traceback frame points into the file.
    Traceback {
        line: usize,
        function: Option<String>,
        innermost: bool,
    },
    /// The file's path is named (`text` as written in the issue).
    PathMentioned { text: String },
    /// The file's dotted module path is named.
    ModuleMentioned { module: String },
    /// The file defines a class or function named in the issue.
    DefinesIdentifier { name: String },
    /// The file's name is a word of the issue.
    FileNameMentioned { stem: String },
    /// A test file referencing the top fix candidate.
    ReferencesCandidate { path: String },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Traceback {
                line,
                function,
                innermost,
            } => {
                write!(f, "traceback frame at line {line}")?;
                if let Some(func) = function {
                    write!(f, " in {func}")?;
                }
                if *innermost {
                    write!(f, " (innermost)")?;
                }
                Ok(())
            }
            Reason::PathMentioned { text } => write!(f, "path `{text}` named"),
            Reason::ModuleMentioned { module } => write!(f, "module `{module}` named"),
            Reason::DefinesIdentifier { name } => write!(f, "defines `{name}`"),
            Reason::FileNameMentioned { stem } => write!(f, "file name `{stem}` named"),
            Reason::ReferencesCandidate { path } => write!(f, "references {path}"),
        }
    }
}

/// A function or class in a ranked file that the issue points at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolHit {
    pub qualname: String,
    pub start_line: usize,
    pub end_line: usize,
    pub reason: Reason,
}

/// One ranked file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedFile {
    pub path: String,
    /// BM25 (normalized, 0..1) plus boosts.
    pub score: f32,
    /// The normalized BM25 part.
    pub bm25: f32,
    pub reasons: Vec<Reason>,
    /// Symbols the issue points at, most specific first.
    pub symbols: Vec<SymbolHit>,
}

/// Ranking limits.
#[derive(Debug, Clone)]
pub struct RankOptions {
    /// At most this many fix candidates.
    pub limit: usize,
    /// At most this many related test files.
    pub test_limit: usize,
}

impl Default for RankOptions {
    fn default() -> Self {
        RankOptions {
            limit: 20,
            test_limit: 10,
        }
    }
}

/// The result: fix candidates (never test files) and related tests, best first.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub candidates: Vec<RankedFile>,
    pub tests: Vec<RankedFile>,
    pub mentions: Mentions,
}

/// One traceback frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub path: String,
    pub line: usize,
    pub function: Option<String>,
}

/// What the issue text names explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mentions {
    /// Traceback frames, outermost first (as Python prints them).
    pub frames: Vec<Frame>,
    /// `.py` paths outside traceback frames (pytest node ids contribute their file).
    pub paths: Vec<String>,
    /// Dotted names (`pkg.mod`, `pkg.mod.func`).
    pub modules: Vec<String>,
    /// Code-like identifiers: snake_case, CamelCase, called (`name(`) or in backticks.
    pub identifiers: Vec<String>,
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

const NOT_IDENTIFIERS: &[&str] = &[
    "self",
    "cls",
    "None",
    "True",
    "False",
    "print",
    "len",
    "str",
    "int",
    "float",
    "list",
    "dict",
    "set",
    "tuple",
    "bool",
    "bytes",
    "object",
    "type",
    "isinstance",
    "range",
    "return",
    "import",
    "from",
    "def",
    "class",
    "lambda",
    "raise",
    "assert",
    "Traceback",
    "Exception",
    "__init__",
    "__name__",
    "__main__",
    "e.g",
    "i.e",
    "sum",
    "min",
    "max",
    "abs",
    "open",
    "map",
    "filter",
    "zip",
    "sorted",
    "reversed",
    "any",
    "all",
    "round",
    "repr",
    "hash",
    "iter",
    "next",
    "getattr",
    "setattr",
    "hasattr",
    "super",
    "format",
    "input",
    "enumerate",
    "divmod",
];

/// Extract frames, paths, dotted modules and identifiers from an issue text.
pub fn extract_mentions(text: &str) -> Mentions {
    static FRAME: OnceLock<Regex> = OnceLock::new();
    static PATH: OnceLock<Regex> = OnceLock::new();
    static DOTTED: OnceLock<Regex> = OnceLock::new();
    static IDENT: OnceLock<Regex> = OnceLock::new();
    static BACKTICK: OnceLock<Regex> = OnceLock::new();
    let frame_re = regex(
        &FRAME,
        r#"File "([^"\n]+)", line (\d+)(?:, in ([A-Za-z_<][\w<>.]*))?"#,
    );
    let path_re = regex(&PATH, r"(?:[A-Za-z0-9_.\-]+[/\\])*[A-Za-z0-9_\-]+\.py\b");
    let dotted_re = regex(
        &DOTTED,
        r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b",
    );
    let ident_re = regex(&IDENT, r"\b[A-Za-z_][A-Za-z0-9_]*\b(\s*\()?");
    let backtick_re = regex(&BACKTICK, r"`([^`\n]+)`");

    let mut m = Mentions::default();
    let mut frame_spans = Vec::new();
    for c in frame_re.captures_iter(text) {
        let Some(whole) = c.get(0) else { continue };
        frame_spans.push(whole.range());
        let path = c
            .get(1)
            .map(|p| p.as_str().replace('\\', "/"))
            .unwrap_or_default();
        let line = c.get(2).and_then(|l| l.as_str().parse().ok()).unwrap_or(0);
        let function = c
            .get(3)
            .map(|f| f.as_str().to_string())
            .filter(|f| !f.starts_with('<'));
        m.frames.push(Frame {
            path,
            line,
            function,
        });
    }
    let in_frame = |pos: usize| frame_spans.iter().any(|r| r.contains(&pos));

    let mut seen = HashSet::new();
    for p in path_re.find_iter(text) {
        if !in_frame(p.start()) {
            let path = p.as_str().replace('\\', "/");
            let path = path.trim_start_matches("./").to_string();
            if seen.insert(path.clone()) {
                m.paths.push(path);
            }
        }
    }

    let mut seen_mod = HashSet::new();
    let mut idents: Vec<String> = Vec::new();
    for d in dotted_re.find_iter(text) {
        let s = d.as_str();
        // `x.py` is a path, not a module; skip dotted names inside file paths and numbers.
        if s.ends_with(".py")
            || text[d.end()..].starts_with('/')
            || text[..d.start()].ends_with('/')
        {
            continue;
        }
        if seen_mod.insert(s.to_string()) {
            m.modules.push(s.to_string());
        }
        if let Some(last) = s.rsplit('.').next() {
            idents.push(last.to_string());
        }
    }
    for f in &m.frames {
        if let Some(func) = &f.function {
            idents.push(func.clone());
        }
    }
    for c in backtick_re.captures_iter(text) {
        if let Some(inner) = c.get(1) {
            for w in ident_re.find_iter(inner.as_str()) {
                idents.push(
                    w.as_str()
                        .trim_end_matches(|ch: char| ch == '(' || ch.is_whitespace())
                        .to_string(),
                );
            }
        }
    }
    for c in ident_re.captures_iter(text) {
        let Some(w) = c.get(0) else { continue };
        let word = w
            .as_str()
            .trim_end_matches(|ch: char| ch == '(' || ch.is_whitespace());
        let called = c.get(1).is_some();
        let snake = word.trim_matches('_').contains('_');
        let camel = word.chars().skip(1).any(|ch| ch.is_ascii_uppercase())
            && word.chars().any(|ch| ch.is_ascii_lowercase());
        if called || snake || camel {
            idents.push(word.to_string());
        }
    }
    let mut seen_ident = HashSet::new();
    for i in idents {
        if i.len() >= 3 && !NOT_IDENTIFIERS.contains(&i.as_str()) && seen_ident.insert(i.clone()) {
            m.identifiers.push(i);
        }
    }
    m
}

/// Whether a repository-relative path is a test file (never a fix candidate).
pub fn is_test_path(path: &str) -> bool {
    let mut parts = path.split('/').collect::<Vec<_>>();
    let file = parts.pop().unwrap_or("");
    parts.iter().any(|d| *d == "tests" || *d == "test")
        || file.starts_with("test_")
        || file.ends_with("_test.py")
        || file == "conftest.py"
}

/// How many trailing path components two paths share.
fn common_suffix_components(a: &str, b: &str) -> usize {
    a.rsplit('/')
        .zip(b.rsplit('/'))
        .take_while(|(x, y)| x == y)
        .count()
}

/// Whether a path named in the issue (possibly absolute or partial) denotes `repo_path`.
fn path_denotes(named: &str, repo_path: &str) -> bool {
    let common = common_suffix_components(named, repo_path);
    let repo_len = repo_path.split('/').count();
    let named_len = named.trim_start_matches('/').split('/').count();
    common == repo_len || common == named_len || common >= 2
}

/// Code-aware tokenizer: identifiers are kept whole and also split into their snake_case and
/// CamelCase parts; Python keywords are dropped; English stop words are removed and words
/// stemmed by the `bm25` crate's default tokenizer.
pub struct CodeTokenizer {
    inner: DefaultTokenizer,
}

impl Default for CodeTokenizer {
    fn default() -> Self {
        CodeTokenizer {
            inner: DefaultTokenizer::builder()
                .language_mode(Language::English)
                .normalization(false)
                .stopwords(true)
                .stemming(true)
                .build(),
        }
    }
}

const CODE_STOPWORDS: &[&str] = &[
    "def", "self", "cls", "return", "import", "from", "class", "none", "true", "false", "pass",
    "raise", "lambda", "yield", "assert", "elif", "else", "try", "except", "finally", "with",
    "while", "for", "not", "and", "or", "is", "in", "if", "as", "py", "args", "kwargs",
];

/// Split an identifier into lower-case parts at `_` and lower→upper / acronym boundaries.
pub fn identifier_parts(word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for chunk in word.split('_').filter(|c| !c.is_empty()) {
        let chars: Vec<char> = chunk.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let boundary = (chars[i].is_uppercase() && chars[i - 1].is_lowercase())
                || (chars[i].is_uppercase()
                    && i + 1 < chars.len()
                    && chars[i + 1].is_lowercase()
                    && chars[i - 1].is_uppercase())
                || (chars[i].is_ascii_digit() != chars[i - 1].is_ascii_digit());
            if boundary {
                parts.push(chars[start..i].iter().collect::<String>().to_lowercase());
                start = i;
            }
        }
        parts.push(chars[start..].iter().collect::<String>().to_lowercase());
    }
    parts
}

impl CodeTokenizer {
    fn expand(text: &str) -> String {
        let mut out = String::with_capacity(text.len() * 2);
        for word in text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
        {
            let lower = word.to_lowercase();
            if CODE_STOPWORDS.contains(&lower.as_str()) {
                continue;
            }
            let parts = identifier_parts(word);
            if lower.len() >= 2 && !lower.chars().all(|c| c.is_ascii_digit() || c == '_') {
                out.push_str(&lower);
                out.push(' ');
            }
            if parts.len() > 1 {
                for p in parts {
                    if p.len() >= 2
                        && !p.chars().all(|c| c.is_ascii_digit())
                        && !CODE_STOPWORDS.contains(&p.as_str())
                    {
                        out.push_str(&p);
                        out.push(' ');
                    }
                }
            }
        }
        out
    }
}

impl Tokenizer for CodeTokenizer {
    fn tokenize(&self, input_text: &str) -> Vec<String> {
        self.inner.tokenize(&Self::expand(input_text))
    }
}

fn dedup(embedding: Embedding<u32>) -> Embedding<u32> {
    let mut seen = HashSet::new();
    Embedding(
        embedding
            .0
            .into_iter()
            .filter(|t| seen.insert(t.index))
            .collect(),
    )
}

/// The BM25 document of a file: its path (three times, as words) and its contents.
fn document(file: &FileMap) -> String {
    let p = file.path.replace(['/', '.', '-'], " ");
    format!("{p} {p} {p}\n{}", file.source)
}

/// Normalized BM25 scores (0..1) of every file against `query`, by path.
pub fn bm25_scores(map: &RepoMap, query: &str) -> BTreeMap<String, f32> {
    let docs: Vec<String> = map.files.iter().map(document).collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let embedder: Embedder<u32, CodeTokenizer> =
        EmbedderBuilder::<u32, CodeTokenizer>::with_tokenizer_and_fit_to_corpus(
            CodeTokenizer::default(),
            &refs,
        )
        .build();
    let mut scorer = Scorer::<usize, u32>::new();
    for (i, doc) in refs.iter().enumerate() {
        scorer.upsert(&i, dedup(embedder.embed(doc)));
    }
    let q = dedup(embedder.embed(query));
    let matches = scorer.matches(&q);
    let max = matches
        .first()
        .map(|m| m.score)
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    matches
        .into_iter()
        .map(|m| (map.files[m.id].path.clone(), m.score / max))
        .collect()
}

struct Scored<'a> {
    file: &'a FileMap,
    bm25: f32,
    boost: f32,
    reasons: Vec<Reason>,
    symbols: Vec<SymbolHit>,
    identifier_boost: f32,
}

impl Scored<'_> {
    fn add(&mut self, boost: f32, reason: Reason) {
        if !self.reasons.contains(&reason) {
            self.boost += boost;
            self.reasons.push(reason);
        }
    }

    fn hit(&mut self, qualname: &str, reason: Reason) {
        if self.symbols.iter().any(|s| s.qualname == qualname) {
            return;
        }
        if let Some(sym) = self.file.find(qualname) {
            self.symbols.push(SymbolHit {
                qualname: sym.qualname.clone(),
                start_line: sym.start_line,
                end_line: sym.end_line,
                reason,
            });
        }
    }

    fn finish(self) -> RankedFile {
        RankedFile {
            path: self.file.path.clone(),
            score: self.bm25 + self.boost,
            bm25: self.bm25,
            reasons: self.reasons,
            symbols: self.symbols,
        }
    }
}

/// Rank `map`'s files against `issue`.
pub fn rank_files(map: &RepoMap, issue: &str, options: &RankOptions) -> Ranking {
    let mentions = extract_mentions(issue);
    let bm25 = bm25_scores(map, issue);
    let mut scored: Vec<Scored<'_>> = map
        .files
        .iter()
        .map(|file| Scored {
            file,
            bm25: bm25.get(&file.path).copied().unwrap_or(0.0),
            boost: 0.0,
            reasons: Vec::new(),
            symbols: Vec::new(),
            identifier_boost: 0.0,
        })
        .collect();

    // Traceback frames: the innermost frame that lands in a non-test repo file is the prime
    // suspect.
    let innermost_non_test = mentions.frames.iter().rposition(|f| {
        scored
            .iter()
            .any(|s| !is_test_path(&s.file.path) && path_denotes(&f.path, &s.file.path))
    });
    for (i, frame) in mentions.frames.iter().enumerate() {
        for s in scored
            .iter_mut()
            .filter(|s| path_denotes(&frame.path, &s.file.path))
        {
            let innermost = Some(i) == innermost_non_test;
            let reason = Reason::Traceback {
                line: frame.line,
                function: frame.function.clone(),
                innermost,
            };
            s.add(
                if innermost {
                    BOOST_TRACEBACK_INNERMOST
                } else {
                    BOOST_TRACEBACK
                },
                reason.clone(),
            );
            let by_name = frame.function.as_deref().and_then(|func| {
                s.file
                    .walk()
                    .into_iter()
                    .find(|sym| sym.name == func && sym.kind != SymbolKind::Variable)
                    .map(|sym| sym.qualname.clone())
            });
            let by_line = s
                .file
                .innermost_at(frame.line)
                .map(|sym| sym.qualname.clone());
            if let Some(q) = by_name.or(by_line) {
                s.hit(&q, reason);
            }
        }
    }

    // Paths named in the text.
    for named in &mentions.paths {
        let matching: Vec<usize> = (0..scored.len())
            .filter(|&i| path_denotes(named, &scored[i].file.path))
            .collect();
        let boost = if named.contains('/') {
            BOOST_PATH
        } else {
            BOOST_PATH / matching.len().max(1) as f32
        };
        for i in matching {
            scored[i].add(
                boost,
                Reason::PathMentioned {
                    text: named.clone(),
                },
            );
        }
    }

    // Dotted module paths: the longest module prefix wins; the rest names a symbol.
    for dotted in &mentions.modules {
        let best = scored
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let module = s.file.module_name();
                (!module.is_empty()
                    && (dotted == &module || dotted.starts_with(&format!("{module}."))))
                .then_some((i, module.len()))
            })
            .max_by_key(|(_, len)| *len);
        if let Some((i, len)) = best {
            let module = dotted[..len].to_string();
            let rest = dotted[len..].trim_start_matches('.').to_string();
            let reason = Reason::ModuleMentioned { module };
            scored[i].add(BOOST_MODULE, reason.clone());
            if !rest.is_empty() {
                scored[i].hit(&rest, reason);
            }
        }
    }

    // Identifiers the file defines. Names defined in many files say little.
    for ident in &mentions.identifiers {
        let definers: Vec<usize> = (0..scored.len())
            .filter(|&i| {
                scored[i]
                    .file
                    .walk()
                    .iter()
                    .any(|s| s.name == *ident && s.kind != SymbolKind::Variable)
            })
            .collect();
        if definers.is_empty() || definers.len() > 3 {
            continue;
        }
        for i in definers {
            let s = &mut scored[i];
            let boost = if s.identifier_boost == 0.0 {
                BOOST_IDENTIFIER
            } else {
                BOOST_IDENTIFIER / 2.0
            };
            let boost = boost
                .min(BOOST_IDENTIFIER_CAP - s.identifier_boost)
                .max(0.0);
            s.identifier_boost += boost;
            let reason = Reason::DefinesIdentifier {
                name: ident.clone(),
            };
            s.add(boost, reason.clone());
            if let Some(q) = s
                .file
                .walk()
                .into_iter()
                .find(|sym| sym.name == *ident)
                .map(|sym| sym.qualname.clone())
            {
                s.hit(&q, reason);
            }
        }
    }

    // The file's own name as a word of the issue.
    let words: BTreeSet<String> = issue
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(str::to_lowercase)
        .collect();
    for s in scored.iter_mut() {
        let stem = s
            .file
            .path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".py")
            .to_lowercase();
        if stem.len() >= 4 && stem != "__init__" && words.contains(&stem) {
            s.add(BOOST_FILE_NAME, Reason::FileNameMentioned { stem });
        }
    }

    let (tests, candidates): (Vec<Scored<'_>>, Vec<Scored<'_>>) =
        scored.into_iter().partition(|s| is_test_path(&s.file.path));
    let mut candidates: Vec<RankedFile> = candidates
        .into_iter()
        .map(Scored::finish)
        .filter(|r| r.score > 0.0)
        .collect();
    sort(&mut candidates);
    candidates.truncate(options.limit);

    // Tests that reference the top candidate (its module, or a symbol the issue points at).
    let mut tests: Vec<Scored<'_>> = tests;
    if let Some(top) = candidates.first() {
        let module = super::map::module_name(&top.path);
        let names: Vec<&str> = top
            .symbols
            .iter()
            .filter_map(|h| h.qualname.rsplit('.').next())
            .collect();
        for t in tests.iter_mut() {
            let src = &t.file.source;
            let refs_module = !module.is_empty() && src.contains(&module);
            let refs_symbol = names.iter().any(|n| contains_word(src, n));
            if refs_module || refs_symbol {
                t.add(
                    BOOST_RELATED_TEST,
                    Reason::ReferencesCandidate {
                        path: top.path.clone(),
                    },
                );
            }
        }
    }
    let mut tests: Vec<RankedFile> = tests
        .into_iter()
        .map(Scored::finish)
        .filter(|r| r.score > 0.0)
        .collect();
    sort(&mut tests);
    tests.truncate(options.test_limit);

    tracing::debug!(
        top = candidates.first().map(|c| c.path.as_str()).unwrap_or("-"),
        candidates = candidates.len(),
        tests = tests.len(),
        "ranked files"
    );
    Ranking {
        candidates,
        tests,
        mentions,
    }
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !is_ident(before) && !is_ident(after)
    })
}

fn sort(files: &mut [RankedFile]) {
    files.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.path.cmp(&b.path))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoMap {
        RepoMap::from_sources([
            ("pkg/__init__.py", "from .core import mean\n"),
            ("pkg/core.py", "def mean(values):\n    \"\"\"Arithmetic mean.\"\"\"\n    return sum(values) / len(values)\n"),
            ("pkg/report.py", "from pkg.core import mean\n\ndef build(values):\n    avg = mean(values)\n    return f'{avg}'\n"),
            ("pkg/text.py", "class TitleCase:\n    def apply(self, s):\n        return s.title()\n\ndef word_count(s):\n    return len(s.split())\n"),
            ("tests/test_core.py", "from pkg.core import mean\n\ndef test_mean():\n    assert mean([1, 3]) == 2\n"),
            ("tests/test_text.py", "from pkg.text import word_count\n\ndef test_wc():\n    assert word_count('a b') == 2\n"),
        ])
    }

    #[test]
    fn identifier_parts_split_snake_and_camel() {
        assert_eq!(
            identifier_parts("parse_HTTPResponse2"),
            ["parse", "http", "response", "2"]
        );
        assert_eq!(identifier_parts("TitleCase"), ["title", "case"]);
        assert_eq!(identifier_parts("word_count"), ["word", "count"]);
    }

    #[test]
    fn mentions_are_extracted() {
        let text = "Calling `pkg.core.mean([])` from tests/test_core.py::test_mean fails, see TitleCase and word_count().\n\
                    Traceback (most recent call last):\n  File \"/home/u/app/main.py\", line 3, in <module>\n    run()\n  \
                    File \"/venv/site-packages/pkg/core.py\", line 3, in mean\n    return sum(values) / len(values)\n\
                    ZeroDivisionError: division by zero";
        let m = extract_mentions(text);
        assert_eq!(m.frames.len(), 2);
        assert_eq!(
            m.frames[1],
            Frame {
                path: "/venv/site-packages/pkg/core.py".into(),
                line: 3,
                function: Some("mean".into())
            }
        );
        assert_eq!(m.frames[0].function, None, "<module> is not a function");
        assert_eq!(m.paths, ["tests/test_core.py"]);
        assert!(
            m.modules.contains(&"pkg.core.mean".to_string()),
            "{:?}",
            m.modules
        );
        for ident in ["mean", "TitleCase", "word_count", "test_mean"] {
            assert!(
                m.identifiers.contains(&ident.to_string()),
                "{ident} missing from {:?}",
                m.identifiers
            );
        }
        assert!(
            !m.identifiers.iter().any(|i| i == "len" || i == "sum"),
            "{:?}",
            m.identifiers
        );
    }

    #[test]
    fn traceback_boost_picks_the_innermost_repo_frame() {
        let issue = "Crash when the list is empty:\n\nTraceback (most recent call last):\n  File \"/srv/app/pkg/report.py\", line 4, in build\n    avg = mean(values)\n  File \"/srv/app/pkg/core.py\", line 3, in mean\n    return sum(values) / len(values)\nZeroDivisionError: division by zero\n";
        let r = rank_files(&repo(), issue, &RankOptions::default());
        assert_eq!(r.candidates[0].path, "pkg/core.py", "{:#?}", r.candidates);
        assert!(r.candidates[0].reasons.iter().any(|x| matches!(
            x,
            Reason::Traceback {
                innermost: true,
                ..
            }
        )));
        assert_eq!(r.candidates[0].symbols[0].qualname, "mean");
        let report = r
            .candidates
            .iter()
            .find(|c| c.path == "pkg/report.py")
            .unwrap();
        assert!(report.reasons.iter().any(|x| matches!(
            x,
            Reason::Traceback {
                innermost: false,
                line: 4,
                ..
            }
        )));
        assert!(
            r.candidates.iter().all(|c| !is_test_path(&c.path)),
            "tests are never candidates"
        );
        assert_eq!(r.tests[0].path, "tests/test_core.py", "{:#?}", r.tests);
        assert!(r.tests[0].reasons.contains(&Reason::ReferencesCandidate {
            path: "pkg/core.py".into()
        }));
    }

    #[test]
    fn without_a_traceback_the_frame_boost_is_absent() {
        // Same words, no frames: report.py and core.py both mention mean; boosts come only from
        // identifiers.
        let r = rank_files(&repo(), "mean of values is wrong", &RankOptions::default());
        assert!(r.candidates.iter().all(|c| !c
            .reasons
            .iter()
            .any(|x| matches!(x, Reason::Traceback { .. }))));
    }

    #[test]
    fn identifiers_and_modules_boost() {
        let r = rank_files(
            &repo(),
            "`TitleCase.apply` should keep acronyms",
            &RankOptions::default(),
        );
        assert_eq!(r.candidates[0].path, "pkg/text.py", "{:#?}", r.candidates);
        assert!(r.candidates[0]
            .reasons
            .contains(&Reason::DefinesIdentifier {
                name: "TitleCase".into()
            }));
        let r = rank_files(
            &repo(),
            "pkg.text.word_count miscounts tabs",
            &RankOptions::default(),
        );
        assert_eq!(r.candidates[0].path, "pkg/text.py");
        assert!(r.candidates[0].reasons.contains(&Reason::ModuleMentioned {
            module: "pkg.text".into()
        }));
        assert_eq!(r.candidates[0].symbols[0].qualname, "word_count");
    }

    #[test]
    fn named_paths_boost_and_tests_are_listed_separately() {
        let r = rank_files(
            &repo(),
            "Something is off in pkg/report.py",
            &RankOptions::default(),
        );
        assert_eq!(r.candidates[0].path, "pkg/report.py");
        assert!(r.candidates[0].reasons.contains(&Reason::PathMentioned {
            text: "pkg/report.py".into()
        }));
        assert!(
            is_test_path("tests/unit/test_x.py")
                && is_test_path("pkg/x_test.py")
                && is_test_path("conftest.py")
        );
        assert!(!is_test_path("pkg/testing_utils.py") && !is_test_path("pkg/contest.py"));
    }

    #[test]
    fn path_denotation() {
        assert!(path_denotes(
            "/venv/site-packages/pkg/core.py",
            "src/pkg/core.py"
        ));
        assert!(path_denotes("core.py", "pkg/core.py"));
        assert!(!path_denotes("/x/other/core.py", "pkg/core.py"));
        assert!(!path_denotes("pkg/core.py", "pkg/text.py"));
    }
}
