//! The `codeswarm` binary: parse the command line and hand over to [`codeswarm::cli`].

use clap::Parser;

fn main() {
    let cli = codeswarm::cli::Cli::parse();
    std::process::exit(codeswarm::cli::main_with(cli));
}
