//! Taking code out of model replies: fenced blocks (```python, ```py or a bare fence), an
//! unterminated final fence (the reply was cut off), or the whole reply when it is plain code.

/// A fenced block found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The info string after the opening fence (`python`, `py`, or empty).
    pub lang: String,
    pub code: String,
    /// Whether the closing fence was present.
    pub closed: bool,
}

/// All fenced blocks, in order.
pub fn blocks(reply: &str) -> Vec<Block> {
    let mut out = vec![];
    let mut lines = reply.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        let Some(rest) = t.strip_prefix("```") else {
            continue;
        };
        let lang = rest.trim().to_ascii_lowercase();
        let mut code = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            code.push_str(l.strip_prefix(indent).unwrap_or(l));
            code.push('\n');
        }
        out.push(Block { lang, code, closed });
    }
    out
}

fn is_python(lang: &str) -> bool {
    matches!(lang, "python" | "py" | "python3" | "")
}

/// The Python code in a reply: the longest Python (or unlabelled) block; without fences, the
/// reply itself if it looks like code. `None` when there is no code.
pub fn python_code(reply: &str) -> Option<String> {
    let bs = blocks(reply);
    if let Some(b) = bs
        .iter()
        .filter(|b| is_python(&b.lang) && !b.code.trim().is_empty())
        .max_by_key(|b| b.code.len())
    {
        return Some(b.code.clone());
    }
    if bs.is_empty() {
        let t = reply.trim();
        let looks_like_code = t.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("def ")
                || l.starts_with("class ")
                || l.starts_with("import ")
                || l.starts_with("from ")
        });
        if looks_like_code {
            return Some(format!("{t}\n"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_python_block() {
        let r = "Here you go:\n```python\ndef f():\n    return 1\n```\nDone.";
        assert_eq!(python_code(r).unwrap(), "def f():\n    return 1\n");
    }

    #[test]
    fn prefers_the_longest_python_block_over_other_languages() {
        let r = "```bash\npip install x\n```\n```py\nx = 1\n```\n```python\ndef g(a):\n    return a * 2\n```";
        assert_eq!(python_code(r).unwrap(), "def g(a):\n    return a * 2\n");
    }

    #[test]
    fn unterminated_block_is_taken_to_the_end() {
        let r = "```python\ndef f():\n    return 1";
        let b = blocks(r);
        assert_eq!(b.len(), 1);
        assert!(!b[0].closed);
        assert_eq!(python_code(r).unwrap(), "def f():\n    return 1\n");
    }

    #[test]
    fn bare_code_without_fences_is_accepted_but_prose_is_not() {
        assert_eq!(
            python_code("def f():\n    pass").unwrap(),
            "def f():\n    pass\n"
        );
        assert_eq!(python_code("I cannot help with that."), None);
        assert_eq!(python_code("```python\n```"), None);
    }

    #[test]
    fn indented_fences_are_recognised() {
        let r = "  ```python\n  x = 1\n  ```";
        assert_eq!(blocks(r)[0].code, "x = 1\n");
    }
}
