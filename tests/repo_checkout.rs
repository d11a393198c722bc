//! Checkout on fixture repositories through `file://` URLs, local paths and URL templates; local
//! sources (working, bare, shallow clones, histories missing objects) are borrowed, not copied.

use std::path::{Path, PathBuf};

use codeswarm::repo::checkout::{
    resolve, CheckoutError, CheckoutOptions, MirrorCache, DEFAULT_URL_TEMPLATE,
};
use codeswarm::repo::fixture;
use git2::{Repository, Signature, Time};

fn options(parent: &Path) -> CheckoutOptions {
    CheckoutOptions {
        refresh: false,
        parent_dir: Some(parent.to_path_buf()),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn file_url_checkout_at_the_base_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap();
    assert_eq!(
        source.local_path.as_deref(),
        Some(fx.path.canonicalize().unwrap().as_path())
    );

    let wt = cache
        .checkout(&source, Some(&fx.base_commit), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt.base_sha(), fx.base_commit);
    assert!(wt.path().starts_with(tmp.path()));
    assert!(read(&wt.path().join("textkit/strings.py")).contains("def truncate("));
    assert!(wt.path().join("tests/test_strings.py").exists());
    assert!(
        !read(&wt.path().join("README.md")).contains("Reporting bugs"),
        "README is from the base, not HEAD"
    );

    let repo = wt.open().unwrap();
    assert!(repo.head_detached().unwrap());
    assert_eq!(
        repo.head().unwrap().target().unwrap().to_string(),
        fx.base_commit
    );
    let statuses = repo.statuses(None).unwrap();
    assert_eq!(statuses.len(), 0, "a fresh worktree is clean");
    // A local source is never copied: the worktree borrows its objects.
    assert!(!cache.mirror_dir(&source).exists());
    let alternates = std::fs::read_to_string(repo.path().join("objects/info/alternates")).unwrap();
    assert!(
        alternates
            .trim()
            .starts_with(fx.path.canonicalize().unwrap().to_str().unwrap()),
        "{alternates}"
    );

    // A short sha and a branch name resolve too.
    let wt2 = cache
        .checkout(&source, Some(&fx.base_commit[..10]), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt2.base_sha(), fx.base_commit);
    let wt3 = cache
        .checkout(&source, Some("main"), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt3.base_sha(), fx.head_commit);

    let dir = wt.path().to_path_buf();
    drop(wt);
    assert!(!dir.exists(), "the worktree is removed with its value");
}

#[test]
fn local_path_checkout_reads_the_user_repository_only() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("statskit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let user = Repository::open(&fx.path).unwrap();
    let refs_before: Vec<String> = user
        .references()
        .unwrap()
        .map(|r| r.unwrap().name().unwrap().to_string())
        .collect();

    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(fx.path.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    let wt = cache.checkout(&source, None, &options(tmp.path())).unwrap();
    assert_eq!(
        wt.base_sha(),
        fx.head_commit,
        "no revision means the default branch"
    );
    assert!(read(&wt.path().join("README.md")).contains("Reporting bugs"));

    // Editing the worktree never reaches the user's checkout.
    std::fs::write(wt.path().join("statskit/core.py"), "broken = True\n").unwrap();
    assert!(read(&fx.path.join("statskit/core.py")).contains("def mean("));
    let refs_after: Vec<String> = user
        .references()
        .unwrap()
        .map(|r| r.unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(refs_before, refs_after);
    assert_eq!(user.statuses(None).unwrap().len(), 0);

    // reset() throws edits and new files away.
    std::fs::write(wt.path().join("new.py"), "x = 1\n").unwrap();
    wt.reset().unwrap();
    assert!(read(&wt.path().join("statskit/core.py")).contains("def mean("));
    assert!(!wt.path().join("new.py").exists());

    // The same repository through `file://` shares the mirror.
    let via_url = resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap();
    assert_eq!(cache.mirror_dir(&via_url), cache.mirror_dir(&source));
}

#[test]
fn url_template_resolves_owner_name() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("configkit")
        .unwrap()
        .build(&tmp.path().join("acme"))
        .unwrap();
    let template = format!("file://{}/{{name}}", tmp.path().join("{owner}").display());
    let source = resolve("acme/configkit", &template).unwrap();
    assert_eq!(source.url, fx.url());
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let wt = cache
        .checkout(&source, Some(&fx.base_commit), &options(tmp.path()))
        .unwrap();
    assert!(wt.path().join("configkit/env.py").exists());
    let e = resolve("acme/unknown", &template).unwrap_err();
    assert!(matches!(e, CheckoutError::NoSuchPath { .. }), "{e}");
}

#[test]
fn missing_commits_and_bad_sources_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap();

    let missing = "0123456789abcdef0123456789abcdef01234567";
    let e = cache
        .checkout(&source, Some(missing), &options(tmp.path()))
        .unwrap_err();
    match &e {
        CheckoutError::MissingCommit { rev, url } => {
            assert_eq!(rev, missing);
            assert_eq!(url, &fx.url());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().contains(missing) && e.to_string().contains("check the sha"),
        "{e}"
    );
    let e = cache
        .checkout(&source, Some("no-such-branch"), &options(tmp.path()))
        .unwrap_err();
    assert!(matches!(e, CheckoutError::MissingCommit { .. }), "{e}");

    let plain = tempfile::tempdir().unwrap();
    let e = resolve(plain.path().to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap_err();
    assert!(matches!(e, CheckoutError::NotARepository { .. }), "{e}");

    // Nothing listens on the discard port: the fetch fails fast.
    let source = resolve("http://127.0.0.1:9/owner/name.git", DEFAULT_URL_TEMPLATE).unwrap();
    let e = cache
        .checkout(&source, None, &options(tmp.path()))
        .unwrap_err();
    assert!(matches!(e, CheckoutError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().contains("http://127.0.0.1:9/owner/name.git"),
        "{e}"
    );
    assert!(
        !cache.mirror_dir(&source).exists(),
        "a failed clone leaves no mirror behind"
    );
}

#[test]
fn new_commits_are_fetched_on_demand() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("shopcart")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap();
    cache
        .checkout(&source, Some(&fx.base_commit), &options(tmp.path()))
        .unwrap();

    // A commit on no branch (detached HEAD in the source) arrives after the mirror was made.
    let repo = Repository::open(&fx.path).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let sig = Signature::new("t", "t@example.invalid", &Time::new(1_800_000_000, 0)).unwrap();
    let tree = head.tree().unwrap();
    let detached = repo
        .commit(None, &sig, &sig, "detached", &tree, &[&head])
        .unwrap();
    repo.set_head_detached(detached).unwrap();
    let wt = cache
        .checkout(&source, Some(&detached.to_string()), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt.base_commit(), detached);

    // And a new branch commit.
    let on_branch = repo
        .commit(
            Some("refs/heads/feature"),
            &sig,
            &sig,
            "feature",
            &tree,
            &[&head],
        )
        .unwrap();
    let wt = cache
        .checkout(&source, Some("feature"), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt.base_commit(), on_branch);
}

#[test]
fn two_concurrent_checkouts_of_a_local_source_copy_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (cache, source, base) = (cache.clone(), source.clone(), fx.base_commit.clone());
            std::thread::spawn(move || {
                cache
                    .prepare(&source, Some(&base), false)
                    .map(|(_, oid)| oid.to_string())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), fx.base_commit);
    }
    assert!(!cache.root().exists() || std::fs::read_dir(cache.root()).unwrap().count() == 0);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A history where a large file was added and deleted long before the base commit, with that
/// file's blob gone from the object store (as in snapshots that leave out large files, and in
/// partial clones). Returns (repository dir, the blob's id, base commit, first commit).
fn history_with_a_lost_blob(root: &Path) -> (PathBuf, String, String, String) {
    let dir = root.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("big.bin"), "x".repeat(100_000)).unwrap();
    std::fs::write(dir.join("a.py"), "A = 1\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "big file"]);
    let first = git(&dir, &["rev-parse", "HEAD"]);
    let blob = git(&dir, &["rev-parse", "HEAD:big.bin"]);
    git(&dir, &["rm", "-q", "big.bin"]);
    std::fs::write(dir.join("a.py"), "A = 2\n").unwrap();
    git(&dir, &["commit", "-qam", "drop it"]);
    let base = git(&dir, &["rev-parse", "HEAD"]);
    // Objects written by add/commit are loose: remove the blob's file.
    let loose = dir.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(&loose).unwrap();
    (dir, blob, base, first)
}

#[test]
fn objects_missing_from_history_do_not_matter_unless_the_base_needs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, blob, base, first) = history_with_a_lost_blob(tmp.path());
    let cache = MirrorCache::new(tmp.path().join("cache"));
    // A working clone as the source, by path and by file:// URL.
    for spec in [
        dir.display().to_string(),
        format!("file://{}", dir.display()),
    ] {
        let source = resolve(&spec, DEFAULT_URL_TEMPLATE).unwrap();
        let wt = cache
            .checkout(&source, Some(&base), &options(tmp.path()))
            .unwrap();
        assert_eq!(read(&wt.path().join("a.py")), "A = 2\n");
        assert!(!wt.path().join("big.bin").exists());
    }
    // The same as a bare repository (a mirror) whose history lacks the blob.
    let bare = tmp.path().join("bare.git");
    git(
        tmp.path(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    git(&bare, &["config", "fetch.unpackLimit", "100000"]);
    git(&dir, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    // Restore the blob in the source long enough to fill the bare repository, then lose it there.
    std::fs::write(dir.join("big.bin"), "x".repeat(100_000)).unwrap();
    git(&dir, &["hash-object", "-w", "big.bin"]);
    std::fs::remove_file(dir.join("big.bin")).unwrap();
    git(&bare, &["fetch", "-q", dir.to_str().unwrap(), "main:main"]);
    let loose = bare.join("objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(&loose).unwrap();
    let source = resolve(bare.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    let wt = cache
        .checkout(&source, Some(&base), &options(tmp.path()))
        .unwrap();
    assert_eq!(read(&wt.path().join("a.py")), "A = 2\n");
    // The first commit needs the lost blob: a clear error naming the commit and the source.
    let e = cache
        .checkout(&source, Some(&first), &options(tmp.path()))
        .unwrap_err();
    assert!(matches!(e, CheckoutError::MissingObject { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&first) && e.to_string().contains("partial"),
        "{e}"
    );
}

#[test]
fn shallow_clones_check_out_what_they_hold_and_say_to_deepen_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("statskit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let shallow = tmp.path().join("shallow");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &fx.url(),
            shallow.to_str().unwrap(),
        ],
    );
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(shallow.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    let wt = cache
        .checkout(&source, Some(&fx.head_commit), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt.base_sha(), fx.head_commit);
    assert_ne!(fx.base_commit, fx.head_commit);
    let e = cache
        .checkout(&source, Some(&fx.base_commit), &options(tmp.path()))
        .unwrap_err();
    assert!(
        matches!(e, CheckoutError::OutsideShallowClone { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("--deepen") && e.to_string().contains(&fx.base_commit),
        "{e}"
    );
}
