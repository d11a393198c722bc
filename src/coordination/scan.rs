//! Scanning Python-like text outside string quotes: the bracket that closes an opening one,
//! and the top-level comma-separated parts of an argument list. Shared by the example
//! extractors and the default inputs.

/// The bytes of `b` from `from` on that lie outside string quotes (the quote characters
/// themselves left out), each with the bracket depth before it, counted from `from`.
pub fn outside_quotes(b: &[u8], from: usize) -> impl Iterator<Item = (usize, u8, i32)> + '_ {
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    b.iter()
        .enumerate()
        .skip(from)
        .filter_map(move |(j, &c)| match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                None
            }
            None => {
                let before = depth;
                match c {
                    b'\'' | b'"' => {
                        quote = Some(c);
                        return None;
                    }
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth -= 1,
                    _ => {}
                }
                Some((j, c, before))
            }
        })
}

/// Index just past the bracket that closes the one at `open`; with `line_only`, `None` when a
/// newline comes first.
pub fn close_of(b: &[u8], open: usize, line_only: bool) -> Option<usize> {
    for (j, c, before) in outside_quotes(b, open) {
        match c {
            b')' | b']' | b'}' if before == 1 => return Some(j + 1),
            b'\n' if line_only => return None,
            _ => {}
        }
    }
    None
}

/// `text` split at commas outside brackets and quotes; a blank last part is left out.
pub fn split_top(text: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut start = 0;
    for (i, c, depth) in outside_quotes(text.as_bytes(), 0) {
        if c == b',' && depth == 0 {
            out.push(&text[start..i]);
            start = i + 1;
        }
    }
    if !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_close_outside_quotes() {
        let t = "f([1, ')'], {'a': (2,)}) == 3";
        assert_eq!(
            close_of(t.as_bytes(), 1, true),
            Some(t.find(" ==").unwrap())
        );
        assert_eq!(close_of(b"f(1,\n2)", 1, true), None);
        assert_eq!(close_of(b"f(1,\n2)", 1, false), Some(7));
    }

    #[test]
    fn top_level_commas_split() {
        assert_eq!(
            split_top("[1, 2], 'a,b', (3, 4), "),
            vec!["[1, 2]", " 'a,b'", " (3, 4)"]
        );
        assert!(split_top("  ").is_empty());
    }
}
