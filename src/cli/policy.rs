//! `nminus policy check|show`.

use clap::{Args, Subcommand};

/// `nminus policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files: every problem at once, each with file:line and the field path.
    ///
    /// Exit 0 when every file is valid, 2 otherwise.
    #[command(
        after_help = "Examples:\n  nminus policy check policies/*.yaml\n  nminus policy check default strict   # the shipped policies by name"
    )]
    Check(CheckArgs),
}

/// Arguments of `policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files, or names of shipped policies (`default`, `openstack-n1`, `strict`).
    #[arg(required = true)]
    pub files: Vec<String>,
}

pub(super) fn run(c: PolicyCommand) -> anyhow::Result<u8> {
    match c {
        PolicyCommand::Check(a) => {
            let mut bad = 0;
            for f in &a.files {
                match crate::policy::load(f) {
                    Ok(p) => println!(
                        "{f}: ok — policy `{}`, {} rules, {} waivers, gate [{}]",
                        p.name,
                        p.rules.len(),
                        p.waivers.len(),
                        p.gate
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Err(e) => {
                        bad += 1;
                        for p in &e.0 {
                            eprintln!("{p}");
                        }
                    }
                }
            }
            Ok(if bad == 0 {
                super::EXIT_OK
            } else {
                super::EXIT_ERROR
            })
        }
    }
}
