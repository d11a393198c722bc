//! `codeswarm report RUN_DIR [--html OUT.html]`: the table of a batch run and, optionally, a
//! self-contained HTML page (see [`crate::batch::report`], [`crate::batch::html`]).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::batch::{html, report};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run directory of a `codeswarm batch` run.
    pub run_dir: PathBuf,
    /// Also write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Exit 0 when the report was made.
pub fn run(a: ReportArgs) -> anyhow::Result<i32> {
    if let Some(out) = &a.html {
        crate::fsutil::check_output_file(out, "--html").map_err(anyhow::Error::msg)?;
    }
    let r = report::load_run(&a.run_dir)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", report::render_table(&r));
    }
    if let Some(out) = &a.html {
        html::write_html(&r, out)
            .with_context(|| format!("cannot write the HTML report {}", out.display()))?;
        eprintln!("HTML report: {}", out.display());
    }
    Ok(0)
}
