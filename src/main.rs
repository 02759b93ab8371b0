//! The `nminus` binary: parse the command line, run, map to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    nminus::cli::end_quietly_on_broken_pipe();
    nminus::cli::run(nminus::cli::Cli::parse())
}
