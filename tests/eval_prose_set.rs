//! The prose evaluation set judges what it claims to: in the sandbox, every task's hidden test
//! passes on its reference solution and fails on its plausible wrong one, so a `solved` counted
//! by `codeswarm eval prose` means the stated behaviour holds.

use std::sync::OnceLock;
use std::time::Duration;

use codeswarm::eval::problem::Problem;
use codeswarm::eval::prose::ProseSet;
use codeswarm::eval::run::check;
use codeswarm::sandbox::Sandbox;

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::open(&()).expect("the sandbox runtime (run `codeswarm sandbox --setup`)")
    })
}

#[test]
fn every_hidden_test_passes_the_reference_and_fails_the_wrong_solution() {
    let set = ProseSet::builtin().unwrap();
    let problems: Vec<Problem> = set.problems();
    let mut problems_seen = vec![];
    for ((task, hidden), p) in set.items.iter().zip(&problems) {
        let (ok, status, out) = check(sandbox(), p, &hidden.reference, Duration::from_secs(30));
        if !ok {
            problems_seen.push(format!(
                "{}: the reference fails its hidden test ({status}): {out}",
                task.id
            ));
        }
        let (ok, _, _) = check(sandbox(), p, &hidden.wrong, Duration::from_secs(30));
        if ok {
            problems_seen.push(format!(
                "{}: the wrong solution passes the hidden test",
                task.id
            ));
        }
    }
    assert!(problems_seen.is_empty(), "{}", problems_seen.join("\n"));
}
