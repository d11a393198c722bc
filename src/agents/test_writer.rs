//! TestWriter: writes pytest tests for the task against what the solution defines (its
//! signatures, not its bodies, so the tests follow the task rather than the code).

use minijinja::context;

use super::{AgentError, Crew, PyReply};
use crate::models::AgentRole;
use crate::syntax;

pub fn write(crew: &mut Crew<'_>, task: &str, code: &str) -> Result<PyReply, AgentError> {
    let sigs = syntax::signatures(code);
    let signatures = if sigs.is_empty() {
        "(nothing yet)".to_string()
    } else {
        sigs.join("\n")
    };
    let messages = crew.opening("test_writer", context! { task, signatures })?;
    let mut reply = crew.ask_python(AgentRole::TestWriter, messages, "test_solution.py")?;
    let names = syntax::defined_names(code);
    reply.clean(|t| super::hygiene::clean_tests(t, &names));
    if let Some(code) = reply.code.as_mut() {
        ensure_import(code);
    }
    Ok(reply)
}

/// Tests must import the solution; small models often forget the line.
pub fn ensure_import(tests: &mut String) {
    let imports_solution = tests.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("from solution import") || l.starts_with("import solution")
    });
    if !imports_solution {
        tests.insert_str(0, "from solution import *\n");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_imports_are_added_unless_present() {
        let mut t =
            "from textkit.strings import truncate\n\ndef test_a():\n    assert truncate('ab', 1)\n"
                .to_string();
        super::ensure_module_imports(&mut t, &["textkit.strings".into(), "textkit.wrap".into()]);
        assert!(
            t.starts_with("from textkit.wrap import *\nfrom textkit.strings import truncate\n"),
            "{t}"
        );
    }

    #[test]
    fn missing_import_is_added_once() {
        let mut t = "def test_a():\n    assert f() == 1\n".to_string();
        super::ensure_import(&mut t);
        assert!(t.starts_with("from solution import *\n"));
        let before = t.clone();
        super::ensure_import(&mut t);
        assert_eq!(t, before);
    }
}

/// Repository mode: a reproduction test for an issue. `history` holds earlier attempts (the
/// reply, and what was wrong with it: it passed before the fix, or could not run), so the
/// conversation continues with the reason.
pub fn write_repro(
    crew: &mut Crew<'_>,
    issue: &str,
    code: &str,
    modules: &[String],
    names: &[String],
    history: &[(String, String)],
) -> Result<PyReply, AgentError> {
    let mut messages = crew.opening(
        "repro_test",
        context! { issue, code, modules => modules.join(", ") },
    )?;
    for (reply, problem) in history {
        messages.push(crate::models::Message::assistant(reply.clone()));
        messages.push(crate::models::Message::user(
            crew.prompts.render("repro_retry", context! { problem })?,
        ));
    }
    let mut reply = crew.ask_python(AgentRole::TestWriter, messages, "test_codeswarm_repro.py")?;
    // Copies of the code under test are dropped, so the tests must import the real thing.
    reply.clean(|t| super::hygiene::clean_tests(t, names));
    if let Some(t) = reply.code.as_mut() {
        ensure_module_imports(t, modules);
    }
    Ok(reply)
}

/// Import every module the code under test comes from, unless the test already imports it.
fn ensure_module_imports(tests: &mut String, modules: &[String]) {
    let mut header = String::new();
    for m in modules {
        let imported = tests.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with(&format!("from {m} import")) || l.starts_with(&format!("import {m}"))
        });
        if !imported && !m.is_empty() {
            header.push_str(&format!("from {m} import *\n"));
        }
    }
    tests.insert_str(0, &header);
}
