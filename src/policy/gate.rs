//! The CI gate: which findings fail a run (`--fail-on`, the policy's `gate`).

use crate::model::{Finding, FindingCode, Severity};

/// One gate term: a severity threshold or a finding code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateTerm {
    /// Findings of this severity or worse fail the gate.
    Severity(Severity),
    /// Findings with this code fail the gate, whatever their severity.
    Code(FindingCode),
}

impl std::str::FromStr for GateTerm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(sev) = Severity::parse_word(s) {
            return Ok(Self::Severity(sev));
        }
        s.parse::<FindingCode>().map(Self::Code).map_err(|_| {
            format!("expected a severity (none, unknown, low, medium, high, critical) or a finding code (vulnerable, series-behind, …), found `{s}`")
        })
    }
}

impl std::fmt::Display for GateTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Severity(s) => f.write_str(s.as_str()),
            Self::Code(c) => f.write_str(c.as_str()),
        }
    }
}

/// The gate: a finding fails it when any term matches. Informational findings (severity
/// `none`) only fail a `none` threshold or an explicit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate(pub Vec<GateTerm>);

impl Gate {
    /// Whether `f` fails the gate.
    pub fn fails(&self, f: &Finding) -> bool {
        self.0.iter().any(|t| match t {
            GateTerm::Severity(s) => f.severity >= *s,
            GateTerm::Code(c) => f.code == *c,
        })
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}
