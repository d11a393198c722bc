//! A candidate fix as a value: the new contents of the files it changes, the patch text that
//! `git apply` takes on the base commit, and a key that ignores formatting and comments, so a
//! candidate proposed twice is one more vote, not a second verification. Nothing here touches
//! the worktree.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// One distinct candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The number of the proposal that first produced it (0 = the greedy one).
    pub proposal: u32,
    /// Proposals that produced the same code (this one included).
    pub votes: usize,
    /// Path → new content.
    #[serde(skip)]
    pub files: BTreeMap<String, String>,
    /// The unified diff against the base.
    pub patch: String,
    /// Lines added plus lines removed.
    pub changed_lines: usize,
    /// The code with comments and formatting ignored (see [`normalized`]).
    #[serde(skip)]
    pub key: String,
}

/// Why a proposal is not a candidate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CandidateError {
    #[error("the edit changes nothing once formatting and comments are ignored")]
    NoChange,
    #[error("cannot make a patch of {path}: {message}")]
    Diff { path: String, message: String },
}

/// Build the candidate of proposal `proposal`: `base(path)` gives a file's content at the base
/// (None for a file that does not exist there).
pub fn build(
    proposal: u32,
    files: BTreeMap<String, String>,
    base: &dyn Fn(&str) -> Option<String>,
) -> Result<Candidate, CandidateError> {
    let mut patch = String::new();
    let mut changed_lines = 0;
    let mut semantic_change = false;
    for (path, new) in &files {
        let old = base(path);
        if old.as_deref() == Some(new.as_str()) {
            continue;
        }
        if !path.ends_with(".py")
            || old
                .as_deref()
                .is_none_or(|o| normalized(o) != normalized(new))
        {
            semantic_change = true;
        }
        let text = diff(path, old.as_deref(), new)?;
        changed_lines += text
            .lines()
            .filter(|l| {
                (l.starts_with('+') && !l.starts_with("+++"))
                    || (l.starts_with('-') && !l.starts_with("---"))
            })
            .count();
        patch.push_str(&text);
    }
    if !semantic_change {
        return Err(CandidateError::NoChange);
    }
    let key = files
        .iter()
        .map(|(p, t)| {
            if p.ends_with(".py") {
                format!("{p}\n{}", normalized(t))
            } else {
                format!("{p}\n{t}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n\0\n");
    Ok(Candidate {
        proposal,
        votes: 1,
        files,
        patch,
        changed_lines,
        key,
    })
}

/// A git-style diff of one file (`new file mode` when it did not exist).
fn diff(path: &str, old: Option<&str>, new: &str) -> Result<String, CandidateError> {
    let err = |e: git2::Error| CandidateError::Diff {
        path: path.to_string(),
        message: e.message().to_string(),
    };
    let p = Path::new(path);
    let mut patch = git2::Patch::from_buffers(
        old.unwrap_or("").as_bytes(),
        Some(p),
        new.as_bytes(),
        Some(p),
        None,
    )
    .map_err(err)?;
    let text = String::from_utf8_lossy(&patch.to_buf().map_err(err)?).into_owned();
    if old.is_some() {
        return Ok(text);
    }
    // A file that did not exist: say so, as `git diff` does, so `git apply` creates it.
    let body = text
        .split_once("\n@@")
        .map(|(_, rest)| format!("@@{rest}"))
        .unwrap_or_default();
    Ok(format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n{body}"
    ))
}

/// Python source with comments and formatting ignored: the syntax tree's leaves (comments
/// left out) joined by single spaces. Two candidates with equal keys are the same code.
pub fn normalized(source: &str) -> String {
    let tree = crate::syntax::parse_python(source);
    let mut out = String::new();
    let mut cursor = tree.walk();
    let bytes = source.as_bytes();
    'walk: loop {
        let node = cursor.node();
        if node.kind() == "comment" {
            // Skip the comment and its (empty) subtree.
        } else if node.child_count() == 0 {
            if let Ok(text) = node.utf8_text(bytes) {
                if !text.trim().is_empty() {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(text.trim());
                }
            }
        } else if cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
    out
}

/// Add `new` to `pool` unless a candidate with the same key is there (then that one gets a
/// vote). Returns the index of the candidate in the pool and whether it is new.
pub fn add(pool: &mut Vec<Candidate>, new: Candidate) -> (usize, bool) {
    if let Some(i) = pool.iter().position(|c| c.key == new.key) {
        pool[i].votes += 1;
        return (i, false);
    }
    pool.push(new);
    (pool.len() - 1, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "def f(x):\n    # double it\n    return x * 2\n\n\ndef g():\n    return 1\n";

    fn base(p: &str) -> Option<String> {
        (p == "pkg/m.py").then(|| BASE.to_string())
    }

    fn one(p: &str, t: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(p.to_string(), t.to_string())])
    }

    #[test]
    fn formatting_and_comments_do_not_make_a_new_candidate() {
        let a = build(0, one("pkg/m.py", &BASE.replace("x * 2", "x * 3")), &base).unwrap();
        let b = build(
            1,
            one(
                "pkg/m.py",
                &BASE
                    .replace("x * 2", "x*3  # triple")
                    .replace("    # double it\n", ""),
            ),
            &base,
        )
        .unwrap();
        let c = build(2, one("pkg/m.py", &BASE.replace("x * 2", "x * 4")), &base).unwrap();
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        let mut pool = vec![];
        assert_eq!(add(&mut pool, a), (0, true));
        assert_eq!(add(&mut pool, b), (0, false));
        assert_eq!(add(&mut pool, c), (1, true));
        assert_eq!(pool[0].votes, 2);
        assert_eq!(pool[1].votes, 1);
    }

    #[test]
    fn a_comment_only_edit_is_no_change() {
        let r = build(
            0,
            one("pkg/m.py", &BASE.replace("# double it", "# twice")),
            &base,
        );
        assert_eq!(r.unwrap_err(), CandidateError::NoChange);
    }

    #[test]
    fn the_patch_applies_with_git_on_the_base() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/m.py"), BASE).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("pkg/m.py")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@t").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        let mut files = one("pkg/m.py", &BASE.replace("return 1", "return 2"));
        files.insert("pkg/new.py".into(), "X = 1\n".into());
        let c = build(3, files, &base).unwrap();
        assert_eq!(c.changed_lines, 3, "{}", c.patch);
        assert!(c.patch.contains("new file mode"), "{}", c.patch);
        crate::repo::patch::apply_patch(dir.path(), &c.patch).unwrap();
        let got = std::fs::read_to_string(dir.path().join("pkg/m.py")).unwrap();
        assert!(got.contains("return 2"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pkg/new.py")).unwrap(),
            "X = 1\n"
        );
    }
}
