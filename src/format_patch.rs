//! `codeswarm fix --format-patch`: the fix as a `git am`-ready mail (what `git format-patch`
//! writes): `From`, `Date` and `Subject` headers, a commit message made of the issue's title and
//! codeswarm's status and evidence (the reproduction test, the related tests, the edits, the
//! model), then the diff. `git am` on the base commit turns it into a commit with that message.
//!
//! Nothing of the issue but its title goes into the headers, and no body line can end the
//! message early: lines `git mailinfo` would read as the start of the diff (`---`, `diff -`,
//! `Index: `) or as a new mail (`From `) are indented.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::fix::{FixReport, FixStatus};

/// The author `git am` records (change it after with `git commit --amend --reset-author`).
pub const AUTHOR: &str = "codeswarm <codeswarm@localhost>";

/// The longest subject kept (characters, `[PATCH] ` excluded); a longer title is cut at a word.
const SUBJECT_MAX: usize = 72;

/// Why no mail can be written.
#[derive(Debug, thiserror::Error)]
pub enum FormatPatchError {
    #[error("the fix produced no patch, so there is nothing to format (--format-patch)")]
    NoPatch,
}

/// The issue's title: its first non-empty line, without Markdown heading marks, `Title:` or
/// surrounding quotes, whitespace collapsed, cut to [`SUBJECT_MAX`] characters at a word.
pub fn issue_title(issue: &str) -> String {
    let line = issue
        .lines()
        .map(str::trim)
        .find(|l| !l.trim_start_matches('#').trim().is_empty())
        .unwrap_or("");
    let mut t = line.trim_start_matches('#').trim();
    for prefix in ["Title:", "title:", "Issue:", "issue:"] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest.trim();
        }
    }
    let t = t.trim_matches(|c| c == '"' || c == '`' || c == '*').trim();
    let words: Vec<&str> = t.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        let next = if out.is_empty() {
            w.chars().count()
        } else {
            out.chars().count() + 1 + w.chars().count()
        };
        if next > SUBJECT_MAX {
            if out.is_empty() {
                out = w.chars().take(SUBJECT_MAX).collect();
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        "Fix the reported issue".to_string()
    } else {
        out
    }
}

/// The width commit messages are wrapped to.
const WRAP: usize = 72;

/// `line` wrapped at words to [`WRAP`] columns, continuation lines indented by `indent`.
fn wrap(line: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for w in line.split(' ').filter(|w| !w.is_empty()) {
        let n = w.chars().count();
        if width > 0 && width + 1 + n > WRAP {
            out.push('\n');
            out.push_str(indent);
            width = indent.len();
        } else if width > 0 {
            out.push(' ');
            width += 1;
        }
        out.push_str(w);
        width += n;
    }
    out
}

/// The commit message's body: status and evidence, one fact per (wrapped) line.
fn body(r: &FixReport) -> String {
    let mut b = String::new();
    b += &match r.status {
        FixStatus::Verified | FixStatus::Plausible => {
            format!("Status: {}: {}.\n", r.status, r.status.promise())
        }
        _ => format!(
            "Status: UNVERIFIED: {}\n",
            r.reason
                .as_deref()
                .unwrap_or("the fixer could not verify the patch")
        ),
    };
    b.push('\n');
    b += "Evidence (codeswarm fix):\n";
    let short = &r.base_commit[..r.base_commit.len().min(12)];
    b += &format!("- base: {} @ {short}\n", r.repo);
    if !r.localization.files.is_empty() {
        b += &format!(
            "- localized: {} ({})\n",
            r.localization.files.join(", "),
            r.localization.files_from
        );
    }
    if let Some(code) = &r.reproduction.issue_code {
        b += &format!("- the issue's code at the base: {}\n", code.at_base);
    }
    if r.reproduction.checks.is_empty() {
        b += "- reproduction: no check failed at the base\n";
    }
    for c in &r.reproduction.checks {
        b += &format!("- reproduction (fails at the base): {}\n", c.what);
    }
    if let Some(sel) = &r.selection {
        let v = &r.candidates[sel.chosen].verdict;
        let passed = v.checks.iter().filter(|x| **x == Some(true)).count();
        b += &format!(
            "- chosen: 1 of {} distinct candidates ({} proposals), {} agreeing; reproduction checks passed {}/{}{}\n",
            r.candidates.len(),
            r.proposals.len(),
            sel.agreeing,
            passed,
            v.checks.len(),
            if v.regressions.is_empty() {
                String::new()
            } else {
                format!("; regressions: {}", v.regressions.join(", "))
            }
        );
    }
    if !r.related_tests.is_empty() {
        b += &format!("- regression tests: {}\n", r.related_tests.join(", "));
    }
    let models: Vec<&str> = {
        let mut m: Vec<&str> = r.calls.iter().map(|c| c.model.as_str()).collect();
        m.dedup();
        m.sort_unstable();
        m.dedup();
        m
    };
    let t = &r.totals;
    b += &format!(
        "- model: {} ({} calls, {} generated tokens, {:.1} s)\n",
        if models.is_empty() {
            "none".to_string()
        } else {
            models.join(", ")
        },
        t.calls,
        t.generated_tokens,
        r.seconds
    );
    if let Some(limit) = &r.stopped_by {
        b += &format!("- stopped by: {limit}\n");
    }
    mail_safe(&b)
}

/// `text` wrapped to [`WRAP`] columns, with no line `git mailinfo` would read as the diff's
/// start (`---`, `diff -`, `Index: `) or as a new mail (`From `).
fn mail_safe(text: &str) -> String {
    text.lines()
        .map(|l| wrap(l, if l.starts_with("- ") { "  " } else { "" }))
        .collect::<Vec<_>>()
        .join("\n")
        .lines()
        .map(|l| {
            if l.starts_with("---") || l.starts_with("diff -") || l.starts_with("Index: ") {
                format!(" {l}")
            } else if l.starts_with("From ") {
                format!(">{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `Sun, 6 Dec 2026 21:29:15 +0000` for `secs` after the Unix epoch (UTC).
pub fn rfc2822_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days.rem_euclid(7)) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// The mail for `r`, dated `secs` after the Unix epoch.
pub fn format_patch_at(r: &FixReport, secs: u64) -> Result<String, FormatPatchError> {
    if !r.status.has_patch() || r.patch.trim().is_empty() {
        return Err(FormatPatchError::NoPatch);
    }
    let sha = if r.base_commit.len() == 40 {
        r.base_commit.as_str()
    } else {
        "0000000000000000000000000000000000000000"
    };
    let mut m = format!("From {sha} Mon Sep 17 00:00:00 2001\n");
    m += &format!("From: {AUTHOR}\n");
    m += &format!("Date: {}\n", rfc2822_date(secs));
    m += &format!("Subject: [PATCH] {}\n", issue_title(&r.issue));
    m += "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n";
    m += &body(r);
    m += "---\n";
    m += &r.patch;
    if !r.patch.ends_with('\n') {
        m.push('\n');
    }
    m += &format!("-- \ncodeswarm {}\n\n", env!("CARGO_PKG_VERSION"));
    Ok(m)
}

/// The mail for `r`, dated now.
pub fn format_patch(r: &FixReport) -> Result<String, FormatPatchError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_patch_at(r, secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc2822() {
        assert_eq!(rfc2822_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc2822_date(1_796_592_555),
            "Sun, 6 Dec 2026 21:29:15 +0000"
        );
    }

    #[test]
    fn no_body_line_ends_the_message_or_starts_a_mail() {
        let safe = mail_safe("ok\n--- a/x\ndiff --git a/x b/x\nIndex: x\nFrom me\n\nend");
        assert_eq!(
            safe,
            "ok\n --- a/x\n diff --git a/x b/x\n Index: x\n>From me\n\nend\n"
        );
    }

    #[test]
    fn long_lines_wrap_at_words() {
        let line = format!("- {}", "word ".repeat(30));
        let w = wrap(&line, "  ");
        assert!(w.lines().all(|l| l.chars().count() <= WRAP), "{w}");
        assert!(w.lines().skip(1).all(|l| l.starts_with("  word")), "{w}");
        assert_eq!(w.split_whitespace().count(), 31);
    }

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(
            issue_title("\n# truncate() cuts one character too many\n\nbody"),
            "truncate() cuts one character too many"
        );
        assert_eq!(issue_title("Title: \"x fails\"\n"), "x fails");
        assert_eq!(issue_title("  \n\n"), "Fix the reported issue");
        let long = "word ".repeat(40);
        let t = issue_title(&long);
        assert!(
            t.chars().count() <= SUBJECT_MAX && t.ends_with("word"),
            "{t}"
        );
    }
}
