//! Mirror cache and worktrees on fixture repositories, through `file://` URLs, local paths and
//! URL templates.

use std::path::Path;

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
    assert!(cache.mirror_dir(&source).join("objects").is_dir());

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
fn two_concurrent_first_checkouts_share_one_mirror() {
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
    let entries: Vec<String> = std::fs::read_dir(cache.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries.iter().filter(|e| e.ends_with(".git")).count(),
        1,
        "{entries:?}"
    );
    assert!(!entries.iter().any(|e| e.contains(".tmp-")), "{entries:?}");
}
