//! `codeswarm fix`: one issue, one repository, one patch.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::opts::{DepsOpts, ModelOpts};
use crate::fix::FixStatus;
use crate::fix::{self, FixTarget};
use crate::repo::checkout::DEFAULT_URL_TEMPLATE;

#[derive(Args, Debug)]
pub struct FixArgs {
    /// The repository: a local path, a URL, or owner/name (see --repo-url-template).
    #[arg(long)]
    pub repo: String,
    /// The base commit (default: the default branch's head).
    #[arg(long)]
    pub commit: Option<String>,
    /// The issue: a file to read, or the text itself.
    #[arg(long)]
    pub issue: String,
    /// The patch file to write (`--out` is a directory in every command, so this one is
    /// `--patch-out`).
    #[arg(long, value_name = "FILE", default_value = "codeswarm.patch")]
    pub patch_out: PathBuf,
    /// Write the patch as a `git am`-ready mail (as `git format-patch` does): the issue's title
    /// as the subject, codeswarm's status and evidence as the commit message, then the diff.
    #[arg(long)]
    pub format_patch: bool,
    /// Where to write the report (default: the patch path with `.report.json`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Turns owner/name into a clone URL or path ({owner}, {name}, {repo}).
    #[arg(long, default_value = DEFAULT_URL_TEMPLATE)]
    pub repo_url_template: String,
    #[command(flatten)]
    pub deps: DepsOpts,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Print the generated text to stderr as it arrives, each reply under a header naming its
    /// agent (in-process models token by token; `--server` streams with `"stream": true`).
    #[arg(long)]
    pub stream: bool,
    #[command(flatten)]
    pub model: ModelOpts,
}

/// Exit 0 with a verified patch, 1 with an unverified patch or none, 2 on errors.
pub fn run(a: FixArgs) -> anyhow::Result<i32> {
    let issue =
        fix::read_issue(&a.issue).with_context(|| format!("cannot read --issue {}", a.issue))?;
    let report_path = a
        .report
        .clone()
        .unwrap_or_else(|| a.patch_out.with_extension("report.json"));
    for (p, flag) in [(&a.patch_out, "--patch-out"), (&report_path, "--report")] {
        crate::fsutil::check_output_file(p, flag).map_err(anyhow::Error::msg)?;
    }
    let config = a.model.load_config()?;
    let prompts = a.model.load_prompts()?;
    let mut manager = a.model.manager(&config, a.json)?;
    let bar = crate::progress::bytes_bar();
    let tests = a.deps.repo_tests(&config, Some(&a.repo), &bar);
    bar.finish_and_clear();
    let tests = tests?;
    let target = FixTarget {
        repo: a.repo.clone(),
        commit: a.commit.clone(),
        issue,
        url_template: a.repo_url_template.clone(),
        owner_name_only: false,
        work_dir: None,
        deadline: None,
    };
    // The live display (agent, stage, tokens/s, elapsed) on stderr; `--stream` prints the text.
    let live = std::sync::Arc::new(crate::progress::LiveProgress::new(a.stream, a.json));
    manager.set_progress(live.clone());
    manager.stage("checking out the repository");
    let report = fix::fix_issue(&target, &mut manager, &config, &prompts, &tests, &|| false);
    live.finish();
    let report = report?;
    crate::fsutil::write_atomic(&report_path, &serde_json::to_vec_pretty(&report)?)?;
    if report.status.has_patch() {
        let text = if a.format_patch {
            crate::format_patch::format_patch(&report)?
        } else {
            report.patch.clone()
        };
        crate::fsutil::write_atomic(&a.patch_out, text.as_bytes())?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", fix::summary(&report));
        if report.status.has_patch() {
            println!(
                "wrote {}{} and {}",
                a.patch_out.display(),
                if a.format_patch {
                    " (apply with `git am`)"
                } else {
                    ""
                },
                report_path.display()
            );
        } else {
            println!("wrote {}", report_path.display());
        }
    }
    Ok(
        if matches!(report.status, FixStatus::Verified | FixStatus::Plausible) {
            0
        } else {
            1
        },
    )
}
