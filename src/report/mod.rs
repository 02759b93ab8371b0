//! Report writers: one per format, all fed the same [`Report`]. [`Format::writer`] is the one
//! place formats are wired.

mod controlplane;
mod cyclonedx;
mod fleet;
mod html;
mod json;
mod junit;
mod markdown;
mod sarif;
mod table;
mod util;

use std::io::Write;

use crate::model::Report;

pub use fleet::{write_fleet_pages, SITE_PAGE};
pub(crate) use table::output_width;
pub(crate) use util::gate_of;
pub(crate) use util::FeedProblems;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for terminals (colour only on a TTY; `NO_COLOR` honoured).
    Table,
    /// JSON, schema `reports/schema/report-v1.json`.
    Json,
    /// One self-contained HTML file (inline CSS, JS and SVG charts; works offline).
    Html,
    /// SARIF 2.1.0, for code scanning (GitHub, GitLab).
    Sarif,
    /// JUnit XML: one testsuite per node, one testcase per node and finding code.
    Junit,
    /// CycloneDX 1.6 JSON: the inventory as SBOM, advisory findings as VEX.
    Cyclonedx,
    /// GitHub-flavoured Markdown (merge-request comments).
    Markdown,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Output failed.
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
    /// Serialisation failed.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
    /// An HTML template is invalid or failed to render.
    #[error("cannot render the HTML template: {0}")]
    Template(String),
}

/// Renders a report in one format.
pub trait ReportWriter {
    /// The format.
    fn format(&self) -> Format;
    /// Write `report` to `out`.
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError>;
}

/// Options shared by writers.
#[derive(Debug, Clone, Default)]
pub struct WriterOptions {
    /// Use ANSI colour (table).
    pub color: bool,
    /// Line width (table); 0 = unknown (100 columns).
    pub width: usize,
    /// An operator's handlebars template replacing the shipped `report.hbs` (html).
    pub template: Option<String>,
}

impl Format {
    /// The writer of this format.
    pub fn writer(self, opts: WriterOptions) -> Box<dyn ReportWriter> {
        match self {
            Self::Table => Box::new(table::TableWriter(opts)),
            Self::Json => Box::new(json::JsonWriter),
            Self::Html => Box::new(html::HtmlWriter(opts)),
            Self::Sarif => Box::new(sarif::SarifWriter),
            Self::Junit => Box::new(junit::JunitWriter),
            Self::Cyclonedx => Box::new(cyclonedx::CycloneDxWriter),
            Self::Markdown => Box::new(markdown::MarkdownWriter),
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Table => "txt",
            Self::Json => "json",
            Self::Html => "html",
            Self::Sarif => "sarif",
            Self::Junit => "xml",
            Self::Cyclonedx => "cdx.json",
            Self::Markdown => "md",
        }
    }

    /// Every format, in documentation order.
    pub const ALL: [Self; 7] = [
        Self::Table,
        Self::Json,
        Self::Html,
        Self::Sarif,
        Self::Junit,
        Self::Cyclonedx,
        Self::Markdown,
    ];
}
