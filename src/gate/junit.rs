//! The JUnit XML of `codeswarm check --junit OUT.xml`, for CI dashboards: one suite
//! `codeswarm.check` with the gate's own steps as test cases (applying the patch, the syntax of
//! each changed Python file, the state of the test run), so a patch that does not apply or does
//! not parse shows up as a failed test, and one suite `pytest` with the sandboxed tests.
//!
//! Written with quick-xml: attribute values and text are escaped, and characters XML 1.0
//! cannot carry at all (control characters from terminal output) are replaced by `\xNN`.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::report::{CheckReport, Selection};
use crate::testing::CaseOutcome;

/// How one test case ended, for the XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Failure,
    Error,
    Skipped,
}

struct Case {
    classname: String,
    name: String,
    file: Option<String>,
    time: f64,
    /// (kind, message attribute, text)
    result: Option<(Kind, String, String)>,
}

struct Suite {
    name: &'static str,
    time: f64,
    cases: Vec<Case>,
}

impl Suite {
    fn count(&self, kind: Kind) -> usize {
        self.cases
            .iter()
            .filter(|c| c.result.as_ref().map(|r| r.0) == Some(kind))
            .count()
    }
}

/// Replace characters XML 1.0 does not allow (C0 controls but tab, newline and carriage
/// return; U+FFFE, U+FFFF) by a visible `\xNN` / `\u{…}`.
pub fn xml_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{FFFE}' | '\u{FFFF}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `tests/test_a.py::TestA::test_x[1]` → (`tests.test_a.TestA`, `test_x[1]`, `tests/test_a.py`).
/// A parameter id in brackets is kept whole, `::` inside it included.
fn split_node_id(id: &str) -> (String, String, String) {
    let (head, params) = match id.find('[') {
        Some(i) => id.split_at(i),
        None => (id, ""),
    };
    let mut parts = head.split("::");
    let file = parts.next().unwrap_or(head).to_string();
    let rest: Vec<&str> = parts.collect();
    let module = file.trim_end_matches(".py").replace('/', ".");
    match rest.split_last() {
        None => (module, format!("{file}{params}"), file),
        Some((name, classes)) => {
            let mut classname = module;
            for c in classes {
                classname.push('.');
                classname.push_str(c);
            }
            (classname, format!("{name}{params}"), file)
        }
    }
}

fn gate_suite(r: &CheckReport) -> Suite {
    let mut cases = Vec::new();
    let apply_result = r.apply.error.as_ref().map(|e| {
        let at = match (&e.file, e.line) {
            (Some(f), Some(l)) => format!("{f}:{l}: "),
            (Some(f), None) => format!("{f}: "),
            _ => String::new(),
        };
        (
            Kind::Failure,
            format!("{at}{}", e.message),
            e.message.clone(),
        )
    });
    cases.push(Case {
        classname: "codeswarm.check".into(),
        name: format!("apply {}", r.patch),
        file: None,
        time: r.timings.apply,
        result: apply_result,
    });
    if r.syntax.ran {
        for file in &r.syntax.files {
            let problems: Vec<_> = r
                .syntax
                .problems
                .iter()
                .filter(|p| &p.file == file)
                .collect();
            let result = (!problems.is_empty()).then(|| {
                let text = problems
                    .iter()
                    .map(|p| format!("{}\n    {}", p.location(), p.line_text.trim_end()))
                    .collect::<Vec<_>>()
                    .join("\n");
                (Kind::Failure, problems[0].location(), text)
            });
            cases.push(Case {
                classname: "codeswarm.syntax".into(),
                name: file.clone(),
                file: Some(file.clone()),
                time: 0.0,
                result,
            });
        }
    }
    let t = &r.tests;
    let run_result = if let Some(why) = &t.not_run {
        Some((Kind::Skipped, why.clone(), String::new()))
    } else if let Some(why) = &t.not_runnable {
        let message = format!("not runnable in the sandbox: {why}");
        Some(if r.allow_not_runnable {
            (Kind::Skipped, message, String::new())
        } else {
            (Kind::Failure, message, t.output_tail.clone())
        })
    } else {
        r.reasons
            .iter()
            .find(|m| m.starts_with("the test run ended abnormally"))
            .map(|m| (Kind::Error, m.clone(), t.output_tail.clone()))
    };
    cases.push(Case {
        classname: "codeswarm.check".into(),
        name: match t.selection {
            Selection::Named => "test run (named tests)".into(),
            Selection::PatchTestFiles => "test run (test files of the patch)".into(),
        },
        file: None,
        time: r.timings.tests,
        result: run_result,
    });
    Suite {
        name: "codeswarm.check",
        time: r.timings.checkout + r.timings.apply + r.timings.syntax,
        cases,
    }
}

fn pytest_suite(r: &CheckReport) -> Suite {
    let t = &r.tests;
    let mut cases: Vec<Case> = t
        .cases
        .iter()
        .map(|c| {
            let (classname, name, file) = split_node_id(&c.id);
            let kind = match c.outcome {
                CaseOutcome::Passed => None,
                CaseOutcome::Failed => Some(Kind::Failure),
                CaseOutcome::Error => Some(Kind::Error),
                CaseOutcome::Skipped => Some(Kind::Skipped),
            };
            Case {
                classname,
                name,
                file: Some(file),
                time: 0.0,
                result: kind.map(|k| (k, c.message.clone(), c.details.clone())),
            }
        })
        .collect();
    for m in &t.missing {
        let (classname, name, file) = split_node_id(m);
        cases.push(Case {
            classname,
            name,
            file: Some(file),
            time: 0.0,
            result: Some((
                Kind::Failure,
                format!("{m} was not found or did not run"),
                t.output_tail.clone(),
            )),
        });
    }
    Suite {
        name: "pytest",
        time: r.timings.tests,
        cases,
    }
}

fn start<'a>(name: &'a str, attrs: &[(&str, String)]) -> BytesStart<'a> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, xml_safe(v).as_str()));
    }
    e
}

fn write_suite(w: &mut Writer<Vec<u8>>, s: &Suite) -> std::io::Result<()> {
    w.write_event(Event::Start(start(
        "testsuite",
        &[
            ("name", s.name.to_string()),
            ("tests", s.cases.len().to_string()),
            ("failures", s.count(Kind::Failure).to_string()),
            ("errors", s.count(Kind::Error).to_string()),
            ("skipped", s.count(Kind::Skipped).to_string()),
            ("time", format!("{:.3}", s.time)),
        ],
    )))?;
    for c in &s.cases {
        let mut attrs = vec![("classname", c.classname.clone()), ("name", c.name.clone())];
        if let Some(f) = &c.file {
            attrs.push(("file", f.clone()));
        }
        attrs.push(("time", format!("{:.3}", c.time)));
        let Some((kind, message, text)) = &c.result else {
            w.write_event(Event::Empty(start("testcase", &attrs)))?;
            continue;
        };
        w.write_event(Event::Start(start("testcase", &attrs)))?;
        let tag = match kind {
            Kind::Failure => "failure",
            Kind::Error => "error",
            Kind::Skipped => "skipped",
        };
        let result = start(tag, &[("message", message.clone())]);
        if text.is_empty() {
            w.write_event(Event::Empty(result))?;
        } else {
            w.write_event(Event::Start(result))?;
            w.write_event(Event::Text(BytesText::new(&xml_safe(text))))?;
            w.write_event(Event::End(BytesEnd::new(tag)))?;
        }
        w.write_event(Event::End(BytesEnd::new("testcase")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuite")))
}

/// The report as JUnit XML (UTF-8).
pub fn junit_xml(report: &CheckReport) -> Vec<u8> {
    let suites = [gate_suite(report), pytest_suite(report)];
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let total = |k| suites.iter().map(|s| s.count(k)).sum::<usize>().to_string();
    let written: std::io::Result<()> = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(start(
            "testsuites",
            &[
                ("name", "codeswarm check".to_string()),
                (
                    "tests",
                    suites
                        .iter()
                        .map(|s| s.cases.len())
                        .sum::<usize>()
                        .to_string(),
                ),
                ("failures", total(Kind::Failure)),
                ("errors", total(Kind::Error)),
                ("skipped", total(Kind::Skipped)),
                ("time", format!("{:.3}", report.timings.total)),
            ],
        )))?;
        for s in &suites {
            write_suite(&mut w, s)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuites")))
    })();
    // Writing into a Vec cannot fail.
    debug_assert!(written.is_ok());
    let mut out = w.into_inner();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_split_into_class_and_name() {
        assert_eq!(
            split_node_id("tests/test_a.py::TestA::test_x[1::2]"),
            (
                "tests.test_a.TestA".to_string(),
                "test_x[1::2]".to_string(),
                "tests/test_a.py".to_string()
            )
        );
        assert_eq!(
            split_node_id("tests/test_a.py::TestA::test_x"),
            (
                "tests.test_a.TestA".to_string(),
                "test_x".to_string(),
                "tests/test_a.py".to_string()
            )
        );
        assert_eq!(
            split_node_id("test_b.py::test_y[a-b]"),
            (
                "test_b".to_string(),
                "test_y[a-b]".to_string(),
                "test_b.py".to_string()
            )
        );
        assert_eq!(split_node_id("tests/test_c.py").1, "tests/test_c.py");
    }

    #[test]
    fn reports_with_markup_and_control_characters_parse_back() {
        use crate::gate::report::*;
        use crate::testing::TestCase;
        let nasty = "<x a=\"1\"> & ]]> \x1b[31m\x00 'q'";
        let report = CheckReport {
            verdict: Verdict::Fail,
            reasons: vec![format!("the test run ended abnormally (timeout): {nasty}")],
            notes: vec![],
            repo: "r".into(),
            base: "HEAD".into(),
            base_commit: "0".repeat(40),
            patch: format!("p{nasty}.diff"),
            allow_not_runnable: false,
            apply: ApplyStep {
                ok: true,
                ..ApplyStep::default()
            },
            syntax: SyntaxStep {
                ran: true,
                files: vec!["a.py".into()],
                problems: vec![SyntaxProblem {
                    file: "a.py".into(),
                    line: 1,
                    column: 2,
                    message: nasty.into(),
                    line_text: nasty.into(),
                }],
            },
            tests: TestsStep {
                cases: vec![TestCase {
                    id: format!("t.py::test_a[{nasty}]"),
                    outcome: CaseOutcome::Failed,
                    message: nasty.into(),
                    details: nasty.into(),
                }],
                output_tail: nasty.into(),
                ..TestsStep::default()
            },
            timings: Timings::default(),
        };
        let xml = String::from_utf8(junit_xml(&report)).unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut messages = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) => {
                    for a in e.attributes() {
                        let a = a.unwrap();
                        let v = a.unescape_value().unwrap().into_owned();
                        if a.key.as_ref() == b"message" {
                            messages.push(v);
                        }
                    }
                }
                Event::Text(t) => {
                    t.unescape().unwrap();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let visible = "<x a=\"1\"> & ]]> \\x1b[31m\\x00 'q'";
        assert!(messages.iter().any(|m| m == visible), "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m == &format!("a.py:1:2: {visible}")),
            "{messages:?}"
        );
        assert!(!xml.contains('\x1b') && !xml.contains('\0'));
        assert!(xml.contains("failures=\"2\""), "{xml}");
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(xml_safe("a\x1b[31mb\tc\n\0"), "a\\x1b[31mb\tc\n\\x00");
        assert_eq!(xml_safe("<&>\"'"), "<&>\"'", "escaping is quick-xml's job");
    }
}
