//! Where a hunk goes in a file, and the file with the hunks spliced in: the offset and fuzz tiers
//! of [`super::apply_patch`] (see the module documentation of [`super`] for the rules).
//!
//! Everything here works on bytes: a line is its text with its own ending (`\n`, `\r\n`, or none
//! for a last line without a newline), and two lines match only when their bytes are equal.
//! Positions are 0-based line indexes into the file as it was before the patch (the hunks of a
//! file are placed in order against the original content, then spliced in one pass).

use super::ApplyMethod;

/// What a hunk line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind {
    Context,
    Removed,
    Added,
}

/// One hunk, split into the lines it expects (`pre`: context and removed lines) and the lines
/// it leaves (`post`: context and added lines).
#[derive(Debug, Clone)]
pub(super) struct Hunk {
    /// The `@@ … @@` line, trimmed.
    pub header: String,
    /// The old start line of the header (1-based; for a hunk without old lines, the line after
    /// which its lines go, 0 for the top of the file).
    pub old_start: u32,
    pub new_start: u32,
    pub pre: Vec<Vec<u8>>,
    pub post: Vec<Vec<u8>>,
    /// Context lines before the first removed or added line.
    pub lead: usize,
    /// Context lines after the last removed or added line.
    pub trail: usize,
}

impl Hunk {
    /// Build a hunk from its lines in patch order. A line's text keeps its line ending; a line
    /// followed by `\ No newline at end of file` has none.
    pub fn new(
        header: String,
        old_start: u32,
        new_start: u32,
        lines: Vec<(LineKind, Vec<u8>)>,
    ) -> Hunk {
        let first_change = lines.iter().position(|(k, _)| *k != LineKind::Context);
        let (lead, trail) = match first_change {
            Some(first) => {
                let last = lines
                    .iter()
                    .rposition(|(k, _)| *k != LineKind::Context)
                    .unwrap_or(first);
                (first, lines.len() - 1 - last)
            }
            // Only context: nothing to change; all of it leads.
            None => (lines.len(), 0),
        };
        let mut pre = Vec::new();
        let mut post = Vec::new();
        for (kind, text) in lines {
            match kind {
                LineKind::Context => {
                    pre.push(text.clone());
                    post.push(text);
                }
                LineKind::Removed => pre.push(text),
                LineKind::Added => post.push(text),
            }
        }
        Hunk {
            header,
            old_start,
            new_start,
            pre,
            post,
            lead,
            trail,
        }
    }

    /// The 0-based index where `pre` starts according to the header.
    pub fn stated(&self) -> usize {
        Self::stated_of(self.old_start, self.pre.len())
    }

    fn stated_of(start: u32, lines: usize) -> usize {
        if lines == 0 {
            start as usize
        } else {
            (start as usize).saturating_sub(1)
        }
    }

    /// The same hunk undone (what the file looks like if it was applied already).
    fn reversed(&self) -> Hunk {
        Hunk {
            header: self.header.clone(),
            old_start: self.new_start,
            new_start: self.old_start,
            pre: self.post.clone(),
            post: self.pre.clone(),
            lead: self.lead,
            trail: self.trail,
        }
    }
}

/// How far the tiers may go.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_method: ApplyMethod,
    /// GNU `patch --fuzz`: the most context lines ignored at either end of a hunk.
    pub max_fuzz: usize,
}

/// Where a hunk was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placed {
    /// 0-based index of the hunk's first `pre` line (for a hunk without `pre` lines, the index
    /// its lines were inserted at).
    pub at: usize,
    pub method: ApplyMethod,
    /// The fuzz level that found it (0 unless `method` is fuzz).
    pub fuzz: usize,
}

impl Placed {
    /// The 1-based line in the original file where the hunk went, in the header's convention.
    pub fn line(&self, hunk: &Hunk) -> usize {
        if hunk.pre.is_empty() {
            self.at
        } else {
            self.at + 1
        }
    }
}

/// Why a hunk could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// No tier found it.
    NotFound {
        /// Where most of the hunk's lines are (`None`: none of them is in the file).
        closest: Option<Closest>,
        /// The largest fuzz tried (0 when the fuzz tier did not run).
        fuzz_tried: usize,
    },
    /// The first hunk's result is in the file already (GNU `patch --forward` refuses this).
    AlreadyApplied { line: usize },
}

/// A file's lines, each with its ending.
pub(super) fn split_lines(content: &[u8]) -> Vec<&[u8]> {
    content.split_inclusive(|b| *b == b'\n').collect()
}

/// Place `hunks` (in order) on `content` and splice them in. On failure, the index of the
/// hunk that failed and why.
pub(super) fn apply_hunks(
    content: &[u8],
    hunks: &[Hunk],
    limits: Limits,
) -> Result<(Vec<u8>, Vec<Placed>), (usize, Failure)> {
    let file = split_lines(content);
    let mut placed = Vec::with_capacity(hunks.len());
    // Changed lines of earlier hunks lie before `floor`; a later hunk is only looked for after.
    let mut floor = 0usize;
    // The previous hunk's offset, carried to the next one's guess as GNU patch does.
    let mut carried = 0isize;
    for (idx, hunk) in hunks.iter().enumerate() {
        let place = locate(&file, hunk, floor, carried, limits, idx == 0)
            .map_err(|failure| (idx, failure))?;
        floor = place.at + hunk.pre.len() - hunk.trail;
        carried = place.at as isize - hunk.stated() as isize;
        placed.push(place);
    }
    let mut out: Vec<u8> = Vec::with_capacity(content.len() + 256);
    let push = |line: &[u8], out: &mut Vec<u8>| {
        // A line without a newline that is no longer last gets one (as GNU patch does).
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(line);
    };
    let mut cursor = 0usize;
    for (hunk, place) in hunks.iter().zip(&placed) {
        let start = place.at + hunk.lead;
        let end = place.at + hunk.pre.len() - hunk.trail;
        for line in &file[cursor..start] {
            push(line, &mut out);
        }
        for line in &hunk.post[hunk.lead..hunk.post.len() - hunk.trail] {
            push(line, &mut out);
        }
        cursor = end;
    }
    for line in &file[cursor..] {
        push(line, &mut out);
    }
    Ok((out, placed))
}

/// Does `pattern[pf..len - sf]` equal the file's lines from `at + pf` on? The pattern's
/// ignored tail may not run past the end of the file only when `sf` is 0.
fn matches(file: &[&[u8]], pattern: &[Vec<u8>], at: usize, pf: usize, sf: usize) -> bool {
    let end = pattern.len() - sf;
    if at + end > file.len() {
        return false;
    }
    (pf..end).all(|i| file[at + i] == pattern[i].as_slice())
}

/// The first position in `lo..=hi`, by distance from `guess` (later before earlier at equal
/// distance, as both `git apply` and GNU patch search), where `ok` holds.
fn search(guess: isize, lo: isize, hi: isize, mut ok: impl FnMut(usize) -> bool) -> Option<usize> {
    if lo > hi {
        return None;
    }
    let first = if guess > hi {
        guess - hi
    } else if guess < lo {
        lo - guess
    } else {
        0
    };
    let last = (guess - lo).max(hi - guess);
    for d in first..=last {
        let forward = guess + d;
        if forward >= lo && forward <= hi && ok(forward as usize) {
            return Some(forward as usize);
        }
        let backward = guess - d;
        if d > 0 && backward >= lo && backward <= hi && ok(backward as usize) {
            return Some(backward as usize);
        }
    }
    None
}

fn locate(
    file: &[&[u8]],
    hunk: &Hunk,
    floor: usize,
    carried: isize,
    limits: Limits,
    first_hunk: bool,
) -> Result<Placed, Failure> {
    let stated = hunk.stated();
    // A hunk without context or removed lines (`-U0`) matches anywhere: after an earlier hunk
    // was moved, GNU patch puts it at its stated line moved by as much (`git apply` refuses
    // such hunks without `--unidiff-zero`).
    if hunk.pre.is_empty() && carried != 0 && limits.max_method >= ApplyMethod::Offset {
        if let Some(at) = locate_gnu(file, hunk, floor, carried, 0) {
            return Ok(Placed {
                at,
                method: ApplyMethod::Offset,
                fuzz: 0,
            });
        }
    }
    // 1. Exact: the whole hunk at its stated line.
    if stated >= floor && matches(file, &hunk.pre, stated, 0, 0) {
        return Ok(Placed {
            at: stated,
            method: ApplyMethod::Exact,
            fuzz: 0,
        });
    }
    if limits.max_method >= ApplyMethod::Offset {
        // 2. `git apply`: the whole hunk at the nearest line.
        if let Some(at) = locate_git(file, hunk, floor) {
            return Ok(Placed {
                at,
                method: ApplyMethod::Offset,
                fuzz: 0,
            });
        }
    }
    // 3. GNU patch: fuzz 0 (its own offset search), then up to `max_fuzz` context lines
    // ignored at either end.
    let context = hunk.lead.max(hunk.trail);
    let max_fuzz = if limits.max_method >= ApplyMethod::Fuzz {
        limits.max_fuzz.min(context)
    } else {
        0
    };
    let mut fuzz_tried = 0;
    if limits.max_method >= ApplyMethod::Offset {
        let reversed = first_hunk.then(|| hunk.reversed());
        for fuzz in 0..=max_fuzz {
            fuzz_tried = fuzz;
            if let Some(at) = locate_gnu(file, hunk, floor, carried, fuzz) {
                let method = if fuzz == 0 {
                    ApplyMethod::Offset
                } else {
                    ApplyMethod::Fuzz
                };
                return Ok(Placed { at, method, fuzz });
            }
            // GNU `patch --forward` refuses a patch whose first hunk is found undone.
            if let Some(rev) = &reversed {
                if rev.pre != rev.post && reversal_found(file, rev, floor, carried, fuzz) {
                    let at = locate_gnu(file, rev, floor, carried, fuzz).unwrap_or(0);
                    return Err(Failure::AlreadyApplied {
                        line: Placed {
                            at,
                            method: ApplyMethod::Exact,
                            fuzz,
                        }
                        .line(rev),
                    });
                }
            }
        }
    }
    Err(Failure::NotFound {
        closest: closest(file, hunk),
        fuzz_tried,
    })
}

/// `git apply` (no `-C`): search outward from the stated line; a hunk starting at line 0 or 1
/// must match at the top of the file, a hunk without trailing context at its end.
fn locate_git(file: &[&[u8]], hunk: &Hunk, floor: usize) -> Option<usize> {
    let n = file.len();
    let m = hunk.pre.len();
    if m > n {
        return None;
    }
    let at_top = hunk.old_start <= 1;
    let at_end = hunk.trail == 0;
    let ok = |at: usize| {
        at >= floor
            && (!at_top || at == 0)
            && (!at_end || at + m == n)
            && matches(file, &hunk.pre, at, 0, 0)
    };
    if at_top {
        return ok(0).then_some(0);
    }
    if at_end {
        return ok(n - m).then_some(n - m);
    }
    search(hunk.stated() as isize, floor as isize, (n - m) as isize, ok)
}

/// GNU patch's `locate_hunk` at one fuzz level: the guess is the stated line plus the previous
/// hunk's offset; with asymmetric context, the side with less context counts as anchored to
/// the top (for hunks starting at line 0 or 1) or end of the file until the fuzz covers the
/// difference.
fn locate_gnu(
    file: &[&[u8]],
    hunk: &Hunk,
    floor: usize,
    carried: isize,
    fuzz: usize,
) -> Option<usize> {
    let n = file.len() as isize;
    let m = hunk.pre.len() as isize;
    let (lead, trail) = (hunk.lead as isize, hunk.trail as isize);
    let context = lead.max(trail);
    let mut pf = fuzz as isize + lead - context;
    let sf = fuzz as isize + trail - context;
    let guess = hunk.stated() as isize + carried;
    let floor = floor as isize;
    if m == 0 {
        // Nothing to compare: it goes at the guess (kept inside the file and after the
        // previous hunk).
        return Some(guess.clamp(floor, n.max(floor)) as usize);
    }
    if pf < 0 && hunk.old_start <= 1 {
        // Only at the top of the file (the whole file when the end is anchored too).
        if (sf < 0 && m != n) || floor > 0 {
            return None;
        }
        let sf = sf.max(0);
        if m - sf > n {
            return None;
        }
        return matches(file, &hunk.pre, 0, 0, sf as usize).then_some(0);
    }
    pf = pf.max(0);
    if sf < 0 {
        // Only at the end of the file.
        let at = n - m;
        if at < 0 || at + pf < floor {
            return None;
        }
        return matches(file, &hunk.pre, at as usize, pf as usize, 0).then_some(at as usize);
    }
    let lo = (floor - pf).max(0);
    let hi = n - (m - sf);
    search(guess, lo, hi, |at| {
        matches(file, &hunk.pre, at, pf as usize, sf as usize)
    })
}

/// Is the reversed first hunk found at this fuzz level with at least one of its changed lines
/// compared (an empty comparison proves nothing)?
fn reversal_found(file: &[&[u8]], rev: &Hunk, floor: usize, carried: isize, fuzz: usize) -> bool {
    let changed = rev.pre.len() - rev.lead - rev.trail;
    changed > 0 && locate_gnu(file, rev, floor, carried, fuzz).is_some()
}

/// Where a hunk that was not found comes closest: for a message that shows what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Closest {
    /// 1-based line of the hunk's first context or removed line there.
    pub line: usize,
    /// How many of its `of` context and removed lines are equal there.
    pub matching: usize,
    pub of: usize,
    /// Up to three differing lines: 1-based line, the file's text (`None`: past the end of
    /// the file), the hunk's text.
    pub differences: Vec<(usize, Option<String>, String)>,
}

/// The position with the most of the hunk's lines equal (nearest the stated line on ties,
/// the later one first).
fn closest(file: &[&[u8]], hunk: &Hunk) -> Option<Closest> {
    let m = hunk.pre.len();
    if m == 0 || file.is_empty() {
        return None;
    }
    let score = |at: usize| {
        (0..m)
            .filter(|&i| file.get(at + i).copied() == Some(hunk.pre[i].as_slice()))
            .count()
    };
    let stated = hunk.stated().min(file.len() - 1) as isize;
    let mut best: Option<(usize, usize)> = None;
    search(stated, 0, file.len() as isize - 1, |at| {
        let s = score(at);
        if s > best.map_or(0, |(_, b)| b) {
            best = Some((at, s));
        }
        false
    });
    let (at, matching) = best?;
    let show = |b: &[u8]| {
        let text = String::from_utf8_lossy(b);
        let text = text.trim_end_matches(['\n', '\r']);
        let mut short: String = text.chars().take(100).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        short
    };
    let differences = (0..m)
        .filter_map(|i| {
            let actual = file.get(at + i).copied();
            (actual != Some(hunk.pre[i].as_slice()))
                .then(|| (at + i + 1, actual.map(show), show(&hunk.pre[i])))
        })
        .take(3)
        .collect();
    Some(Closest {
        line: at + 1,
        matching,
        of: m,
        differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hunk from unified-diff body lines (`' '`, `'-'`, `'+'` prefixes, `\n` added).
    fn hunk(old_start: u32, new_start: u32, body: &[&str]) -> Hunk {
        let lines = body
            .iter()
            .map(|l| {
                let (kind, text) = match l.as_bytes().first() {
                    Some(b'-') => (LineKind::Removed, &l[1..]),
                    Some(b'+') => (LineKind::Added, &l[1..]),
                    _ => (LineKind::Context, l.get(1..).unwrap_or("")),
                };
                (kind, format!("{text}\n").into_bytes())
            })
            .collect();
        Hunk::new(format!("@@ -{old_start} @@"), old_start, new_start, lines)
    }

    fn text(lines: &[&str]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    const ALL: Limits = Limits {
        max_method: ApplyMethod::Fuzz,
        max_fuzz: 5,
    };

    fn numbered(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("line {i}")).collect()
    }

    #[test]
    fn exact_offset_and_fuzz_are_told_apart() {
        let lines = numbered(20);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let file = text(&refs);
        let h = hunk(
            9,
            9,
            &[
                " line 9", " line 10", " line 11", "-line 12", "+twelve", " line 13", " line 14",
                " line 15",
            ],
        );
        let (out, placed) = apply_hunks(&file, std::slice::from_ref(&h), ALL).unwrap();
        assert_eq!(placed[0].method, ApplyMethod::Exact);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("line 11\ntwelve\nline 13\n"));

        // Four lines gained above: offset 4.
        let mut shifted: Vec<&str> = vec!["a", "b", "c", "d"];
        shifted.extend(&refs);
        let (_, placed) = apply_hunks(&text(&shifted), std::slice::from_ref(&h), ALL).unwrap();
        assert_eq!(
            (placed[0].at, placed[0].method, placed[0].fuzz),
            (12, ApplyMethod::Offset, 0)
        );

        // The outer context line changed: fuzz 1, and the file keeps its own line there.
        let mut changed = refs.clone();
        changed[8] = "line nine";
        let (out, placed) = apply_hunks(&text(&changed), std::slice::from_ref(&h), ALL).unwrap();
        assert_eq!((placed[0].method, placed[0].fuzz), (ApplyMethod::Fuzz, 1));
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("line nine\nline 10\nline 11\ntwelve\nline 13\n"));

        // Offsets only: the same change is refused.
        let offset_only = Limits {
            max_method: ApplyMethod::Offset,
            max_fuzz: 5,
        };
        assert!(apply_hunks(&text(&changed), std::slice::from_ref(&h), offset_only).is_err());
    }

    #[test]
    fn removed_lines_are_never_fuzzed_away() {
        let lines = numbered(10);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let h = hunk(
            3,
            3,
            &[" line 3", " line 4", "-line 99", "+x", " line 6", " line 7"],
        );
        match apply_hunks(&text(&refs), &[h], ALL).unwrap_err() {
            (
                0,
                Failure::NotFound {
                    closest: Some(closest),
                    fuzz_tried,
                },
            ) => {
                assert_eq!(
                    closest,
                    Closest {
                        line: 3,
                        matching: 4,
                        of: 5,
                        differences: vec![(5, Some("line 5".into()), "line 99".into())]
                    }
                );
                assert_eq!(fuzz_tried, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nearest_position_wins_and_later_wins_ties() {
        // `x` at 0-based 2 and 6, stated at 4: both 2 away, the later one is taken.
        let file = text(&["a", "b", "x", "c", "d", "e", "x", "f"]);
        let h = hunk(5, 5, &["-x", "+y"]);
        // No trailing context: git anchors it at the end, GNU (fuzz 0) searches.
        let (out, placed) = apply_hunks(&file, &[h], ALL).unwrap();
        assert_eq!((placed[0].at, placed[0].method), (6, ApplyMethod::Offset));
        assert_eq!(out, text(&["a", "b", "x", "c", "d", "e", "y", "f"]));
    }

    #[test]
    fn hunks_do_not_overlap_earlier_ones() {
        // Both hunks change an `x` line with the same context; the file has two such places.
        // Stated lines point both at the second place; the second hunk must take a place after
        // the first one's change.
        let file = text(&["p", "x", "q", "z", "z", "z", "p", "x", "q"]);
        let h1 = hunk(7, 7, &[" p", "-x", "+X1", " q"]);
        let h2 = hunk(7, 7, &[" p", "-x", "+X2", " q"]);
        let err = apply_hunks(&file, &[h1.clone(), h2.clone()], ALL).unwrap_err();
        assert_eq!(err.0, 1, "the second hunk has nowhere left to go");
        // With the first hunk pointing at the first place, both apply in order.
        let h1 = hunk(1, 1, &[" p", "-x", "+X1", " q"]);
        let (out, placed) = apply_hunks(&file, &[h1, h2], ALL).unwrap();
        assert_eq!(placed[0].at, 0);
        assert_eq!(placed[1].at, 6);
        assert_eq!(out, text(&["p", "X1", "q", "z", "z", "z", "p", "X2", "q"]));
    }

    #[test]
    fn additions_at_the_end_follow_the_end() {
        let h = hunk(3, 3, &[" c", " d", " e", "+f"]);
        // The file gained lines at the top: the hunk still goes at the end.
        let file = text(&["0", "1", "a", "b", "c", "d", "e"]);
        let (out, placed) = apply_hunks(&file, std::slice::from_ref(&h), ALL).unwrap();
        assert_eq!((placed[0].at, placed[0].method), (4, ApplyMethod::Offset));
        assert_eq!(out, text(&["0", "1", "a", "b", "c", "d", "e", "f"]));
        // A file without a newline at its end: its last line is removed and added back with
        // one (`\\ No newline at end of file` after the removed and the last added line).
        let h = Hunk::new(
            "@@ -2 +2,2 @@".into(),
            2,
            2,
            vec![
                (LineKind::Removed, b"a".to_vec()),
                (LineKind::Added, b"a\n".to_vec()),
                (LineKind::Added, b"b".to_vec()),
            ],
        );
        let (out, _) = apply_hunks(b"0\na", &[h], ALL).unwrap();
        assert_eq!(out, b"0\na\nb");
    }

    #[test]
    fn crlf_lines_keep_their_endings() {
        let file = b"one\r\ntwo\r\nthree\r\n".to_vec();
        let h = Hunk::new(
            "@@".into(),
            1,
            1,
            vec![
                (LineKind::Context, b"one\r\n".to_vec()),
                (LineKind::Removed, b"two\r\n".to_vec()),
                (LineKind::Added, b"2\r\n".to_vec()),
                (LineKind::Context, b"three\r\n".to_vec()),
            ],
        );
        let (out, _) = apply_hunks(&file, &[h], ALL).unwrap();
        assert_eq!(out, b"one\r\n2\r\nthree\r\n");
    }

    #[test]
    fn an_applied_first_hunk_is_refused_not_added_twice() {
        let file = text(&["a", "b", "c", "new", "d", "e", "f"]);
        let h = hunk(1, 1, &[" a", " b", " c", "+new", " d", " e", " f"]);
        match apply_hunks(&file, &[h], ALL).unwrap_err() {
            (0, Failure::AlreadyApplied { line }) => assert_eq!(line, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_context_free_insertion_follows_the_previous_hunks_offset() {
        // `-U0`: the removal is found one line lower, so the insertion goes one lower too (GNU
        // patch); it used to stay at its stated line, one line too early.
        let lines = numbered(10);
        let mut refs: Vec<&str> = vec!["line 0"];
        refs.extend(lines.iter().map(String::as_str));
        let removal = hunk(3, 2, &["-line 3"]);
        let insertion = hunk(6, 6, &["+new"]);
        let (out, placed) = apply_hunks(&text(&refs), &[removal, insertion], ALL).unwrap();
        assert_eq!((placed[1].at, placed[1].method), (7, ApplyMethod::Offset));
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("line 5\nline 6\nnew\nline 7\n"));
    }

    #[test]
    fn new_file_hunks_apply_to_empty_content() {
        let h = hunk(0, 1, &["+a", "+b"]);
        let (out, placed) = apply_hunks(b"", &[h], ALL).unwrap();
        assert_eq!(out, b"a\nb\n");
        assert_eq!(placed[0].method, ApplyMethod::Exact);
    }
}
