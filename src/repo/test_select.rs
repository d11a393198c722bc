//! Which tests of the related test files can notice an edit: the test functions and methods
//! whose source names one of the definitions being edited. The fixer runs these before and after
//! each edit to find regressions; running whole test modules instead (hundreds of tests in a
//! large project's module) spent a third of an instance's time limit before any repair.
//!
//! A definition is named by its own name (`parse` for `Parser.parse`), or by its class's name
//! for a dunder method (`Parser` for `Parser.__repr__`: tests call `repr(p)`, never
//! `__repr__`). Node ids follow pytest: `path::test_x`, `path::TestX::test_y`.

use super::map::{RepoMap, SymbolKind};

/// The words that name `qualnames` in a test's source.
fn naming_words(qualnames: &[String]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for q in qualnames {
        let mut parts = q.rsplit('.');
        let last = parts.next().unwrap_or(q);
        let word = if last.starts_with("__") && last.ends_with("__") {
            match parts.next() {
                Some(class) => class,
                None => continue,
            }
        } else {
            last
        };
        if !word.is_empty() && !words.iter().any(|w| w == word) {
            words.push(word.to_string());
        }
    }
    words
}

/// Whether `text` holds `word` as a whole identifier.
fn names(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The node ids of the tests in `files` whose source names one of `qualnames`, in file order.
/// Empty when none does (the caller then decides what to run).
pub fn tests_naming(map: &RepoMap, files: &[String], qualnames: &[String]) -> Vec<String> {
    let words = naming_words(qualnames);
    let mut out = Vec::new();
    for path in files {
        let Some(file) = map.file(path) else {
            continue;
        };
        for s in file.walk() {
            if !s.name.starts_with("test") {
                continue;
            }
            let id = match (s.kind, s.qualname.split_once('.')) {
                (SymbolKind::Function, None) => format!("{path}::{}", s.name),
                (SymbolKind::Method, Some((class, rest)))
                    if class.starts_with("Test") && !rest.contains('.') =>
                {
                    format!("{path}::{class}::{rest}")
                }
                _ => continue,
            };
            let body = file.lines(s.start_line, s.end_line);
            if words.iter().any(|w| names(&body, w)) {
                out.push(id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTS: &str = r#"
import pytest
from pkg.parse import Parser, parse_all


def test_parse_one():
    assert Parser().parse("x") == ["x"]


def test_unrelated():
    assert 1 + 1 == 2


@pytest.mark.parametrize("v", [1, 2])
def test_parse_all(v):
    assert parse_all([v])


class TestRepr:
    def test_repr(self):
        assert repr(Parser()) == "Parser()"

    def test_reparse_is_not_parse(self):
        assert reparse("x")

    def helper(self):
        return Parser().parse


class Helper:
    def test_not_collected(self):
        return Parser().parse("x")
"#;

    fn ids(qualnames: &[&str]) -> Vec<String> {
        let map = RepoMap::from_sources([("tests/test_parse.py", TESTS), ("pkg/parse.py", "")]);
        let q: Vec<String> = qualnames.iter().map(|s| s.to_string()).collect();
        tests_naming(
            &map,
            &[
                "tests/test_parse.py".to_string(),
                "tests/missing.py".to_string(),
            ],
            &q,
        )
    }

    #[test]
    fn tests_that_name_the_edited_definitions_are_selected() {
        assert_eq!(
            ids(&["Parser.parse"]),
            ["tests/test_parse.py::test_parse_one"]
        );
        assert_eq!(
            ids(&["parse_all", "Parser.parse"]),
            [
                "tests/test_parse.py::test_parse_one",
                "tests/test_parse.py::test_parse_all"
            ]
        );
        // A dunder method is named by its class.
        assert_eq!(
            ids(&["Parser.__repr__"]),
            [
                "tests/test_parse.py::test_parse_one",
                "tests/test_parse.py::TestRepr::test_repr"
            ]
        );
        assert!(ids(&["nothing_here"]).is_empty());
    }

    #[test]
    fn whole_words_only() {
        assert!(names("x = parse(1)", "parse"));
        assert!(!names("x = reparse(1)", "parse"));
        assert!(!names("x = parse_all(1)", "parse"));
        assert!(names("p.parse", "parse"));
    }
}
