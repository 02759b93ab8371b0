//! Report writers: one per format, all fed the same [`Report`]. [`Format::writer`] is the one
//! place formats are wired.

mod json;
mod table;

use std::io::Write;

use crate::model::Report;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for terminals (colour only on a TTY; `NO_COLOR` honoured).
    Table,
    /// JSON, schema `reports/schema/report-v1.json`.
    Json,
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
}

/// Renders a report in one format.
pub trait ReportWriter {
    /// The format.
    fn format(&self) -> Format;
    /// Write `report` to `out`.
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError>;
}

/// Options shared by writers.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterOptions {
    /// Use ANSI colour (table).
    pub color: bool,
    /// Terminal width (table); 0 = unknown.
    pub width: usize,
}

impl Format {
    /// The writer of this format.
    pub fn writer(self, opts: WriterOptions) -> Box<dyn ReportWriter> {
        match self {
            Self::Table => Box::new(table::TableWriter(opts)),
            Self::Json => Box::new(json::JsonWriter),
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Table => "txt",
            Self::Json => "json",
        }
    }
}
