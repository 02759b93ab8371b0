//! Helpers shared by the writers: code titles, the gate of a saved report, stable orderings,
//! and escaping for the text formats.

use std::cmp::Reverse;

use crate::model::{Finding, FindingCode, Report, Severity};
use crate::policy::{Gate, GateTerm};

/// A one-line description of a finding code (SARIF rule descriptions, JUnit, HTML).
pub(super) fn code_title(code: FindingCode) -> &'static str {
    match code {
        FindingCode::Vulnerable => "An advisory affects the installed version",
        FindingCode::AdvisoryNotice => {
            "An informational advisory (unmaintained, unsound, notice) applies"
        }
        FindingCode::VersionUnparseable => "The version could not be parsed in its scheme",
        FindingCode::AdvisoryUnevaluable => {
            "An advisory's range could not be evaluated against the installed version"
        }
        FindingCode::SeriesBehind => "The release series is older than the policy allows",
        FindingCode::SeriesEol => "The release series is end of life",
        FindingCode::PatchBehind => "A newer patch release exists within the installed series",
        FindingCode::SeriesUnknown => "The version matches no release in openstack/releases",
        FindingCode::Eol => "The product cycle is end of life",
        FindingCode::EolSoon => "The product cycle reaches end of life within the look-ahead",
        FindingCode::UpgradeAvailable => {
            "A newer version is available from the node's own repositories"
        }
        FindingCode::ConstraintMismatch => {
            "A Python dependency differs from its series' upper-constraints (the tested version)"
        }
        FindingCode::WaiverExpired => "A waiver has expired",
        FindingCode::WaiverUnused => "A waiver matched nothing",
        FindingCode::InventoryStale => {
            "The node has not reported for longer than the policy allows"
        }
    }
}

/// The gate a report was judged with (`unknown`, `high,vulnerable`); the default gate
/// (`unknown`) when the text names no valid term.
pub(crate) fn gate_of(report: &Report) -> Gate {
    let terms: Vec<GateTerm> = report
        .gate
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    if terms.is_empty() {
        Gate(vec![GateTerm::Severity(Severity::Unknown)])
    } else {
        Gate(terms)
    }
}

/// A report's feed problems as the terminal states them. A file or folder that could not be
/// read is a read error; every other feed problem is an upstream record nminus cannot judge and
/// reads around (a PEP 440-invalid `0.2.0-n653`, a document of a legacy shape, a range type it
/// does not evaluate): skipped, not "could not be read". Each line is whole, the records
/// themselves are in the JSON report (`feed_problems`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FeedProblems {
    /// Feed files or folders that could not be read.
    pub unreadable: usize,
    /// Records skipped because nminus cannot judge them.
    pub skipped: usize,
    /// `2 with a version invalid in its scheme (`0.2.0-n653`, …)`, one part per kind.
    pub kinds: Vec<String>,
}

impl FeedProblems {
    pub(crate) fn of(problems: &[crate::model::Problem]) -> Self {
        use crate::model::ProblemKind;
        let mut out = Self::default();
        let (mut versions, mut shapes, mut unsupported) = (0usize, 0usize, 0usize);
        let mut examples: Vec<&str> = Vec::new();
        for p in problems {
            match p.kind {
                ProblemKind::Unreadable => out.unreadable += 1,
                ProblemKind::VersionUnparseable => {
                    versions += 1;
                    // The version as quoted in the message (`invalid pep440 version `X`: …`).
                    if let Some(v) = p.message.split('`').nth(1) {
                        if examples.len() < 3 && !examples.contains(&v) && v.len() <= 40 {
                            examples.push(v);
                        }
                    }
                }
                ProblemKind::Malformed => shapes += 1,
                ProblemKind::Skipped => unsupported += 1,
            }
        }
        out.skipped = versions + shapes + unsupported;
        if versions > 0 {
            let ex: Vec<String> = examples.iter().map(|v| format!("`{v}`")).collect();
            out.kinds.push(if ex.is_empty() {
                format!("{versions} with a version invalid in its scheme")
            } else {
                format!(
                    "{versions} with a version invalid in its scheme ({}{})",
                    ex.join(", "),
                    if versions > ex.len() { ", …" } else { "" }
                )
            });
        }
        if shapes > 0 {
            out.kinds
                .push(format!("{shapes} in a shape nminus does not read"));
        }
        if unsupported > 0 {
            out.kinds
                .push(format!("{unsupported} of a kind nminus does not evaluate"));
        }
        out
    }

    /// The report's lines about them (none when there are none).
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.skipped > 0 {
            out.push(format!(
                "skipped {} feed records nminus cannot judge: {} (upstream data, read around: the rest of each feed was used; see `feed_problems` in the JSON report)",
                self.skipped,
                self.kinds.join(", ")
            ));
        }
        if self.unreadable > 0 {
            out.push(format!(
                "{} feed files or folders could not be read (the rest of each feed was used; see `feed_problems` in the JSON report)",
                self.unreadable
            ));
        }
        out
    }

    /// For the scan's one-line summary: `skipped 4 feed records nminus cannot judge`.
    pub(crate) fn short(&self) -> String {
        match (self.skipped, self.unreadable) {
            (0, 0) => "no feed problems".to_owned(),
            (s, 0) => format!("skipped {s} feed records nminus cannot judge"),
            (0, u) => format!("{u} feed files unreadable"),
            (s, u) => {
                format!("skipped {s} feed records nminus cannot judge, {u} feed files unreadable")
            }
        }
    }
}

/// The advisory id of a finding, or its code when it has none.
pub(super) fn finding_id(f: &Finding) -> &str {
    f.advisory
        .as_ref()
        .map_or(f.code.as_str(), |a| a.id.as_str())
}

/// Most severe first, then node, package, version, id: the order every writer lists findings in.
pub(super) fn sorted(fs: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = fs.iter().collect();
    v.sort_by(|a, b| {
        (
            Reverse(a.severity),
            &a.node,
            &a.subject.name,
            &a.subject.version,
            a.code,
            finding_id(a),
        )
            .cmp(&(
                Reverse(b.severity),
                &b.node,
                &b.subject.name,
                &b.subject.version,
                b.code,
                finding_id(b),
            ))
    });
    v
}

/// Severities, most severe first.
pub(super) const SEVERITIES_DESC: [Severity; 6] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Unknown,
    Severity::None,
];

/// Text safe in XML 1.0 content and in double- or single-quoted attributes: markup characters
/// as entities, line breaks as character references (kept in attributes), and the characters
/// XML cannot carry at all (C0 controls but tab and line breaks, U+FFFE, U+FFFF) as U+FFFD.
pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text safe in XML 1.0 element content: like [`xml_escape`] but line breaks and tabs are
/// kept as they are.
pub(super) fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (CSP hashes).
pub(super) fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(char::from(A[(n >> 18) as usize & 63]));
        out.push(char::from(A[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(A[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(A[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handled_feed_quirks_are_skipped_records_not_read_errors() {
        use crate::model::{Location, Problem, ProblemKind};
        let p = |kind, msg: &str| Problem::new(Location::path("pypa/vulns/x.yaml"), kind, msg);
        let problems = [
            p(
                ProblemKind::VersionUnparseable,
                "invalid pep440 version `0.2.0-n653`: expected …",
            ),
            p(
                ProblemKind::VersionUnparseable,
                "invalid pep440 version `2019-09-12`: expected …",
            ),
            p(
                ProblemKind::Malformed,
                "expected a Debian security tracker JSON document: …",
            ),
        ];
        let f = FeedProblems::of(&problems);
        assert_eq!((f.skipped, f.unreadable), (3, 0));
        assert_eq!(
            f.lines(),
            ["skipped 3 feed records nminus cannot judge: 2 with a version invalid in its scheme (`0.2.0-n653`, `2019-09-12`), 1 in a shape nminus does not read (upstream data, read around: the rest of each feed was used; see `feed_problems` in the JSON report)"]
        );
        assert_eq!(f.short(), "skipped 3 feed records nminus cannot judge");
        let f = FeedProblems::of(&[p(ProblemKind::Unreadable, "cannot read the file: denied")]);
        assert_eq!(f.short(), "1 feed files unreadable");
        assert!(f.lines()[0].contains("could not be read"));
        assert!(FeedProblems::of(&[]).lines().is_empty());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn xml_escape_handles_markup_and_controls() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{1}\n"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\u{FFFD}&#10;"
        );
    }
}
