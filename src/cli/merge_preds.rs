//! `codeswarm merge-preds OUT IN…`: merge shard predictions (see [`crate::batch::merge`]).

use std::path::PathBuf;

use clap::Args;

use crate::batch::merge::merge_predictions;

#[derive(Args, Debug)]
pub struct MergePredsArgs {
    /// The merged predictions file to write.
    pub out: PathBuf,
    /// Shard predictions files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Exit 0 when merged; conflicts and unreadable inputs are errors (exit 2).
pub fn run(a: MergePredsArgs) -> anyhow::Result<i32> {
    crate::fsutil::check_output_file(&a.out, "OUT").map_err(anyhow::Error::msg)?;
    let s = merge_predictions(&a.out, &a.inputs)?;
    println!(
        "merged {} files: {} lines read, {} identical duplicates dropped, {} instances written ({} with a patch) to {}",
        s.inputs,
        s.lines_read,
        s.duplicates,
        s.written,
        s.patched,
        a.out.display()
    );
    for t in &s.torn_inputs {
        println!("warning: left out a torn last line of {}", t.display());
    }
    Ok(0)
}
