//! `nminus completions` and `nminus man`: generated from the CLI definition.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use clap_complete::Shell;

/// Arguments of `nminus completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `nminus man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write `nminus.1` and `nminus-<subcommand>.1` into.
    #[arg(short, long, default_value = ".")]
    pub out_dir: PathBuf,
}

pub(super) fn completions(a: &CompletionsArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let mut cmd = super::command();
    // Rendered whole first: clap_complete panics when its writer fails, and a closed stdout
    // (`nminus completions zsh | head`) must end quietly (a `BrokenPipe` error, exit code 0).
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "nminus", &mut buf);
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(super::EXIT_OK)
}

pub(super) fn man(a: &ManArgs) -> anyhow::Result<u8> {
    fs_err::create_dir_all(&a.out_dir)?;
    let cmd = super::command();
    write_page(&cmd, &a.out_dir, "nminus")?;
    for sub in cmd.get_subcommands() {
        let name = format!("nminus-{}", sub.get_name());
        let sub = sub.clone().name(name.clone());
        write_page(&sub, &a.out_dir, &name)?;
        for sub2 in sub.get_subcommands() {
            let n2 = format!("{name}-{}", sub2.get_name());
            write_page(&sub2.clone().name(n2.clone()), &a.out_dir, &n2)?;
        }
    }
    Ok(super::EXIT_OK)
}

fn write_page(cmd: &clap::Command, dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    fs_err::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
