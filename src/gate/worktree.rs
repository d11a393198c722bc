//! The throw-away worktree `codeswarm check` applies a patch in: a fresh git repository in a
//! temporary directory at the base commit, borrowing the objects of the user's repository
//! (git alternates, as `git clone --shared` does). The user's repository is only read: its
//! checkout, index, refs and objects are never written, and nothing is fetched or mirrored.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Repository};

use crate::repo::checkout::{create_worktree, CheckoutError, RepoSource, Worktree};

/// Why the worktree could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("--repo {}: no such directory; pass the root of a local git clone", path.display())]
    NoSuchRepo { path: PathBuf },
    #[error("--repo {}: not a git repository ({message}); pass the root directory of a git clone (the one holding `.git`)", path.display())]
    NotARepository { path: PathBuf, message: String },
    #[error("--base {rev}: no such commit in {} ({message}); pass a commit sha, branch, tag or `HEAD~N` that exists there (in a shallow CI clone, fetch it first)", repo.display())]
    BadBase {
        rev: String,
        repo: PathBuf,
        message: String,
    },
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
}

/// A worktree of `repo` at `rev` (any revision git understands there) inside `parent`
/// (default: the system temp directory), removed when dropped.
pub fn local_worktree(
    repo: &Path,
    rev: &str,
    parent: Option<&Path>,
) -> Result<Worktree, WorktreeError> {
    if !repo.is_dir() {
        return Err(WorktreeError::NoSuchRepo {
            path: repo.to_path_buf(),
        });
    }
    let canonical = repo.canonicalize().map_err(|e| CheckoutError::Io {
        path: repo.to_path_buf(),
        source: e,
    })?;
    let git = Repository::open(&canonical).map_err(|e| WorktreeError::NotARepository {
        path: canonical.clone(),
        message: e.message().to_string(),
    })?;
    let bad_base = |message: String| WorktreeError::BadBase {
        rev: rev.to_string(),
        repo: canonical.clone(),
        message,
    };
    let commit = git
        .revparse_single(rev)
        .and_then(|o| o.peel(ObjectType::Commit))
        .map_err(|e| bad_base(e.message().to_string()))?
        .id();
    let objects_of = git.commondir().to_path_buf();
    drop(git);
    let source = RepoSource {
        spec: repo.display().to_string(),
        url: canonical.display().to_string(),
        local_path: Some(canonical.clone()),
    };
    let parent = parent
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    Ok(create_worktree(
        &objects_of,
        commit,
        &parent,
        source,
        crate::repo::checkout::MAX_TREE_BYTES,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_plain_and_bad_revisions_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = local_worktree(&dir.path().join("nope"), "HEAD", None).unwrap_err();
        assert!(matches!(e, WorktreeError::NoSuchRepo { .. }), "{e}");
        let e = local_worktree(dir.path(), "HEAD", None).unwrap_err();
        assert!(e.to_string().contains("not a git repository"), "{e}");
        let repo = Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "one", &tree, &[])
            .unwrap();
        let e = local_worktree(dir.path(), "no-such-branch", None).unwrap_err();
        assert!(e.to_string().contains("--base no-such-branch"), "{e}");
        let wt = local_worktree(dir.path(), "HEAD", None).unwrap();
        assert_eq!(
            std::fs::read_to_string(wt.path().join("a.txt")).unwrap(),
            "a\n"
        );
    }
}
