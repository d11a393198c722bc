//! Making untrusted text safe to print on a terminal. File names, instance ids, test ids and
//! messages come from repositories, patches and input files that may be hostile: a `\r` or
//! `\n` could forge a `PASSED` line, an ESC sequence could rewrite the screen, a NUL or a
//! bidirectional-override character could hide or reorder what is shown, and a 10 MB id would
//! flood the log. [`terminal_safe`] is the one sanitizer every human-readable printer uses for
//! such a field: control characters (C0 including `\n`/`\r`/`\t`, DEL, C1) and the Unicode
//! bidirectional controls are written as `\u{…}` escapes, and the text is cut to
//! [`MAX_SHOWN_CHARS`] characters with the count of what was left out. JSON, JUnit and files on
//! disk keep the exact text.

use std::borrow::Cow;

/// The most characters of one untrusted field shown in a message.
pub const MAX_SHOWN_CHARS: usize = 200;

/// Whether `c` must not reach a terminal as is.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// The most characters of a whole message that may quote untrusted fields (its own wording
/// must survive; the fields inside it are cut on their own).
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// `text` with control and bidirectional characters escaped and cut to [`MAX_SHOWN_CHARS`].
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    terminal_safe_max(text, MAX_SHOWN_CHARS)
}

/// [`terminal_safe`], cut to `max` characters instead (e.g. [`MAX_MESSAGE_CHARS`]).
pub fn terminal_safe_max(text: &str, max: usize) -> Cow<'_, str> {
    let long = text.chars().nth(max).is_some();
    if !long && !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            let rest = text.chars().count() - i;
            out.push_str(&format!("… ({rest} more characters)"));
            break;
        }
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_and_long_text_cut() {
        assert!(matches!(
            terminal_safe("tests/test_a.py::t"),
            Cow::Borrowed(_)
        ));
        assert_eq!(terminal_safe("a\nPASSED b"), "a\\u{a}PASSED b");
        assert_eq!(terminal_safe("x\r\x1b[2K\0"), "x\\u{d}\\u{1b}[2K\\u{0}");
        assert_eq!(terminal_safe("ab\u{202E}cd"), "ab\\u{202e}cd");
        let long = "i".repeat(10_000);
        let shown = terminal_safe(&long);
        assert!(shown.len() < 300, "{shown}");
        assert!(shown.ends_with("(9800 more characters)"), "{shown}");
    }
}
