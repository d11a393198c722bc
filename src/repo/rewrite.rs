//! Whole-definition edits: a model that cannot produce exact search/replace blocks (small
//! models rarely can) returns complete corrected functions or classes instead. Each returned
//! definition replaces the original of the same name, re-indented to where the original sits;
//! new imports and new helper definitions go just before the first replaced top-level
//! definition. The result is expressed as search/replace blocks whose SEARCH text is the exact
//! original source, so the same applier and syntax checks handle both formats.

use tree_sitter::Node;

use super::edit::EditBlock;
use super::map::{FileMap, Symbol};
use crate::syntax::parse_python;

/// A definition in the model's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Def {
    name: String,
    /// The definition's text (decorators included), dedented.
    text: String,
}

/// What the reply holds at top level: definitions and import statements.
fn split_reply(code: &str) -> (Vec<Def>, Vec<String>) {
    let tree = parse_python(code);
    let root = tree.root_node();
    let mut defs = vec![];
    let mut imports = vec![];
    let mut cursor = root.walk();
    for node in root.children(&mut cursor) {
        match node.kind() {
            "import_statement" | "import_from_statement" => {
                imports.push(text(node, code).trim().to_string())
            }
            "function_definition" | "class_definition" | "decorated_definition" => {
                let def = if node.kind() == "decorated_definition" {
                    node.child_by_field_name("definition").unwrap_or(node)
                } else {
                    node
                };
                if let Some(name) = def
                    .child_by_field_name("name")
                    .map(|n| text(n, code).to_string())
                {
                    // Start at the line's beginning so the first line keeps its indentation.
                    let line_start = code[..node.start_byte()]
                        .rfind('\n')
                        .map(|i| i + 1)
                        .unwrap_or(0);
                    defs.push(Def {
                        name,
                        text: dedent(&code[line_start..node.end_byte()]),
                    });
                }
            }
            _ => {}
        }
    }
    (defs, imports)
}

/// Equal but for trailing whitespace and blank lines.
fn same_code(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> Vec<&str> {
        s.lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect()
    }
    norm(a) == norm(b)
}

fn text<'a>(node: Node<'_>, src: &'a str) -> &'a str {
    &src[node.start_byte()..node.end_byte()]
}

fn dedent(s: &str) -> String {
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    s.lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

fn indent(s: &str, by: &str) -> String {
    s.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{by}{l}\n")
            }
        })
        .collect()
}

/// Blocks replacing each chosen symbol that the reply redefines. `targets` are the symbols the
/// model was shown, `(file, symbol)`. Returns the blocks and the names in the reply that matched
/// nothing shown (added before the first replaced top-level definition of the first file).
pub fn blocks_from_reply(
    code: &str,
    targets: &[(&FileMap, &Symbol)],
) -> (Vec<EditBlock>, Vec<String>) {
    let (defs, imports) = split_reply(code);
    let mut blocks: Vec<EditBlock> = vec![];
    let mut unmatched: Vec<&Def> = vec![];
    for def in &defs {
        match targets.iter().find(|(_, s)| s.name == def.name) {
            Some((file, sym))
                if !blocks.iter().any(|b| {
                    b.path == file.path && b.search == file.lines(sym.start_line, sym.end_line)
                }) =>
            {
                let original = file.lines(sym.start_line, sym.end_line);
                let first = original.lines().next().unwrap_or("");
                let pad = &first[..first.len() - first.trim_start().len()];
                let replace = indent(&def.text, pad);
                if same_code(&original, &replace) {
                    continue;
                }
                blocks.push(EditBlock {
                    path: file.path.clone(),
                    search: original,
                    replace,
                    number: blocks.len() + 1,
                    line: 0,
                });
            }
            Some(_) => {}
            None => unmatched.push(def),
        }
    }
    // New imports and helpers go before the first replaced top-level definition.
    let first_top = blocks
        .iter()
        .position(|b| !b.search.starts_with([' ', '\t']));
    let mut added = vec![];
    if let Some(i) = first_top {
        let file = targets
            .iter()
            .find(|(f, _)| f.path == blocks[i].path)
            .map(|(f, _)| *f);
        let existing = file.map(|f| f.lines(1, f.line_count)).unwrap_or_default();
        let mut prefix = String::new();
        for imp in &imports {
            if !existing.lines().any(|l| l.trim() == imp) {
                prefix.push_str(imp);
                prefix.push('\n');
                added.push(imp.clone());
            }
        }
        if !prefix.is_empty() {
            prefix.push_str("\n\n");
        }
        for def in &unmatched {
            let defined_already = existing.lines().any(|l| {
                let t = l.trim_start();
                l.len() == t.len()
                    && (t.starts_with(&format!("def {}(", def.name))
                        || t.starts_with(&format!("class {}", def.name)))
            });
            if !defined_already {
                prefix.push_str(&def.text);
                prefix.push_str("\n\n");
                added.push(def.name.clone());
            }
        }
        if !prefix.is_empty() {
            blocks[i].replace = format!("{prefix}{}", blocks[i].replace);
        }
    }
    (blocks, added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::edit::apply_edits;
    use std::collections::BTreeMap;

    const SRC: &str = "import os\n\n\ndef truncate(text, width):\n    return text[: width - 1]\n\n\nclass Cart:\n    def add(self, item, items=[]):\n        items.append(item)\n        return items\n\n    def total(self):\n        return 0\n";

    fn apply(reply: &str) -> (String, Vec<String>) {
        let file = FileMap::parse("pkg/m.py", SRC);
        let t = file.find("truncate").unwrap().clone();
        let a = file.find("Cart.add").unwrap().clone();
        let targets = [(&file, &t), (&file, &a)];
        let (blocks, added) = blocks_from_reply(reply, &targets);
        let files: BTreeMap<String, String> = [("pkg/m.py".to_string(), SRC.to_string())].into();
        let out = apply_edits(&files, &blocks);
        assert!(out.is_clean(), "{}", out.error_report());
        (out.files["pkg/m.py"].clone(), added)
    }

    #[test]
    fn a_corrected_function_replaces_the_original() {
        let (new, added) = apply("def truncate(text, width):\n    return text[:width]\n");
        assert!(
            new.contains("def truncate(text, width):\n    return text[:width]\n"),
            "{new}"
        );
        assert!(new.contains("class Cart:"));
        assert!(added.is_empty());
    }

    #[test]
    fn a_method_written_at_top_level_is_reindented_into_its_class() {
        let (new, _) = apply("def add(self, item, items=None):\n    items = [] if items is None else items\n    items.append(item)\n    return items\n");
        assert!(new.contains("    def add(self, item, items=None):\n        items = [] if items is None else items\n"), "{new}");
        assert!(new.contains("    def total(self):"));
        assert!(crate::syntax::check_python(&new).is_empty(), "{new}");
    }

    #[test]
    fn new_imports_and_helpers_go_before_the_first_replaced_function() {
        let (new, added) = apply("import re\nimport os\n\ndef _cut(t, w):\n    return t[:w]\n\ndef truncate(text, width):\n    return _cut(text, width)\n");
        assert_eq!(added, vec!["import re".to_string(), "_cut".to_string()]);
        let at_re = new.find("import re").unwrap();
        let at_helper = new.find("def _cut").unwrap();
        let at_fn = new.find("def truncate").unwrap();
        assert!(at_re < at_helper && at_helper < at_fn, "{new}");
        assert_eq!(new.matches("import os").count(), 1);
        assert!(crate::syntax::check_python(&new).is_empty(), "{new}");
    }

    #[test]
    fn an_unchanged_copy_gives_no_block() {
        let file = FileMap::parse("pkg/m.py", SRC);
        let t = file.find("truncate").unwrap().clone();
        let (blocks, _) = blocks_from_reply(
            "def truncate(text, width):\n    return text[: width - 1]   \n\n",
            &[(&file, &t)],
        );
        assert!(blocks.is_empty());
    }

    #[test]
    fn a_reply_with_no_matching_definition_gives_no_blocks() {
        let file = FileMap::parse("pkg/m.py", SRC);
        let t = file.find("truncate").unwrap().clone();
        let (blocks, _) = blocks_from_reply("x = 1\n", &[(&file, &t)]);
        assert!(blocks.is_empty());
    }
}
