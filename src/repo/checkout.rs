//! Getting a repository onto disk for a job.
//!
//! 1. [`resolve`] turns what the user typed into a [`RepoSource`]: `owner/name` goes through a
//!    URL template (default [`DEFAULT_URL_TEMPLATE`]; placeholders `{owner}`, `{name}` and
//!    `{repo}` = `owner/name`), while URLs (`https://…`, `ssh://…`, `git@host:path`, `file://…`)
//!    and local paths are used as given.
//! 2. [`MirrorCache::prepare`] finds the commit the job starts from and the git directory whose
//!    objects the worktree will read:
//!    - A **local source** (a path or a `file://` URL: a bare mirror, a working clone, a
//!      shallow or partial clone) is used in place. Nothing is copied or fetched: the revision
//!      is resolved in that repository and the worktree borrows its object directory. Only the
//!      objects of the base commit's tree are ever read, so objects the repository lacks but
//!      the commit does not need (a large file deleted long ago, blobs a partial clone never
//!      fetched, history cut off by a shallow clone) do not matter, exactly as with
//!      `git clone`. A revision outside a shallow clone is reported as
//!      [`CheckoutError::ShallowClone`] with the `git fetch --deepen`/`--unshallow` to run.
//!    - A **remote source** (`https://…`, `ssh://…`, `git@host:path`) gets one bare mirror under
//!      [`crate::paths::repos_dir`] (key derived from the URL). A missing full sha is first
//!      asked for by id alone (`+<sha>:refs/codeswarm/wanted/<sha>`, no tags), and only when
//!      the server refuses that, or for a branch, tag or the default branch, are all branches
//!      and tags fetched. Mirror updates run under an exclusive lock file, so two processes can
//!      share the cache.
//! 3. [`MirrorCache::checkout`] gives the job a [`Worktree`]: a fresh git repository in a
//!    temporary directory the caller owns, borrowing the objects of that git directory (git
//!    alternates, as `git clone --shared` does; the source's own `objects/info/alternates`
//!    chain is followed and written out with absolute paths; a shallow source's `shallow` file
//!    is copied so `git log` works there), with HEAD detached at the base commit and the tree
//!    checked out. A base tree that needs an object the repository does not have is
//!    [`CheckoutError::MissingObject`], naming the object and its path. Diffs against the base
//!    commit are made there ([`super::patch`]).
//!
//! A local repository is only ever read: its checkout, index, refs and objects are never
//! written. As with `git clone --shared`, a worktree relies on the source keeping the base
//! commit's objects while the worktree exists (they stay unless history is rewritten and
//! pruned). Repositories made by `git clone --filter` (extension `partialclone`) are opened like
//! any other ([`allow_partial_clones`]).

use std::path::{Path, PathBuf};

use git2::{
    build::CheckoutBuilder, AutotagOption, FetchOptions, ObjectType, Oid, ProxyOptions, Repository,
    RepositoryOpenFlags, ResetType,
};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::lock::FileLock;
use crate::input_file::human_bytes;

/// The most a base commit's files may hold together (the sum of its blobs' sizes): the
/// sandbox copies a worktree's files for every run and refuses a larger one
/// (`sandbox::workdir::SOURCE_MAX_BYTES`, the same figure), so a larger tree is refused before
/// anything is read or written, from the objects' headers alone.
pub const MAX_TREE_BYTES: u64 = 256 << 20;

/// The name of a worktree directory: `codeswarm-wt-<pid>-…` in its parent directory.
const WORKTREE_DIR_KIND: &str = "codeswarm-wt-";

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
        "repository `{}` must be `owner/name` (an instance file may not name a URL or a \
         local path); give where repositories live on the command line instead, e.g. \
         `--repo-url-template '/path/to/repos/{{name}}'` or `--repo-url-template \
         'https://host/{{owner}}/{{name}}.git'`",
        crate::terminal_text::terminal_safe(spec)
    )]
    NotOwnerName { spec: String },
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
        "commit `{rev}` is not in {url} (no commit, branch or tag of that name there, all \
         branches and tags looked at); check the sha or branch name, or push the commit to a \
         branch of that repository"
    )]
    MissingCommit { rev: String, url: String },
    #[error(
        "commit `{rev}` is not in the shallow clone {}: its history stops at the depth it was \
         cloned with. Deepen it there, e.g. `git -C {} fetch --deepen=1000` or \
         `git -C {} fetch --unshallow` (a commit on another branch: `git -C {} fetch origin \
         <branch>`), then retry",
        path.display(), path.display(), path.display(), path.display()
    )]
    ShallowClone { rev: String, path: PathBuf },
    #[error(
        "commit {commit} cannot be checked out from {}: it needs {kind} {object}{}, which that \
         repository does not have. If it is a partial clone (`git clone --filter`), let git fetch \
         the commit's files once, e.g. `git -C {} archive {commit} >/dev/null`, or use a clone \
         made without `--filter`; if it is a codeswarm mirror, delete it to have it cloned again; \
         otherwise the repository is damaged (`git -C {} fsck`)",
        repo.display(), at_path(path), repo.display(), repo.display()
    )]
    MissingObject {
        /// The base commit.
        commit: String,
        /// The absent object.
        object: String,
        /// `blob`, `tree` or `commit`.
        kind: &'static str,
        /// Where the object sits in the commit's tree (`None` for the commit and its root tree).
        path: Option<String>,
        /// The git directory the objects were read from.
        repo: PathBuf,
    },
    #[error(
        "commit {commit} holds {} of files, more than the limit of {}; its largest file is \
         `{largest}` ({}). codeswarm copies a checkout into the sandbox for every test run, so \
         repositories this large are not supported",
        human_bytes(*total), human_bytes(*limit), human_bytes(*largest_size)
    )]
    TooLarge {
        commit: String,
        total: u64,
        limit: u64,
        largest: String,
        largest_size: u64,
    },
    #[error(
        "commit {commit} cannot be checked out: the file name `{path}` {problem} (shown escaped); \
         git itself refuses such names on checkout, so the tree was made by hand — fix the \
         repository or choose another commit"
    )]
    BadFileName {
        commit: String,
        path: String,
        problem: String,
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

fn at_path(path: &Option<String>) -> String {
    match path {
        Some(p) => format!(" (`{p}`)"),
        None => String::new(),
    }
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
    resolve_owner_name(trimmed, template).map_err(|e| match e {
        CheckoutError::NotOwnerName { spec } => CheckoutError::UnknownSpec { spec },
        e => e,
    })
}

/// Resolve a repository named by an input file (an instance's `repo`): only `owner/name` is
/// accepted, always through `template` (the location the user chose on the command line), never
/// as a URL or a local path, even when a directory of that name exists here. A hostile instance
/// file thus cannot read a private repository of this machine or reach an arbitrary host.
pub fn resolve_owner_name(spec: &str, template: &str) -> Result<RepoSource, CheckoutError> {
    check_owner_name(spec)?;
    let (owner, name) = parse_owner_name(spec).expect("checked above");
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
            spec: spec.to_string(),
            ..source
        }),
        // A template yielding neither a URL nor an existing path, e.g. a relative path that
        // does not exist: report it as that path.
        None => Err(CheckoutError::NoSuchPath {
            path: PathBuf::from(url),
        }),
    }
}

/// Check that `spec` is exactly `owner/name` (letters, digits, `-`, `_`, `.`; an optional
/// `.git` suffix), as an instance file must name its repository.
pub fn check_owner_name(spec: &str) -> Result<(), CheckoutError> {
    match parse_owner_name(spec) {
        Some(_) if spec == spec.trim() => Ok(()),
        _ => Err(CheckoutError::NotOwnerName {
            spec: spec.to_string(),
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

/// Let libgit2 open repositories made by `git clone --filter` (partial clones). git marks them
/// with `extensions.partialclone`, which libgit2 refuses unless told it is understood. It is:
/// codeswarm only reads such a repository, and an object it lacks is reported as
/// [`CheckoutError::MissingObject`] (libgit2 never fetches from the promisor remote).
///
/// libgit2 keeps this list in an unsynchronized global: this runs once per process, from
/// `main` before any thread starts and, for library callers, on the first resolve or checkout.
pub fn allow_partial_clones() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once (guarded by `ONCE`); the binary calls it before spawning threads.
        if let Err(e) = unsafe { git2::opts::set_extensions(&["partialclone"]) } {
            tracing::warn!(error = %e.message(), "could not enable partial clones in libgit2");
        }
    });
}

/// Open the repository at `dir` (a bare repository's directory, or a clone's work tree),
/// without searching parent directories.
fn open_local(dir: &Path) -> Result<Repository, git2::Error> {
    allow_partial_clones();
    Repository::open_ext(
        dir,
        RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
}

/// Check that `path` is a git repository (bare or not) and return its canonical directory.
fn local_repo_dir(path: &Path) -> Result<PathBuf, CheckoutError> {
    if !path.exists() {
        return Err(CheckoutError::NoSuchPath {
            path: path.to_path_buf(),
        });
    }
    let dir = path.canonicalize().map_err(io_err(path))?;
    match open_local(&dir) {
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
    /// Fetch from a remote source even when the requested commit is already in the mirror (to
    /// move branch names forward). Without a revision the mirror is always refreshed. A local
    /// source is always read as it is now, so this changes nothing there.
    pub refresh: bool,
    /// Where to create the temporary worktree; default: the system temp directory.
    pub parent_dir: Option<PathBuf>,
    /// The most the base commit's files may hold together; default [`MAX_TREE_BYTES`].
    pub max_tree_bytes: Option<u64>,
}

/// The bare mirror cache (used for remote sources; local ones are read in place).
#[derive(Debug, Clone)]
pub struct MirrorCache {
    root: PathBuf,
}

/// Which fetches a mirror update has already tried.
#[derive(Debug, Default)]
struct Fetched {
    /// The wanted commit by id.
    by_id: bool,
    /// All branches and tags.
    all: bool,
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

    /// The directory of the bare mirror for `source` (only created for remote sources).
    pub fn mirror_dir(&self, source: &RepoSource) -> PathBuf {
        self.root.join(format!("{}.git", mirror_key(source)))
    }

    /// Find the commit `rev` (a sha, short sha, branch or tag; `None` = the source's default
    /// branch) and the git directory holding its objects: for a local source that repository's
    /// own git directory (nothing is copied or written), for a remote one the mirror, fetched
    /// into as needed (by id first for a full sha). Returns that directory and the commit.
    pub fn prepare(
        &self,
        source: &RepoSource,
        rev: Option<&str>,
        refresh: bool,
    ) -> Result<(PathBuf, Oid), CheckoutError> {
        match &source.local_path {
            Some(path) => prepare_local(source, path, rev),
            None => self.prepare_mirror(source, rev, refresh),
        }
    }

    fn prepare_mirror(
        &self,
        source: &RepoSource,
        rev: Option<&str>,
        refresh: bool,
    ) -> Result<(PathBuf, Oid), CheckoutError> {
        std::fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let dir = self.mirror_dir(source);
        let lock_path = dir.with_extension("lock");
        let _lock = FileLock::exclusive(&lock_path).map_err(io_err(&lock_path))?;

        let rev_name = rev.unwrap_or("HEAD");
        let wanted = full_sha(rev_name);
        let mut fetched = Fetched::default();
        let repo = if dir.exists() {
            Repository::open_bare(&dir).map_err(|e| CheckoutError::BrokenMirror {
                path: dir.clone(),
                message: e.message().to_string(),
            })?
        } else {
            self.clone_mirror(source, &dir, wanted, &mut fetched)?
        };

        if !fetched.all && (refresh || rev.is_none()) {
            match fetch_all(&repo, &source.url) {
                Ok(()) => fetched.all = true,
                Err(e) => {
                    // Offline or the source moved away: the cached mirror may still serve.
                    tracing::warn!(url = %source.url, error = %e.message(), "refreshing the mirror failed; using the cached copy");
                }
            }
        }

        if let Some(oid) = resolve_rev(&repo, rev_name) {
            return Ok((dir, oid));
        }
        if let (Some(sha), false) = (wanted, fetched.by_id) {
            tracing::info!(url = %source.url, rev = sha, "commit not in the mirror; fetching it by id");
            match fetch_wanted(&repo, &source.url, sha) {
                Ok(()) => {
                    if let Some(oid) = resolve_rev(&repo, rev_name) {
                        return Ok((dir, oid));
                    }
                }
                Err(e) => tracing::debug!(error = %e.message(), "fetching the commit by id failed"),
            }
        }
        if !fetched.all {
            tracing::info!(url = %source.url, rev = rev_name, "commit not in the mirror; fetching all branches and tags");
            fetch_all(&repo, &source.url).map_err(|e| unreachable(source, &e))?;
            if let Some(oid) = resolve_rev(&repo, rev_name) {
                return Ok((dir, oid));
            }
        }
        Err(CheckoutError::MissingCommit {
            rev: rev_name.to_string(),
            url: source.url.clone(),
        })
    }

    /// Find the base commit, then create a clean worktree at it (see [`MirrorCache::prepare`]).
    pub fn checkout(
        &self,
        source: &RepoSource,
        rev: Option<&str>,
        options: &CheckoutOptions,
    ) -> Result<Worktree, CheckoutError> {
        let (git_dir, base) = self.prepare(source, rev, options.refresh)?;
        let parent = options
            .parent_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let max = options.max_tree_bytes.unwrap_or(MAX_TREE_BYTES);
        let worktree = create_worktree(&git_dir, base, &parent, source.clone(), max)?;
        tracing::info!(source = %source.spec, base = %base, dir = %worktree.path().display(), "worktree ready");
        Ok(worktree)
    }

    /// Create the mirror at `dir`: just the `wanted` commit when a full sha is asked for and the
    /// server hands it out by id, else all branches and tags.
    fn clone_mirror(
        &self,
        source: &RepoSource,
        dir: &Path,
        wanted: Option<&str>,
        fetched: &mut Fetched,
    ) -> Result<Repository, CheckoutError> {
        tracing::info!(url = %source.url, mirror = %dir.display(), "cloning a bare mirror");
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
            let mut have_it = false;
            if let Some(sha) = wanted {
                fetched.by_id = true;
                match fetch_wanted(&repo, &source.url, sha) {
                    Ok(()) => have_it = resolve_rev(&repo, sha).is_some(),
                    Err(e) => {
                        tracing::debug!(error = %e.message(), "fetching the commit by id failed")
                    }
                }
            }
            if !have_it {
                fetched.all = true;
                fetch_all(&repo, &source.url).map_err(|e| unreachable(source, &e))?;
            }
            drop(repo);
            std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
            Repository::open_bare(dir).map_err(|e| CheckoutError::BrokenMirror {
                path: dir.to_path_buf(),
                message: e.message().to_string(),
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }
}

/// A local source: resolve `rev` in the repository itself and hand out its git directory
/// (the common one, for a linked worktree). Nothing is written there.
fn prepare_local(
    source: &RepoSource,
    path: &Path,
    rev: Option<&str>,
) -> Result<(PathBuf, Oid), CheckoutError> {
    let repo = open_local(path).map_err(|_| CheckoutError::NotARepository {
        path: path.to_path_buf(),
    })?;
    let git_dir = repo.commondir().to_path_buf();
    let rev_name = rev.unwrap_or("HEAD");
    if let Some(oid) = resolve_rev(&repo, rev_name) {
        return Ok((git_dir, oid));
    }
    if repo.is_shallow() {
        return Err(CheckoutError::ShallowClone {
            rev: rev_name.to_string(),
            path: path.to_path_buf(),
        });
    }
    Err(CheckoutError::MissingCommit {
        rev: rev_name.to_string(),
        url: source.url.clone(),
    })
}

/// `rev` when it is a full 40-hex sha (the only kind a server hands out by id).
fn full_sha(rev: &str) -> Option<&str> {
    (rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit())).then_some(rev)
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

/// Fetch all branches and tags (plus the source's HEAD) into the bare mirror, then point the
/// mirror's HEAD at the source's default branch.
fn fetch_all(repo: &Repository, url: &str) -> Result<(), git2::Error> {
    let mut remote = repo.remote_anonymous(url)?;
    let specs = [
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
        "+HEAD:refs/codeswarm/source-head",
    ];
    remote.fetch(
        &specs,
        Some(&mut fetch_options(AutotagOption::All)),
        Some("codeswarm mirror fetch"),
    )?;
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
    Ok(())
}

/// Fetch just commit `sha` (and what it needs) into `refs/codeswarm/wanted/<sha>`, no tags.
/// Servers allow this for commits reachable from their refs (GitHub does).
fn fetch_wanted(repo: &Repository, url: &str, sha: &str) -> Result<(), git2::Error> {
    let mut remote = repo.remote_anonymous(url)?;
    let spec = format!("+{sha}:refs/codeswarm/wanted/{sha}");
    remote.fetch(
        &[spec.as_str()],
        Some(&mut fetch_options(AutotagOption::None)),
        Some("codeswarm mirror fetch by id"),
    )
}

fn fetch_options(tags: AutotagOption) -> FetchOptions<'static> {
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    let mut options = FetchOptions::new();
    options.proxy_options(proxy);
    options.download_tags(tags);
    options
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
    if full_sha(rev).is_some() {
        let oid = Oid::from_str(rev).ok()?;
        let object = repo.find_object(oid, None).ok()?;
        return object.peel(ObjectType::Commit).ok().map(|c| c.id());
    }
    let object = repo.revparse_single(rev).ok()?;
    object.peel(ObjectType::Commit).ok().map(|c| c.id())
}

/// A clean checkout of one commit in a temporary directory, removed when dropped (unless
/// [`Worktree::keep`] is called). The directory is a git repository whose HEAD is detached at
/// the base commit and whose objects are borrowed from the source (a local repository itself,
/// or the mirror of a remote one), so `git diff`, `git status` and
/// [`super::patch::diff_worktree`] work there. New objects (e.g. `git add` in the worktree)
/// are written to the worktree's own object directory, never to the source.
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

    /// The git directory the objects come from: the repository itself for a local source
    /// (its common git directory: `.git` of a working clone, the directory of a bare one), the
    /// cache's mirror for a remote one.
    pub fn mirror_dir(&self) -> &Path {
        &self.mirror
    }

    pub fn source(&self) -> &RepoSource {
        &self.source
    }

    /// Open the worktree's git repository.
    pub fn open(&self) -> Result<Repository, git2::Error> {
        super::no_freshen::open(self.dir.path())
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

/// How deep git and libgit2 follow `objects/info/alternates` chains.
const MAX_ALTERNATE_DEPTH: usize = 5;

/// Create a worktree for `base` inside `parent`, borrowing the objects of the git directory
/// `git_dir` (a bare repository or mirror, or the `.git` directory of a clone) and of the
/// alternates it names. Only the objects of `base`'s tree are read; one the repository lacks
/// is [`CheckoutError::MissingObject`]. Nothing is written into `git_dir`.
pub fn create_worktree(
    git_dir: &Path,
    base: Oid,
    parent: &Path,
    source: RepoSource,
    max_tree_bytes: u64,
) -> Result<Worktree, CheckoutError> {
    allow_partial_clones();
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let git_dir_abs = git_dir.canonicalize().map_err(io_err(git_dir))?;
    let objects = git_dir_abs.join("objects");
    if !objects.is_dir() {
        return Err(CheckoutError::NotARepository { path: git_dir_abs });
    }
    let mut object_dirs = Vec::new();
    collect_object_dirs(objects, 0, &mut object_dirs);

    // Worktrees a killed process left here (named with their process id) go first.
    crate::stale_dirs::remove_stale_once(parent, WORKTREE_DIR_KIND);
    let dir = tempfile::Builder::new()
        .prefix(&crate::stale_dirs::prefix(WORKTREE_DIR_KIND))
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let wt_err = |e: git2::Error| CheckoutError::Worktree {
        path: dir.path().to_path_buf(),
        message: e.message().to_string(),
    };
    let repo = Repository::init(dir.path()).map_err(wt_err)?;
    let own_git_dir = repo.path().to_path_buf();
    drop(repo);
    // All of the chain, with absolute paths: libgit2 resolves relative alternates only one
    // level deep, and git needs no more than this either.
    let alternates = own_git_dir.join("objects").join("info").join("alternates");
    if let Some(info) = alternates.parent() {
        std::fs::create_dir_all(info).map_err(io_err(info))?;
    }
    let listing: String = object_dirs
        .iter()
        .map(|d| format!("{}\n", d.display()))
        .collect();
    std::fs::write(&alternates, listing).map_err(io_err(&alternates))?;
    // A shallow source's grafts: without them git (and libgit2) would look for the parents of
    // the boundary commits, e.g. in `git log`.
    let shallow = git_dir_abs.join("shallow");
    if shallow.is_file() {
        let to = own_git_dir.join("shallow");
        std::fs::copy(&shallow, &to).map_err(io_err(&to))?;
    }

    // Reopen so the object database picks the alternates up.
    let repo = super::no_freshen::open(dir.path()).map_err(wt_err)?;
    // Sizes from the objects' headers, before any blob is read or written out.
    check_tree(&repo, base, max_tree_bytes)?;
    let checked_out = (|| {
        let commit = repo.find_commit(base)?;
        repo.set_head_detached(commit.id())?;
        let mut checkout = CheckoutBuilder::new();
        checkout.force();
        repo.checkout_head(Some(&mut checkout))
    })();
    if let Err(e) = checked_out {
        if let Some((object, kind, path)) = find_missing_object(&repo, base) {
            return Err(CheckoutError::MissingObject {
                commit: base.to_string(),
                object: object.to_string(),
                kind,
                path,
                repo: git_dir_abs,
            });
        }
        return Err(wt_err(e));
    }
    drop(repo);
    Ok(Worktree {
        dir,
        base,
        mirror: git_dir_abs,
        source,
    })
}

/// `objects` (canonical) and, depth first, the object directories its alternates name
/// (relative entries are relative to the directory whose file names them, as git reads them).
fn collect_object_dirs(objects: PathBuf, depth: usize, out: &mut Vec<PathBuf>) {
    let objects = objects.canonicalize().unwrap_or(objects);
    if depth > MAX_ALTERNATE_DEPTH || out.contains(&objects) {
        return;
    }
    if !objects.is_dir() {
        tracing::warn!(dir = %objects.display(), "an alternate object directory does not exist; skipped");
        return;
    }
    out.push(objects.clone());
    let Ok(text) = std::fs::read_to_string(objects.join("info").join("alternates")) else {
        return;
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        // git quotes paths with odd characters C-style; such entries are rare and left as is.
        let entry = Path::new(line);
        let next = if entry.is_absolute() {
            entry.to_path_buf()
        } else {
            objects.join(entry)
        };
        collect_object_dirs(next, depth + 1, out);
    }
}

/// Refuse commit `base` when a file name in its tree cannot be checked out safely (empty,
/// `.`, `..`, `.git`, holding `/` or NUL, or not UTF-8) or when its blobs together hold more
/// than `limit` bytes, reading only trees and object headers (`Odb::read_header`: a loose
/// object's first bytes, a packed one's entry header), before any blob is read or written.
/// Objects that cannot be read are left to the checkout, which names them.
fn check_tree(repo: &Repository, base: Oid, limit: u64) -> Result<(), CheckoutError> {
    let Ok(odb) = repo.odb() else { return Ok(()) };
    let Ok(root) = repo.find_commit(base).map(|c| c.tree_id()) else {
        return Ok(());
    };
    struct Walk<'a> {
        repo: &'a Repository,
        odb: git2::Odb<'a>,
        base: Oid,
        total: u64,
        largest: (String, u64),
    }
    impl Walk<'_> {
        fn tree(&mut self, id: Oid, prefix: &str) -> Result<(), CheckoutError> {
            let tree = match self.repo.find_tree(id) {
                Ok(t) => t,
                // Present but unparsable: libgit2 refuses a tree holding an empty or otherwise
                // invalid name (not a missing object, which the checkout names).
                Err(e) if self.odb.exists(id) => {
                    return Err(CheckoutError::BadFileName {
                        commit: self.base.to_string(),
                        path: if prefix.is_empty() { "/".into() } else { prefix.to_string() },
                        problem: format!(
                            "is a directory whose tree cannot be read ({}): an entry in it has an empty or invalid name",
                            e.message()
                        ),
                    })
                }
                Err(_) => return Ok(()),
            };
            for entry in tree.iter() {
                let raw = entry.name_bytes();
                let shown =
                    crate::terminal_text::terminal_safe(&String::from_utf8_lossy(raw)).into_owned();
                let bad = |problem: &str| CheckoutError::BadFileName {
                    commit: self.base.to_string(),
                    path: format!("{prefix}{shown}"),
                    problem: problem.to_string(),
                };
                let Ok(name) = std::str::from_utf8(raw) else {
                    return Err(bad("is not UTF-8"));
                };
                if name.is_empty() {
                    return Err(bad("is empty"));
                }
                if name == "." || name == ".." || name.eq_ignore_ascii_case(".git") {
                    return Err(bad("is a reserved name"));
                }
                if name.contains(['/', '\0']) {
                    return Err(bad("holds `/` or NUL"));
                }
                let path = format!("{prefix}{name}");
                match entry.kind() {
                    Some(ObjectType::Tree) => self.tree(entry.id(), &format!("{path}/"))?,
                    Some(ObjectType::Blob) => {
                        if let Ok((size, _)) = self.odb.read_header(entry.id()) {
                            let size = size as u64;
                            self.total = self.total.saturating_add(size);
                            if size > self.largest.1 {
                                self.largest = (path, size);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }
    let mut walk = Walk {
        repo,
        odb,
        base,
        total: 0,
        largest: (String::new(), 0),
    };
    walk.tree(root, "")?;
    if walk.total > limit {
        return Err(CheckoutError::TooLarge {
            commit: base.to_string(),
            total: walk.total,
            limit,
            largest: crate::terminal_text::terminal_safe(&walk.largest.0).into_owned(),
            largest_size: walk.largest.1,
        });
    }
    Ok(())
}

/// The first object that commit `base` needs and `repo` cannot read: the commit itself, a tree
/// or a blob, with its kind and path in the tree (`None` for the commit and the root tree).
fn find_missing_object(
    repo: &Repository,
    base: Oid,
) -> Option<(Oid, &'static str, Option<String>)> {
    let odb = repo.odb().ok()?;
    let Ok(commit) = repo.find_commit(base) else {
        return Some((base, "commit", None));
    };
    let root = commit.tree_id();
    fn walk(
        repo: &Repository,
        odb: &git2::Odb<'_>,
        tree_id: Oid,
        prefix: Option<&str>,
    ) -> Option<(Oid, &'static str, Option<String>)> {
        let Ok(tree) = repo.find_tree(tree_id) else {
            return Some((tree_id, "tree", prefix.map(str::to_string)));
        };
        for entry in tree.iter() {
            let name = String::from_utf8_lossy(entry.name_bytes());
            let path = match prefix {
                Some(p) => format!("{p}/{name}"),
                None => name.into_owned(),
            };
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    if let Some(missing) = walk(repo, odb, entry.id(), Some(&path)) {
                        return Some(missing);
                    }
                }
                Some(ObjectType::Blob) if !odb.exists(entry.id()) => {
                    return Some((entry.id(), "blob", Some(path)));
                }
                // Blobs that are there, and submodule commits (never in this repository).
                _ => {}
            }
        }
        None
    }
    walk(repo, &odb, root, None)
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
    fn an_input_file_may_only_name_owner_name() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let path = dir.path().to_str().unwrap();
        for spec in [
            path,
            &format!("file://{path}"),
            "http://127.0.0.1:9/x.git",
            "git@example.invalid:x/y.git",
            "./o/r",
            " o/r",
        ] {
            let e = resolve_owner_name(spec, DEFAULT_URL_TEMPLATE).unwrap_err();
            assert!(
                matches!(e, CheckoutError::NotOwnerName { .. }),
                "{spec}: {e}"
            );
            assert!(e.to_string().contains("--repo-url-template"), "{e}");
        }
        // `owner/name` goes through the template even when a directory of that name exists.
        let template = format!("{path}/{{name}}");
        let e = resolve_owner_name("o/elsewhere", &template).unwrap_err();
        assert!(matches!(e, CheckoutError::NoSuchPath { .. }), "{e}");
        std::fs::create_dir(dir.path().join("r")).unwrap();
        git2::Repository::init(dir.path().join("r")).unwrap();
        let s = resolve_owner_name("o/r", &template).unwrap();
        assert_eq!(
            s.local_path,
            Some(dir.path().canonicalize().unwrap().join("r"))
        );
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
    fn only_full_shas_are_asked_for_by_id() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(full_sha(sha), Some(sha));
        assert_eq!(full_sha(&sha[..39]), None);
        assert_eq!(full_sha("main"), None);
        assert_eq!(full_sha(&sha.replace('0', "g")), None);
    }

    #[test]
    fn alternates_chains_are_flattened_with_absolute_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let objects = |name: &str| {
            let d = tmp.path().join(name).join("objects");
            std::fs::create_dir_all(d.join("info")).unwrap();
            d
        };
        let (a, b, c) = (objects("a"), objects("b"), objects("c"));
        // a → b (relative, as git allows), a → a missing directory, b → c (absolute), c → a
        // (a cycle), comments and blank lines ignored.
        std::fs::write(
            a.join("info/alternates"),
            "# comment\n../../b/objects\n\n/definitely/not/here/objects\n",
        )
        .unwrap();
        std::fs::write(b.join("info/alternates"), format!("{}\n", c.display())).unwrap();
        std::fs::write(c.join("info/alternates"), format!("{}\n", a.display())).unwrap();
        let mut out = Vec::new();
        collect_object_dirs(a.clone(), 0, &mut out);
        let canon = |p: &Path| p.canonicalize().unwrap();
        assert_eq!(out, vec![canon(&a), canon(&b), canon(&c)]);
        assert!(out.iter().all(|p| p.is_absolute()));
    }

    #[test]
    fn alternates_chains_stop_at_gits_depth() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..10)
            .map(|i| {
                let d = tmp.path().join(format!("r{i}")).join("objects");
                std::fs::create_dir_all(d.join("info")).unwrap();
                d
            })
            .collect();
        for pair in dirs.windows(2) {
            std::fs::write(
                pair[0].join("info/alternates"),
                format!("{}\n", pair[1].display()),
            )
            .unwrap();
        }
        let mut out = Vec::new();
        collect_object_dirs(dirs[0].clone(), 0, &mut out);
        assert_eq!(out.len(), MAX_ALTERNATE_DEPTH + 1);
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
