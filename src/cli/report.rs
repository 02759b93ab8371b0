//! `nminus report`: re-render a saved JSON report in other formats, re-evaluating the gate on
//! its findings; and the output handling shared with `scan` (`--format F[,F…] [-o FILE|DIR]`).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use crate::model::{HistoryPoint, ProblemKind, Report, REPORT_SCHEMA_VERSION};
use crate::policy::{Gate, GateTerm};
use crate::report::{Format, WriterOptions};

/// Arguments of `nminus report`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 nothing at or above the gate; 1 findings at or above the gate (re-evaluated on the saved findings, with --fail-on when given); 2 the input cannot be read (the message names the file and the JSON path), or the saved scan was incomplete (not judged, unreadable files: the reports are still written first).

Examples:
  nminus report --input scan.json --format html -o report.html
  nminus report --input scan.json --format sarif,junit,cyclonedx -o reports/
  nminus report --input scan.json --format html --history week1.json --history week2.json -o r.html
  nminus report --input scan.json --format markdown --fail-on high > comment.md"
)]
pub struct ReportArgs {
    /// A report written by `nminus scan --format json` (`-` reads stdin).
    #[arg(short, long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output formats, comma-separated; several need `-o DIR`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "table")]
    pub format: Vec<Format>,
    /// Write to this file (one format) or into this directory as `report.<ext>` (several).
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// A handlebars template replacing the shipped HTML template (`reports/templates/report.hbs`
    /// documents the data it gets).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Gate: a severity (findings at or above it fail) or a finding code; repeatable or
    /// comma-separated. Default: the gate the report was made with.
    #[arg(long = "fail-on", value_name = "SEVERITY|CODE", value_delimiter = ',')]
    pub fail_on: Vec<GateTerm>,
    /// Earlier JSON reports, for the compliance-over-time chart of the HTML report (repeatable).
    #[arg(long, value_name = "FILE")]
    pub history: Vec<PathBuf>,
    /// Also write the fleet HTML as a directory of small pages (a summary `index.html`, pages
    /// per site and per node): what opens at thousands of nodes.
    #[arg(long, value_name = "DIR")]
    pub pages: Option<PathBuf>,
}

pub(super) fn run(a: &ReportArgs) -> anyhow::Result<u8> {
    check_outputs(&a.format, a.output.as_deref())?;
    let template = match &a.template {
        Some(p) => {
            if !a.format.contains(&Format::Html) {
                bail!("--template applies to the html format: add `--format html`");
            }
            Some(fs_err::read_to_string(p)?)
        }
        None => None,
    };
    let mut report = load(&a.input)?;
    if !a.history.is_empty() {
        let mut points: Vec<HistoryPoint> = std::mem::take(&mut report.history);
        for p in &a.history {
            let old = load(p)?;
            points.extend(old.history.iter().cloned());
            points.push(old.history_point());
        }
        points.sort_by(|x, y| x.date.cmp(&y.date));
        points.dedup_by(|x, y| x.date == y.date);
        points.retain(|p| p.date < report.as_of);
        report.history = points;
    }
    let gate = if a.fail_on.is_empty() {
        crate::report::gate_of(&report)
    } else {
        Gate(a.fail_on.clone())
    };
    regate(&mut report, &gate);
    write_reports(&report, &a.format, a.output.as_deref(), template)?;
    if let Some(dir) = &a.pages {
        crate::report::write_fleet_pages(&report, dir)?;
    }
    Ok(exit_code(&report, &gate))
}

/// Read a saved report; errors name the file and, for JSON that does not fit, the path inside
/// it (`findings[3].severity`).
pub(crate) fn load(path: &Path) -> anyhow::Result<Report> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the report from stdin")?;
        s
    } else {
        fs_err::read_to_string(path)?
    };
    // Something else than a report (an inventory, a list, a plan): say so, not serde's words.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        if v.get("summary").is_none() || v.get("findings").is_none() {
            bail!(
                "cannot read report `{}`: not an nminus JSON report (expected an object with `schema_version`, `summary` and `findings`, as `nminus scan --format json` writes)",
                path.display()
            );
        }
    }
    let de = &mut serde_json::Deserializer::from_str(&text);
    let report: Report = serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        anyhow::anyhow!(
            "cannot read report `{}`: at `{}`: {}",
            path.display(),
            if at.is_empty() { "." } else { at.as_str() },
            e.inner()
        )
    })?;
    if report.schema_version != REPORT_SCHEMA_VERSION {
        bail!(
            "cannot read report `{}`: at `schema_version`: expected {REPORT_SCHEMA_VERSION}, found {}",
            path.display(),
            report.schema_version
        );
    }
    Ok(report)
}

/// Judge the report's nodes again against `gate`.
fn regate(r: &mut Report, gate: &Gate) {
    for n in &mut r.nodes {
        n.compliant = !r.findings.iter().any(|f| f.node == n.id && gate.fails(f));
    }
    r.gate = gate.to_string();
    r.summary.compliant = r.nodes.iter().all(|n| n.compliant)
        && r.not_judged.is_empty()
        && !r.findings.iter().any(|f| gate.fails(f));
}

fn exit_code(r: &Report, gate: &Gate) -> u8 {
    let incomplete = !r.not_judged.is_empty()
        || r.problems
            .iter()
            .any(|p| p.problem.kind != ProblemKind::Skipped);
    if incomplete {
        super::EXIT_ERROR
    } else if r.findings.iter().any(|f| gate.fails(f)) {
        super::EXIT_VIOLATIONS
    } else {
        super::EXIT_OK
    }
}

/// Refuse output combinations that cannot work, before any work is done.
pub(super) fn check_outputs(formats: &[Format], output: Option<&Path>) -> anyhow::Result<()> {
    if formats.is_empty() {
        bail!("--format: name at least one format");
    }
    let n = distinct(formats).len();
    if n > 1 {
        match output {
            None => bail!("{n} formats need `-o DIR`: each is written there as `report.<ext>`"),
            Some(p) if p.is_file() => bail!(
                "{n} formats need `-o DIR`, but `{}` is a file: each format is written into a directory as `report.<ext>`",
                p.display()
            ),
            // A new path named like a report file is a slip, not a directory to create.
            Some(p)
                if !p.exists()
                    && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ["json", "html", "htm", "sarif", "xml", "md", "txt", "cdx"]
                            .contains(&e.to_ascii_lowercase().as_str())
                    }) =>
            {
                bail!(
                    "{n} formats need `-o DIR`, but `{}` is named like a file: give a directory (each format is written into it as `report.<ext>`)",
                    p.display()
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn distinct(formats: &[Format]) -> Vec<Format> {
    let mut v: Vec<Format> = Vec::new();
    for f in formats {
        if !v.contains(f) {
            v.push(*f);
        }
    }
    v
}

/// Write `report` in every format: one format to `output` (a file, or `report.<ext>` in it when
/// it is a directory) or stdout; several into the directory `output` as `report.<ext>`. Files
/// are written atomically.
pub(super) fn write_reports(
    report: &Report,
    formats: &[Format],
    output: Option<&Path>,
    template: Option<String>,
) -> anyhow::Result<()> {
    let formats = distinct(formats);
    // The terminal's own width when the table goes to it, else `COLUMNS`, else 100.
    let width = crate::report::output_width(output.is_none());
    let several = formats.len() > 1;
    if several {
        if let Some(dir) = output {
            fs_err::create_dir_all(dir)?;
        }
    }
    for f in formats {
        let color = output.is_none()
            && f == Format::Table
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        let opts = WriterOptions {
            color,
            width,
            template: template.clone(),
        };
        let mut buf = Vec::new();
        f.writer(opts).write(report, &mut buf)?;
        let target: Option<PathBuf> = match output {
            None => None,
            Some(p) if several || p.is_dir() => Some(p.join(format!("report.{}", f.extension()))),
            Some(p) => Some(p.to_path_buf()),
        };
        match target {
            Some(p) => {
                crate::util::write_atomic(&p, &buf)?;
                if several {
                    eprintln!("wrote {}", p.display());
                }
            }
            None => std::io::stdout().lock().write_all(&buf)?,
        }
    }
    Ok(())
}
