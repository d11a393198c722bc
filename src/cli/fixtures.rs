//! `codeswarm fixtures --out DIR`: write the offline fixture instance set (see
//! [`crate::batch::fixture_set`]) and print the commands that run a batch on it.

use std::path::PathBuf;

use clap::Args;

use crate::batch::fixture_set::write_fixture_set;

#[derive(Args, Debug)]
pub struct FixturesArgs {
    /// Directory to write into (created; `repos/` inside must not exist yet).
    #[arg(long)]
    pub out: PathBuf,
}

/// Exit 0 when written; an existing fixture repository or an unwritable directory is an error.
pub fn run(a: FixturesArgs) -> anyhow::Result<i32> {
    let set = write_fixture_set(&a.out)?;
    let dir = a.out.display();
    println!("{} instances: {}", set.ids.len(), set.instances.display());
    for id in &set.ids {
        println!("  {id}");
    }
    println!("\nSolve and evaluate them:");
    println!(
        "  codeswarm batch --instances {i} --predictions {dir}/preds.jsonl --repo-url-template '{t}'",
        i = set.instances.display(),
        t = set.url_template
    );
    println!(
        "  codeswarm evaluate --instances {i} --predictions {dir}/preds.jsonl --repo-url-template '{t}'",
        i = set.instances.display(),
        t = set.url_template
    );
    Ok(0)
}
