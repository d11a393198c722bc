//! When to stop generating besides end-of-text and the token limit: stop strings, and
//! degenerate repetition (small models fall into loops that repeat the same block of lines
//! until the token limit; stopping at the third copy saves the time and keeps one copy).

use super::Finish;

/// Blocks shorter than this (non-blank characters) are not treated as a loop: code legitimately
/// repeats short lines such as `    pass` or `)`.
const MIN_BLOCK_CHARS: usize = 40;
/// Longest repeated block looked for, in lines.
const MAX_BLOCK_LINES: usize = 40;

/// Watches generated text as it grows.
#[derive(Debug, Default)]
pub struct Stopper {
    stops: Vec<String>,
    repetition: bool,
    bytes: Vec<u8>,
}

impl Stopper {
    pub fn new(stops: &[String], repetition: bool) -> Self {
        Self {
            stops: stops.to_vec(),
            repetition,
            bytes: vec![],
        }
    }

    /// Add a token's bytes; returns why to stop and where to cut the text, if generation should end.
    pub fn push(&mut self, piece: &[u8]) -> Option<(Finish, usize)> {
        self.bytes.extend_from_slice(piece);
        let newline = piece.contains(&b'\n');
        if self.stops.is_empty() && !(self.repetition && newline) {
            return None;
        }
        let text = String::from_utf8_lossy(&self.bytes);
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| text.find(s.as_str()))
            .min()
        {
            return Some((Finish::StopString, at));
        }
        if self.repetition && newline {
            if let Some(at) = repeated_tail(&text) {
                return Some((Finish::Repetition, at));
            }
        }
        None
    }

    /// The text so far (lossy UTF-8), cut at `cut` if given.
    pub fn text(&self, cut: Option<usize>) -> String {
        let mut t = String::from_utf8_lossy(&self.bytes).into_owned();
        if let Some(at) = cut {
            let mut at = at.min(t.len());
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            t.truncate(at);
        }
        t
    }
}

/// If `text` (ending in a newline) ends with the same block of lines three times in a row,
/// the byte offset where the second copy starts.
pub fn repeated_tail(text: &str) -> Option<usize> {
    if !text.ends_with('\n') {
        return None;
    }
    // Byte offsets of the start of each line.
    let mut starts = vec![0usize];
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' && i + 1 < text.len() {
            starts.push(i + 1);
        }
    }
    let n = starts.len();
    let line = |i: usize| -> &str {
        let end = if i + 1 < n { starts[i + 1] } else { text.len() };
        &text[starts[i]..end]
    };
    for len in 1..=MAX_BLOCK_LINES.min(n / 3) {
        let block = |k: usize| (n - k * len..n - (k - 1) * len).map(line);
        if block(1).eq(block(2)) && block(2).eq(block(3)) {
            let chars: usize = block(1)
                .map(|l| l.chars().filter(|c| !c.is_whitespace()).count())
                .sum();
            if chars >= MIN_BLOCK_CHARS {
                return Some(starts[n - 2 * len]);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_repeated_three_times_is_cut_after_the_first_copy() {
        let block = "def test_a():\n    assert fizzbuzz(15) == 'FizzBuzz'\n";
        let text = format!("```python\n{block}{block}{block}");
        let at = repeated_tail(&text).unwrap();
        assert_eq!(&text[..at], format!("```python\n{block}"));
        assert_eq!(
            repeated_tail(&format!("```python\n{block}{block}")),
            None,
            "two copies may be legitimate"
        );
    }

    #[test]
    fn short_repeated_lines_are_not_a_loop() {
        assert_eq!(
            repeated_tail("x = [\n    0,\n    0,\n    0,\n    0,\n"),
            None
        );
        assert_eq!(repeated_tail("    pass\n    pass\n    pass\n"), None);
        assert_eq!(repeated_tail("no newline at the end"), None);
    }

    #[test]
    fn stopper_reports_stop_strings_and_loops() {
        let mut s = Stopper::new(&["</answer>".to_string()], true);
        assert!(s.push(b"abc</ans").is_none());
        assert_eq!(s.push(b"wer> tail"), Some((Finish::StopString, 3)));
        assert_eq!(s.text(Some(3)), "abc");
        let mut r = Stopper::new(&[], true);
        let line = b"print('the same long line of generated output')\n";
        assert!(r.push(line).is_none());
        assert!(r.push(line).is_none());
        let (f, at) = r.push(line).unwrap();
        assert_eq!(f, Finish::Repetition);
        assert_eq!(r.text(Some(at)).len(), line.len());
        let mut off = Stopper::new(&[], false);
        for _ in 0..5 {
            assert!(off.push(line).is_none());
        }
    }
}
