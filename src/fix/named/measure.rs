//! Localization accuracy of [`super::resolve`] against SWE-bench gold patches (an ignored
//! test: it reads instances and repository mirrors named by environment variables, never
//! shared data in a normal run).
//!
//! ```text
//! CODESWARM_NAMED_INSTANCES=lite-test.jsonl,lite-dev.jsonl \
//! CODESWARM_NAMED_MIRRORS=/path/to/mirrors   # holds owner+name/repo (bare git dirs)
//! CODESWARM_NAMED_REPOS=pytest-dev/pytest,pallets/flask \
//! cargo test --release --locked --lib fix::named::measure -- --ignored --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use super::*;
use crate::fix::issue::parse;

/// Files and qualified names a unified diff changes in the base tree.
fn gold(map: &RepoMap, patch: &str) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut files = BTreeSet::new();
    let mut functions = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut old_line = 0usize;
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("diff --git a/") {
            let path = rest.split(" b/").next().unwrap_or("").to_string();
            current = (path.ends_with(".py") && !is_test_path(&path)).then_some(path);
            if let Some(p) = &current {
                files.insert(p.clone());
            }
            continue;
        }
        let Some(path) = &current else { continue };
        if let Some(h) = line.strip_prefix("@@ -") {
            old_line = h
                .split([',', ' '])
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            continue;
        }
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        let file = map.file(path);
        let mark = |l: usize, functions: &mut BTreeSet<(String, String)>| {
            if let Some(s) = file.and_then(|f| f.innermost_at(l)) {
                functions.insert((path.clone(), s.qualname.clone()));
            }
        };
        match line.chars().next() {
            Some('-') => {
                mark(old_line, &mut functions);
                old_line += 1;
            }
            Some('+') => {
                // An insertion belongs to the definition around the line before it.
                mark(old_line.saturating_sub(1).max(1), &mut functions);
            }
            _ => old_line += 1,
        }
    }
    (files, functions)
}

fn base_tree(git_dir: &Path, commit: &str, into: &Path) -> bool {
    let archive = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["archive", commit])
        .output();
    let Ok(archive) = archive else { return false };
    if !archive.status.success() {
        return false;
    }
    let mut tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tar");
    use std::io::Write;
    tar.stdin
        .take()
        .expect("stdin")
        .write_all(&archive.stdout)
        .expect("tar input");
    tar.wait().map(|s| s.success()).unwrap_or(false)
}

#[derive(Default)]
struct Tally {
    instances: usize,
    named: usize,
    file_hit: usize,
    function_hit: usize,
    exact_hit: usize,
    first_file_hit: usize,
}

#[test]
#[ignore = "reads SWE-bench instances and mirrors named by CODESWARM_NAMED_* variables"]
fn measure() {
    let instances = std::env::var("CODESWARM_NAMED_INSTANCES").expect("CODESWARM_NAMED_INSTANCES");
    let mirrors = std::env::var("CODESWARM_NAMED_MIRRORS").expect("CODESWARM_NAMED_MIRRORS");
    let repos: Vec<String> = std::env::var("CODESWARM_NAMED_REPOS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for path in instances.split(',') {
        let text = std::fs::read_to_string(path).expect("instances file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("instance json");
            let repo = v["repo"].as_str().unwrap_or("");
            if !repos.is_empty() && !repos.iter().any(|r| r == repo) {
                continue;
            }
            let git_dir = Path::new(&mirrors)
                .join(repo.replace('/', "+"))
                .join("repo");
            if !git_dir.is_dir() {
                continue;
            }
            let tmp = tempfile::tempdir().expect("tempdir");
            let base = v["base_commit"].as_str().unwrap_or("");
            if !base_tree(&git_dir, base, tmp.path()) {
                println!("{}: base {base} not in mirror", v["instance_id"]);
                continue;
            }
            let map = RepoMap::from_dir(tmp.path()).expect("map");
            let issue = parse(v["problem_statement"].as_str().unwrap_or(""));
            let found = resolve(&map, &issue);
            let (files, functions) = gold(&map, v["patch"].as_str().unwrap_or(""));
            let file_hit = found.iter().any(|l| files.contains(&l.path));
            let function_hit = found.iter().any(|l| {
                functions.iter().any(|(p, q)| {
                    *p == l.path
                        && (*q == l.qualname
                            || q.starts_with(&format!("{}.", l.qualname))
                            || l.qualname.starts_with(&format!("{q}.")))
                })
            });
            let exact_hit = found
                .iter()
                .any(|l| functions.contains(&(l.path.clone(), l.qualname.clone())));
            let t = tallies.entry(repo.to_string()).or_default();
            t.instances += 1;
            t.named += usize::from(!found.is_empty());
            t.file_hit += usize::from(file_hit);
            t.function_hit += usize::from(function_hit);
            t.exact_hit += usize::from(exact_hit);
            t.first_file_hit += usize::from(found.first().is_some_and(|l| files.contains(&l.path)));
            println!(
                "{} named={} file_hit={file_hit} function_hit={function_hit} gold={:?}",
                v["instance_id"].as_str().unwrap_or(""),
                found.len(),
                functions
            );
            for l in &found {
                println!(
                    "    {:?} {}::{}  <- {}",
                    l.source, l.path, l.qualname, l.evidence
                );
            }
        }
    }
    for (repo, t) in &tallies {
        println!(
            "{repo}: instances {} | >=1 named {} | file hit {} (first location {}) | function hit {} (exact qualname {})",
            t.instances, t.named, t.file_hit, t.first_file_hit, t.function_hit, t.exact_hit
        );
    }
}

/// What [`parse`] reads from real issue texts: code blocks, script, session steps, traceback
/// and expectations per instance (for judging the expectation rules by eye), and totals.
#[test]
#[ignore = "reads SWE-bench instances named by CODESWARM_NAMED_INSTANCES"]
fn issue_texts() {
    let instances = std::env::var("CODESWARM_NAMED_INSTANCES").expect("CODESWARM_NAMED_INSTANCES");
    let show: Vec<String> = std::env::var("CODESWARM_NAMED_SHOW")
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let (mut n, mut with_script, mut with_steps, mut with_tb, mut with_exp) = (0, 0, 0, 0, 0);
    for path in instances.split(',') {
        let text = std::fs::read_to_string(path).expect("instances file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("instance json");
            let issue = parse(v["problem_statement"].as_str().unwrap_or(""));
            n += 1;
            let script = issue.script();
            if show
                .iter()
                .any(|s| s == v["instance_id"].as_str().unwrap_or(""))
            {
                println!(
                    "---- script\n{}----",
                    script.as_deref().unwrap_or("(none)\n")
                );
                for step in &issue.doctest {
                    println!(">>> {:?}\n    shown {:?}", step.source, step.shown);
                }
            }
            with_script += usize::from(script.is_some());
            with_steps += usize::from(!issue.doctest.is_empty());
            with_tb += usize::from(issue.traceback.is_some());
            with_exp += usize::from(!issue.expectations.is_empty());
            println!(
                "{} blocks={} script_lines={} steps={} traceback={:?} expectations={:?}",
                v["instance_id"].as_str().unwrap_or(""),
                issue.code_blocks.len(),
                script.as_deref().map_or(0, |s| s.lines().count()),
                issue.doctest.len(),
                issue
                    .traceback
                    .as_ref()
                    .map(|t| (&t.exception, t.frames.len())),
                issue.expectations
            );
        }
    }
    println!(
        "instances {n} | script {with_script} | session steps {with_steps} | traceback {with_tb} | expectations {with_exp}"
    );
}
