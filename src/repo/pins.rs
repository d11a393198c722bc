//! Reading a repository's `--requirements` file: exact pins, one per line, `name==version`,
//! optionally followed by `--hash=sha256:HEX` (several allowed, any may match), in the format of
//! pip's hash-checking mode (`pip-compile --generate-hashes` output reads as is: comments and
//! `\` line continuations are understood). As in pip, hashes are all or nothing: when one pin
//! has a hash, every pin must.
//!
//! Everything else (ranges, extras, markers, URLs, `-r`/`-i` options) is refused with the line
//! named: only exact pins of wheels make a reproducible sandbox site.

use std::path::{Path, PathBuf};

/// One pinned package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: String,
    pub version: String,
    /// Accepted sha256 digests of the wheel file (lowercase hex); empty: not checked.
    pub sha256: Vec<String>,
    /// 1-based line where the pin starts.
    pub line: usize,
}

/// Why a requirements file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{}: some pins have --hash and these do not: {}; as in pip's hash-checking mode, give a \
         hash for every package or for none",
        path.display(),
        names.join(", ")
    )]
    MixedHashes { path: PathBuf, names: Vec<String> },
}

const FORMAT_HINT: &str =
    "pin every package exactly, one per line: `name==version`, optionally followed by `--hash=sha256:HEX`";

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'!' | b'-' | b'_'))
}

/// Strip a comment: `#` at the start or after whitespace (pip's rule).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Logical lines: comments removed, `\` continuations joined; (first line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim_end();
        let (body, continues) = match line.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        let entry = pending.get_or_insert_with(|| (i + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(body);
        if !continues {
            if let Some((n, t)) = pending.take() {
                if !t.trim().is_empty() {
                    out.push((n, t.trim().to_string()));
                }
            }
        }
    }
    if let Some((n, t)) = pending {
        if !t.trim().is_empty() {
            out.push((n, t.trim().to_string()));
        }
    }
    out
}

/// Parse the text of a requirements file (`path` names it in errors).
pub fn parse_pins(text: &str, path: &Path) -> Result<Vec<Pin>, PinError> {
    let syntax = |line: usize, message: String| PinError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut pins: Vec<Pin> = Vec::new();
    for (line, text) in logical_lines(text) {
        let mut words = text.split_whitespace();
        let spec = words.next().unwrap_or_default();
        if spec.starts_with('-') {
            return Err(syntax(
                line,
                format!(
                    "`{spec}`: options are not supported here (pip's own configuration decides \
                     where packages come from); {FORMAT_HINT}"
                ),
            ));
        }
        let Some((name, version)) = spec.split_once("==") else {
            return Err(syntax(
                line,
                format!("`{text}` is not an exact pin; {FORMAT_HINT}"),
            ));
        };
        if !valid_name(name) || !valid_version(version) || version.starts_with('=') {
            return Err(syntax(
                line,
                format!(
                    "`{spec}` is not `name==version` (extras, markers, wildcards and URLs are \
                     not supported); {FORMAT_HINT}"
                ),
            ));
        }
        let mut sha256 = Vec::new();
        let mut rest: Vec<&str> = words.collect();
        rest.reverse();
        while let Some(word) = rest.pop() {
            let value = if let Some(v) = word.strip_prefix("--hash=") {
                v
            } else if word == "--hash" {
                rest.pop().unwrap_or_default()
            } else {
                return Err(syntax(
                    line,
                    format!("unexpected `{word}` after `{spec}`; {FORMAT_HINT}"),
                ));
            };
            let Some(hex) = value.strip_prefix("sha256:") else {
                return Err(syntax(
                    line,
                    format!("hash `{value}` of {name}: only `sha256:HEX` hashes are supported"),
                ));
            };
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(syntax(
                    line,
                    format!("hash of {name} is not 64 hex digits: `{hex}`"),
                ));
            }
            sha256.push(hex.to_ascii_lowercase());
        }
        let norm = normalize_name(name);
        if let Some(prev) = pins.iter().find(|p| normalize_name(&p.name) == norm) {
            return Err(syntax(
                line,
                format!("{name} is pinned twice (also on line {})", prev.line),
            ));
        }
        pins.push(Pin {
            name: name.to_string(),
            version: version.to_string(),
            sha256,
            line,
        });
    }
    let hashed = pins.iter().filter(|p| !p.sha256.is_empty()).count();
    if hashed > 0 && hashed < pins.len() {
        return Err(PinError::MixedHashes {
            path: path.to_path_buf(),
            names: pins
                .iter()
                .filter(|p| p.sha256.is_empty())
                .map(|p| p.name.clone())
                .collect(),
        });
    }
    Ok(pins)
}

/// A project name as wheel file names spell it (PEP 503 normalization, `_` separators).
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('_');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The (python, abi, platform) tags of a wheel file name, `None` when it is not one.
pub fn wheel_tags(file_name: &str) -> Option<(&str, &str, &str)> {
    let stem = file_name.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 || parts.len() > 6 {
        return None;
    }
    let n = parts.len();
    Some((parts[n - 3], parts[n - 2], parts[n - 1]))
}

/// Whether a wheel is pure Python (`*-none-any.whl`): the only kind that runs under WASI.
pub fn is_pure_wheel(file_name: &str) -> bool {
    matches!(wheel_tags(file_name), Some((_, "none", "any")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn parse(text: &str) -> Result<Vec<Pin>, PinError> {
        parse_pins(text, Path::new("req.txt"))
    }

    #[test]
    fn pins_comments_continuations_and_hashes() {
        let text = format!(
            "# deps\n\nattrs==23.2.0 \\\n    --hash=sha256:{H} \\\n    --hash sha256:{}  # two wheels\nsix==1.16.0 --hash=sha256:{H}\n",
            H.to_uppercase()
        );
        let pins = parse(&text).unwrap();
        assert_eq!(pins.len(), 2);
        assert_eq!(
            pins[0],
            Pin {
                name: "attrs".into(),
                version: "23.2.0".into(),
                sha256: vec![H.into(), H.into()],
                line: 3
            }
        );
        assert_eq!(pins[1].line, 6);
        assert!(parse("a==1\nb==2.0rc1\n")
            .unwrap()
            .iter()
            .all(|p| p.sha256.is_empty()));
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn anything_but_exact_pins_is_refused_with_its_line() {
        for (text, needle) in [
            (
                "a==1\nrequests>=2\n",
                "req.txt:2: `requests>=2` is not an exact pin",
            ),
            ("a[x]==1\n", "extras"),
            (
                "-i https://example.invalid/simple\n",
                "options are not supported",
            ),
            ("a==1 ; python_version<'3'\n", "unexpected `;`"),
            ("a==1 --hash=md5:abc\n", "only `sha256:HEX`"),
            ("a==1 --hash=sha256:abc\n", "not 64 hex digits"),
            ("a==1\nA==2\n", "pinned twice (also on line 1)"),
            ("a===1\n", "is not `name==version`"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let err = parse(&format!("a==1 --hash=sha256:{H}\nb==2\nc==3\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("these do not: b, c"), "{err}");
    }

    #[test]
    fn wheel_names() {
        assert!(is_pure_wheel("attrs-23.2.0-py3-none-any.whl"));
        assert!(is_pure_wheel("six-1.16.0-py2.py3-none-any.whl"));
        assert!(is_pure_wheel("pkg-1.0-1build-py3-none-any.whl"));
        assert!(!is_pure_wheel(
            "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl"
        ));
        assert!(!is_pure_wheel("x-1-py3-none-linux_x86_64.whl"));
        assert!(!is_pure_wheel("x-1-cp312-abi3-any.whl"));
        assert!(!is_pure_wheel("not-a-wheel.tar.gz"));
        assert_eq!(normalize_name("Foo.Bar--baz"), "foo_bar_baz");
    }
}
