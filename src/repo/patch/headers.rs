//! Completing the file headers libgit2's patch parser needs: `git diff` writes the creation or
//! deletion of an *empty* file as a `diff --git` header with `new file mode` (or
//! `deleted file mode`) and an `index` line, without `---`/`+++` lines since there is no hunk.
//! `git apply` and GNU patch read that; libgit2 refuses it ("unexpected header line"), so the
//! whole patch was refused. The missing `--- /dev/null` / `+++ b/…` pair (or `--- a/…` /
//! `+++ /dev/null`) is added, which libgit2 reads as the same empty file.

/// `text` with a `---`/`+++` pair added to every `diff --git` section that creates or deletes
/// a file and has neither that pair nor a hunk nor binary data.
pub(super) fn complete_empty_file_headers(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + 64);
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("diff --git ") {
            out.push_str(lines[i]);
            i += 1;
            continue;
        }
        // The section: its header line and every line up to the next `diff --git`.
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].starts_with("diff --git "))
            .unwrap_or(lines.len());
        let section = &lines[i..end];
        for l in section {
            out.push_str(l);
        }
        let has = |prefix: &str| section.iter().any(|l| l.starts_with(prefix));
        let created = has("new file mode ");
        let deleted = has("deleted file mode ");
        let complete = has("--- ")
            || has("+++ ")
            || has("@@")
            || has("GIT binary patch")
            || has("Binary files ");
        if (created || deleted) && !complete {
            if let Some((old, new)) = paths(section[0]) {
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                if created {
                    out.push_str(&format!("--- /dev/null\n+++ b/{new}\n"));
                } else {
                    out.push_str(&format!("--- a/{old}\n+++ /dev/null\n"));
                }
            }
        }
        i = end;
    }
    out
}

/// The two paths of `diff --git a/X b/Y` (split at the middle ` b/` when X and Y are equal,
/// as they are for a created or deleted file).
fn paths(header: &str) -> Option<(String, String)> {
    let rest = header
        .strip_prefix("diff --git ")?
        .trim_end_matches(['\n', '\r']);
    let rest = rest.strip_prefix("a/")?;
    // `X b/X`: the split where both halves are the same path.
    let candidates: Vec<usize> = rest.match_indices(" b/").map(|(k, _)| k).collect();
    let k = candidates
        .iter()
        .copied()
        .find(|&k| rest[..k] == rest[k + 3..])
        .or_else(|| candidates.first().copied())?;
    Some((rest[..k].to_string(), rest[k + 3..].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_creation_and_deletion_get_their_headers() {
        let created = "diff --git a/pkg/__init__.py b/pkg/__init__.py\nnew file mode 100644\n\
                       index 0000000..e69de29\n";
        let deleted = "diff --git a/a b/a.py b/a b/a.py\ndeleted file mode 100644\n\
                       index e69de29..0000000\n";
        let change = "diff --git a/x.py b/x.py\nindex 1111111..2222222 100644\n--- a/x.py\n\
                      +++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n";
        let text = format!("{created}{change}{deleted}");
        assert_eq!(
            complete_empty_file_headers(&text),
            format!(
                "{created}--- /dev/null\n+++ b/pkg/__init__.py\n{change}{deleted}\
                 --- a/a b/a.py\n+++ /dev/null\n"
            )
        );
        // Sections that have their headers, hunks, or nothing to add are left alone.
        for unchanged in [
            change.to_string(),
            format!("{created}--- /dev/null\n+++ b/pkg/__init__.py\n"),
            "diff --git a/m b/m\nold mode 100644\nnew mode 100755\n".to_string(),
        ] {
            assert_eq!(complete_empty_file_headers(&unchanged), unchanged);
        }
    }
}
