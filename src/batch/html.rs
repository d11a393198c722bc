//! The self-contained HTML report of a run (`codeswarm report RUN_DIR --html OUT.html`): one
//! file, inline CSS, no scripts and no external assets. A summary table links to one section
//! per instance with its status, reason, time, tokens, a link to its `trajectory.json`
//! (relative to the HTML file) and its diff with added, removed and hunk lines coloured. A run
//! of the repository fixer also shows each patch's fix status (with what it promises on
//! hover) and the instances per status.
//! Every piece of run data is HTML-escaped: ids, reasons, settings and patches.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::fix_status::FixStatus;
use super::report::{ReportRow, RunReport};

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a relative path for an `href` (unreserved characters and `/` kept).
fn encode_href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `target` relative to the directory `from` (both absolute), `/`-separated.
fn relative_path(from: &Path, target: &Path) -> Option<String> {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(parts.join("/"))
}

/// The link to `target` from a page in `html_dir`: relative when possible, else `file://`.
fn link(html_dir: &Path, target: &Path) -> String {
    let abs = |p: &Path| {
        p.canonicalize()
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (dir, target) = (abs(html_dir), abs(target));
    match relative_path(&dir, &target) {
        Some(rel) => encode_href(&rel),
        None => format!("file://{}", encode_href(&target.to_string_lossy())),
    }
}

const STYLE: &str = r#"
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --panel:#f6f8fa;
  --add:#dafbe1; --add-fg:#116329; --del:#ffebe9; --del-fg:#82071e; --hunk:#ddf4ff; --hunk-fg:#0550ae; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; color: var(--fg); background: var(--bg);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0; }
.muted { color: var(--muted); }
dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 20px; }
dl.settings dt { color: var(--muted); } dl.settings dd { margin: 0; word-break: break-all; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 20px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; background: var(--panel); min-width: 110px; }
.card b { display: block; font-size: 20px; }
table.summary { border-collapse: collapse; width: 100%; margin-bottom: 28px; }
table.summary th, table.summary td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; }
table.summary td.num, table.summary th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary tr:hover td { background: var(--panel); }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid transparent; }
.s-patched { background: var(--add); color: var(--add-fg); }
.s-no_patch, .s-recorded, .s-incomplete { background: var(--panel); color: var(--muted); border-color: var(--line); }
.s-failed, .s-panicked, .s-timed_out { background: var(--del); color: var(--del-fg); }
.s-interrupted { background: #fff8c5; color: #7d4e00; }
.f-verified { background: var(--add); color: var(--add-fg); }
.f-plausible { background: var(--hunk); color: var(--hunk-fg); }
.f-unverified { background: #fff8c5; color: #7d4e00; }
.f-no-patch { background: var(--panel); color: var(--muted); border-color: var(--line); }
section.instance { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 16px; overflow: hidden; }
section.instance header { padding: 10px 14px; background: var(--panel); border-bottom: 1px solid var(--line);
  display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: baseline; }
section.instance .reason { padding: 8px 14px; border-bottom: 1px solid var(--line); white-space: pre-wrap; }
pre.diff { margin: 0; padding: 8px 0; overflow-x: auto; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.diff span { display: block; padding: 0 14px; white-space: pre; min-height: 1.45em; }
pre.diff .add { background: var(--add); color: var(--add-fg); }
pre.diff .del { background: var(--del); color: var(--del-fg); }
pre.diff .hunk { background: var(--hunk); color: var(--hunk-fg); }
pre.diff .meta { color: var(--muted); font-weight: 600; }
.empty { padding: 10px 14px; color: var(--muted); font-style: italic; }
"#;

fn diff_html(patch: &str) -> String {
    let mut out = String::from("<pre class=\"diff\">");
    for line in patch.lines() {
        let class = if line.starts_with("+++")
            || line.starts_with("---")
            || line.starts_with("diff --git")
            || line.starts_with("index ")
            || line.starts_with("new file")
            || line.starts_with("deleted file")
        {
            "meta"
        } else if line.starts_with("@@") {
            "hunk"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else {
            "ctx"
        };
        // The newline inside the block keeps copied text line by line without adding space.
        let _ = write!(out, "<span class=\"{class}\">{}\n</span>", escape(line));
    }
    out.push_str("</pre>");
    out
}

fn badge(status: &str) -> String {
    // The class is built from a fixed alphabet so a strange status cannot break out.
    let class: String = status
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<span class=\"badge s-{class}\">{}</span>", escape(status))
}

/// A fix status's badge, with what it promises as its tooltip (fixed words, no run data).
fn fix_badge(status: Option<FixStatus>) -> String {
    match status {
        Some(s) => format!(
            "<span class=\"badge f-{s}\" title=\"{}\">{s}</span>",
            escape(s.promise())
        ),
        None => "–".into(),
    }
}

fn fmt_seconds(row: &ReportRow) -> String {
    row.seconds().map_or("–".into(), |s| format!("{s:.1} s"))
}

/// Render the page for `report`, to be written at `html_path` (links are relative to it).
pub fn render_html(report: &RunReport, html_path: &Path) -> String {
    let html_dir: PathBuf = html_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let totals = report.totals();
    let title = format!(
        "codeswarm run {}",
        report
            .run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| report.run_dir.display().to_string())
    );
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<div class=\"muted\">{}</div>\n",
        escape(&title),
        escape(&title),
        escape(&report.run_dir.display().to_string())
    );
    if let Some(m) = &report.manifest {
        let s = &m.settings;
        let mut rows: Vec<(&str, String)> = vec![
            ("model", s.model.clone()),
            (
                "instances",
                format!(
                    "{} (sha256 {})",
                    s.instances_file.display(),
                    s.instances_sha256
                ),
            ),
            ("predictions", s.predictions.display().to_string()),
            ("state", m.state.clone()),
            ("started", m.started_at.clone()),
            ("updated", m.updated_at.clone()),
            (
                "time limit",
                s.time_limit_s.map_or("none".into(), |t| format!("{t} s")),
            ),
            ("codeswarm", s.codeswarm_version.clone()),
        ];
        if let Some(shard) = &s.filter.shard {
            rows.push(("shard", shard.to_string()));
        }
        if let Some(limit) = s.filter.limit {
            rows.push(("limit", limit.to_string()));
        }
        if let Some(ids) = &s.filter.instance_ids {
            rows.push(("instance ids", ids.join(", ")));
        }
        h.push_str("<dl class=\"settings\">\n");
        for (k, v) in rows {
            let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
        }
        h.push_str("</dl>\n");
    }
    let _ = write!(
        h,
        "<div class=\"cards\"><div class=\"card\"><b>{}</b>instances</div><div class=\"card\"><b>{}</b>patched</div><div class=\"card\"><b>{}</b>without patch</div><div class=\"card\"><b>{}</b>failed</div><div class=\"card\"><b>{:.0} s</b>solve time</div><div class=\"card\"><b>{}</b>tokens</div></div>\n",
        totals.instances, totals.patched, totals.no_patch, totals.failed, totals.seconds, totals.tokens
    );
    let with_status = !totals.by_status.is_empty();
    if with_status {
        h.push_str("<div class=\"cards\">");
        for s in FixStatus::ALL {
            let _ = write!(
                h,
                "<div class=\"card\" title=\"{}\"><b>{}</b>{s}</div>",
                escape(s.promise()),
                totals.by_status.get(s)
            );
        }
        h.push_str("</div>\n");
    }

    let _ = write!(
        h,
        "<table class=\"summary\">\n<thead><tr><th>instance</th><th>status</th>{}<th class=\"num\">seconds</th><th class=\"num\">tokens</th><th class=\"num\">patch lines</th></tr></thead>\n<tbody>\n",
        if with_status { "<th>fix status</th>" } else { "" }
    );
    for (i, row) in report.rows.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#i{i}\">{}</a></td><td>{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&row.instance_id),
            badge(&row.status),
            if with_status {
                format!("<td>{}</td>", fix_badge(row.fix_status))
            } else {
                String::new()
            },
            row.seconds().map_or("–".into(), |s| format!("{s:.1}")),
            row.tokens().map_or("–".into(), |t| t.to_string()),
            row.patch_lines()
        );
    }
    h.push_str("</tbody>\n</table>\n");

    for (i, row) in report.rows.iter().enumerate() {
        let _ = write!(
            h,
            "<section class=\"instance\" id=\"i{i}\">\n<header><h2>{}</h2>{}{}<span>{}</span><span>{} tokens</span><span>{} patch lines</span>",
            escape(&row.instance_id),
            badge(&row.status),
            if row.fix_status.is_some() {
                fix_badge(row.fix_status)
            } else {
                String::new()
            },
            fmt_seconds(row),
            row.tokens().map_or("–".into(), |t| t.to_string()),
            row.patch_lines()
        );
        if let Some(t) = &row.trajectory {
            let _ = write!(
                h,
                "<a href=\"{}\">trajectory.json</a>",
                escape(&link(&html_dir, t))
            );
        }
        if !row.in_predictions {
            h.push_str("<span class=\"muted\">not in the predictions file</span>");
        }
        h.push_str("</header>\n");
        if let Some(reason) = row.result.as_ref().and_then(|r| r.reason.as_deref()) {
            let _ = writeln!(h, "<div class=\"reason\">{}</div>", escape(reason));
        }
        if row.patch.trim().is_empty() {
            h.push_str("<div class=\"empty\">no patch</div>\n");
        } else {
            h.push_str(&diff_html(&row.patch));
            h.push('\n');
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// Render and write the page atomically.
pub fn write_html(report: &RunReport, out: &Path) -> std::io::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::fsutil::write_atomic(out, render_html(report, out).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn relative_links() {
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b/c/t.json")).unwrap(),
            "c/t.json"
        );
        assert_eq!(
            relative_path(Path::new("/a/x/y"), Path::new("/a/b/t.json")).unwrap(),
            "../../b/t.json"
        );
        assert_eq!(
            encode_href("dir with space/a#b.json"),
            "dir%20with%20space/a%23b.json"
        );
    }

    #[test]
    fn diff_lines_are_classified_and_escaped() {
        let html = diff_html(
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+<b>new</b>\n ctx\n",
        );
        assert!(html.contains("<span class=\"del\">-old\n</span>"));
        assert!(html.contains("<span class=\"add\">+&lt;b&gt;new&lt;/b&gt;\n</span>"));
        assert!(html.contains("<span class=\"hunk\">@@ -1 +1 @@\n</span>"));
        assert!(html.contains("<span class=\"meta\">+++ b/x\n</span>"));
    }
}
