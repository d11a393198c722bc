//! The `codeswarm` binary: parse the command line and hand over to [`codeswarm::cli`].

use clap::Parser;

fn main() {
    // Before any thread starts: libgit2 keeps its list of understood extensions unsynchronized.
    codeswarm::repo::checkout::allow_partial_clones();
    let cli = codeswarm::cli::Cli::parse();
    std::process::exit(codeswarm::cli::main_with(cli));
}
