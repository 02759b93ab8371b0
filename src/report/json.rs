//! JSON: the [`Report`] type itself, pretty-printed (schema `reports/schema/report-v1.json`).

use std::io::Write;

use super::{Format, ReportError, ReportWriter};
use crate::model::Report;

/// The JSON writer.
#[derive(Debug)]
pub(super) struct JsonWriter;

impl ReportWriter for JsonWriter {
    fn format(&self) -> Format {
        Format::Json
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}
