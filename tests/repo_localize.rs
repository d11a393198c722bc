//! Repo map and ranking on the fixture repositories: the buggy file must rank first for each
//! fixture's issue text.

use codeswarm::repo::fixture::{self, FIXTURES};
use codeswarm::repo::map::{
    render_focus, render_skeletons, skeleton, Budget, RepoMap, SkeletonStyle, SymbolKind,
};
use codeswarm::repo::rank::{rank_files, RankOptions, Reason};

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

#[test]
fn buggy_file_ranks_first_for_every_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    for fx in fixture::build_all(tmp.path()).unwrap() {
        let map = RepoMap::from_dir(&fx.path).unwrap();
        let ranking = rank_files(&map, &fx.issue, &RankOptions::default());
        let top = &ranking.candidates[0];
        assert_eq!(
            top.path, fx.buggy_file,
            "{}: {:#?}",
            fx.name, ranking.candidates
        );
        assert!(
            top.symbols.iter().any(|s| s.qualname == fx.buggy_function),
            "{}: the buggy function should be pointed at: {:#?}",
            fx.name,
            top.symbols
        );
        assert!(ranking
            .candidates
            .iter()
            .all(|c| !c.path.starts_with("tests/") && c.path != "conftest.py"));
        let failing_file = fx.failing_tests[0].split("::").next().unwrap();
        assert!(
            ranking.tests.iter().take(2).any(|t| t.path == failing_file),
            "{}: related tests {:#?}",
            fx.name,
            ranking.tests
        );
    }
}

#[test]
fn statskit_traceback_points_at_the_innermost_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("statskit")
        .unwrap()
        .build(tmp.path())
        .unwrap();
    let map = RepoMap::from_dir(&fx.path).unwrap();
    let ranking = rank_files(&map, &fx.issue, &RankOptions::default());
    assert_eq!(ranking.mentions.frames.len(), 3);
    let core = &ranking.candidates[0];
    assert_eq!(core.path, "statskit/core.py");
    assert!(
        core.reasons.iter().any(|r| matches!(
            r,
            Reason::Traceback {
                line: 6,
                innermost: true,
                ..
            }
        )),
        "{:?}",
        core.reasons
    );
    let report = ranking
        .candidates
        .iter()
        .find(|c| c.path == "statskit/report.py")
        .unwrap();
    assert!(report.reasons.iter().any(|r| matches!(
        r,
        Reason::Traceback {
            line: 10,
            innermost: false,
            ..
        }
    )));
    assert_eq!(report.symbols[0].qualname, "summarize");

    // The same issue without its traceback loses the frame boosts.
    let no_tb: String = fx.issue.split("```").next().unwrap().to_string();
    let plain = rank_files(&map, &no_tb, &RankOptions::default());
    let core_plain = plain
        .candidates
        .iter()
        .find(|c| c.path == "statskit/core.py")
        .map(|c| c.score)
        .unwrap_or(0.0);
    assert!(
        core.score > core_plain + 2.5,
        "traceback boost: {} vs {}",
        core.score,
        core_plain
    );
}

#[test]
fn repo_map_of_a_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture::by_name("shopcart")
        .unwrap()
        .build(tmp.path())
        .unwrap();
    let map = RepoMap::from_dir(&fx.path).unwrap();
    let paths: Vec<&str> = map.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "conftest.py",
            "shopcart/__init__.py",
            "shopcart/cart.py",
            "shopcart/inventory.py",
            "shopcart/pricing.py",
            "tests/test_cart.py",
            "tests/test_inventory.py",
            "tests/test_pricing.py"
        ]
    );
    let cart = map.file("shopcart/cart.py").unwrap();
    let add = cart.find("add_item").unwrap();
    assert_eq!(
        add.signature,
        "def add_item(name, price, quantity=1, items=[])"
    );
    assert_eq!(
        add.doc.as_deref(),
        Some("Add an item to a cart (a list of dicts) and return the cart.")
    );
    assert_eq!((add.start_line, add.end_line), (6, 12));
    let inv = map
        .file("shopcart/inventory.py")
        .unwrap()
        .find("Inventory")
        .unwrap();
    assert_eq!(inv.kind, SymbolKind::Class);
    let methods: Vec<&str> = inv.children.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(methods, ["__init__", "receive", "take", "level"]);

    let sk = skeleton(cart, SkeletonStyle::default());
    assert!(
        sk.contains("def add_item(name, price, quantity=1, items=[]):\n    \"\"\"Add an item"),
        "{sk}"
    );
    assert!(!sk.contains("items.append"), "{sk}");

    let budget = Budget {
        count: &words,
        max_tokens: 60,
    };
    let r = render_skeletons(
        &map,
        &[
            "shopcart/cart.py",
            "shopcart/pricing.py",
            "shopcart/inventory.py",
        ],
        &budget,
    );
    assert!(
        r.tokens <= 60 && !r.included.is_empty() && r.included[0].0 == "shopcart/cart.py",
        "{r:?}"
    );
    let focus = render_focus(
        &map,
        &[("shopcart/cart.py", "add_item")],
        &Budget {
            count: &words,
            max_tokens: 500,
        },
    );
    assert!(focus.text.contains("items.append("), "{}", focus.text);
}

#[test]
fn every_fixture_maps_without_syntax_errors() {
    for f in FIXTURES {
        let files = f.base_files();
        let map = RepoMap::from_sources(files.iter().map(|(p, c)| (p.as_str(), c.as_str())));
        assert!(map.files.iter().all(|m| m.syntax_ok), "{}", f.name);
        assert!(
            map.file(f.buggy_file)
                .unwrap()
                .find(f.buggy_function)
                .is_some(),
            "{}",
            f.name
        );
    }
}
