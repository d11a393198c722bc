//! The guest's file-system layout: which guest paths the sandbox preopens, and the checks that
//! keep job-supplied paths inside the work dir and mounts off the reserved points.
//!
//! The interpreter's standard library is embedded in the runtime binary (read-only bytecode in
//! `/usr/local/lib/python312.zip`). Everything else the guest can see is a preopened host dir:
//!
//! | guest path       | host                                   | access     |
//! |------------------|----------------------------------------|------------|
//! | `/`              | a fresh temporary copy of the job files| read-write; the cwd |
//! | `/tmp`           | a fresh empty temporary dir            | read-write |
//! | `/dev`           | a fresh dir holding `null` (discards)  | read-write |
//! | `/stdlib`        | the runtime's stdlib bytecode, unpacked| read-only  |
//! | `/site-packages` | pytest and its deps, with `.pyc`       | read-only  |
//! | job mounts       | what the job names                     | read-only  |
//!
//! The work dir is the guest's root because the runtime's libc starts every process in `/` and
//! has no way to be told otherwise: with the work dir at `/` the cwd is always inside it, also
//! for `python -I`. The other dirs are preopens nested under it (the guest's libc resolves a
//! path through the longest matching preopen), so a work-dir entry named like one of them is
//! hidden; job files may not use those names. All writes to read-write dirs count against the
//! job's disk quota, except writes to `/dev/null`, which store nothing (see `quota`).

use std::path::{Component, Path};

pub const GUEST_WORK: &str = "/";
pub const GUEST_TMP: &str = "/tmp";
pub const GUEST_DEV: &str = "/dev";
pub const GUEST_SITE: &str = "/.codeswarm-site-packages";
pub const GUEST_STDLIB: &str = "/.codeswarm-stdlib";
/// The standard library zip embedded in the runtime.
pub const EMBEDDED_STDLIB_ZIP: &str = "/usr/local/lib/python312.zip";

/// Mount points the sandbox itself uses (besides `/`).
pub const RESERVED: &[&str] = &[GUEST_TMP, GUEST_DEV, GUEST_SITE, GUEST_STDLIB, "/usr"];

/// A job file path must be relative, stay inside the work dir, and not start with the name of
/// a mount point (it would be hidden by the mount).
pub fn check_relative(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("empty file path".into());
    }
    let first = path.components().find(|c| !matches!(c, Component::CurDir));
    if let Some(Component::Normal(name)) = first {
        if RESERVED
            .iter()
            .any(|r| Path::new(r).file_name() == Some(name))
        {
            return Err(format!(
                "file path `{}` is hidden by the sandbox's `/{}` mount",
                path.display(),
                name.to_string_lossy()
            ));
        }
    }
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(format!(
                    "file path `{}` must be relative and stay inside the work dir",
                    path.display()
                ))
            }
        }
    }
    Ok(())
}

/// A mount point must be absolute, normalized, and not shadow or sit inside a reserved path.
pub fn check_mount_point(guest: &str) -> Result<(), String> {
    let p = Path::new(guest);
    let normal = p.is_absolute()
        && guest.len() > 1
        && !guest.ends_with('/')
        && p.components()
            .skip(1)
            .all(|c| matches!(c, Component::Normal(_)));
    if !normal {
        return Err(format!(
            "mount point `{guest}` must be an absolute, normalized path other than `/`"
        ));
    }
    for r in RESERVED {
        if guest == *r || guest.starts_with(&format!("{r}/")) || r.starts_with(&format!("{guest}/"))
        {
            return Err(format!(
                "mount point `{guest}` collides with the sandbox's own `{r}`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert!(check_relative(Path::new("a/b.py")).is_ok());
        assert!(check_relative(Path::new("./a.py")).is_ok());
        assert!(check_relative(Path::new("a/../../b.py")).is_err());
        assert!(check_relative(Path::new("/etc/passwd")).is_err());
        assert!(check_relative(Path::new("")).is_err());
        assert!(check_relative(Path::new("tmp/x.py")).is_err());
        assert!(check_relative(Path::new("./dev")).is_err());
        assert!(check_relative(Path::new("devices.py")).is_ok());
    }

    #[test]
    fn mount_points() {
        assert!(check_mount_point("/deps").is_ok());
        assert!(check_mount_point("/opt/deps").is_ok());
        for bad in [
            "/",
            "deps",
            "/deps/",
            "/a/../b",
            "/tmp",
            "/tmp/x",
            "/usr/local",
            "/.codeswarm-site-packages",
        ] {
            assert!(check_mount_point(bad).is_err(), "{bad}");
        }
    }
}
