//! `nminus version cmp|parse`.

use std::io::{BufRead, BufWriter, Write};

use clap::{Args, Subcommand};

use crate::version::{ordering_symbol, Scheme, Version};

/// `nminus version …`
#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Compare two versions: prints `<`, `=` or `>` (exit 0), or an error (exit 2).
    ///
    /// Like `dpkg --compare-versions`, for every scheme nminus knows. With `--batch`, reads
    /// tab-separated pairs from stdin (split on the tab only; nothing is trimmed) and writes one
    /// line per pair, in order: `<`, `=`, `>`, or `! <reason>` when the pair cannot be compared.
    #[command(
        after_help = "Examples:\n  nminus version cmp --scheme rpm 1:1.0-1.el9 2.0-1.el9      # >\n  nminus version cmp --scheme pep440 31.0.1.dev12 31.0.1       # <\n  cut -f1,2 pairs.tsv | nminus version cmp --scheme deb --batch"
    )]
    Cmp(CmpArgs),
    /// Parse a version and print its normalised form and components as JSON.
    Parse(ParseArgs),
}

/// Arguments of `version cmp`.
#[derive(Debug, Args)]
pub struct CmpArgs {
    /// Version scheme: deb, rpm, apk, pep440, semver (or generic, an explicit guess).
    #[arg(long, short)]
    pub scheme: Scheme,
    /// Read tab-separated pairs from stdin instead of A and B.
    #[arg(long, conflicts_with_all = ["a", "b"])]
    pub batch: bool,
    /// Left version.
    #[arg(required_unless_present = "batch")]
    pub a: Option<String>,
    /// Right version.
    #[arg(required_unless_present = "batch")]
    pub b: Option<String>,
}

/// Arguments of `version parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Version scheme.
    #[arg(long, short)]
    pub scheme: Scheme,
    /// The version string.
    #[arg(value_name = "VERSION")]
    pub text: String,
}

pub(super) fn run(c: VersionCommand) -> anyhow::Result<u8> {
    match c {
        VersionCommand::Cmp(a) if a.batch => batch(a.scheme),
        VersionCommand::Cmp(a) => {
            let (x, y) = (a.a.unwrap_or_default(), a.b.unwrap_or_default());
            let vx = Version::parse(a.scheme, &x)?;
            let vy = Version::parse(a.scheme, &y)?;
            println!("{}", ordering_symbol(vx.compare(&vy)?));
            Ok(super::EXIT_OK)
        }
        VersionCommand::Parse(a) => {
            let v = Version::parse(a.scheme, &a.text)?;
            println!("{}", serde_json::to_string_pretty(&v.to_json())?);
            Ok(super::EXIT_OK)
        }
    }
}

fn batch(scheme: Scheme) -> anyhow::Result<u8> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line);
        match compare_line(scheme, &text) {
            Ok(o) => out.write_all(ordering_symbol(o).as_bytes())?,
            Err(reason) => {
                out.write_all(b"! ")?;
                out.write_all(reason.replace('\n', " ").as_bytes())?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(super::EXIT_OK)
}

fn compare_line(scheme: Scheme, line: &str) -> Result<std::cmp::Ordering, String> {
    let Some((a, b)) = line.split_once('\t') else {
        return Err("expected two versions separated by a tab, found no tab".to_owned());
    };
    if b.contains('\t') {
        return Err(
            "expected two versions separated by one tab, found more than one tab".to_owned(),
        );
    }
    let va = Version::parse(scheme, a).map_err(|e| e.to_string())?;
    let vb = Version::parse(scheme, b).map_err(|e| e.to_string())?;
    va.compare(&vb).map_err(|e| e.to_string())
}
