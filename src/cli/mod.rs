//! The command line: clap derive definitions and one file per subcommand.
//!
//! Exit codes (also in `--help` and README):
//! - 0: success (for `version cmp`: the comparison was made)
//! - 1: policy violations at or above the gate (reserved for `scan`)
//! - 2: could not complete (bad arguments, unreadable input), or completed with problems

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod collect;
mod docs;
mod scan;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: policy violations.
pub const EXIT_VIOLATIONS: u8 = 1;
/// Exit code: error, or completed with problems.
pub const EXIT_ERROR: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  policy violations at or above the gate threshold
  2  could not complete (bad arguments, unreadable input), or completed with problems
     (some file or node could not be read; the output is still written first)

Examples:
  nminus collect -o inventory.json                 inventory of this machine
  nminus collect --root /srv/image-root --site par1 --label role=compute
  nminus version cmp --scheme deb 2:26.2.2-1~deb12u5 2:26.2.2-1
  printf '1.0~rc1\\t1.0\\n' | nminus version cmp --scheme deb --batch
  nminus completions bash > /etc/bash_completion.d/nminus";

/// nminus keeps a cloud's software current: every package, service and image within the
/// newest or previous release series (n / n-1), patched against known advisories.
#[derive(Debug, Parser)]
#[command(name = "nminus", version, about, long_about = None, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inventory a node (or a directory standing for one) and write it as JSON.
    ///
    /// Reads dpkg, RPM (SQLite, BerkeleyDB, NDB) and apk databases, Python dist-info and
    /// egg-info in every site-packages / dist-packages and virtualenv (OpenStack-Ansible,
    /// kolla), lockfiles, os-release, and recognises the OpenStack services installed. It only
    /// reads files; nothing under the root is executed.
    Collect(collect::CollectArgs),
    /// Scan a node, a root directory or a lockfile against the advisory feeds and report.
    ///
    /// The same collectors as `collect`, then every package is matched in its own version scheme
    /// against the feeds of the data directory: OS packages against their distro's advisories by
    /// source package, Python modules owned by dpkg/rpm are left to the distro, OpenStack
    /// deliverables against OSSA and PyPA, crates against RustSec.
    Scan(scan::ScanArgs),
    /// Compare and parse version strings in an ecosystem's exact ordering.
    #[command(subcommand)]
    Version(version::VersionCommand),
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    Completions(docs::CompletionsArgs),
    /// Write the man pages (nminus.1 and one per subcommand) into a directory.
    Man(docs::ManArgs),
}

/// Run the parsed command line and return the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let r = match cli.command {
        Command::Collect(a) => collect::run(&a),
        Command::Scan(a) => scan::run(&a),
        Command::Version(c) => version::run(c),
        Command::Completions(a) => docs::completions(&a),
        Command::Man(a) => docs::man(&a),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_OK);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The clap command, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        super::command().debug_assert();
    }
}
