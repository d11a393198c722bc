//! Repository mode: everything `codeswarm fix` and `codeswarm check` need to work on a real git
//! repository with a small model.
//!
//! Pipeline, one module per step:
//! - [`checkout`]: resolve `owner/name`, a URL or a local path; keep a bare mirror cache; hand
//!   each job a clean throw-away worktree at the base commit.
//! - [`map`]: a tree-sitter repo map of the Python files (classes, functions, signatures, spans)
//!   and token-budgeted skeletons for prompts.
//! - [`rank`]: BM25 ranking of candidate files against the issue text, boosted by paths,
//!   modules, identifiers and traceback frames named in it.
//! - [`edit`]: parse and apply Aider-style SEARCH/REPLACE blocks, with precise failure reasons
//!   and a syntax check of every edited Python file.
//! - [`patch`]: the unified diff of a worktree against its base commit, and applying a diff
//!   (exactly, with line offsets, or with fuzz, as the SWE-bench harness) with the rejected hunk
//!   named.
//! - [`site`]: the dependencies a worktree's tests import (`--site DIR`, or a cached site built
//!   from exact [`pins`]); the tests themselves run through [`crate::testing`].
//! - [`fixture`]: small fixture repositories with seeded bugs, failing tests and gold patches,
//!   for tests, demos and batch runs.
//!
//! Helpers: [`junk`] (paths never worth indexing or patching) and [`lock`] (inter-process file
//! lock for the mirror cache).

pub mod checkout;
pub mod edit;
pub mod fixture;
pub mod junk;
pub mod lock;
pub mod map;
pub mod no_freshen;
pub mod patch;
pub mod pins;
pub mod rank;
pub mod rewrite;
pub mod site;
pub mod test_select;
