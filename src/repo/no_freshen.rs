//! Opening a worktree's repository so that libgit2 never writes to the object store it
//! borrows. A worktree reads the source repository's objects through git alternates; when
//! libgit2 is asked to write an object that already exists anywhere (applying a patch creates
//! its post-image blobs, e.g. a new file identical to an existing one), it "freshens" the
//! existing copy instead: it sets the mtime of the source's loose object or pack file. That is
//! a write into the user's repository, which codeswarm promises never to make. libgit2 has no
//! option for it and git2 exposes no backend access, so [`open`] clears the `freshen` entry of
//! every backend of the repository's object database: the write then simply stores a copy in
//! the worktree's own object directory (a throw-away temporary directory).

use std::path::Path;

use git2::{Odb, Repository};

/// Open the repository at `path` (a worktree) with object freshening switched off.
pub fn open(path: &Path) -> Result<Repository, git2::Error> {
    let repo = Repository::open(path)?;
    disable_freshening(&repo)?;
    Ok(repo)
}

/// The raw object database behind `odb`.
fn raw_odb(odb: &Odb<'_>) -> *mut libgit2_sys::git_odb {
    // git2 0.20's `Odb` is `{ raw: *mut git_odb, _marker: PhantomData }` and does not export
    // its `raw()` accessor; a struct with one pointer field and a zero-sized one is laid out
    // as that pointer. The size check catches a future git2 that changes the type.
    const _: () = assert!(
        std::mem::size_of::<Odb<'static>>() == std::mem::size_of::<*mut libgit2_sys::git_odb>()
    );
    // SAFETY: same size, and the only non-zero-sized field is the pointer (see above).
    unsafe { std::mem::transmute_copy::<Odb<'_>, *mut libgit2_sys::git_odb>(odb) }
}

/// Switch freshening off for every backend of `repo`'s object database (its own object
/// directory and every alternate, loose and packed). The database is `repo`'s own (libgit2
/// loads a fresh one per repository handle), so nothing else is affected.
pub fn disable_freshening(repo: &Repository) -> Result<(), git2::Error> {
    let odb = repo.odb()?;
    let raw = raw_odb(&odb);
    // SAFETY: `raw` is the live object database `odb` holds a reference to; backends are
    // only read by libgit2 under its own lock during calls, and this thread makes none now.
    unsafe {
        let n = libgit2_sys::git_odb_num_backends(raw);
        for i in 0..n {
            let mut backend: *mut libgit2_sys::git_odb_backend = std::ptr::null_mut();
            if libgit2_sys::git_odb_get_backend(&mut backend, raw, i) == 0 && !backend.is_null() {
                (*backend).freshen = None;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object written again through a repository that borrows it via alternates leaves the
    /// source's loose file untouched.
    #[test]
    fn writing_an_existing_object_leaves_the_source_untouched() {
        let d = tempfile::tempdir().unwrap();
        let src = Repository::init(d.path().join("src")).unwrap();
        let blob = src.blob(b"shared content\n").unwrap();
        let hex = blob.to_string();
        let loose = d
            .path()
            .join("src/.git/objects")
            .join(&hex[..2])
            .join(&hex[2..]);
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(&loose)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let borrowing = |name: &str| {
            Repository::init(d.path().join(name)).unwrap();
            std::fs::write(
                d.path().join(name).join(".git/objects/info/alternates"),
                format!("{}\n", d.path().join("src/.git/objects").display()),
            )
            .unwrap();
            d.path().join(name)
        };

        let wt = open(&borrowing("wt")).unwrap();
        assert_eq!(wt.blob(b"shared content\n").unwrap(), blob);
        let mtime = std::fs::metadata(&loose).unwrap().modified().unwrap();
        assert_eq!(mtime, old, "the source's loose object was touched");

        // Without the switch libgit2 touches it (the behaviour this module exists for).
        let plain = Repository::open(borrowing("plain")).unwrap();
        plain.blob(b"shared content\n").unwrap();
        assert_ne!(std::fs::metadata(&loose).unwrap().modified().unwrap(), old);
    }
}
