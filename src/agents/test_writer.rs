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
    fn missing_import_is_added_once() {
        let mut t = "def test_a():\n    assert f() == 1\n".to_string();
        super::ensure_import(&mut t);
        assert!(t.starts_with("from solution import *\n"));
        let before = t.clone();
        super::ensure_import(&mut t);
        assert_eq!(t, before);
    }
}
