//! Worktrees on fixture repositories, through `file://` URLs, local paths and URL templates:
//! local sources read in place (full and damaged bare mirrors, working clones borrowing
//! objects through relative alternates, shallow and partial clones), and the mirror cache used
//! for remote sources (driven here through a `file://` URL marked as not local).

use std::path::{Path, PathBuf};
use std::process::Command;

use codeswarm::repo::checkout::{
    resolve, CheckoutError, CheckoutOptions, MirrorCache, RepoSource, DEFAULT_URL_TEMPLATE,
};
use codeswarm::repo::fixture;
use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, Repository, Signature, Time};

fn options(parent: &Path) -> CheckoutOptions {
    CheckoutOptions {
        refresh: false,
        parent_dir: Some(parent.to_path_buf()),
        max_tree_bytes: None,
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
    assert!(
        !cache.mirror_dir(&source).exists(),
        "a local source is read in place, not mirrored"
    );
    assert_eq!(
        wt.mirror_dir(),
        fx.path.canonicalize().unwrap().join(".git"),
        "the objects come from the source's own git directory"
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

/// The same repository as a remote source: `file://` but not marked local, so it goes through
/// the mirror cache and libgit2's fetch like an `https://` URL would.
fn as_remote(url: &str) -> RepoSource {
    RepoSource {
        spec: url.to_string(),
        url: url.to_string(),
        local_path: None,
    }
}

#[test]
fn new_commits_are_seen_or_fetched_on_demand() {
    for remote in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let fx = fixture::by_name("shopcart")
            .unwrap()
            .build(&tmp.path().join("src"))
            .unwrap();
        let cache = MirrorCache::new(tmp.path().join("cache"));
        let source = if remote {
            as_remote(&fx.url())
        } else {
            resolve(&fx.url(), DEFAULT_URL_TEMPLATE).unwrap()
        };
        cache
            .checkout(&source, Some(&fx.base_commit), &options(tmp.path()))
            .unwrap();
        assert_eq!(cache.mirror_dir(&source).exists(), remote);

        // A commit on no branch (detached HEAD in the source) arrives after the first checkout.
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
        assert_eq!(wt.base_commit(), detached, "remote: {remote}");

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
        assert_eq!(wt.base_commit(), on_branch, "remote: {remote}");
    }
}

#[test]
fn a_remote_mirror_asks_for_the_wanted_commit_alone_first() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = as_remote(&fx.url());
    let (mirror, oid) = cache
        .prepare(&source, Some(&fx.base_commit), false)
        .unwrap();
    assert_eq!(oid.to_string(), fx.base_commit);
    assert_eq!(mirror, cache.mirror_dir(&source));
    let refs = |m: &Path| -> Vec<String> {
        Repository::open_bare(m)
            .unwrap()
            .references()
            .unwrap()
            .map(|r| r.unwrap().name().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        refs(&mirror),
        vec![format!("refs/codeswarm/wanted/{}", fx.base_commit)],
        "only the wanted commit was fetched, no branch or tag"
    );
    let wt = cache
        .checkout(&source, Some(&fx.base_commit), &options(tmp.path()))
        .unwrap();
    assert!(read(&wt.path().join("textkit/strings.py")).contains("def truncate("));
    assert_eq!(wt.mirror_dir(), mirror.canonicalize().unwrap());

    // A branch name, and the default branch, need the branches: fetched then.
    let (_, main) = cache.prepare(&source, Some("main"), false).unwrap();
    assert_eq!(main.to_string(), fx.head_commit);
    assert!(refs(&mirror).contains(&"refs/heads/main".to_string()));
    let (_, head) = cache.prepare(&source, None, false).unwrap();
    assert_eq!(head.to_string(), fx.head_commit);
}

#[test]
fn two_concurrent_first_checkouts_share_one_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("textkit")
        .unwrap()
        .build(&tmp.path().join("src"))
        .unwrap();
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = as_remote(&fx.url());
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

// ---------------------------------------------------------------------------------------------
// Sources that lack objects: damaged mirrors, working clones, shallow and partial clones.

/// Run `git ARGS` in `cwd` (no user or system configuration), asserting success; its stdout.
fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        cwd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Commit on `refs/heads/main` of `repo` (HEAD points there): the parent's tree (or an empty
/// one) with `files` written and `removed` deleted. git2 writes loose objects, one file each.
fn commit(
    repo: &Repository,
    parent: Option<Oid>,
    files: &[(&str, &[u8])],
    removed: &[&str],
    when: i64,
) -> Oid {
    let parent = parent.map(|p| repo.find_commit(p).unwrap());
    let baseline = match &parent {
        Some(p) => p.tree().unwrap(),
        None => repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap(),
    };
    let mut update = TreeUpdateBuilder::new();
    for (path, content) in files {
        update.upsert(*path, repo.blob(content).unwrap(), FileMode::Blob);
    }
    for path in removed {
        update.remove(*path);
    }
    let tree = repo
        .find_tree(update.create_updated(repo, &baseline).unwrap())
        .unwrap();
    let sig = Signature::new("t", "t@example.invalid", &Time::new(when, 0)).unwrap();
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo
        .commit(
            Some("refs/heads/main"),
            &sig,
            &sig,
            &format!("commit at {when}"),
            &tree,
            &parents,
        )
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    oid
}

const APP_V1: &str = "def app():\n    return 1\n";
const APP_V2: &str = "def app():\n    return 2\n";
const UTIL: &str = "def util():\n    return 'u'\n";

/// A history with a large file added, then deleted long ago:
/// `add` (app.py v1 + data/big.bin) → `drop` (big.bin deleted) → `tip` (app.py v2 + pkg/util.py).
struct History {
    add: Oid,
    drop: Oid,
    tip: Oid,
    big: Oid,
}

fn build_history(repo: &Repository) -> History {
    let big_content: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let big = Oid::hash_object(ObjectType::Blob, &big_content).unwrap();
    let add = commit(
        repo,
        None,
        &[
            ("app.py", APP_V1.as_bytes()),
            ("data/big.bin", &big_content),
        ],
        &[],
        1_700_000_000,
    );
    let drop = commit(repo, Some(add), &[], &["data/big.bin"], 1_700_000_100);
    let tip = commit(
        repo,
        Some(drop),
        &[
            ("app.py", APP_V2.as_bytes()),
            ("pkg/util.py", UTIL.as_bytes()),
        ],
        &[],
        1_700_000_200,
    );
    History {
        add,
        drop,
        tip,
        big,
    }
}

/// Delete a loose object from `git_dir`.
fn delete_loose(git_dir: &Path, oid: Oid) {
    let hex = oid.to_string();
    let file = git_dir.join("objects").join(&hex[..2]).join(&hex[2..]);
    std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(!Repository::open(git_dir)
        .unwrap()
        .odb()
        .unwrap()
        .exists(oid));
}

/// A bare repository holding [`build_history`] without the old large blob.
fn mirror_missing_old_blob(dir: &Path) -> History {
    let repo = Repository::init_bare(dir).unwrap();
    let h = build_history(&repo);
    delete_loose(dir, h.big);
    h
}

/// Every file under `dir` with its content and modification time: equal snapshots mean
/// nothing was written there.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((
                    entry.path(),
                    std::fs::read(entry.path()).unwrap(),
                    meta.modified().unwrap(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The worktree holds `tip`'s files and nothing else, and git (the command) sees it clean.
fn assert_tip_worktree(wt: &codeswarm::repo::checkout::Worktree, h: &History) {
    assert_eq!(wt.base_commit(), h.tip);
    assert_eq!(read(&wt.path().join("app.py")), APP_V2);
    assert_eq!(read(&wt.path().join("pkg/util.py")), UTIL);
    assert!(!wt.path().join("data").exists());
    assert_eq!(wt.open().unwrap().statuses(None).unwrap().len(), 0);
    assert_eq!(git(wt.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        git(wt.path(), &["rev-parse", "HEAD"]).trim(),
        h.tip.to_string()
    );
}

#[test]
fn a_mirror_missing_an_old_unrelated_blob_checks_out_later_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("mirror.git");
    let h = mirror_missing_old_blob(&src);
    let before = snapshot(&src);
    let cache = MirrorCache::new(tmp.path().join("cache"));

    let url = format!("file://{}", src.display());
    for spec in [src.to_str().unwrap(), url.as_str()] {
        let source = resolve(spec, DEFAULT_URL_TEMPLATE).unwrap();
        let wt = cache
            .checkout(&source, Some(&h.tip.to_string()), &options(tmp.path()))
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_tip_worktree(&wt, &h);
        assert_eq!(wt.mirror_dir(), src.canonicalize().unwrap());
        // Diffs against the base work there.
        std::fs::write(wt.path().join("app.py"), APP_V1).unwrap();
        assert!(git(wt.path(), &["diff"]).contains("-    return 2"));

        let wt = cache.checkout(&source, None, &options(tmp.path())).unwrap();
        assert_eq!(wt.base_commit(), h.tip, "the default branch");
        let wt = cache
            .checkout(
                &source,
                Some(&h.drop.to_string()[..8]),
                &options(tmp.path()),
            )
            .unwrap();
        assert_eq!(read(&wt.path().join("app.py")), APP_V1);
        assert!(!wt.path().join("data").exists());
    }
    assert_eq!(
        snapshot(&src),
        before,
        "the source repository is never written"
    );
    assert!(
        !cache.root().exists(),
        "nothing is mirrored for a local source"
    );
}

#[test]
fn a_base_tree_missing_a_blob_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("mirror.git");
    let h = mirror_missing_old_blob(&src);
    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(src.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    let e = cache
        .checkout(&source, Some(&h.add.to_string()), &options(tmp.path()))
        .unwrap_err();
    match &e {
        CheckoutError::MissingObject {
            commit,
            object,
            kind,
            path,
            repo,
        } => {
            assert_eq!(commit, &h.add.to_string());
            assert_eq!(object, &h.big.to_string());
            assert_eq!(*kind, "blob");
            assert_eq!(path.as_deref(), Some("data/big.bin"));
            assert_eq!(repo, &src.canonicalize().unwrap());
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    for part in [
        &h.big.to_string(),
        "`data/big.bin`",
        &h.add.to_string(),
        "partial clone",
        "fsck",
    ] {
        assert!(msg.contains(part), "{part} not in: {msg}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("codeswarm-wt-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "a failed checkout leaves no worktree: {leftovers:?}"
    );
}

#[test]
fn a_working_clone_borrowing_objects_through_relative_alternates() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("mirror.git");
    let h = mirror_missing_old_blob(&src);
    // `--shared` borrows the mirror's objects; git allows the alternates path to be relative to
    // the objects directory, which libgit2 only resolves one level deep.
    git(
        tmp.path(),
        &["clone", "-q", "--shared", src.to_str().unwrap(), "work"],
    );
    let work = tmp.path().join("work");
    std::fs::write(
        work.join(".git/objects/info/alternates"),
        "../../../mirror.git/objects\n",
    )
    .unwrap();
    assert_eq!(git(&work, &["rev-parse", "HEAD"]).trim(), h.tip.to_string());
    // Uncommitted work in the user's checkout stays there and out of the worktree.
    std::fs::write(work.join("app.py"), "dirty = True\n").unwrap();
    std::fs::write(work.join("untracked.txt"), "mine\n").unwrap();
    let before = snapshot(tmp.path());

    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(work.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    let wt = cache.checkout(&source, None, &options(tmp.path())).unwrap();
    assert_tip_worktree(&wt, &h);
    assert!(!wt.path().join("untracked.txt").exists());
    assert_eq!(wt.mirror_dir(), work.canonicalize().unwrap().join(".git"));
    let wt2 = cache
        .checkout(&source, Some(&h.drop.to_string()), &options(tmp.path()))
        .unwrap();
    assert_eq!(read(&wt2.path().join("app.py")), APP_V1);
    // A branch of the source's remote resolves too.
    let wt3 = cache
        .checkout(&source, Some("origin/main"), &options(tmp.path()))
        .unwrap();
    assert_eq!(wt3.base_commit(), h.tip);
    drop((wt, wt2, wt3));
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "neither the clone nor the mirror it borrows from is written"
    );
}

#[test]
fn a_shallow_clone_checks_out_its_tip_and_names_the_deepening_for_older_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("mirror.git");
    let h = mirror_missing_old_blob(&src);
    let url = format!("file://{}", src.display());
    git(
        tmp.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let shallow = tmp.path().join("shallow");
    assert!(shallow.join(".git/shallow").is_file());
    let before = snapshot(&shallow);

    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(shallow.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    for rev in [None, Some(h.tip.to_string())] {
        let wt = cache
            .checkout(&source, rev.as_deref(), &options(tmp.path()))
            .unwrap();
        assert_tip_worktree(&wt, &h);
        // The grafts came along: git's history walk stops at the boundary as in the source.
        assert_eq!(
            git(wt.path(), &["log", "--format=%H"]).trim(),
            h.tip.to_string()
        );
    }

    for rev in [h.drop.to_string(), "HEAD~1".to_string()] {
        let e = cache
            .checkout(&source, Some(&rev), &options(tmp.path()))
            .unwrap_err();
        match &e {
            CheckoutError::ShallowClone { rev: r, path } => {
                assert_eq!(r, &rev);
                assert_eq!(path, &shallow.canonicalize().unwrap());
            }
            other => panic!("{rev}: {other:?}"),
        }
        let msg = e.to_string();
        for part in [rev.as_str(), "shallow clone", "--deepen", "--unshallow"] {
            assert!(msg.contains(part), "{part} not in: {msg}");
        }
    }
    assert_eq!(snapshot(&shallow), before);

    // After the user deepens the clone, the older commit checks out.
    git(&shallow, &["fetch", "-q", "--deepen=1"]);
    let wt = cache
        .checkout(&source, Some(&h.drop.to_string()), &options(tmp.path()))
        .unwrap();
    assert_eq!(read(&wt.path().join("app.py")), APP_V1);
}

#[test]
fn a_partial_clone_checks_out_what_it_has_and_names_what_it_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("full.git");
    let repo = Repository::init_bare(&src).unwrap();
    let h = build_history(&repo);
    repo.config()
        .unwrap()
        .set_bool("uploadpack.allowFilter", true)
        .unwrap();
    let url = format!("file://{}", src.display());
    git(
        tmp.path(),
        &["clone", "-q", "--filter=blob:none", &url, "partial"],
    );
    let partial = tmp.path().join("partial");
    let config = read(&partial.join(".git/config"));
    assert!(config.contains("partialclone"), "{config}");

    let cache = MirrorCache::new(tmp.path().join("cache"));
    let source = resolve(partial.to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap();
    let wt = cache.checkout(&source, None, &options(tmp.path())).unwrap();
    assert_tip_worktree(&wt, &h);

    // The older commit's app.py was never fetched.
    let e = cache
        .checkout(&source, Some(&h.drop.to_string()), &options(tmp.path()))
        .unwrap_err();
    match &e {
        CheckoutError::MissingObject { kind, path, .. } => {
            assert_eq!(*kind, "blob");
            assert_eq!(path.as_deref(), Some("app.py"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("archive"), "{e}");

    // The advice works: git fetches the commit's files, then the checkout succeeds.
    let advice = format!("archive {} >/dev/null", h.drop);
    assert!(e.to_string().contains(&advice), "{e}");
    git(
        &partial,
        &["archive", "-o", "/dev/null", &h.drop.to_string()],
    );
    let wt = cache
        .checkout(&source, Some(&h.drop.to_string()), &options(tmp.path()))
        .unwrap();
    assert_eq!(read(&wt.path().join("app.py")), APP_V1);
}
