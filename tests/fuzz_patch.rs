//! Differential fuzzing of the patch parser and applier (`codeswarm::repo::patch::apply_patch`)
//! against the tools the SWE-bench harness uses: `git apply`, then GNU
//! `patch --batch --forward --fuzz=5 -p1`.
//!
//! Each case builds a small random repository, edits it, takes the real `git diff` of the edit,
//! then (mostly) disturbs things: the target the patch is applied to drifts from the base
//! (lines inserted, changed, deleted: offsets and fuzz), the patch text is mutated (shifted
//! hunk headers, altered or dropped context lines, CRLF, a missing last newline, truncation,
//! garbage lines, escaping paths, removed "\ No newline" markers), or the patch is applied
//! a second time. The same patch then goes to codeswarm, `git apply` and GNU patch, each on
//! its own copy of the target (the cases are generated in tests/fuzz_patch_case), and the
//! outcomes are compared:
//!
//! - whatever `git apply` accepts, codeswarm accepts with the same resulting files;
//! - else whatever GNU patch accepts, codeswarm accepts with the same resulting files;
//! - whatever both refuse, codeswarm refuses, and leaves the worktree as it was.
//!
//! Where codeswarm differs on purpose, [`explain`] names the documented rule (docs/fuzzing.md
//! lists them); any other difference fails the test with the case (proptest shrinks it).
//! Every case is tallied; `--nocapture` prints the tally. The regressions the fuzzing found are
//! plain tests at the end.

mod fuzz_common;
mod fuzz_patch_case;

use std::path::{Path, PathBuf};
use std::process::Command;

use codeswarm::repo::patch::{apply_patch, PatchError};
use fuzz_common::{config, Tally};
use fuzz_patch_case::{
    build, case, mutate, read_tree, write_tree, Built, Case, Drift, Entry, Mutation, Tree,
};
use git2::Repository;
use proptest::prelude::*;

static TALLY: Tally = Tally::new();

/// The default number of cases (3 s on a quiet 2-core machine, 13 s on a loaded one).
const DEFAULT_CASES: u32 = 64;

// ---------------------------------------------------------------------------------------------
// Running the three tools.

/// What a tool did with the patch: the files it left, or why it refused.
#[derive(Debug, Clone)]
enum Outcome {
    Applied(Tree),
    Refused(String),
}

impl Outcome {
    fn tree(&self) -> Option<&Tree> {
        match self {
            Outcome::Applied(t) => Some(t),
            Outcome::Refused(_) => None,
        }
    }
}

/// A copy of the target; codeswarm needs a repository (without a commit: it applies to the
/// files), `git apply` and GNU patch a plain directory.
fn fresh_target(root: &Path, name: &str, target: &Tree, repository: bool) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    write_tree(&dir, target);
    if repository {
        Repository::init(&dir).unwrap();
    }
    dir
}

fn run_tool(dir: &Path, program: &str, args: &[&str]) -> Outcome {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if out.status.success() {
        Outcome::Applied(read_tree(dir))
    } else {
        let mut why = String::from_utf8_lossy(&out.stderr).into_owned();
        why.push_str(&String::from_utf8_lossy(&out.stdout));
        Outcome::Refused(why.trim().to_string())
    }
}

fn gnu_patch_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("patch")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("GNU patch"))
            .unwrap_or(false)
    })
}

struct Results {
    codeswarm: Result<Tree, PatchError>,
    git: Outcome,
    /// `None` when GNU patch is not installed.
    gnu: Option<Outcome>,
}

/// What `git apply` and GNU patch (when installed) make of `patch` on copies of `target`
/// (`tag` names the copies under `root`).
fn harness(root: &Path, tag: &str, target: &Tree, patch: &str) -> (Outcome, Option<Outcome>) {
    let patch_file = root.join(format!("{tag}.diff"));
    std::fs::write(&patch_file, patch).unwrap();
    let patch_arg = patch_file.to_str().unwrap();
    let dir = fresh_target(root, &format!("{tag}-git"), target, false);
    let git = run_tool(&dir, "git", &["apply", patch_arg]);
    let gnu = gnu_patch_available().then(|| {
        let dir = fresh_target(root, &format!("{tag}-gnu"), target, false);
        run_tool(&dir, "patch", &gnu_args(&[], &patch_file))
    });
    (git, gnu)
}

/// The harness's GNU patch command line (`--forward`: an applied patch is refused, not
/// reversed; no backup or reject files), with `extra` options.
fn gnu_args<'a>(extra: &[&'a str], patch_file: &'a Path) -> Vec<&'a str> {
    let mut args = vec![
        "--batch",
        "--forward",
        "--fuzz=5",
        "-p1",
        "--no-backup-if-mismatch",
        "--reject-file=-",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    args.extend(["-i", patch_file.to_str().unwrap()]);
    args
}

/// The harness's result: `git apply`'s, else GNU patch's.
fn harness_tree<'a>(
    git: &'a Outcome,
    gnu: &'a Option<Outcome>,
) -> Option<(&'static str, &'a Tree)> {
    match (git, gnu) {
        (Outcome::Applied(t), _) => Some(("git apply", t)),
        (_, Some(Outcome::Applied(t))) => Some(("GNU patch", t)),
        _ => None,
    }
}

/// codeswarm's result for `patch` on a copy of `target` (`tag` names the copy under `root`).
fn codeswarm(root: &Path, tag: &str, target: &Tree, patch: &str) -> Result<Tree, PatchError> {
    let dir = fresh_target(root, &format!("{tag}-codeswarm"), target, true);
    match apply_patch(&dir, patch) {
        Ok(_) => Ok(read_tree(&dir)),
        Err(e) => {
            // All or nothing: a refused patch changes no file.
            let after = read_tree(&dir);
            assert_eq!(
                &after, target,
                "codeswarm refused the patch ({e}) but changed the worktree\npatch:\n{patch}"
            );
            Err(e)
        }
    }
}

fn run_all(root: &Path, built: &Built) -> Results {
    let codeswarm = codeswarm(root, "t", &built.target, &built.patch);
    let (git, gnu) = harness(root, "t", &built.target, &built.patch);
    Results {
        codeswarm,
        git,
        gnu,
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/// The verdict on one case.
#[derive(Debug)]
enum Verdict {
    Agree(&'static str),
    /// A documented difference, by rule name.
    Explained(&'static str),
    Unexplained(String),
}

/// Compare codeswarm with the harness (git apply, else GNU patch) and name the rule behind any
/// difference.
fn explain(root: &Path, case: &Case, built: &Built, r: &Results) -> Verdict {
    match (&r.codeswarm, harness_tree(&r.git, &r.gnu)) {
        (Ok(ours), Some((tool, theirs))) if ours == theirs => {
            Verdict::Agree(if tool == "git apply" {
                "applied, same files as git apply"
            } else {
                "applied, same files as GNU patch"
            })
        }
        (Err(_), None) => Verdict::Agree("refused by all"),
        (ours, theirs) => {
            if let Some(rule) = documented_difference(root, case, built, r) {
                return Verdict::Explained(rule);
            }
            Verdict::Unexplained(format!(
                "codeswarm: {}\nharness: {}\ngit apply: {}\nGNU patch: {}",
                match ours {
                    Ok(t) => format!("applied {}", show(t)),
                    Err(e) => format!("refused: {e}"),
                },
                match theirs {
                    Some((tool, _)) => format!("{tool} applied"),
                    None => "refused".into(),
                },
                short(&r.git),
                r.gnu.as_ref().map_or("not installed".into(), short),
            ))
        }
    }
}

/// A tree as readable text: each file's path, then its content with line endings shown.
fn show(tree: &Tree) -> String {
    let mut out = String::new();
    for (path, e) in tree {
        match e {
            Entry::File(bytes) => {
                let text = String::from_utf8_lossy(bytes)
                    .replace('\r', "\\r")
                    .replace('\n', "\\n\n      ");
                out.push_str(&format!("\n    {path}:\n      {text}"));
            }
            Entry::Link(to) => out.push_str(&format!("\n    {path} -> {to}")),
        }
    }
    out
}

fn short(o: &Outcome) -> String {
    match o {
        Outcome::Applied(t) => format!("applied {}", show(t)),
        Outcome::Refused(why) => format!("refused: {}", why.chars().take(600).collect::<String>()),
    }
}

/// The documented rules under which codeswarm's result may differ from the harness's.
fn documented_difference(
    root: &Path,
    case: &Case,
    built: &Built,
    r: &Results,
) -> Option<&'static str> {
    let ours = r.codeswarm.as_ref().ok();
    // What the harness makes of the patch changed as codeswarm reads it.
    let harness_on = |tag: &str, patch: &str| -> Option<Tree> {
        let (git, gnu) = harness(root, tag, &built.target, patch);
        harness_tree(&git, &gnu).map(|(_, t)| t.clone())
    };
    // R1. A patch whose last line has no newline: libgit2 reads that line as if it had one
    // (GNU patch does too, for a line with text after its prefix); `git apply` calls the patch
    // corrupt.
    if !built.patch.is_empty() && !built.patch.ends_with('\n') {
        if let Some(ours) = ours {
            if harness_on("r1", &format!("{}\n", built.patch)).as_ref() == Some(ours) {
                return Some("R1 missing final newline read as present");
            }
        }
    }
    // R2. A path through a symlink in the worktree: codeswarm refuses it, as `git apply` does
    // ("beyond a symbolic link"); GNU patch follows the link.
    if case.drift.iter().any(|d| matches!(d, Drift::SymlinkedDir)) {
        if let (Err(PatchError::UnsafePath { reason, .. }), Outcome::Refused(why)) =
            (&r.codeswarm, &r.git)
        {
            if reason.contains("symlink") && why.contains("beyond a symbolic link") {
                return Some("R2 path through a symlink refused, as git apply does");
            }
        }
    }
    // R3. A patch whose own lines end in CRLF: GNU patch strips the CRs ("Stripping trailing
    // CRs from patch"); codeswarm compares lines byte for byte, as `git apply` does, and ends
    // as `git apply` does.
    let crlf_headers = built
        .patch
        .split_inclusive('\n')
        .any(|l| (l.starts_with("diff --git ") || l.starts_with("@@ ")) && l.ends_with("\r\n"));
    if crlf_headers {
        if same_outcome(&r.codeswarm, &r.git) {
            return Some("R3 CRLF patch read byte for byte, as git apply does");
        }
        // Where `git apply` cannot read the patch at all, GNU patch told not to strip CRs
        // (`--binary`) reads it as codeswarm does.
        if gnu_patch_available() {
            let patch_file = root.join("r3.diff");
            std::fs::write(&patch_file, &built.patch).unwrap();
            let dir = fresh_target(root, "r3-gnu", &built.target, false);
            let gnu = run_tool(&dir, "patch", &gnu_args(&["--binary"], &patch_file));
            if same_outcome(&r.codeswarm, &gnu) {
                return Some("R3 CRLF patch read byte for byte, as patch --binary does");
            }
        }
    }
    // R4. A malformed patch (a garbage line, or the text cut off inside a file's header):
    // codeswarm refuses the whole patch as malformed, naming the line, as `git apply` does,
    // where GNU patch applies the part it can read. Where `git apply` skips the garbage line
    // instead, the same case without the garbage must be agreed on or explained.
    let garbled = case
        .mutations
        .iter()
        .any(|m| matches!(m, Mutation::Garbage(..) | Mutation::Truncate(..)));
    if garbled
        && matches!(
            r.codeswarm,
            Err(PatchError::Malformed { .. } | PatchError::Empty)
        )
    {
        if matches!(r.git, Outcome::Refused(_)) {
            return Some("R4 malformed patch refused whole, as git apply does");
        }
        let mut clean_case = case.clone();
        clean_case
            .mutations
            .retain(|m| !matches!(m, Mutation::Garbage(..)));
        if clean_case.mutations.len() < case.mutations.len() {
            let clean = Built {
                new: built.new.clone(),
                target: built.target.clone(),
                made: built.made.clone(),
                patch: mutate(&built.made, &clean_case.mutations),
            };
            let clean_root = root.join("r4");
            std::fs::create_dir_all(&clean_root).unwrap();
            let results = run_all(&clean_root, &clean);
            if !matches!(
                explain(&clean_root, &clean_case, &clean, &results),
                Verdict::Unexplained(_)
            ) {
                return Some("R4 garbage line that git apply skips refused as malformed");
            }
        }
    }
    // R5. A `-U0` patch (hunks without context): codeswarm places its hunks as
    // `git apply --unidiff-zero` does, by their stated lines. Plain `git apply` anchors a hunk
    // without trailing context at the end of the file (a context-free insertion lands there)
    // or refuses; GNU patch places a context-free hunk by its old line plus the previous
    // hunk's offset, which differs when the old and new start lines disagree.
    if let Some(ours) = ours {
        if case.context == 0 {
            let patch_file = root.join("r5.diff");
            std::fs::write(&patch_file, &built.patch).unwrap();
            let dir = fresh_target(root, "r5-git", &built.target, false);
            let git = run_tool(
                &dir,
                "git",
                &["apply", "--unidiff-zero", patch_file.to_str().unwrap()],
            );
            if git.tree() == Some(ours) {
                return Some("R5 -U0 hunks placed as git apply --unidiff-zero places them");
            }
        }
    }
    // R7. A `-U0` patch whose hunks are out of order (shifted headers put a hunk's old line
    // before the previous hunk's): codeswarm places each hunk after the previous one's change
    // (hunks never overlap; a context-free insertion stated before that goes right after it),
    // where GNU patch fails a hunk and `git apply` refuses.
    if ours.is_some() && case.context == 0 && misordered(&built.patch) {
        return Some("R7 out-of-order -U0 hunks applied in patch order");
    }
    // R8. GNU patch `--forward` calls a patch reversed when a first hunk's reversal is found,
    // even by its context alone, and skips it; codeswarm's already-applied check needs the
    // hunk's added lines to be found (documented in `repo::patch`), so it goes on to the fuzz
    // tier. GNU patch told to assume no patch is reversed (`--force`) ends as codeswarm does.
    if let (Some(ours), Some(Outcome::Refused(why))) = (ours, &r.gnu) {
        if why.contains("Reversed (or previously applied) patch detected") {
            let patch_file = root.join("r8.diff");
            std::fs::write(&patch_file, &built.patch).unwrap();
            let dir = fresh_target(root, "r8-gnu", &built.target, false);
            let args = [
                "--force",
                "--fuzz=5",
                "-p1",
                "--no-backup-if-mismatch",
                "--reject-file=-",
                "--quiet",
                "-i",
                patch_file.to_str().unwrap(),
            ];
            if run_tool(&dir, "patch", &args).tree() == Some(ours) {
                return Some("R8 reversal found by context alone is not an applied patch");
            }
        }
    }
    // R6. A patch that changes nothing (a file header without hunks, the rest cut off): GNU
    // patch exits 0 having done nothing; codeswarm refuses it, as `git apply` does.
    if let (Err(_), Some((_, theirs))) = (&r.codeswarm, harness_tree(&r.git, &r.gnu)) {
        if theirs == &built.target {
            return Some("R6 a patch that changes nothing refused");
        }
    }
    None
}

/// Does a file of `patch` have a hunk whose old start line is before the previous hunk's?
fn misordered(patch: &str) -> bool {
    let mut last = 0i64;
    for line in patch.split('\n') {
        if line.starts_with("diff --git ") {
            last = 0;
        } else if let Some(rest) = line.strip_prefix("@@ -") {
            let start: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let Ok(start) = start.parse::<i64>() else {
                continue;
            };
            if start < last {
                return true;
            }
            last = start;
        }
    }
    false
}

/// Did codeswarm end as the tool did (both refused, or the same files)?
fn same_outcome(ours: &Result<Tree, PatchError>, theirs: &Outcome) -> bool {
    match (ours, theirs) {
        (Ok(a), Outcome::Applied(b)) => a == b,
        (Err(_), Outcome::Refused(_)) => true,
        _ => false,
    }
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let root = tempfile::tempdir().unwrap();
    let Some(built) = build(case, root.path()) else {
        TALLY.add("skipped: the edit changed nothing");
        return Ok(());
    };
    let results = run_all(root.path(), &built);
    if r_unmutated(case) {
        // A patch exactly as `git diff` made it, on its own base: everyone applies it, the same.
        TALLY.add("info: unmutated patches on their base");
        let ours = results.codeswarm.as_ref().map_err(|e| {
            TestCaseError::fail(format!(
                "codeswarm refused an unmutated patch: {e}\n{}",
                built.made
            ))
        })?;
        prop_assert_eq!(ours, &built.new, "codeswarm's result is not the edit");
        // `git apply` refuses hunks without context (`-U0`) unless told `--unidiff-zero`.
        if case.context > 0 {
            prop_assert_eq!(
                results.git.tree(),
                Some(&built.new),
                "git apply: {:?}",
                results.git
            );
        }
        if let Some(gnu) = &results.gnu {
            prop_assert_eq!(gnu.tree(), Some(&built.new), "GNU patch: {:?}", gnu);
        }
    }
    match explain(root.path(), case, &built, &results) {
        Verdict::Agree(what) => TALLY.add(format!("case: agree: {what}")),
        Verdict::Explained(rule) => TALLY.add(format!("case: explained: {rule}")),
        Verdict::Unexplained(what) => {
            TALLY.add("case: UNEXPLAINED");
            let message = format!(
                "codeswarm and the harness disagree\n{what}\npatch:\n{}\ntarget: {}\ncase: {case:?}",
                built.patch.replace('\r', "\\r"), show(&built.target)
            );
            if survey() {
                eprintln!("---- UNEXPLAINED\n{message}");
                return Ok(());
            }
            return Err(TestCaseError::fail(message));
        }
    }
    Ok(())
}

/// `CODESWARM_FUZZ_SURVEY=1`: print every unexplained disagreement and go on (the test still
/// fails at the end), instead of stopping at the first one and shrinking it.
fn survey() -> bool {
    std::env::var_os("CODESWARM_FUZZ_SURVEY").is_some_and(|v| v == "1")
}

fn r_unmutated(case: &Case) -> bool {
    case.drift.is_empty() && case.mutations.is_empty()
}

#[test]
fn patch_applier_agrees_with_git_apply_and_gnu_patch() {
    if !gnu_patch_available() {
        eprintln!(
            "note: GNU patch is not installed (scripts/setup.sh installs it); comparing with \
             git apply only"
        );
    }
    let mut runner = proptest::test_runner::TestRunner::new(config(DEFAULT_CASES));
    let result = runner.run(&case(), |c| check_case(&c));
    TALLY.print("patch_applier_agrees_with_git_apply_and_gnu_patch");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(TALLY.get("case: UNEXPLAINED"), 0);
}

// ---------------------------------------------------------------------------------------------
// Regressions the fuzzing found (each failed before its fix).

fn one_file_target(content: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    tree.insert("a.py".into(), Entry::File(content.as_bytes().to_vec()));
    let dir = fresh_target(root.path(), "t", &tree, true);
    (root, dir)
}

/// libgit2's apply deleted a file whatever it held; `git apply` and GNU patch refuse.
#[test]
fn a_deletion_patch_refuses_a_file_that_differs_from_it() {
    let patch = "diff --git a/a.py b/a.py\ndeleted file mode 100644\nindex 1111111..0000000\n\
                 --- a/a.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x = 1\n-y = 2\n";
    for content in [
        "x = 1\ny = 3\n",
        "x = 1\ny = 2\nz = 3\n",
        "z = 0\nx = 1\ny = 2\n",
    ] {
        let (_root, dir) = one_file_target(content);
        let e = apply_patch(&dir, patch).unwrap_err();
        assert!(
            matches!(
                e,
                PatchError::HunkRejected { .. } | PatchError::FileRejected { .. }
            ),
            "{content:?}: {e}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("a.py")).unwrap(), content);
    }
    // A deletion without hunks (of an empty file) does not delete a file with content.
    let empty = "diff --git a/a.py b/a.py\ndeleted file mode 100644\nindex e69de29..0000000\n";
    let with_headers = format!("{empty}--- a/a.py\n+++ /dev/null\n");
    let (_root, dir) = one_file_target("x = 1\n");
    assert!(matches!(
        apply_patch(&dir, &with_headers),
        Err(PatchError::FileRejected { .. })
    ));
    assert!(dir.join("a.py").exists());
    let (_root, dir) = one_file_target("x = 1\n");
    assert!(matches!(
        apply_patch(&dir, empty),
        Err(PatchError::FileRejected { .. })
    ));
    assert!(dir.join("a.py").exists());
    // The file the patch was made from is deleted, with or without hunks.
    let (_root, dir) = one_file_target("x = 1\ny = 2\n");
    apply_patch(&dir, patch).unwrap();
    assert!(!dir.join("a.py").exists());
    let (_root, dir) = one_file_target("");
    apply_patch(&dir, empty).unwrap();
    assert!(!dir.join("a.py").exists());
}

/// A `-U0` insertion stayed at its stated line when the hunk before it had moved.
#[test]
fn a_context_free_insertion_moves_with_the_hunk_before_it() {
    let content: String = (0..=10).map(|i| format!("l{i}\n")).collect();
    let patch = "diff --git a/a.py b/a.py\nindex 1111111..2222222 100644\n--- a/a.py\n+++ b/a.py\n\
                 @@ -3 +2,0 @@\n-l3\n@@ -6,0 +6 @@\n+new\n";
    // The patch was made without the first line `l0`.
    let (_root, dir) = one_file_target(&content);
    apply_patch(&dir, patch).unwrap();
    let expected = "l0\nl1\nl2\nl4\nl5\nl6\nnew\nl7\nl8\nl9\nl10\n";
    assert_eq!(std::fs::read_to_string(dir.join("a.py")).unwrap(), expected);
    if gnu_patch_available() {
        let root = tempfile::tempdir().unwrap();
        let mut tree = Tree::new();
        tree.insert("a.py".into(), Entry::File(content.into_bytes()));
        let (_, gnu) = harness(root.path(), "h", &tree, patch);
        let gnu = gnu.unwrap();
        assert_eq!(
            gnu.tree().and_then(|t| t.get("a.py")),
            Some(&Entry::File(expected.as_bytes().to_vec())),
            "{gnu:?}"
        );
    }
}

/// `git diff`'s creation and deletion of an empty file (no `---`/`+++` lines) were refused as
/// malformed: libgit2's parser needs those lines.
#[test]
fn empty_files_are_created_and_deleted_as_git_writes_it() {
    let root = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    tree.insert("gone.py".into(), Entry::File(Vec::new()));
    tree.insert("b.py".into(), Entry::File(b"b\n".to_vec()));
    let patch = "diff --git a/b.py b/b.py\nindex 1111111..2222222 100644\n--- a/b.py\n+++ b/b.py\n\
                 @@ -1 +1 @@\n-b\n+c\n\
                 diff --git a/gone.py b/gone.py\ndeleted file mode 100644\nindex e69de29..0000000\n\
                 diff --git a/pkg/__init__.py b/pkg/__init__.py\nnew file mode 100644\n\
                 index 0000000..e69de29\n";
    let dir = fresh_target(root.path(), "t", &tree, true);
    apply_patch(&dir, patch).unwrap();
    let mut expected = Tree::new();
    expected.insert("b.py".into(), Entry::File(b"c\n".to_vec()));
    expected.insert("pkg/__init__.py".into(), Entry::File(Vec::new()));
    assert_eq!(read_tree(&dir), expected);
    let (git, _) = harness(root.path(), "h", &tree, patch);
    assert_eq!(git.tree(), Some(&expected), "git apply agrees");
}

/// libgit2's apply joined a hunk's last line without a newline to the file's next line
/// (`v35 = 35v32 = 32`) when the hunk was not at the end of the file.
#[test]
fn a_line_without_newline_before_more_lines_gets_one() {
    // The patch adds two lines to an empty file, the last without a newline; the file has
    // gained a line since.
    let patch = "diff --git a/a.py b/a.py\nindex e69de29..1111111 100644\n--- a/a.py\n+++ b/a.py\n\
                 @@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n\\ No newline at end of file\n";
    let (_root, dir) = one_file_target("z = 0\n");
    apply_patch(&dir, patch).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("a.py")).unwrap(),
        "x = 1\ny = 2\nz = 0\n"
    );
    // A hunk whose trailing context was cut: its last added line has no newline, the file
    // goes on after it.
    let patch = "diff --git a/a.py b/a.py\nindex 1111111..2222222 100644\n--- a/a.py\n+++ b/a.py\n\
                 @@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n\\ No newline at end of file\n";
    let (_root, dir) = one_file_target("a = 1\nb = 2\nc = 3\n");
    apply_patch(&dir, patch).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("a.py")).unwrap(),
        "a = 1\nb = 3\nc = 3\n"
    );
}
