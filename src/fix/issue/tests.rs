//! Unit tests of issue-text parsing on small recorded issue texts.

use super::*;

const MARKDOWN_ISSUE: &str = r#"### Bug

`parse_header` drops the last field.

```python
from pkg.headers import parse_header

print(parse_header("a=1; b=2"))
```

Output:

```
{'a': '1'}
```

and with a trailing separator:

```pytb
Traceback (most recent call last):
  File "/home/me/repro.py", line 3, in <module>
    print(parse_header("a=1;"))
  File "/usr/lib/python3.11/site-packages/pkg/headers.py", line 12, in parse_header
    key, value = part.split("=")
ValueError: not enough values to unpack (expected 2, got 1)
```

```console
$ pip install pkg==1.2
```
"#;

#[test]
fn markdown_issue_script_holds_only_the_python_block() {
    let issue = parse(MARKDOWN_ISSUE);
    assert_eq!(issue.code_blocks.len(), 4, "{:#?}", issue.code_blocks);
    assert_eq!(issue.code_blocks[0].lang.as_deref(), Some("python"));
    assert!(issue.code_blocks[0].parses);
    assert!(issue.code_blocks[1].parses, "a dict literal parses...");
    assert!(
        !issue.code_blocks[1].is_script(),
        "...but is program output"
    );
    assert!(!issue.code_blocks[2].is_script(), "a traceback is not code");
    assert!(
        !issue.code_blocks[3].is_script(),
        "a shell session is not code"
    );
    assert_eq!(
        issue.script().unwrap(),
        "from pkg.headers import parse_header\n\nprint(parse_header(\"a=1; b=2\"))\n"
    );
    let tb = issue.traceback.as_ref().unwrap();
    assert_eq!(tb.exception, "ValueError");
    assert_eq!(
        tb.message,
        "not enough values to unpack (expected 2, got 1)"
    );
    assert_eq!(tb.frames.len(), 2);
    assert_eq!(tb.frames[1].function.as_deref(), Some("parse_header"));
    assert_eq!(tb.frames[1].line, 12);
    assert!(issue.doctest.is_empty());
}

const DOCTEST_ISSUE: &str = r#"Rounding is off for halves:

    >>> from pkg.num import round_half
    >>> round_half(2.5)
    2
    >>> def twice(x):
    ...     return round_half(x) * 2
    >>> twice(0.5)
    >>> round_half("x")
    Traceback (most recent call last):
      File "<stdin>", line 1, in <module>
      File "/venv/lib/python3.10/site-packages/pkg/num.py", line 7, in round_half
    pkg.errors.RoundingError: not a number

I would expect `round_half(2.5)` to return `3`.
"#;

#[test]
fn doctest_session_becomes_steps_with_shown_output_and_a_script() {
    let issue = parse(DOCTEST_ISSUE);
    let steps: Vec<(&str, &str)> = issue
        .doctest
        .iter()
        .map(|s| (s.source.as_str(), s.shown.as_str()))
        .collect();
    assert_eq!(steps.len(), 5, "{steps:#?}");
    assert_eq!(steps[0], ("from pkg.num import round_half", ""));
    assert_eq!(steps[1], ("round_half(2.5)", "2"));
    assert_eq!(
        steps[2],
        ("def twice(x):\n    return round_half(x) * 2", "")
    );
    assert_eq!(steps[3], ("twice(0.5)", ""));
    assert_eq!(steps[4].0, "round_half(\"x\")");
    assert!(
        steps[4].1.starts_with("Traceback (most recent call last):")
            && steps[4]
                .1
                .ends_with("pkg.errors.RoundingError: not a number"),
        "the traceback belongs to the step: {}",
        steps[4].1
    );
    assert_eq!(
        issue.script().unwrap(),
        "from pkg.num import round_half\nround_half(2.5)\ndef twice(x):\n    return round_half(x) * 2\ntwice(0.5)\nround_half(\"x\")\n"
    );
    let tb = issue.traceback.as_ref().unwrap();
    assert_eq!(tb.exception, "RoundingError", "last dotted component");
    assert_eq!(tb.message, "not a number");
    assert_eq!(
        tb.frames.last().unwrap().path,
        "/venv/lib/python3.10/site-packages/pkg/num.py"
    );
    assert_eq!(
        issue.expectations,
        vec![Expectation::Value {
            expression: Some("round_half(2.5)".into()),
            value: "3".into()
        }]
    );
}

#[test]
fn ipython_session_prompts_are_stripped() {
    let text = "In IPython:\n\n```ipython\nIn [1]: import pkg\n\nIn [2]: def f(a):\n   ...:     return pkg.scale(a)\n   ...:\n\nIn [3]: f([1, 2])\nOut[3]: [2, 4, 6]\n\nIn [4]: pkg.scale(None)\n---------------------------------------------------------------------------\nTypeError                                 Traceback (most recent call last)\nCell In[4], line 1\n----> 1 pkg.scale(None)\n\nFile ~/src/pkg/core.py:40, in scale(values)\n     39 def scale(values):\n---> 40     return [v * 2 for v in values]\n\nTypeError: 'NoneType' object is not iterable\n```\n";
    let issue = parse(text);
    let steps: Vec<(&str, &str)> = issue
        .doctest
        .iter()
        .map(|s| (s.source.as_str(), s.shown.as_str()))
        .collect();
    assert_eq!(steps.len(), 4, "{steps:#?}");
    assert_eq!(steps[0], ("import pkg", ""));
    assert_eq!(steps[1], ("def f(a):\n    return pkg.scale(a)", ""));
    assert_eq!(steps[2], ("f([1, 2])", "[2, 4, 6]"));
    assert!(
        steps[3].1.contains("TypeError: 'NoneType'"),
        "{}",
        steps[3].1
    );
    assert!(
        !issue.code_blocks[0].is_script(),
        "a session is not a script"
    );
    assert_eq!(
        issue.script().unwrap(),
        "import pkg\ndef f(a):\n    return pkg.scale(a)\nf([1, 2])\npkg.scale(None)\n"
    );
    let tb = issue.traceback.unwrap();
    assert_eq!(tb.exception, "TypeError");
    assert_eq!(tb.message, "'NoneType' object is not iterable");
    assert_eq!(tb.frames.len(), 1);
    assert_eq!(tb.frames[0].path, "~/src/pkg/core.py");
    assert_eq!(tb.frames[0].function.as_deref(), Some("scale"));
}

#[test]
fn pytest_failure_report_is_a_traceback() {
    let text = "```\n    def test_x():\n>       helper()\n\ntests/test_x.py:5: \n_ _ _\nsrc/pkg/util.py:12: in helper\n    raise ValueError(\"boom\")\nE   ValueError: boom\n\nsrc/pkg/util.py:12: ValueError\n```\n";
    let tb = parse(text).traceback.unwrap();
    assert_eq!(tb.exception, "ValueError");
    assert_eq!(tb.message, "boom");
    assert_eq!(tb.frames[0].path, "src/pkg/util.py");
    assert_eq!(tb.frames[0].function.as_deref(), Some("helper"));
}

#[test]
fn a_traceback_with_a_log_prefix_on_every_line() {
    let text = "```\nINTERNALERROR> Traceback (most recent call last):\nINTERNALERROR>   File \"/usr/lib/python3.8/site-packages/_pytest/main.py\", line 191, in wrap_session\nINTERNALERROR>     session.exitstatus = doit(config, session) or 0\nINTERNALERROR> RuntimeError: No active exception to reraise\n\n=== no tests ran ===\n```\n";
    let tb = parse(text).traceback.unwrap();
    assert_eq!(tb.exception, "RuntimeError");
    assert_eq!(tb.message, "No active exception to reraise");
    assert_eq!(tb.frames.len(), 1);
    assert_eq!(tb.frames[0].function.as_deref(), Some("wrap_session"));
}

#[test]
fn a_django_debug_traceback_names_its_exception() {
    let text = "Traceback (most recent call last):\n File \"/venv/lib/python3.6/site-packages/django/core/handlers/base.py\", line 113, in _get_response\n\tresponse = wrapped_callback(request)\nException Type: TypeError at /module/\nException Value: modules() takes from 1 to 2 positional arguments but 3 were given\n";
    let tb = parse(text).traceback.unwrap();
    assert_eq!(tb.exception, "TypeError");
    assert_eq!(
        tb.message,
        "modules() takes from 1 to 2 positional arguments but 3 were given"
    );
    assert_eq!(tb.frames.len(), 1);
}

#[test]
fn indented_blocks_are_code_but_list_continuations_are_not() {
    let text =
        "Repro:\n\n    import pkg\n    pkg.run()\n\n- item one\n\n    more text of the item\n";
    let issue = parse(text);
    assert_eq!(issue.code_blocks.len(), 1, "{:#?}", issue.code_blocks);
    assert_eq!(issue.code_blocks[0].code, "import pkg\npkg.run()");
    assert_eq!(issue.script().unwrap(), "import pkg\npkg.run()\n");
}

#[test]
fn nothing_runnable_gives_no_script() {
    let issue = parse(
        "Feature request: please add `--fast`.\n\n```\n$ tool --fast\nerror: unknown flag\n```\n",
    );
    assert_eq!(issue.script(), None);
    assert!(issue.traceback.is_none());
    assert!(issue.expectations.is_empty());
}

fn expectations_of(text: &str) -> Vec<Expectation> {
    parse(text).expectations
}

fn raises(e: &str) -> Expectation {
    Expectation::Raises {
        exception: e.into(),
    }
}

fn no_exception(e: &str) -> Expectation {
    Expectation::NoException {
        exception: e.into(),
    }
}

fn value(expression: Option<&str>, v: &str) -> Expectation {
    Expectation::Value {
        expression: expression.map(str::to_string),
        value: v.into(),
    }
}

#[test]
fn expected_raises_are_read_from_expected_behaviour_wording() {
    assert_eq!(
        expectations_of("Passing a negative size should raise ValueError."),
        vec![raises("ValueError")]
    );
    assert_eq!(
        expectations_of(
            "I would expect `load(None)` to raise a `TypeError`, but it returns an empty dict."
        ),
        vec![raises("TypeError")]
    );
    assert_eq!(
        expectations_of("Expected behaviour: a ValueError, since the name has a dot."),
        vec![raises("ValueError")]
    );
    assert_eq!(
        expectations_of("It returns None instead of raising KeyError."),
        vec![raises("KeyError")]
    );
}

#[test]
fn an_observed_exception_is_not_an_expected_one() {
    // The bug as observed: not an expectation.
    assert_eq!(
        expectations_of("Calling `parse('')` raises ValueError."),
        vec![]
    );
    assert_eq!(
        expectations_of(
            "When the list is empty it raises ValueError: max() arg is an empty sequence."
        ),
        vec![]
    );
    // The bug is that it raises.
    assert_eq!(
        expectations_of("`encode()` should not raise UnicodeDecodeError for bytes input."),
        vec![no_exception("UnicodeDecodeError")]
    );
    assert_eq!(
        expectations_of("It raises TypeError instead of returning 0."),
        vec![no_exception("TypeError")]
    );
    assert_eq!(
        expectations_of("This should work. Instead, it raises AttributeError."),
        vec![no_exception("AttributeError")]
    );
    // "should not raise an error" takes the type from the issue's traceback.
    let with_tb = "This should not raise an error.\n\n```\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'a'\n```\n";
    assert_eq!(expectations_of(with_tb), vec![no_exception("KeyError")]);
}

#[test]
fn expected_values_with_and_without_expression() {
    assert_eq!(
        expectations_of("For an empty input it should return []."),
        vec![value(None, "[]")]
    );
    assert_eq!(
        expectations_of("`split_words('')` should return `[]` but returns `['']`."),
        vec![value(Some("split_words('')"), "[]")]
    );
    assert_eq!(
        expectations_of("Expected: `(1, 2)`"),
        vec![value(None, "(1, 2)")]
    );
    assert_eq!(
        expectations_of("Expected output: 42"),
        vec![value(None, "42")]
    );
    assert_eq!(
        expectations_of("Expected output:\n\n```\n[1, 2, 3]\n```\n"),
        vec![value(None, "[1, 2, 3]")]
    );
    assert_eq!(
        expectations_of("`mean([1, 2])` returns `1` instead of `1.5`."),
        vec![value(Some("mean([1, 2])"), "1.5")]
    );
}

#[test]
fn adverbs_between_modal_and_verb_are_allowed() {
    assert_eq!(
        expectations_of("This should of course return `1`."),
        vec![value(None, "1")]
    );
    assert_eq!(
        expectations_of("Passing None should also raise TypeError."),
        vec![raises("TypeError")]
    );
}

#[test]
fn vague_or_negated_values_are_not_expectations() {
    // "must be" states a current constraint as often as an expectation.
    assert_eq!(
        expectations_of(
            "For errors they must be \"READ SERR 1 2\" whereas QDP is not case sensitive."
        ),
        vec![]
    );
    // Output text under "Expected result:" is not a Python value.
    assert_eq!(
        expectations_of(
            "#### Expected result:\n```\nDataConversionWarning: Data was converted.\n```\n"
        ),
        vec![]
    );
    // Not a value: a word, a clause, a negation, or a value inside a code block.
    assert_eq!(expectations_of("The test should be skipped."), vec![]);
    assert_eq!(expectations_of("The default should be `name`."), vec![]);
    assert_eq!(
        expectations_of("Expected: `test_a` is skipped, `test_b` is not skipped."),
        vec![]
    );
    assert_eq!(expectations_of("It should not return None."), vec![]);
    assert_eq!(
        expectations_of("```python\n# should return []\nf()\n```\n"),
        vec![]
    );
}
