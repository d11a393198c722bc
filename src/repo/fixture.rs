//! Fixture repositories for tests, demos and batch runs: small Python packages with one seeded
//! bug each, a pytest test that fails because of it, tests that pass, an issue text a user
//! could have written, and the gold patch that fixes it.
//!
//! [`FIXTURES`] lists them; [`Fixture::build`] writes one as a git repository (built with git2,
//! deterministic commits, branch `main`):
//!
//! 1. "Initial package" — the package, bug included;
//! 2. "Add tests" — the tests: the **base commit** a fix starts from;
//! 3. "Docs: how to report bugs" — a README change after the base, so HEAD is not the base.
//!
//! Each repository has a root `conftest.py` so pytest run from the root can import the package.

use std::path::{Path, PathBuf};

use git2::{IndexAddOption, Oid, Repository, RepositoryInitOptions, Signature, Time};

/// Why a fixture could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{} already exists; build fixtures into an empty directory", path.display())]
    Exists { path: PathBuf },
    #[error("fixture {name}: {message}")]
    Build { name: String, message: String },
}

/// A fixture's definition.
#[derive(Debug)]
pub struct Fixture {
    pub name: &'static str,
    /// One line: what kind of bug.
    pub bug: &'static str,
    /// The issue text, as a user would report it.
    pub issue: &'static str,
    /// The file holding the bug.
    pub buggy_file: &'static str,
    /// The function holding the bug.
    pub buggy_function: &'static str,
    /// pytest node ids failing at the base commit and passing after the fix.
    pub failing_tests: &'static [&'static str],
    /// pytest node ids passing before and after the fix.
    pub passing_tests: &'static [&'static str],
    /// Files of commit 1 (the package).
    package: &'static [(&'static str, &'static str)],
    /// Files of commit 2 (the tests).
    tests: &'static [(&'static str, &'static str)],
    /// The fix: in `buggy_file`, replace the first string (occurring once) by the second.
    fix: (&'static str, &'static str),
}

/// A fixture written to disk.
#[derive(Debug, Clone)]
pub struct FixtureRepo {
    pub name: String,
    /// The repository (a normal clone with a checkout of `main`).
    pub path: PathBuf,
    /// The commit a fix starts from (40-hex sha).
    pub base_commit: String,
    /// The tip of `main`, one README commit after the base.
    pub head_commit: String,
    pub issue: String,
    pub buggy_file: String,
    pub buggy_function: String,
    pub failing_tests: Vec<String>,
    pub passing_tests: Vec<String>,
    /// Unified diff against the base commit that fixes the bug (`git apply` format).
    pub gold_patch: String,
    /// Content of `buggy_file` after the fix.
    pub fixed_content: String,
}

impl FixtureRepo {
    /// `file://` URL of the repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

const CONFTEST: &str = "# Lets pytest, run from the repository root, import the package.\n";
const GITIGNORE: &str = "__pycache__/\n*.pyc\n.pytest_cache/\n";
const README_EXTRA: &str =
    "\n## Reporting bugs\n\nOpen an issue with a minimal example and the full traceback.\n";

fn pyproject(name: &str) -> String {
    format!(
        "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\n[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n"
    )
}

impl Fixture {
    /// Write the fixture as a git repository at `parent/<name>` (which must not exist).
    pub fn build(&self, parent: &Path) -> Result<FixtureRepo, FixtureError> {
        let path = parent.join(self.name);
        if path.exists() {
            return Err(FixtureError::Exists { path });
        }
        let err = |message: String| FixtureError::Build {
            name: self.name.to_string(),
            message,
        };
        let git = |e: git2::Error| FixtureError::Build {
            name: self.name.to_string(),
            message: e.message().to_string(),
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| err(format!("creating {}: {e}", path.display())))?;
        let mut init = RepositoryInitOptions::new();
        init.initial_head("main");
        let repo = Repository::init_opts(&path, &init).map_err(git)?;

        let readme = format!(
            "# {}\n\nA small fixture package for codeswarm.\n",
            self.name
        );
        let mut first: Vec<(String, String)> = vec![
            ("README.md".into(), readme.clone()),
            (".gitignore".into(), GITIGNORE.into()),
            ("conftest.py".into(), CONFTEST.into()),
            ("pyproject.toml".into(), pyproject(self.name)),
        ];
        first.extend(
            self.package
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string())),
        );
        let tests: Vec<(String, String)> = self
            .tests
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();

        let c1 = commit_files(&repo, &path, &first, "Initial package", 0)
            .map_err(|e| err(e.to_string()))?;
        let base =
            commit_files(&repo, &path, &tests, "Add tests", 1).map_err(|e| err(e.to_string()))?;
        let readme2 = format!("{readme}{README_EXTRA}");
        let head = commit_files(
            &repo,
            &path,
            &[("README.md".into(), readme2)],
            "Docs: how to report bugs",
            2,
        )
        .map_err(|e| err(e.to_string()))?;
        debug_assert_ne!(c1, base);

        let original = self
            .package
            .iter()
            .find(|(p, _)| *p == self.buggy_file)
            .map(|(_, c)| *c)
            .ok_or_else(|| err(format!("{} is not a package file", self.buggy_file)))?;
        if original.matches(self.fix.0).count() != 1 {
            return Err(err("the fix's search text must occur exactly once".into()));
        }
        let fixed = original.replacen(self.fix.0, self.fix.1, 1);
        let gold_patch = gold_patch(&repo, base, self.buggy_file, &fixed).map_err(git)?;
        tracing::debug!(fixture = self.name, base = %base, "fixture repository built");
        Ok(FixtureRepo {
            name: self.name.to_string(),
            path,
            base_commit: base.to_string(),
            head_commit: head.to_string(),
            issue: self.issue.to_string(),
            buggy_file: self.buggy_file.to_string(),
            buggy_function: self.buggy_function.to_string(),
            failing_tests: self.failing_tests.iter().map(|s| s.to_string()).collect(),
            passing_tests: self.passing_tests.iter().map(|s| s.to_string()).collect(),
            gold_patch,
            fixed_content: fixed,
        })
    }

    /// All files at the base commit (package, tests and scaffolding), path → content.
    pub fn base_files(&self) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = vec![
            (
                "README.md".into(),
                format!(
                    "# {}\n\nA small fixture package for codeswarm.\n",
                    self.name
                ),
            ),
            (".gitignore".into(), GITIGNORE.into()),
            ("conftest.py".into(), CONFTEST.into()),
            ("pyproject.toml".into(), pyproject(self.name)),
        ];
        files.extend(
            self.package
                .iter()
                .chain(self.tests.iter())
                .map(|(p, c)| (p.to_string(), c.to_string())),
        );
        files
    }
}

/// Write `files` into the checkout and commit them on HEAD with a fixed author and time.
fn commit_files(
    repo: &Repository,
    root: &Path,
    files: &[(String, String)],
    message: &str,
    n: i64,
) -> Result<Oid, Box<dyn std::error::Error>> {
    for (rel, content) in files {
        let full = root.join(rel);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, content)?;
    }
    let mut index = repo.index()?;
    index.add_all(["*"].iter(), IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = Signature::new(
        "codeswarm fixtures",
        "fixtures@codeswarm.invalid",
        &Time::new(1_700_000_000 + n * 3600, 0),
    )?;
    let parents = match repo.head().ok().and_then(|h| h.peel_to_commit().ok()) {
        Some(c) => vec![c],
        None => vec![],
    };
    let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    Ok(repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parent_refs)?)
}

/// The diff from `base` to `base` with `path` replaced by `fixed`, as text.
fn gold_patch(
    repo: &Repository,
    base: Oid,
    path: &str,
    fixed: &str,
) -> Result<String, git2::Error> {
    let base_tree = repo.find_commit(base)?.tree()?;
    let blob = repo.blob(fixed.as_bytes())?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    update.upsert(path, blob, git2::FileMode::Blob);
    let fixed_tree = repo.find_tree(update.create_updated(repo, &base_tree)?)?;
    let diff = repo.diff_tree_to_tree(Some(&base_tree), Some(&fixed_tree), None)?;
    super::patch::diff_to_text(&diff).map_err(|e| git2::Error::from_str(&e.to_string()))
}

/// Look a fixture up by name.
pub fn by_name(name: &str) -> Option<&'static Fixture> {
    FIXTURES.iter().find(|f| f.name == name)
}

/// Build every fixture under `parent`.
pub fn build_all(parent: &Path) -> Result<Vec<FixtureRepo>, FixtureError> {
    FIXTURES.iter().map(|f| f.build(parent)).collect()
}

/// The fixture set.
pub static FIXTURES: &[Fixture] = &[TEXTKIT, SHOPCART, STATSKIT, CONFIGKIT];

// ---------------------------------------------------------------------------------------------
// textkit: off-by-one in truncate().

const TEXTKIT: Fixture = Fixture {
    name: "textkit",
    bug: "off-by-one: truncate() cuts one character more than needed",
    issue: "truncate() returns strings one character too short\n\n\
            `truncate(\"hello world\", 8)` returns `'hell...'` (7 characters) instead of `'hello...'`.\n\
            The docstring promises at most `width` characters, but whenever the text is cut the result is \
            one character shorter than `width`, so our table columns never line up.\n",
    buggy_file: "textkit/strings.py",
    buggy_function: "truncate",
    failing_tests: &[
        "tests/test_strings.py::test_truncate_fills_width",
        "tests/test_strings.py::test_truncated_length_equals_width",
    ],
    passing_tests: &[
        "tests/test_strings.py::test_short_text_is_unchanged",
        "tests/test_strings.py::test_pad_left",
        "tests/test_strings.py::test_slugify",
        "tests/test_wrap.py::test_wrap_words",
        "tests/test_case.py::test_snake_to_camel",
        "tests/test_case.py::test_camel_to_snake",
    ],
    package: &[
        ("textkit/__init__.py", TEXTKIT_INIT),
        ("textkit/strings.py", TEXTKIT_STRINGS),
        ("textkit/wrap.py", TEXTKIT_WRAP),
        ("textkit/case.py", TEXTKIT_CASE),
    ],
    tests: &[
        ("tests/test_strings.py", TEXTKIT_TEST_STRINGS),
        ("tests/test_wrap.py", TEXTKIT_TEST_WRAP),
        ("tests/test_case.py", TEXTKIT_TEST_CASE),
    ],
    fix: ("text[: width - len(suffix) - 1] + suffix", "text[: width - len(suffix)] + suffix"),
};

const TEXTKIT_INIT: &str = r##""""Small text utilities."""

from textkit.case import camel_to_snake, snake_to_camel
from textkit.strings import pad_left, slugify, truncate
from textkit.wrap import wrap_words

__all__ = ["camel_to_snake", "snake_to_camel", "pad_left", "slugify", "truncate", "wrap_words"]
"##;

const TEXTKIT_STRINGS: &str = r##""""String helpers: truncation, padding and slugs."""

ELLIPSIS = "..."


def truncate(text, width, suffix=ELLIPSIS):
    """Shorten text to at most width characters, ending with suffix when it is cut."""
    if width < len(suffix):
        raise ValueError("width must be at least len(suffix)")
    if len(text) <= width:
        return text
    return text[: width - len(suffix) - 1] + suffix


def pad_left(text, width, fill=" "):
    """Pad text on the left with fill up to width characters."""
    if len(fill) != 1:
        raise ValueError("fill must be a single character")
    return fill * max(0, width - len(text)) + text


def slugify(text):
    """Lower-case words of text joined by hyphens."""
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return "-".join(cleaned.split())
"##;

const TEXTKIT_WRAP: &str = r##""""Greedy word wrapping."""


def wrap_words(text, width):
    """Split text into lines of at most width characters, breaking between words."""
    lines = []
    current = ""
    for word in text.split():
        candidate = word if not current else current + " " + word
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines
"##;

const TEXTKIT_CASE: &str = r##""""Conversions between naming styles."""

import re

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_to_camel(name):
    """snake_case -> CamelCase."""
    return "".join(part.capitalize() for part in name.split("_") if part)


def camel_to_snake(name):
    """CamelCase -> snake_case."""
    return _BOUNDARY.sub("_", name).lower()
"##;

const TEXTKIT_TEST_STRINGS: &str = r##"from textkit.strings import pad_left, slugify, truncate


def test_short_text_is_unchanged():
    assert truncate("hello", 10) == "hello"
    assert truncate("hello", 5) == "hello"


def test_truncate_fills_width():
    assert truncate("hello world", 8) == "hello..."


def test_truncated_length_equals_width():
    for width in range(3, 12):
        assert len(truncate("abcdefghijklmnop", width)) == width


def test_pad_left():
    assert pad_left("7", 3, "0") == "007"
    assert pad_left("long", 2) == "long"


def test_slugify():
    assert slugify("Hello, World!") == "hello-world"
"##;

const TEXTKIT_TEST_WRAP: &str = r##"from textkit.wrap import wrap_words


def test_wrap_words():
    assert wrap_words("the quick brown fox", 10) == ["the quick", "brown fox"]
    assert wrap_words("", 5) == []
"##;

const TEXTKIT_TEST_CASE: &str = r##"from textkit.case import camel_to_snake, snake_to_camel


def test_snake_to_camel():
    assert snake_to_camel("read_file_now") == "ReadFileNow"


def test_camel_to_snake():
    assert camel_to_snake("ReadFileNow") == "read_file_now"
"##;

// ---------------------------------------------------------------------------------------------
// shopcart: a mutable default argument shares one cart between calls.

const SHOPCART: Fixture = Fixture {
    name: "shopcart",
    bug: "wrong default argument: a mutable list default shares one cart between calls",
    issue: "Carts leak items between customers\n\n\
            We start a new cart for every customer with `add_item(\"apple\", 1.0)`. When the next customer \
            starts their cart with `add_item(\"pear\", 2.0)`, their cart already contains the apple from the \
            previous customer. Calling add_item without a cart should always start a new, empty cart.\n",
    buggy_file: "shopcart/cart.py",
    buggy_function: "add_item",
    failing_tests: &["tests/test_cart.py::test_new_carts_start_empty"],
    passing_tests: &[
        "tests/test_cart.py::test_add_item_to_existing_cart",
        "tests/test_cart.py::test_cart_total",
        "tests/test_cart.py::test_remove_item",
        "tests/test_pricing.py::test_line_total",
        "tests/test_pricing.py::test_apply_discount",
        "tests/test_inventory.py::test_stock_levels",
    ],
    package: &[
        ("shopcart/__init__.py", SHOPCART_INIT),
        ("shopcart/cart.py", SHOPCART_CART),
        ("shopcart/pricing.py", SHOPCART_PRICING),
        ("shopcart/inventory.py", SHOPCART_INVENTORY),
    ],
    tests: &[
        ("tests/test_cart.py", SHOPCART_TEST_CART),
        ("tests/test_pricing.py", SHOPCART_TEST_PRICING),
        ("tests/test_inventory.py", SHOPCART_TEST_INVENTORY),
    ],
    fix: (
        "def add_item(name, price, quantity=1, items=[]):\n    \"\"\"Add an item to a cart (a list of dicts) and return the cart.\n\n    A new cart is started when no cart is given.\n    \"\"\"\n",
        "def add_item(name, price, quantity=1, items=None):\n    \"\"\"Add an item to a cart (a list of dicts) and return the cart.\n\n    A new cart is started when no cart is given.\n    \"\"\"\n    if items is None:\n        items = []\n",
    ),
};

const SHOPCART_INIT: &str = r##""""A tiny shopping cart."""

from shopcart.cart import add_item, cart_total, remove_item
from shopcart.inventory import Inventory
from shopcart.pricing import apply_discount, line_total
"##;

const SHOPCART_CART: &str = r##""""Cart operations. A cart is a list of {"name", "price", "quantity"} dicts."""

from shopcart.pricing import line_total


def add_item(name, price, quantity=1, items=[]):
    """Add an item to a cart (a list of dicts) and return the cart.

    A new cart is started when no cart is given.
    """
    items.append({"name": name, "price": price, "quantity": quantity})
    return items


def cart_total(items):
    """Sum of the line totals of a cart."""
    return sum(line_total(item["price"], item["quantity"]) for item in items)


def remove_item(items, name):
    """A new cart without the lines named name."""
    return [item for item in items if item["name"] != name]
"##;

const SHOPCART_PRICING: &str = r##""""Prices and discounts."""


def line_total(price, quantity):
    """Price of quantity units, rounded to cents."""
    return round(price * quantity, 2)


def apply_discount(price, percent=0):
    """Price after a percentage discount, rounded to cents."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price * (100 - percent) / 100, 2)
"##;

const SHOPCART_INVENTORY: &str = r##""""Stock keeping."""


class Inventory:
    """Units in stock per product name."""

    def __init__(self):
        self._stock = {}

    def receive(self, name, units):
        """Add units of a product to the stock."""
        self._stock[name] = self._stock.get(name, 0) + units

    def take(self, name, units):
        """Remove units of a product; raises ValueError when there are not enough."""
        available = self._stock.get(name, 0)
        if units > available:
            raise ValueError(f"only {available} units of {name} in stock")
        self._stock[name] = available - units

    def level(self, name):
        """Units of a product in stock."""
        return self._stock.get(name, 0)
"##;

const SHOPCART_TEST_CART: &str = r##"from shopcart.cart import add_item, cart_total, remove_item


def test_add_item_to_existing_cart():
    cart = [{"name": "pen", "price": 2.0, "quantity": 1}]
    add_item("ink", 5.0, 2, cart)
    assert [item["name"] for item in cart] == ["pen", "ink"]


def test_new_carts_start_empty():
    first = add_item("apple", 1.0)
    second = add_item("pear", 2.0)
    assert [item["name"] for item in first] == ["apple"]
    assert [item["name"] for item in second] == ["pear"]


def test_cart_total():
    cart = add_item("pen", 2.0, 3, [])
    add_item("ink", 1.25, 2, cart)
    assert cart_total(cart) == 8.5


def test_remove_item():
    cart = add_item("pen", 2.0, 1, [])
    assert remove_item(cart, "pen") == []
"##;

const SHOPCART_TEST_PRICING: &str = r##"import pytest

from shopcart.pricing import apply_discount, line_total


def test_line_total():
    assert line_total(0.1, 3) == 0.3


def test_apply_discount():
    assert apply_discount(20.0) == 20.0
    assert apply_discount(20.0, 25) == 15.0
    with pytest.raises(ValueError):
        apply_discount(1.0, 120)
"##;

const SHOPCART_TEST_INVENTORY: &str = r##"import pytest

from shopcart.inventory import Inventory


def test_stock_levels():
    inv = Inventory()
    inv.receive("pen", 5)
    inv.take("pen", 2)
    assert inv.level("pen") == 3
    with pytest.raises(ValueError):
        inv.take("pen", 10)
"##;

// ---------------------------------------------------------------------------------------------
// statskit: a missing edge case raises ZeroDivisionError.

const STATSKIT: Fixture = Fixture {
    name: "statskit",
    bug: "missing edge case: mean() of an empty sequence raises ZeroDivisionError",
    issue: "summarize() crashes on an empty list of readings\n\n\
            Our nightly report calls `summarize(readings)`, and on days without readings it crashes instead \
            of returning zeros (the docs say the mean of an empty sequence is 0.0):\n\n\
            ```\n\
            Traceback (most recent call last):\n  \
            File \"/home/dev/reports/nightly.py\", line 14, in <module>\n    \
            print(format_summary(summarize(readings)))\n  \
            File \"/home/dev/.venv/lib/python3.12/site-packages/statskit/report.py\", line 10, in summarize\n    \
            \"mean\": mean(values),\n  \
            File \"/home/dev/.venv/lib/python3.12/site-packages/statskit/core.py\", line 6, in mean\n    \
            return sum(values) / len(values)\n\
            ZeroDivisionError: division by zero\n\
            ```\n",
    buggy_file: "statskit/core.py",
    buggy_function: "mean",
    failing_tests: &["tests/test_core.py::test_mean_of_empty_is_zero", "tests/test_report.py::test_summarize_empty"],
    passing_tests: &[
        "tests/test_core.py::test_mean",
        "tests/test_core.py::test_median",
        "tests/test_core.py::test_variance",
        "tests/test_report.py::test_summarize",
        "tests/test_report.py::test_format_summary",
    ],
    package: &[
        ("statskit/__init__.py", STATSKIT_INIT),
        ("statskit/core.py", STATSKIT_CORE),
        ("statskit/report.py", STATSKIT_REPORT),
        ("statskit/histogram.py", STATSKIT_HISTOGRAM),
    ],
    tests: &[("tests/test_core.py", STATSKIT_TEST_CORE), ("tests/test_report.py", STATSKIT_TEST_REPORT)],
    fix: (
        "    \"\"\"Arithmetic mean; 0.0 for an empty sequence.\"\"\"\n    return sum(values) / len(values)\n",
        "    \"\"\"Arithmetic mean; 0.0 for an empty sequence.\"\"\"\n    if not values:\n        return 0.0\n    return sum(values) / len(values)\n",
    ),
};

const STATSKIT_INIT: &str = r##""""Descriptive statistics."""

from statskit.core import mean, median, variance
from statskit.report import format_summary, summarize
"##;

// Line 6 is the division named in the issue's traceback.
const STATSKIT_CORE: &str = r##""""Descriptive statistics for sequences of numbers."""


def mean(values):
    """Arithmetic mean; 0.0 for an empty sequence."""
    return sum(values) / len(values)


def median(values):
    """Middle value (mean of the two middle values for even lengths); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


def variance(values):
    """Population variance; 0.0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)
"##;

// Line 10 is the `"mean": mean(values),` line named in the issue's traceback.
const STATSKIT_REPORT: &str = r##""""Summaries of readings for reports."""

from statskit.core import mean, median, variance


def summarize(values):
    """Count, mean, median and variance of values, as a dict."""
    return {
        "count": len(values),
        "mean": mean(values),
        "median": median(values),
        "variance": variance(values),
    }


def format_summary(summary):
    """One line: count, mean, median and variance with two decimals."""
    return "n={count} mean={mean:.2f} median={median:.2f} var={variance:.2f}".format(**summary)
"##;

const STATSKIT_HISTOGRAM: &str = r##""""Text histograms."""


def bucket_counts(values, buckets):
    """Counts of values in equal-width buckets between min and max."""
    if not values or buckets < 1:
        return []
    low, high = min(values), max(values)
    width = (high - low) / buckets or 1
    counts = [0] * buckets
    for v in values:
        index = min(int((v - low) / width), buckets - 1)
        counts[index] += 1
    return counts


def render(counts, char="#"):
    """One line of char per bucket."""
    return "\n".join(char * c for c in counts)
"##;

const STATSKIT_TEST_CORE: &str = r##"from statskit.core import mean, median, variance


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_of_empty_is_zero():
    assert mean([]) == 0.0


def test_median():
    assert median([3, 1, 2]) == 2.0
    assert median([4, 1, 3, 2]) == 2.5
    assert median([]) == 0.0


def test_variance():
    assert variance([2, 4, 4, 4, 5, 5, 7, 9]) == 4.0
    assert variance([1]) == 0.0
"##;

const STATSKIT_TEST_REPORT: &str = r##"from statskit.report import format_summary, summarize


def test_summarize():
    assert summarize([1, 2, 3]) == {"count": 3, "mean": 2.0, "median": 2.0, "variance": 2 / 3}


def test_summarize_empty():
    assert summarize([]) == {"count": 0, "mean": 0.0, "median": 0.0, "variance": 0.0}


def test_format_summary():
    line = format_summary({"count": 2, "mean": 1.5, "median": 1.5, "variance": 0.25})
    assert line == "n=2 mean=1.50 median=1.50 var=0.25"
"##;

// ---------------------------------------------------------------------------------------------
// configkit: a wrong default value (base 16 instead of 10).

const CONFIGKIT: Fixture = Fixture {
    name: "configkit",
    bug: "wrong default argument: get_int() parses numbers as hexadecimal by default",
    issue: "Integer settings are read wrong\n\n\
            With `WORKERS=10` in the environment our service starts 16 workers. \
            `get_int({\"WORKERS\": \"10\"}, \"WORKERS\")` returns 16, and `RETRIES=9` works but `TIMEOUT=30` gives 48. \
            Plain decimal numbers should be read as decimal unless a base is asked for.\n",
    buggy_file: "configkit/env.py",
    buggy_function: "get_int",
    failing_tests: &["tests/test_env.py::test_get_int_reads_decimal"],
    passing_tests: &[
        "tests/test_env.py::test_get_int_missing_key_gives_default",
        "tests/test_env.py::test_get_int_explicit_base",
        "tests/test_env.py::test_get_bool",
        "tests/test_env.py::test_get_list",
        "tests/test_loader.py::test_parse_lines",
    ],
    package: &[
        ("configkit/__init__.py", CONFIGKIT_INIT),
        ("configkit/env.py", CONFIGKIT_ENV),
        ("configkit/loader.py", CONFIGKIT_LOADER),
    ],
    tests: &[("tests/test_env.py", CONFIGKIT_TEST_ENV), ("tests/test_loader.py", CONFIGKIT_TEST_LOADER)],
    fix: ("def get_int(env, key, default=None, base=16):", "def get_int(env, key, default=None, base=10):"),
};

const CONFIGKIT_INIT: &str = r##""""Typed settings from environment-like mappings."""

from configkit.env import get_bool, get_int, get_list
from configkit.loader import parse_lines
"##;

const CONFIGKIT_ENV: &str = r##""""Typed reads from an environment mapping (e.g. os.environ)."""

TRUE_WORDS = {"1", "true", "yes", "on"}


def get_int(env, key, default=None, base=16):
    """Integer value of env[key]; default when the key is missing."""
    if key not in env:
        return default
    return int(env[key].strip(), base)


def get_bool(env, key, default=False):
    """True for 1/true/yes/on (any case); default when the key is missing."""
    if key not in env:
        return default
    return env[key].strip().lower() in TRUE_WORDS


def get_list(env, key, sep=","):
    """Non-empty, stripped items of env[key] split on sep; [] when missing."""
    raw = env.get(key, "")
    return [item.strip() for item in raw.split(sep) if item.strip()]
"##;

const CONFIGKIT_LOADER: &str = r##""""KEY=VALUE files."""


def parse_lines(lines):
    """A dict from KEY=VALUE lines; blank lines and # comments are skipped."""
    result = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(f"line {number}: expected KEY=VALUE")
        key, value = line.split("=", 1)
        result[key.strip()] = value.strip()
    return result
"##;

const CONFIGKIT_TEST_ENV: &str = r##"from configkit.env import get_bool, get_int, get_list


def test_get_int_reads_decimal():
    assert get_int({"WORKERS": "10"}, "WORKERS") == 10


def test_get_int_missing_key_gives_default():
    assert get_int({}, "WORKERS", 4) == 4


def test_get_int_explicit_base():
    assert get_int({"MASK": "ff"}, "MASK", base=16) == 255


def test_get_bool():
    assert get_bool({"DEBUG": "Yes"}, "DEBUG") is True
    assert get_bool({}, "DEBUG") is False


def test_get_list():
    assert get_list({"HOSTS": "a, b,,c"}, "HOSTS") == ["a", "b", "c"]
"##;

const CONFIGKIT_TEST_LOADER: &str = r##"import pytest

from configkit.loader import parse_lines


def test_parse_lines():
    assert parse_lines(["# c", "", "A = 1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(ValueError):
        parse_lines(["oops"])
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_consistent() {
        assert!(FIXTURES.len() >= 3);
        for f in FIXTURES {
            assert!(
                f.package.iter().any(|(p, _)| *p == f.buggy_file),
                "{}",
                f.name
            );
            let src = f
                .package
                .iter()
                .find(|(p, _)| *p == f.buggy_file)
                .unwrap()
                .1;
            assert_eq!(
                src.matches(f.fix.0).count(),
                1,
                "{}: fix search must occur once",
                f.name
            );
            let fixed = src.replacen(f.fix.0, f.fix.1, 1);
            assert!(crate::syntax::check_python(&fixed).is_empty(), "{}", f.name);
            for (path, content) in f.package.iter().chain(f.tests.iter()) {
                assert!(
                    crate::syntax::check_python(content).is_empty(),
                    "{} {path}",
                    f.name
                );
            }
            for id in f.failing_tests.iter().chain(f.passing_tests.iter()) {
                let (file, test) = id.split_once("::").unwrap();
                let src = f
                    .tests
                    .iter()
                    .find(|(p, _)| *p == file)
                    .unwrap_or_else(|| panic!("{id}"))
                    .1;
                assert!(src.contains(&format!("def {test}(")), "{id}");
            }
        }
    }

    #[test]
    fn statskit_traceback_lines_match_the_sources() {
        let line = |src: &str, n: usize| src.lines().nth(n - 1).unwrap().trim().to_string();
        assert_eq!(line(STATSKIT_CORE, 6), "return sum(values) / len(values)");
        assert_eq!(line(STATSKIT_REPORT, 10), "\"mean\": mean(values),");
    }

    #[test]
    fn build_is_deterministic_and_has_history() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ra = TEXTKIT.build(a.path()).unwrap();
        let rb = TEXTKIT.build(b.path()).unwrap();
        assert_eq!(
            ra.base_commit, rb.base_commit,
            "fixed author and time give fixed shas"
        );
        assert_ne!(ra.base_commit, ra.head_commit);
        assert!(
            ra.gold_patch
                .starts_with("diff --git a/textkit/strings.py b/textkit/strings.py\n"),
            "{}",
            ra.gold_patch
        );
        assert!(ra.gold_patch.contains("-    return text[: width - len(suffix) - 1] + suffix\n+    return text[: width - len(suffix)] + suffix\n"));
        assert!(matches!(
            TEXTKIT.build(a.path()),
            Err(FixtureError::Exists { .. })
        ));
    }
}
