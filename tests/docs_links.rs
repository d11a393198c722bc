//! The documentation's links hold: every relative link in README.md and docs/**/*.md names a
//! file or directory of the repository, and every `#anchor` names a heading of its Markdown
//! target (GitHub's heading ids). And the README stays a front door: at most 220 lines.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const README_MAX_LINES: usize = 220;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every `.md` under docs/.
fn markdown_files() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut stack = vec![root().join("docs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The lines outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut out = Vec::new();
    for l in text.lines() {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push(l);
        }
    }
    out
}

/// GitHub's id for a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The heading ids of a Markdown file (repeated headings get `-1`, `-2`, … as on GitHub).
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for l in prose_lines(text) {
        let t = l.trim_start();
        if !t.starts_with('#') {
            continue;
        }
        let title = t.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = slug(title);
        let mut id = base.clone();
        let mut n = 0;
        while !seen.insert(id.clone()) {
            n += 1;
            id = format!("{base}-{n}");
        }
    }
    seen
}

/// The link targets of a Markdown text: `[text](target)` and `![alt](target)` outside code.
fn links(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)").unwrap();
    prose_lines(text)
        .iter()
        .flat_map(|l| {
            // Inline code spans are not links.
            let mut plain = String::new();
            for (i, part) in l.split('`').enumerate() {
                if i % 2 == 0 {
                    plain.push_str(part);
                }
            }
            re.captures_iter(&plain)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What is wrong with `target` linked from `file`, if anything.
fn broken(file: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let dest = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(path)
    };
    let Ok(real) = dest.canonicalize() else {
        return Some(format!("{target}: {} does not exist", dest.display()));
    };
    if !real.starts_with(root().canonicalize().unwrap()) {
        return Some(format!("{target}: leaves the repository"));
    }
    if let Some(a) = anchor {
        if real.extension().is_none_or(|x| x != "md") {
            return None; // line anchors of source files are not checked
        }
        let text = std::fs::read_to_string(&real).unwrap();
        if !anchors(&text).contains(a) {
            return Some(format!("{target}: no heading #{a} in {}", real.display()));
        }
    }
    None
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for f in markdown_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for t in links(&text) {
            checked += 1;
            if let Some(p) = broken(&f, &t) {
                problems.push(format!(
                    "{}: {p}",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser right?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_readme_is_a_front_door() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = text.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; keep it under {README_MAX_LINES} and move details to docs/"
    );
    // The two set-up commands, as .ci/run and newcomers type them.
    assert!(text.contains("scripts/setup.sh demo"));
    assert!(text.contains("scripts/setup.sh test"));
    for cmd in [
        "codeswarm run",
        "codeswarm fix",
        "codeswarm batch",
        "codeswarm evaluate",
        "codeswarm check",
        "codeswarm doctor",
    ] {
        assert!(text.contains(cmd), "README.md shows no `{cmd}` example");
    }
}

#[test]
fn the_link_checker_catches_what_it_should() {
    let f = root().join("README.md");
    assert!(broken(&f, "docs/no-such-file.md").is_some());
    assert!(broken(&f, "docs/results.md#no-such-heading").is_some());
    assert!(broken(&f, "docs/results.md#engine").is_none());
    assert!(broken(&f, "../outside").is_some());
    assert_eq!(
        slug(" `codeswarm check`: the CI gate"),
        "codeswarm-check-the-ci-gate"
    );
    assert_eq!(
        links("see [a](x.md) and `[b](y.md)` and ![c](z.png \"t\")\n```\n[d](w.md)\n```\n"),
        ["x.md", "z.png"]
    );
}

#[test]
fn the_readme_says_what_each_fix_status_promises() {
    use codeswarm::fix::FixStatus;
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let after = text
        .split("#### What a fix's status promises")
        .nth(1)
        .expect("the README has the heading `What a fix's status promises`");
    // The table's rows: `| `status` | promise |`.
    let rows: Vec<(String, String)> = after
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let status = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((status.to_string(), cells.get(1)?.to_string()))
        })
        .collect();
    let expected: Vec<(String, String)> = FixStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), s.promise().to_string()))
        .collect();
    assert_eq!(
        rows, expected,
        "the README's table of statuses says what FixStatus::promise() says, best status first"
    );
}
