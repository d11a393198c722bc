//! Getting a repository onto disk for a job.
//!
//! 1. [`resolve`] turns what the user typed into a [`RepoSource`]: `owner/name` goes through a
//!    URL template (default [`DEFAULT_URL_TEMPLATE`]; placeholders `{owner}`, `{name}` and
//!    `{repo}` = `owner/name`), while URLs (`https://…`, `ssh://…`, `git@host:path`, `file://…`)
//!    and local paths are used as given.
//! 2. A repository on this machine (a path or `file://`: a full or bare clone, a mirror, a
//!    partial or shallow clone) is never copied: the worktree borrows its object directory
//!    directly, so only the objects of the base commit's tree are ever read. Objects missing from
//!    its history (a large file deleted long ago, a partial clone's unfetched blobs) do not
//!    matter unless the base commit needs them; then the error names the object. A base commit
//!    outside a shallow clone is an error that says to deepen it.
//! 3. A remote repository goes through [`MirrorCache`]: one bare mirror per source under
//!    [`crate::paths::repos_dir`] (key derived from the URL). A missing commit is fetched by id
//!    first (only what it needs), then with every branch and tag; a branch name or the default
//!    branch fetches branches and tags. Updates run under an exclusive lock file, so two
//!    processes can share the cache.
//! 4. [`MirrorCache::checkout`] gives the job a [`Worktree`]: a fresh git repository in a
//!    temporary directory the caller owns, borrowing the objects (git alternates, as
//!    `git clone --shared` does), with HEAD detached at the base commit and the tree checked
//!    out. Diffs against the base commit are made there ([`super::patch`]).
//!
//! A local repository is only ever read: its objects, checkout, index and refs are never
//! written.

use std::path::{Path, PathBuf};

use git2::{
    build::CheckoutBuilder, AutotagOption, FetchOptions, ObjectType, Oid, ProxyOptions, Repository,
    RepositoryOpenFlags, ResetType,
};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::lock::FileLock;

/// The default template that turns `owner/name` into a clone URL.
pub const DEFAULT_URL_TEMPLATE: &str = "https://github.com/{owner}/{name}.git";

/// Why a repository could not be resolved, mirrored or checked out.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error(
        "`{spec}` is not a repository URL, an existing local path, or `owner/name`; pass e.g. \
         `owner/name`, `https://host/owner/name.git`, `file:///path/to/repo` or the path of a local clone"
    )]
    UnknownSpec { spec: String },
    #[error(
        "URL template `{template}` has no `{{owner}}`, `{{name}}` or `{{repo}}` placeholder; use e.g. \
         `{DEFAULT_URL_TEMPLATE}`"
    )]
    BadTemplate { template: String },
    #[error("{} does not exist; pass the path of a local git clone", path.display())]
    NoSuchPath { path: PathBuf },
    #[error("{} is not a git repository; pass the root directory of a git clone (the one holding `.git`)", path.display())]
    NotARepository { path: PathBuf },
    #[error(
        "could not fetch {url}: {message}. Check that the repository exists (unknown `owner/name`?), \
         that the URL or URL template is right, and that the network is reachable"
    )]
    Unreachable { url: String, message: String },
    #[error(
        "commit `{rev}` is not in {url} (all branches and tags were fetched); check the sha or \
         branch name, or push the commit to a branch of that repository"
    )]
    MissingCommit { rev: String, url: String },
    #[error(
        "commit `{rev}` is not in the shallow clone {}; deepen it (`git -C {} fetch --deepen=1000`, \
         or `git fetch --unshallow`) so that it holds the base commit",
        path.display(), path.display()
    )]
    OutsideShallowClone { rev: String, path: PathBuf },
    #[error(
        "the base commit {commit} needs an object that {} does not hold ({message}); a partial or \
         incomplete clone lacks it: fetch it (`git fetch` in a full clone, or clone without \
         `--filter`)",
        path.display()
    )]
    MissingObject {
        commit: String,
        path: PathBuf,
        message: String,
    },
    #[error("mirror {}: {message}; delete that directory to have it cloned again", path.display())]
    BrokenMirror { path: PathBuf, message: String },
    #[error("could not create a worktree in {}: {message}", path.display())]
    Worktree { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckoutError + '_ {
    move |source| CheckoutError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a repository comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSource {
    /// What was asked for (`owner/name`, a URL, a path).
    pub spec: String,
    /// The URL or absolute local path fetched from.
    pub url: String,
    /// The canonical directory when the repository is on this machine (path or `file://`).
    pub local_path: Option<PathBuf>,
}

impl RepoSource {
    /// A short name for logs and reports.
    pub fn display_name(&self) -> &str {
        &self.spec
    }
}

/// Resolve a repository spec: a URL or local path as given, else `owner/name` through `template`.
pub fn resolve(spec: &str, template: &str) -> Result<RepoSource, CheckoutError> {
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Err(CheckoutError::UnknownSpec {
            spec: spec.to_string(),
        });
    }
    if let Some(source) = resolve_location(trimmed)? {
        return Ok(RepoSource {
            spec: trimmed.to_string(),
            ..source
        });
    }
    let Some((owner, name)) = parse_owner_name(trimmed) else {
        return Err(CheckoutError::UnknownSpec {
            spec: trimmed.to_string(),
        });
    };
    if !["{owner}", "{name}", "{repo}"]
        .iter()
        .any(|p| template.contains(p))
    {
        return Err(CheckoutError::BadTemplate {
            template: template.to_string(),
        });
    }
    let url = template
        .replace("{repo}", &format!("{owner}/{name}"))
        .replace("{owner}", owner)
        .replace("{name}", name);
    match resolve_location(&url)? {
        Some(source) => Ok(RepoSource {
            spec: trimmed.to_string(),
            ..source
        }),
        // A template yielding neither a URL nor an existing path, e.g. a relative path that
        // does not exist: report it as that path.
        None => Err(CheckoutError::NoSuchPath {
            path: PathBuf::from(url),
        }),
    }
}

/// A URL, `file://` URL or existing/explicit local path; `None` when `s` is none of those.
fn resolve_location(s: &str) -> Result<Option<RepoSource>, CheckoutError> {
    if let Some(rest) = s.strip_prefix("file://") {
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        let dir = local_repo_dir(Path::new(path))?;
        return Ok(Some(RepoSource {
            spec: s.to_string(),
            url: s.to_string(),
            local_path: Some(dir),
        }));
    }
    if s.contains("://") || is_scp_like(s) {
        return Ok(Some(RepoSource {
            spec: s.to_string(),
            url: s.to_string(),
            local_path: None,
        }));
    }
    let path = Path::new(s);
    let explicit =
        s.starts_with('/') || s.starts_with("./") || s.starts_with("../") || s == "." || s == "..";
    if explicit || path.exists() {
        let dir = local_repo_dir(path)?;
        let url = dir.to_string_lossy().into_owned();
        return Ok(Some(RepoSource {
            spec: s.to_string(),
            url,
            local_path: Some(dir),
        }));
    }
    Ok(None)
}

/// `user@host:path` (scp-like ssh syntax), not a Windows drive letter.
fn is_scp_like(s: &str) -> bool {
    match (s.find('@'), s.find(':')) {
        (Some(at), Some(colon)) => at < colon && !s[..colon].contains('/'),
        _ => false,
    }
}

fn parse_owner_name(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_suffix(".git").unwrap_or(s);
    let (owner, name) = s.split_once('/')?;
    let ok = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (ok(owner) && ok(name)).then_some((owner, name))
}

/// Check that `path` is a git repository (bare or not) and return its canonical directory.
fn local_repo_dir(path: &Path) -> Result<PathBuf, CheckoutError> {
    if !path.exists() {
        return Err(CheckoutError::NoSuchPath {
            path: path.to_path_buf(),
        });
    }
    let dir = path.canonicalize().map_err(io_err(path))?;
    match Repository::open_ext(
        &dir,
        RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    ) {
        Ok(_) => Ok(dir),
        Err(_) => Err(CheckoutError::NotARepository { path: dir }),
    }
}

/// Resolve `spec` through `template` and check it out at `rev` (`None`: the default branch)
/// using the mirror cache under [`crate::paths::repos_dir`].
pub fn checkout(
    spec: &str,
    rev: Option<&str>,
    template: &str,
    options: &CheckoutOptions,
) -> Result<Worktree, CheckoutError> {
    let source = resolve(spec, template)?;
    MirrorCache::at_default_location().checkout(&source, rev, options)
}

/// Options for [`MirrorCache::checkout`].
#[derive(Debug, Clone, Default)]
pub struct CheckoutOptions {
    /// Fetch from the source even when the requested commit is already in the mirror (to move
    /// branch names forward). Without a revision the mirror is always refreshed.
    pub refresh: bool,
    /// Where to create the temporary worktree; default: the system temp directory.
    pub parent_dir: Option<PathBuf>,
}

/// The bare mirror cache.
#[derive(Debug, Clone)]
pub struct MirrorCache {
    root: PathBuf,
}

impl MirrorCache {
    /// A cache rooted at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> MirrorCache {
        MirrorCache { root: root.into() }
    }

    /// The cache under [`crate::paths::repos_dir`].
    pub fn at_default_location() -> MirrorCache {
        MirrorCache::new(crate::paths::repos_dir())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the bare mirror for `source`.
    pub fn mirror_dir(&self, source: &RepoSource) -> PathBuf {
        self.root.join(format!("{}.git", mirror_key(source)))
    }

    /// Make sure the objects of `rev` (a sha, short sha, branch or tag; `None` = the source's
    /// default branch) are at hand: a local source's own git directory, or the mirror of a
    /// remote one, fetched as needed. Returns that git directory and the commit `rev` resolves
    /// to.
    pub fn prepare(
        &self,
        source: &RepoSource,
        rev: Option<&str>,
        refresh: bool,
    ) -> Result<(PathBuf, Oid), CheckoutError> {
        if let Some(local) = &source.local_path {
            return prepare_local(local, &source.url, rev);
        }
        std::fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let dir = self.mirror_dir(source);
        let lock_path = dir.with_extension("lock");
        let _lock = FileLock::exclusive(&lock_path).map_err(io_err(&lock_path))?;

        let is_sha = |r: &str| r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit());
        if !dir.exists() {
            // A new mirror is built beside its final name and renamed into place once it holds
            // the commit, so a failed first fetch leaves nothing behind.
            return self.clone_mirror(source, &dir, rev);
        }
        let repo = Repository::open_bare(&dir).map_err(|e| CheckoutError::BrokenMirror {
            path: dir.clone(),
            message: e.message().to_string(),
        })?;
        let mut fetched = false;
        if refresh || rev.is_none() {
            match fetch_into(&repo, &source.url, &[]) {
                Ok(()) => fetched = true,
                Err(e) => {
                    // Offline or the source moved away: the cached mirror may still serve.
                    tracing::warn!(url = %source.url, error = %e.message(), "refreshing the mirror failed; using the cached copy");
                }
            }
        }
        let rev_name = rev.unwrap_or("HEAD");
        if let Some(oid) = resolve_rev(&repo, rev_name) {
            return Ok((dir, oid));
        }
        if is_sha(rev_name) && fetch_wanted(&repo, &source.url, rev_name) {
            if let Some(oid) = resolve_rev(&repo, rev_name) {
                return Ok((dir, oid));
            }
        }
        if !fetched {
            tracing::info!(url = %source.url, rev = rev_name, "commit not in the mirror; fetching branches and tags");
            fetch_into(&repo, &source.url, &[]).map_err(|e| unreachable(source, &e))?;
            if let Some(oid) = resolve_rev(&repo, rev_name) {
                return Ok((dir, oid));
            }
        }
        Err(CheckoutError::MissingCommit {
            rev: rev_name.to_string(),
            url: source.url.clone(),
        })
    }

    /// Mirror `source`, then create a clean worktree at `rev` (see [`MirrorCache::prepare`]).
    pub fn checkout(
        &self,
        source: &RepoSource,
        rev: Option<&str>,
        options: &CheckoutOptions,
    ) -> Result<Worktree, CheckoutError> {
        let (mirror, base) = self.prepare(source, rev, options.refresh)?;
        let parent = options
            .parent_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let worktree = create_worktree(&mirror, base, &parent, source.clone())?;
        tracing::info!(source = %source.spec, base = %base, dir = %worktree.path().display(), "worktree ready");
        Ok(worktree)
    }

    fn clone_mirror(
        &self,
        source: &RepoSource,
        dir: &Path,
        rev: Option<&str>,
    ) -> Result<(PathBuf, Oid), CheckoutError> {
        tracing::info!(url = %source.url, mirror = %dir.display(), "creating a bare mirror");
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = dir.with_extension(format!("tmp-{}-{stamp}", std::process::id()));
        let result = (|| {
            let repo = Repository::init_bare(&tmp).map_err(|e| CheckoutError::BrokenMirror {
                path: tmp.clone(),
                message: e.message().to_string(),
            })?;
            let rev_name = rev.unwrap_or("HEAD");
            let by_id = rev_name.len() == 40
                && rev_name.chars().all(|c| c.is_ascii_hexdigit())
                && fetch_wanted(&repo, &source.url, rev_name);
            let oid = match by_id.then(|| resolve_rev(&repo, rev_name)).flatten() {
                Some(oid) => oid,
                None => {
                    fetch_into(&repo, &source.url, &[]).map_err(|e| unreachable(source, &e))?;
                    resolve_rev(&repo, rev_name).ok_or_else(|| CheckoutError::MissingCommit {
                        rev: rev_name.to_string(),
                        url: source.url.clone(),
                    })?
                }
            };
            drop(repo);
            std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
            Ok((dir.to_path_buf(), oid))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }
}

/// A local repository's git directory and the commit `rev` resolves to there; nothing is
/// copied or written.
fn prepare_local(
    path: &Path,
    url: &str,
    rev: Option<&str>,
) -> Result<(PathBuf, Oid), CheckoutError> {
    let repo = Repository::open_ext(
        path,
        RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .map_err(|_| CheckoutError::NotARepository {
        path: path.to_path_buf(),
    })?;
    let git_dir = repo.commondir().to_path_buf();
    let rev_name = rev.unwrap_or("HEAD");
    match resolve_rev(&repo, rev_name) {
        Some(oid) => Ok((git_dir, oid)),
        None if git_dir.join("shallow").exists() => Err(CheckoutError::OutsideShallowClone {
            rev: rev_name.to_string(),
            path: path.to_path_buf(),
        }),
        None => Err(CheckoutError::MissingCommit {
            rev: rev_name.to_string(),
            url: url.to_string(),
        }),
    }
}

/// Fetch just the commit `sha` (servers that allow fetching by id, and local sources, do),
/// under `refs/codeswarm/wanted/`. False when the source refuses or lacks it.
fn fetch_wanted(repo: &Repository, url: &str, sha: &str) -> bool {
    let spec = format!("+{sha}:refs/codeswarm/wanted/{sha}");
    match fetch_into(repo, url, &[spec.as_str()]) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e.message(), "fetching the commit by id failed");
            false
        }
    }
}

fn unreachable(source: &RepoSource, e: &git2::Error) -> CheckoutError {
    CheckoutError::Unreachable {
        url: source.url.clone(),
        message: e.message().to_string(),
    }
}

/// A readable, collision-free directory name for a source: sanitized URL tail plus a hash.
pub fn mirror_key(source: &RepoSource) -> String {
    let normalized = match &source.local_path {
        Some(p) => p.to_string_lossy().into_owned(),
        None => {
            let u = source.url.trim_end_matches('/');
            u.strip_suffix(".git").unwrap_or(u).to_string()
        }
    };
    let digest = hex::encode(Sha256::digest(normalized.as_bytes()));
    let tail: Vec<&str> = normalized
        .rsplit(['/', ':'])
        .filter(|s| !s.is_empty())
        .take(2)
        .collect();
    let readable: String = tail
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let readable = readable.trim_matches('.');
    format!("{readable}-{}", &digest[..12])
}

/// Fetch branches and tags (plus the source's HEAD) into the bare mirror, or just `extra`
/// refspecs when given, then point the mirror's HEAD at the source's default branch.
fn fetch_into(repo: &Repository, url: &str, extra: &[&str]) -> Result<(), git2::Error> {
    let mut remote = repo.remote_anonymous(url)?;
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    let mut options = FetchOptions::new();
    options.proxy_options(proxy);
    options.download_tags(AutotagOption::All);
    let default_specs = [
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
        "+HEAD:refs/codeswarm/source-head",
    ];
    let specs: Vec<&str> = if extra.is_empty() {
        default_specs.to_vec()
    } else {
        extra.to_vec()
    };
    remote.fetch(&specs, Some(&mut options), Some("codeswarm mirror fetch"))?;
    if extra.is_empty() {
        match remote.default_branch() {
            Ok(buf) => {
                if let Some(name) = buf.as_str() {
                    if repo.find_reference(name).is_ok() {
                        repo.set_head(name)?;
                    }
                }
            }
            // Detached source HEAD: refs/codeswarm/source-head still records it.
            Err(e) => tracing::debug!(error = %e.message(), "source has no default branch"),
        }
    }
    Ok(())
}

/// Resolve a revision to a commit in `repo`.
fn resolve_rev(repo: &Repository, rev: &str) -> Option<Oid> {
    if rev == "HEAD" {
        if let Ok(head) = repo.head() {
            if let Ok(commit) = head.peel_to_commit() {
                return Some(commit.id());
            }
        }
        return repo
            .find_reference("refs/codeswarm/source-head")
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id());
    }
    if rev.len() == 40 {
        if let Ok(oid) = Oid::from_str(rev) {
            return repo.find_commit(oid).ok().map(|c| c.id());
        }
    }
    let object = repo.revparse_single(rev).ok()?;
    object.peel(ObjectType::Commit).ok().map(|c| c.id())
}

/// A clean checkout of one commit in a temporary directory, removed when dropped (unless
/// [`Worktree::keep`] is called). The directory is a git repository whose HEAD is detached at
/// the base commit and whose objects come from the mirror, so `git diff`, `git status` and
/// [`super::patch::diff_worktree`] work there.
#[derive(Debug)]
pub struct Worktree {
    dir: TempDir,
    base: Oid,
    mirror: PathBuf,
    source: RepoSource,
}

impl Worktree {
    /// The worktree root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The commit the worktree was created at.
    pub fn base_commit(&self) -> Oid {
        self.base
    }

    /// The base commit as a 40-character hex sha.
    pub fn base_sha(&self) -> String {
        self.base.to_string()
    }

    /// The mirror the objects come from.
    pub fn mirror_dir(&self) -> &Path {
        &self.mirror
    }

    pub fn source(&self) -> &RepoSource {
        &self.source
    }

    /// Open the worktree's git repository.
    pub fn open(&self) -> Result<Repository, git2::Error> {
        Repository::open(self.dir.path())
    }

    /// Throw away every change: tracked files back to the base commit, untracked and ignored
    /// files removed.
    pub fn reset(&self) -> Result<(), CheckoutError> {
        let wt_err = |e: git2::Error| CheckoutError::Worktree {
            path: self.path().to_path_buf(),
            message: e.message().to_string(),
        };
        let repo = self.open().map_err(wt_err)?;
        let object = repo
            .find_object(self.base, Some(ObjectType::Commit))
            .map_err(wt_err)?;
        let mut checkout = CheckoutBuilder::new();
        checkout.force();
        repo.reset(&object, ResetType::Hard, Some(&mut checkout))
            .map_err(wt_err)?;
        let mut options = git2::StatusOptions::new();
        options
            .include_untracked(true)
            .include_ignored(true)
            .recurse_untracked_dirs(true)
            .recurse_ignored_dirs(true);
        let statuses = repo.statuses(Some(&mut options)).map_err(wt_err)?;
        for entry in statuses.iter() {
            let status = entry.status();
            if !(status.is_wt_new() || status.is_ignored()) {
                continue;
            }
            let Some(rel) = entry.path() else { continue };
            let full = self.path().join(rel);
            let removed = if full.is_dir() {
                std::fs::remove_dir_all(&full)
            } else {
                std::fs::remove_file(&full)
            };
            if let Err(source) = removed {
                if source.kind() != std::io::ErrorKind::NotFound {
                    return Err(CheckoutError::Io { path: full, source });
                }
            }
        }
        Ok(())
    }

    /// Keep the directory on disk after this value is dropped; returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

/// Create a worktree for `base` from the bare mirror at `mirror`, inside `parent`.
pub fn create_worktree(
    mirror: &Path,
    base: Oid,
    parent: &Path,
    source: RepoSource,
) -> Result<Worktree, CheckoutError> {
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let dir = tempfile::Builder::new()
        .prefix("codeswarm-wt-")
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let wt_err = |e: git2::Error| CheckoutError::Worktree {
        path: dir.path().to_path_buf(),
        message: e.message().to_string(),
    };
    let repo = Repository::init(dir.path()).map_err(wt_err)?;
    let objects = mirror
        .canonicalize()
        .map_err(io_err(mirror))?
        .join("objects");
    let alternates = repo.path().join("objects").join("info").join("alternates");
    if let Some(info) = alternates.parent() {
        std::fs::create_dir_all(info).map_err(io_err(info))?;
    }
    std::fs::write(&alternates, format!("{}\n", objects.display())).map_err(io_err(&alternates))?;
    drop(repo);
    // Reopen so the object database picks the alternates up.
    let repo = Repository::open(dir.path()).map_err(wt_err)?;
    let commit = repo.find_commit(base).map_err(wt_err)?;
    repo.set_head_detached(commit.id()).map_err(wt_err)?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force();
    repo.checkout_head(Some(&mut checkout)).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            CheckoutError::MissingObject {
                commit: base.to_string(),
                path: mirror.to_path_buf(),
                message: e.message().to_string(),
            }
        } else {
            wt_err(e)
        }
    })?;
    drop(commit);
    drop(repo);
    Ok(Worktree {
        dir,
        base,
        mirror: mirror.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_name_goes_through_the_template() {
        let s = resolve("psf/requests", DEFAULT_URL_TEMPLATE).unwrap();
        assert_eq!(s.url, "https://github.com/psf/requests.git");
        assert_eq!(s.local_path, None);
        let s = resolve("a/b", "ssh://git@example.invalid/{repo}").unwrap();
        assert_eq!(s.url, "ssh://git@example.invalid/a/b");
    }

    #[test]
    fn urls_are_used_as_given() {
        let s = resolve("https://example.invalid/x/y.git", DEFAULT_URL_TEMPLATE).unwrap();
        assert_eq!(s.url, "https://example.invalid/x/y.git");
        let s = resolve("git@example.invalid:x/y.git", DEFAULT_URL_TEMPLATE).unwrap();
        assert_eq!(s.url, "git@example.invalid:x/y.git");
    }

    #[test]
    fn bad_specs_and_templates_are_named() {
        let e = resolve("not a repo", DEFAULT_URL_TEMPLATE).unwrap_err();
        assert!(matches!(e, CheckoutError::UnknownSpec { .. }), "{e}");
        assert!(e.to_string().contains("owner/name"));
        let e = resolve("a/b", "https://example.invalid/fixed.git").unwrap_err();
        assert!(matches!(e, CheckoutError::BadTemplate { .. }), "{e}");
        let e = resolve("/definitely/not/here", DEFAULT_URL_TEMPLATE).unwrap_err();
        assert!(matches!(e, CheckoutError::NoSuchPath { .. }), "{e}");
    }

    #[test]
    fn a_plain_directory_is_not_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve(dir.path().to_str().unwrap(), DEFAULT_URL_TEMPLATE).unwrap_err();
        assert!(matches!(e, CheckoutError::NotARepository { .. }), "{e}");
        let url = format!("file://{}", dir.path().display());
        let e = resolve(&url, DEFAULT_URL_TEMPLATE).unwrap_err();
        assert!(matches!(e, CheckoutError::NotARepository { .. }), "{e}");
        assert!(e.to_string().contains("not a git repository"));
    }

    #[test]
    fn mirror_keys_are_stable_readable_and_distinct() {
        let a = resolve("o/name", DEFAULT_URL_TEMPLATE).unwrap();
        let b = resolve("https://github.com/o/name", DEFAULT_URL_TEMPLATE).unwrap();
        let c = resolve("p/name", DEFAULT_URL_TEMPLATE).unwrap();
        assert_eq!(
            mirror_key(&a),
            mirror_key(&b),
            ".git suffix must not matter"
        );
        assert_ne!(mirror_key(&a), mirror_key(&c));
        assert!(mirror_key(&a).starts_with("o-name-"), "{}", mirror_key(&a));
    }
}
