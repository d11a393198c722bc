//! Unit tests of name resolution on small repositories and recorded issue texts.

use super::*;
use crate::fix::issue::parse;

const UTIL: &str = r#"import re


class Helper:
    """Parses things."""

    def __init__(self, sep=","):
        self.sep = sep

    def parse(self, text):
        parts = text.split(self.sep)
        return [int(p) for p in parts]


def tokenize(text):
    return re.findall(r"\w+", text)
"#;

const API: &str = r#"from .sub.deep.util import Helper


def load(text):
    helper = Helper()
    return helper.parse(text)
"#;

fn deep_repo() -> RepoMap {
    RepoMap::from_sources([
        ("pkg/__init__.py", "from .api import load\n"),
        ("pkg/api.py", API),
        ("pkg/sub/__init__.py", ""),
        ("pkg/sub/deep/__init__.py", ""),
        ("pkg/sub/deep/util.py", UTIL),
        (
            "tests/test_util.py",
            "def parse(x):\n    return x\n\ndef test_parse():\n    assert parse(1) == 1\n",
        ),
    ])
}

fn located(found: &[NamedLocation]) -> Vec<(&str, &str, NameSource)> {
    found
        .iter()
        .map(|l| (l.path.as_str(), l.qualname.as_str(), l.source))
        .collect()
}

#[test]
fn traceback_frame_in_site_packages_locates_a_deep_method() {
    let issue = parse(
        r#"Loading a value with a space fails:

```
Traceback (most recent call last):
  File "/home/me/repro.py", line 3, in <module>
    load("1, 2")
  File "/usr/lib/python3.11/site-packages/pkg/api.py", line 6, in load
    return helper.parse(text)
  File "/usr/lib/python3.11/site-packages/pkg/sub/deep/util.py", line 12, in parse
    return [int(p) for p in parts]
ValueError: invalid literal for int() with base 10: ' 2'
```
"#,
    );
    let found = resolve(&deep_repo(), &issue);
    assert_eq!(
        located(&found)[..2],
        [
            (
                "pkg/sub/deep/util.py",
                "Helper.parse",
                NameSource::Traceback
            ),
            ("pkg/api.py", "load", NameSource::Traceback),
        ],
        "{found:#?}"
    );
    assert_eq!(
        found[0].evidence,
        "File \"/usr/lib/python3.11/site-packages/pkg/sub/deep/util.py\", line 12, in parse"
    );
    assert!(found.iter().all(|l| !l.path.starts_with("tests/")));
}

#[test]
fn a_frame_with_an_outdated_line_resolves_by_its_function_name() {
    // Line 90 is past the end of the file in this version; the name still says where.
    let issue = parse(
        "Traceback (most recent call last):\n  File \"C:\\Python39\\Lib\\site-packages\\pkg\\sub\\deep\\util.py\", line 90, in tokenize\n    return re.findall(...)\nTypeError: expected string or bytes-like object\n",
    );
    let found = resolve(&deep_repo(), &issue);
    assert_eq!(
        located(&found),
        [("pkg/sub/deep/util.py", "tokenize", NameSource::Traceback)]
    );
}

#[test]
fn frames_into_test_files_or_unrelated_files_are_not_locations() {
    let issue = parse(
        "Traceback (most recent call last):\n  File \"/src/proj/tests/test_util.py\", line 2, in parse\n  File \"/usr/lib/python3.11/json/decoder.py\", line 5, in decode\n  File \"/home/me/util.py\", line 12, in parse\nKeyError: 'a'\n",
    );
    assert_eq!(resolve(&deep_repo(), &issue), vec![]);
}

const FLASK_INIT: &str = r#"from .app import Flask as Flask
from .helpers import send_file as send_file
"#;

const FLASK_APP: &str = r#"from .scaffold import Scaffold


class Flask(Scaffold):
    def __init__(self, import_name):
        self.import_name = import_name

    def run(self, host=None):
        pass
"#;

const FLASK_SCAFFOLD: &str = r#"class Scaffold:
    def route(self, rule, **options):
        def decorator(f):
            return f
        return decorator
"#;

const FLASK_HELPERS: &str = r#"def send_file(path_or_file, mimetype=None):
    return path_or_file


def get_root_path(import_name):
    return "."
"#;

fn flask_repo() -> RepoMap {
    RepoMap::from_sources([
        ("src/flask/__init__.py", FLASK_INIT),
        ("src/flask/app.py", FLASK_APP),
        ("src/flask/scaffold.py", FLASK_SCAFFOLD),
        ("src/flask/helpers.py", FLASK_HELPERS),
        (
            "examples/tutorial/flaskr/__init__.py",
            "def create_app():\n    pass\n",
        ),
        ("tests/test_helpers.py", "def send_file():\n    pass\n"),
    ])
}

#[test]
fn imports_resolve_in_a_src_layout_through_reexports() {
    let issue = parse(
        r#"```python
from flask import Flask
from flask.helpers import get_root_path
import flask.helpers as h

app = Flask(__name__)

@app.route("/")
def index():
    return h.send_file("x.txt")
```
"#,
    );
    let found = resolve(&flask_repo(), &issue);
    assert_eq!(
        located(&found),
        [
            ("src/flask/app.py", "Flask", NameSource::Import),
            ("src/flask/helpers.py", "get_root_path", NameSource::Import),
            ("src/flask/scaffold.py", "Scaffold.route", NameSource::Call),
            ("src/flask/helpers.py", "send_file", NameSource::Call),
        ],
        "{found:#?}"
    );
    assert_eq!(found[0].evidence, "from flask import Flask");
    assert_eq!(found[2].evidence, "app.route(\"/\")");
}

const AMBIGUOUS: [(&str, &str); 4] = [
    ("pkg/__init__.py", ""),
    (
        "pkg/a.py",
        "def normalize(s):\n    return s.strip()\n\nclass Reader:\n    def process(self):\n        pass\n",
    ),
    (
        "pkg/b.py",
        "def normalize(s):\n    return s.lower()\n\nclass Writer:\n    def process(self):\n        pass\n\n    def flush_all(self):\n        pass\n",
    ),
    ("pkg/c.py", "def helper():\n    pass\n\ndef append(x):\n    pass\n"),
];

#[test]
fn an_ambiguous_call_does_not_resolve() {
    let map = RepoMap::from_sources(AMBIGUOUS);
    // Two modules define `normalize` and two classes define `process`: neither resolves.
    let issue = parse("```python\nx = normalize(' A ')\nobj = make()\nobj.process()\n```\n");
    assert_eq!(resolve(&map, &issue), vec![]);
    // A module the snippet imports decides between same-named functions; a method defined by
    // one class resolves.
    let issue = parse(
        "```python\nfrom pkg.b import *\nx = normalize(' A ')\ndef f(obj):\n    obj.flush_all()\n```\n",
    );
    assert_eq!(
        located(&resolve(&map, &issue)),
        [
            ("pkg/b.py", "normalize", NameSource::Call),
            ("pkg/b.py", "Writer.flush_all", NameSource::Call),
        ]
    );
}

#[test]
fn builtins_snippet_definitions_and_foreign_imports_are_skipped() {
    let map = RepoMap::from_sources(AMBIGUOUS);
    let issue = parse(
        "```python\nimport numpy as np\nfrom os.path import join as helper\n\ndef flush_all():\n    pass\n\nlen([1])\nflush_all()\nhelper('a')\nnp.normalize(1)\n[].append(1)\nitems = []\nitems.append(2)\nwriter.flush_all()\n```\n",
    );
    assert_eq!(
        resolve(&map, &issue),
        vec![],
        "nothing names the repository"
    );
}

#[test]
fn dotted_paths_in_prose_and_order_of_sources() {
    let issue = parse(
        "The bug is in `pkg.sub.deep.util.tokenize`; see also `Helper.parse` and `os.path.join`.\n\n```python\nfrom pkg.api import load\n```\n",
    );
    let found = resolve(&deep_repo(), &issue);
    assert_eq!(
        located(&found),
        [
            ("pkg/api.py", "load", NameSource::Import),
            ("pkg/sub/deep/util.py", "tokenize", NameSource::Dotted),
            ("pkg/sub/deep/util.py", "Helper.parse", NameSource::Dotted),
        ]
    );
}

#[test]
fn doctest_calls_resolve_and_duplicates_keep_the_strongest_source() {
    let issue = parse(
        ">>> from pkg.sub.deep.util import Helper\n>>> h = Helper(sep=';')\n>>> h.parse('1;2')\n[1, 2]\n\nThe same happens with `pkg.sub.deep.util.Helper`.\n",
    );
    let found = resolve(&deep_repo(), &issue);
    assert_eq!(
        located(&found),
        [
            ("pkg/sub/deep/util.py", "Helper", NameSource::Import),
            ("pkg/sub/deep/util.py", "Helper.parse", NameSource::Call),
        ]
    );
    let capped = resolve_limited(&deep_repo(), &issue, 1);
    assert_eq!(capped.len(), 1);
}

#[test]
fn backticked_names_in_prose_resolve_when_unique_or_in_a_named_file() {
    let map = RepoMap::from_sources(AMBIGUOUS);
    let issue = parse(
        "The culprit is `normalize` in `pkg/b.py`, also `process` and `len`; `helper()` too.\n",
    );
    assert_eq!(
        located(&resolve(&map, &issue)),
        [
            // A call in an inline code span is a call.
            ("pkg/c.py", "helper", NameSource::Call),
            ("pkg/b.py", "normalize", NameSource::Mention),
            ("pkg/b.py", "Writer.process", NameSource::Mention),
        ]
    );
    // Without the path, `normalize` (two modules) and `process` (two classes) are ambiguous.
    let issue = parse("The culprit is `normalize` or `process`, not `len`.\n");
    assert_eq!(resolve(&map, &issue), vec![]);
}

const QDP: &str = r#"def _line_type(line):
    if line.startswith("READ"):
        return "command"
    raise ValueError(f"Unrecognized QDP line: {line}")


def _check(config):
    if config is None:
        raise RuntimeError(
            "Using qdp.read outside of a table is not allowed. "
            "Use Table.read instead."
        )
"#;

#[test]
fn error_messages_the_issue_shows_name_the_function_that_raises_them() {
    let map = RepoMap::from_sources([
        ("astro/io/qdp.py", QDP),
        (
            "astro/io/other.py",
            "def f():\n    raise ValueError('bad value given here for x')\n",
        ),
        ("astro/a.py", "X = 'object is not callable at all'\n"),
        (
            "astro/b.py",
            "def g():\n    return 'object is not callable at all'\n",
        ),
        (
            "astro/c.py",
            "def h():\n    return 'object is not callable at all'\n",
        ),
        (
            "astro/tests/test_qdp.py",
            "def test():\n    m = 'Unrecognized QDP line: x'\n",
        ),
    ]);
    // The formatted value at the end of the message is cut off; the test file is skipped.
    let issue = parse(
        ">>> Table.read('test.qdp')\nTraceback (most recent call last):\n...\nValueError: Unrecognized QDP line: read serr 1 2\n",
    );
    assert_eq!(
        located(&resolve(&map, &issue)),
        [("astro/io/qdp.py", "_line_type", NameSource::Message)]
    );
    // A quoted message in the prose, split over two literals in the source.
    let issue = parse(
        "It fails with\n\n>Using qdp.read outside of a table is not allowed. Use Table.read instead.\n",
    );
    assert_eq!(
        located(&resolve(&map, &issue)),
        [("astro/io/qdp.py", "_check", NameSource::Message)]
    );
    // A message in three files is generic.
    let issue = parse("TypeError: object is not callable at all\n");
    assert_eq!(resolve(&map, &issue), vec![]);
}
