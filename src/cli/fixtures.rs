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
    println!("{} instances: {}", set.ids.len(), set.instances.display());
    for id in &set.ids {
        println!("  {id}");
    }
    let steps = set.commands();
    let (mock, real) = steps.split_at(steps.len() / 2);
    println!(
        "\nTry repository mode without model weights: the scripted model (--mock) replays replies"
    );
    println!(
        "written for these fixtures (localization, reproduction test, repair), while the sandbox,"
    );
    println!("git and the evaluation are real:");
    for s in mock {
        println!("  # {}\n  {}", s.what, s.command_line());
    }
    println!("\nThen with a real model:");
    for s in real {
        println!("  # {}\n  {}", s.what, s.command_line());
    }
    Ok(0)
}
