//! Reading the JUnit XML that pytest writes inside the guest (`--junitxml`, `junit_family=xunit1`)
//! into one [`TestCase`] per test, named by the node id pytest prints
//! (`test_solution.py::TestX::test_add`). The file is guest-written, so it is parsed defensively:
//! size-capped, malformed input is an error value, never a panic.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

/// One test as pytest reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCase {
    /// The node id as pytest prints it, e.g. `test_solution.py::test_add`.
    pub node_id: String,
    pub outcome: TestOutcome,
    /// The one-line message (e.g. `assert 1 == 2`), if any.
    pub message: Option<String>,
    /// The failure text (traceback), trimmed to its last [`DETAILS_MAX`] bytes.
    pub details: Option<String>,
    /// Seconds, as pytest measured them.
    pub time: f64,
}

/// Longest `details` kept; the end of a traceback is the informative part.
pub const DETAILS_MAX: usize = 4000;
/// Longest `message` kept.
pub const MESSAGE_MAX: usize = 1000;
/// Reports larger than this are not parsed.
pub const XML_MAX: usize = 8 << 20;

#[derive(Default)]
struct Pending {
    classname: String,
    name: String,
    file: Option<String>,
    time: f64,
    outcome: Option<TestOutcome>,
    message: Option<String>,
    details: String,
    /// Inside a failure/error/skipped element: collect its text.
    in_result: bool,
}

/// Parse pytest's JUnit XML. Errors describe malformed input.
pub fn parse(xml: &[u8]) -> Result<Vec<TestCase>, String> {
    if xml.len() > XML_MAX {
        return Err(format!(
            "JUnit report is {} bytes, over the {XML_MAX}-byte limit",
            xml.len()
        ));
    }
    let text = std::str::from_utf8(xml).map_err(|e| format!("JUnit report is not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut cases = Vec::new();
    let mut cur: Option<Pending> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "JUnit report is malformed at byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(e) => open(&e, false, &mut cur, &mut cases)?,
            Event::Empty(e) => open(&e, true, &mut cur, &mut cases)?,
            Event::End(e) => match e.local_name().as_ref() {
                b"testcase" => {
                    if let Some(p) = cur.take() {
                        cases.push(finish(p));
                    }
                }
                b"failure" | b"error" | b"skipped" => {
                    if let Some(p) = cur.as_mut() {
                        p.in_result = false;
                    }
                }
                _ => {}
            },
            Event::Text(t) => {
                if let Some(p) = cur.as_mut().filter(|p| p.in_result) {
                    let s = t
                        .unescape()
                        .map_err(|e| format!("JUnit report has a bad escape: {e}"))?;
                    push_capped(&mut p.details, &s);
                }
            }
            Event::CData(t) => {
                if let Some(p) = cur.as_mut().filter(|p| p.in_result) {
                    push_capped(&mut p.details, &String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(p) = cur.take() {
        return Err(format!("JUnit report ends inside testcase `{}`", p.name));
    }
    Ok(cases)
}

fn attr(e: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| format!("JUnit report has a bad attribute: {err}"))?;
        if a.key.local_name().as_ref() == key {
            let v = a
                .unescape_value()
                .map_err(|err| format!("JUnit report has a bad attribute value: {err}"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn open(
    e: &BytesStart<'_>,
    empty: bool,
    cur: &mut Option<Pending>,
    cases: &mut Vec<TestCase>,
) -> Result<(), String> {
    match e.local_name().as_ref() {
        b"testcase" => {
            if let Some(p) = cur.take() {
                cases.push(finish(p));
            }
            let p = Pending {
                classname: attr(e, b"classname")?.unwrap_or_default(),
                name: attr(e, b"name")?.unwrap_or_default(),
                file: attr(e, b"file")?,
                time: attr(e, b"time")?
                    .and_then(|t| t.parse().ok())
                    .filter(|t: &f64| t.is_finite())
                    .unwrap_or(0.0),
                ..Pending::default()
            };
            if empty {
                cases.push(finish(p));
            } else {
                *cur = Some(p);
            }
        }
        tag @ (b"failure" | b"error" | b"skipped") => {
            if let Some(p) = cur.as_mut() {
                let outcome = match tag {
                    b"failure" => TestOutcome::Failed,
                    b"error" => TestOutcome::Error,
                    _ => TestOutcome::Skipped,
                };
                // A test that failed and then errored in teardown reports both; keep the worst.
                if p.outcome.is_none() || outcome == TestOutcome::Error {
                    p.outcome = Some(outcome);
                }
                if p.message.is_none() {
                    p.message = attr(e, b"message")?.map(|m| cap_message(&m));
                }
                p.in_result = !empty;
            }
        }
        _ => {}
    }
    Ok(())
}

fn push_capped(buf: &mut String, s: &str) {
    // Keep at most 2 * DETAILS_MAX while reading; trimmed to the tail at the end.
    buf.push_str(s);
    if buf.len() > 2 * DETAILS_MAX {
        let cut = floor_boundary(buf, buf.len() - DETAILS_MAX);
        buf.drain(..cut);
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn cap_message(m: &str) -> String {
    if m.len() <= MESSAGE_MAX {
        return m.to_string();
    }
    format!("{}…", &m[..floor_boundary(m, MESSAGE_MAX)])
}

fn trim_details(d: &str) -> Option<String> {
    let d = d.trim();
    if d.is_empty() {
        return None;
    }
    if d.len() <= DETAILS_MAX {
        return Some(d.to_string());
    }
    let mut start = d.len() - DETAILS_MAX;
    while !d.is_char_boundary(start) {
        start += 1;
    }
    Some(format!("…{}", &d[start..]))
}

fn finish(p: Pending) -> TestCase {
    TestCase {
        node_id: node_id(&p.classname, &p.name, p.file.as_deref()),
        outcome: p.outcome.unwrap_or(TestOutcome::Passed),
        message: p.message,
        details: trim_details(&p.details),
        time: p.time,
    }
}

/// Rebuild pytest's node id from JUnit's `classname` (dotted module path, then classes), `name`
/// and, with `junit_family=xunit1`, `file` (which says how many classname parts are the module).
pub fn node_id(classname: &str, name: &str, file: Option<&str>) -> String {
    let parts: Vec<&str> = classname.split('.').filter(|s| !s.is_empty()).collect();
    if parts.is_empty() {
        return name.to_string();
    }
    let (module_len, file) = match file.filter(|f| f.ends_with(".py")) {
        Some(f) => {
            let n = f
                .trim_end_matches(".py")
                .split('/')
                .filter(|s| !s.is_empty())
                .count();
            (n.min(parts.len()), f.to_string())
        }
        None => {
            // No file attribute: classes conventionally start with a capital letter.
            let n = parts
                .iter()
                .position(|p| p.starts_with(|c: char| c.is_ascii_uppercase()))
                .unwrap_or(parts.len())
                .max(1);
            (n, format!("{}.py", parts[..n].join("/")))
        }
    };
    let mut id = file;
    for class in &parts[module_len..] {
        id.push_str("::");
        id.push_str(class);
    }
    id.push_str("::");
    id.push_str(name);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5" time="0.05">
<testcase classname="test_solution" name="test_add" file="test_solution.py" line="3" time="0.001" />
<testcase classname="test_solution" name="test_sub" file="test_solution.py" line="6" time="0.002"><failure message="assert 1 == 2&#10; +  where 1 = sub(3, 2)">def test_sub():
&gt;       assert sub(3, 2) == 2
E       assert 1 == 2

test_solution.py:7: AssertionError</failure></testcase>
<testcase classname="tests.test_mod.TestThing" name="test_param[a-1]" file="tests/test_mod.py" line="9" time="0.000"><skipped type="pytest.skip" message="not on wasi">tests/test_mod.py:10: not on wasi</skipped></testcase>
<testcase classname="test_solution" name="test_fixture" file="test_solution.py" line="12" time="0.000"><error message="failed on setup with &quot;fixture 'db' not found&quot;">file test_solution.py, line 12
  def test_fixture(db):
E       fixture 'db' not found</error></testcase>
<testcase classname="" name="test_broken" time="0.000"><error message="collection failure">SyntaxError: invalid syntax</error></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn parses_outcomes_messages_and_node_ids() {
        let cases = parse(REPORT.as_bytes()).unwrap();
        assert_eq!(cases.len(), 5);

        assert_eq!(cases[0].node_id, "test_solution.py::test_add");
        assert_eq!(cases[0].outcome, TestOutcome::Passed);
        assert_eq!(cases[0].message, None);
        assert_eq!(cases[0].details, None);

        assert_eq!(cases[1].node_id, "test_solution.py::test_sub");
        assert_eq!(cases[1].outcome, TestOutcome::Failed);
        assert_eq!(
            cases[1].message.as_deref(),
            Some("assert 1 == 2\n +  where 1 = sub(3, 2)")
        );
        let details = cases[1].details.as_deref().unwrap();
        assert!(
            details.contains(">       assert sub(3, 2) == 2"),
            "{details}"
        );
        assert!(details.ends_with("AssertionError"));
        assert!((cases[1].time - 0.002).abs() < 1e-9);

        assert_eq!(
            cases[2].node_id,
            "tests/test_mod.py::TestThing::test_param[a-1]"
        );
        assert_eq!(cases[2].outcome, TestOutcome::Skipped);
        assert_eq!(cases[2].message.as_deref(), Some("not on wasi"));

        assert_eq!(cases[3].outcome, TestOutcome::Error);
        assert_eq!(
            cases[3].message.as_deref(),
            Some("failed on setup with \"fixture 'db' not found\"")
        );

        assert_eq!(cases[4].node_id, "test_broken");
        assert_eq!(cases[4].outcome, TestOutcome::Error);
        assert_eq!(
            cases[4].details.as_deref(),
            Some("SyntaxError: invalid syntax")
        );
    }

    #[test]
    fn long_details_keep_the_tail() {
        let body = format!("{}THE END", "x".repeat(20_000));
        let xml = format!(
            r#"<testsuite><testcase classname="t" name="a" file="t.py"><failure message="m">{body}</failure></testcase></testsuite>"#
        );
        let cases = parse(xml.as_bytes()).unwrap();
        let d = cases[0].details.as_deref().unwrap();
        assert!(d.len() <= DETAILS_MAX + 4);
        assert!(d.ends_with("THE END"));
    }

    #[test]
    fn node_ids_without_file_attribute() {
        assert_eq!(node_id("test_x", "test_a", None), "test_x.py::test_a");
        assert_eq!(
            node_id("pkg.test_x.TestC", "test_a", None),
            "pkg/test_x.py::TestC::test_a"
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(parse(b"<testsuite><testcase name='a'>").is_err());
        assert!(parse(b"<testsuite><testcase name='a' classname='t'><failure message='&bogus;'/></testcase></testsuite>").is_err());
        assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
        assert_eq!(parse(b"").unwrap(), vec![]);
    }
}
