//! `--requirements FILE`: pinned pure-Python wheels are fetched with pip (here from a local
//! directory: PIP_NO_INDEX + PIP_FIND_LINKS, no network), hash-checked, unpacked, precompiled
//! in the guest and cached by the file's content; a hash mismatch and a native wheel are clear
//! set-up errors (exit 2) that leave nothing in the cache.

mod check_common;

use check_common::{add_file_patch, codeswarm, fixture_repo, make_wheel, out, stdout, write, Home};
use sha2::Digest;

const HELPER: &str = "def double(x):\n    return 2 * x\n";

struct Setup {
    home: Home,
    dir: tempfile::TempDir,
    wheels: tempfile::TempDir,
    repo: String,
    base: String,
    patch: String,
}

fn setup() -> Setup {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    let fx = fixture_repo("textkit", dir.path());
    let test = "from cs_helper import double\n\ndef test_double():\n    assert double(2) == 4\n";
    let patch = write(
        dir.path(),
        "p.diff",
        &add_file_patch("tests/test_helper.py", test),
    );
    Setup {
        home,
        repo: fx.path.display().to_string(),
        base: fx.base_commit.clone(),
        dir,
        wheels,
        patch,
    }
}

impl Setup {
    fn check(&self, requirements: &str) -> std::process::Output {
        let req = write(self.dir.path(), "requirements.txt", requirements);
        let find_links = self.wheels.path().display().to_string();
        codeswarm(
            &self.home,
            &[
                "check",
                "--repo",
                &self.repo,
                "--base",
                &self.base,
                "--patch",
                &self.patch,
                "--requirements",
                &req,
            ],
            &[("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", &find_links)],
        )
    }

    fn sites(&self) -> Vec<String> {
        match std::fs::read_dir(self.home.path().join("sites")) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn sha(path: &std::path::Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn pinned_pure_wheels_are_installed_precompiled_and_cached() {
    let s = setup();
    let wheel = make_wheel(
        s.wheels.path(),
        "cs-helper",
        "1.0",
        "py3-none-any",
        &[("cs_helper/__init__.py", HELPER)],
    );
    let requirements = format!(
        "# test deps\ncs-helper==1.0 \\\n    --hash=sha256:{}\n",
        sha(&wheel)
    );

    // Without the dependency the test cannot import it: not runnable, which fails the gate
    // (no test ran) unless accepted.
    let o = codeswarm(
        &s.home,
        &[
            "check", "--repo", &s.repo, "--base", &s.base, "--patch", &s.patch,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        stdout(&o).contains("NOT RUNNABLE") && stdout(&o).contains("cs_helper"),
        "{}",
        out(&o)
    );

    let o = s.check(&requirements);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(stdout(&o).contains("1 passed, 0 failed"), "{}", out(&o));
    let sites = s.sites();
    assert_eq!(sites.len(), 1, "{sites:?}");
    let entry = s.home.path().join("sites").join(&sites[0]);
    assert!(
        entry
            .join("site/cs_helper/__pycache__/__init__.cpython-312.pyc")
            .is_file(),
        "precompiled by the guest"
    );
    let manifest = std::fs::read_to_string(entry.join("wheels.json")).unwrap();
    assert!(manifest.contains(&sha(&wheel)), "{manifest}");

    // Cached: the same file needs no download (the wheel is gone from the index now).
    std::fs::remove_file(&wheel).unwrap();
    let o = s.check(&requirements);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(s.sites().len(), 1);
}

#[test]
fn a_hash_mismatch_is_a_set_up_error_and_leaves_no_site() {
    let s = setup();
    let wheel = make_wheel(
        s.wheels.path(),
        "cs-helper",
        "1.0",
        "py3-none-any",
        &[("cs_helper/__init__.py", HELPER)],
    );
    let wrong = "0".repeat(64);
    let o = s.check(&format!("cs-helper==1.0 --hash=sha256:{wrong}\n"));
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let err = out(&o);
    assert!(err.contains("cs-helper==1.0: sha256 mismatch"), "{err}");
    assert!(err.contains(&wrong) && err.contains(&sha(&wheel)), "{err}");
    assert!(s.sites().is_empty(), "nothing cached: {:?}", s.sites());

    // Hashes are all or nothing, as in pip.
    make_wheel(
        s.wheels.path(),
        "cs-other",
        "2.0",
        "py3-none-any",
        &[("cs_other.py", "X = 1\n")],
    );
    let o = s.check(&format!(
        "cs-helper==1.0 --hash=sha256:{}\ncs-other==2.0\n",
        sha(&wheel)
    ));
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("these do not: cs-other"), "{}", out(&o));

    // A version the index does not have: pip's failure, named.
    let o = s.check("cs-helper==9.9\n");
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("cs-helper==9.9"), "{}", out(&o));
}

#[test]
fn native_wheels_are_rejected_naming_the_package() {
    let s = setup();
    let tag = format!("py3-none-linux_{}", std::env::consts::ARCH);
    make_wheel(
        s.wheels.path(),
        "cs-native",
        "1.0",
        &tag,
        &[("cs_native/__init__.py", "")],
    );
    let o = s.check("cs-native==1.0\n");
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let err = out(&o);
    assert!(
        err.contains("cs-native==1.0") && err.contains("native code"),
        "{err}"
    );
    assert!(err.contains("cannot run under WASI"), "{err}");
    assert!(s.sites().is_empty(), "nothing cached: {:?}", s.sites());
}
