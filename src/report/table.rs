//! The terminal table: summary, findings grouped by node, problems and what was not judged.

use std::io::Write;

use super::{Format, ReportError, ReportWriter, WriterOptions};
use crate::model::{Report, Severity};

/// The table writer.
#[derive(Debug)]
pub(super) struct TableWriter(pub(super) WriterOptions);

fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

fn sev_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Unknown => "35",
        Severity::None => "2",
    }
}

/// Problems and notes are printed whole up to this many characters.
const PROBLEM_WIDTH: usize = 2000;

/// The width a table is laid out for when nothing says otherwise.
pub(crate) const DEFAULT_WIDTH: usize = 100;

/// The narrowest layout: below this the terminal wraps the lines itself.
const MIN_WIDTH: usize = 60;

/// The width the table is laid out for: when it goes to standard output, the width of the
/// terminal that output (else standard error) is attached to, asked of the terminal itself
/// (`TIOCGWINSZ`); then `COLUMNS`; then [`DEFAULT_WIDTH`]. A table written to a file gets
/// `COLUMNS` or the default, whatever terminal started the command.
pub(crate) fn output_width(to_stdout: bool) -> usize {
    let tty = || {
        terminal_size::terminal_size_of(std::io::stdout())
            .or_else(|| terminal_size::terminal_size_of(std::io::stderr()))
            .map(|(w, _)| usize::from(w.0))
            .filter(|w| *w > 0)
    };
    let columns = || {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0)
    };
    (if to_stdout { tty() } else { None })
        .or_else(columns)
        .unwrap_or(DEFAULT_WIDTH)
}

/// `s` with control characters from node data replaced (a hostile package name cannot drive
/// the terminal), at most [`PROBLEM_WIDTH`] characters.
fn clean(s: &str) -> String {
    let n = s.chars().count();
    let mut out: String = s
        .chars()
        .take(PROBLEM_WIDTH)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if n > PROBLEM_WIDTH {
        out.push('…');
    }
    out
}

/// Cut `s` to `w` characters, with an ellipsis (identifiers in headings only: node ids, OS
/// names). Control characters are replaced.
fn cell(s: &str, w: usize) -> String {
    let clean = clean(s);
    if clean.chars().count() <= w {
        clean
    } else {
        let mut t: String = clean.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Characters a line may break after (paths, version lists, package names).
fn breaks_after(c: char) -> bool {
    matches!(c, '/' | '-' | ',' | '_' | ':' | '.' | '+' | '~')
}

/// `s` in lines of at most `w` characters, nothing left out: broken at a space (dropped) or
/// after a path or word separator when there is one, else inside a word.
fn wrap(s: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while chars.len() - start > w {
        // The longest line: a space at `k` (k <= w) ends the line before it; a separator at
        // `k - 1` ends it after the separator.
        let mut line_end = start + w;
        let mut next = start + w;
        for k in (1..=w).rev() {
            if chars[start + k] == ' ' {
                line_end = start + k;
                next = start + k;
                break;
            }
            if breaks_after(chars[start + k - 1]) {
                line_end = start + k;
                next = start + k;
                break;
            }
        }
        let line: String = chars[start..line_end].iter().collect();
        out.push(line.trim_end().to_owned());
        start = next;
        while start < chars.len() && chars[start] == ' ' {
            start += 1;
        }
    }
    if start < chars.len() || out.is_empty() {
        out.push(chars[start..].iter().collect());
    }
    out
}

/// Path components that tell little about where a package is (`/usr`, `lib`, `python3.11`):
/// left out first when a path is too long for its column.
fn is_boilerplate(c: &str) -> bool {
    matches!(
        c,
        "usr" | "lib" | "lib64" | "local" | "opt" | "share" | "var" | "srv" | "home"
    ) || c
        .strip_prefix("python")
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Where a finding's package is, for the WHERE column: the path without the metadata file a
/// Python distribution is read from (`…/site-packages/nova-29.0.0.dist-info/METADATA` names
/// the site directory), shortened to `w` characters when it can be by leaving out whole
/// components (`…`), boilerplate first and then from the left, always keeping the last
/// component and the one that tells environments apart before it:
/// `/opt/venvs/nova-31.0.0/lib/python3.12/site-packages` becomes
/// `…/venvs/nova-31.0.0/…/site-packages`. What cannot be shortened further is longer than
/// `w`: the caller wraps it.
fn place(path: &str, w: usize) -> String {
    let mut comps: Vec<&str> = path.split('/').collect();
    let meta = |c: &str| c.ends_with(".dist-info") || c.ends_with(".egg-info");
    if comps.len() > 2 && meta(comps[comps.len() - 2]) {
        comps.truncate(comps.len() - 2);
    } else if comps.len() > 1 && meta(comps[comps.len() - 1]) {
        comps.pop();
    }
    let mut kept = vec![true; comps.len()];
    let render = |kept: &[bool]| -> String {
        let mut parts: Vec<&str> = Vec::new();
        for (i, c) in comps.iter().enumerate() {
            if kept[i] {
                parts.push(c);
            } else if parts.last() != Some(&"…") {
                parts.push("…");
            }
        }
        parts.join("/")
    };
    let fits = |kept: &[bool]| render(kept).chars().count() <= w;
    let last = comps.len().saturating_sub(1);
    // A leading empty component (an absolute path) goes with the one after it.
    let elide = |kept: &mut Vec<bool>, i: usize| {
        kept[i] = false;
        if i == 1 && comps[0].is_empty() {
            kept[0] = false;
        }
    };
    if fits(&kept) {
        return render(&kept);
    }
    let boilerplate: Vec<usize> = (1..last).filter(|i| is_boilerplate(comps[*i])).collect();
    for i in boilerplate {
        elide(&mut kept, i);
        if fits(&kept) {
            return render(&kept);
        }
    }
    // The informative component nearest the end (an environment's name) stays.
    let keep = (1..last).rev().find(|i| kept[*i]);
    for i in 1..last {
        if kept[i] && Some(i) != keep {
            elide(&mut kept, i);
            if fits(&kept) {
                break;
            }
        }
    }
    render(&kept)
}

/// A finding as the table shows it.
struct Row {
    severity: Severity,
    package: String,
    version: String,
    id: String,
    detail: String,
    /// Whether `detail` is the list of fixed versions (else the finding's message).
    fixed: bool,
    path: Option<String>,
}

impl Row {
    fn of(f: &crate::model::Finding) -> Self {
        Self {
            severity: f.severity,
            package: clean(&f.subject.name),
            version: clean(&f.subject.version),
            id: clean(super::util::finding_id(f)),
            detail: clean(&if f.fixed_in.is_empty() {
                f.evidence.message.clone()
            } else {
                f.fixed_in.join(", ")
            }),
            fixed: !f.fixed_in.is_empty(),
            path: f.subject.location.as_ref().map(|l| clean(&l.wire_path())),
        }
    }
}

/// Column widths of the findings tables (every node's table alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    package: usize,
    version: usize,
    id: usize,
    detail: usize,
    /// `None`: WHERE is a heading over the rows it holds, and a detail longer than its
    /// column goes under its row (narrow terminals).
    place: Option<usize>,
    /// The line width.
    width: usize,
}

const INDENT: usize = 2;
const GAP: usize = 2;
const SEVERITY_WIDTH: usize = 8;
const DETAIL_MIN: usize = 16;
const PLACE_MIN: usize = 24;
/// The detail column's share before WHERE gets the width of its longest path.
const DETAIL_SHARE: usize = 40;

impl Layout {
    /// Widths for `rows` on lines of `width` characters: package, version and id as wide as
    /// their longest (within limits), then detail and WHERE share the rest; when WHERE cannot
    /// have [`PLACE_MIN`] characters beside a readable detail, it moves under the row.
    fn new(rows: &[Row], width: usize) -> Self {
        let longest = |f: &dyn Fn(&Row) -> usize, head: &str| {
            rows.iter()
                .map(f)
                .max()
                .unwrap_or(0)
                .max(head.chars().count())
        };
        let mut package = longest(&|r| r.package.chars().count(), "PACKAGE").min(32);
        let mut version = longest(&|r| r.version.chars().count(), "INSTALLED").min(24);
        let mut id = longest(&|r| r.id.chars().count(), "ID").min(24);
        let detail_nat = longest(&|r| r.detail.chars().count(), "FIXED IN / DETAIL");
        let place_nat = longest(
            &|r| {
                r.path
                    .as_deref()
                    .map_or(0, |p| place(p, usize::MAX).chars().count())
            },
            "WHERE",
        );
        let fixed = INDENT + SEVERITY_WIDTH + 4 * GAP;
        let inline_rest = width.saturating_sub(fixed + GAP + package + version + id);
        if inline_rest >= DETAIL_MIN + PLACE_MIN || inline_rest >= detail_nat + place_nat {
            // The detail up to DETAIL_SHARE, then WHERE up to its longest, then the detail.
            let (detail, place) = if detail_nat + place_nat <= inline_rest {
                (detail_nat, place_nat)
            } else {
                let d = detail_nat.clamp(DETAIL_MIN, DETAIL_SHARE);
                let p = place_nat.min(inline_rest.saturating_sub(d)).max(PLACE_MIN);
                (inline_rest.saturating_sub(p), p)
            };
            return Self {
                package,
                version,
                id,
                detail,
                place: Some(place),
                width,
            };
        }
        // WHERE under the row, and a detail too long for what the other columns leave; those
        // give way to a detail column of `FIXED IN` width: the package and id columns first,
        // the version last.
        let avail = width.saturating_sub(fixed);
        let rest = |p: usize, v: usize, i: usize| avail.saturating_sub(p + v + i);
        let narrowest = "FIXED IN".len();
        while rest(package, version, id) < narrowest && package > 16 {
            package -= 1;
        }
        while rest(package, version, id) < narrowest && id > 14 {
            id -= 1;
        }
        while rest(package, version, id) < narrowest && version > 10 {
            version -= 1;
        }
        // Still too narrow: the widest column gives way (its cells wrap, nothing is cut).
        while rest(package, version, id) < narrowest {
            let widest = package.max(version).max(id);
            if widest <= 6 {
                break;
            }
            if package == widest {
                package -= 1;
            } else if id == widest {
                id -= 1;
            } else {
                version -= 1;
            }
        }
        Self {
            package,
            version,
            id,
            detail: rest(package, version, id).max(narrowest),
            place: None,
            width,
        }
    }

    fn header(&self) -> String {
        let mut cols = vec![
            format!("{:<SEVERITY_WIDTH$}", "SEVERITY"),
            format!("{:<w$}", "PACKAGE", w = self.package),
            format!("{:<w$}", "INSTALLED", w = self.version),
            format!("{:<w$}", "ID", w = self.id),
            format!(
                "{:<w$}",
                if self.place.is_some() {
                    "FIXED IN / DETAIL"
                } else {
                    "FIXED IN"
                },
                w = self.detail
            ),
        ];
        if self.place.is_some() {
            cols.push("WHERE".to_owned());
        }
        format!("{}{}", " ".repeat(INDENT), cols.join(&" ".repeat(GAP)))
            .trim_end()
            .to_owned()
    }

    /// The lines of a node's rows: every cell whole, wrapped in its column. On a narrow
    /// layout, WHERE is a heading (`at PATH:`) over the rows it holds, repeated when it
    /// changes.
    fn table(&self, rows: &[Row], color: bool) -> Vec<String> {
        let mut out = vec![self.header()];
        // The place as a heading shows it (a site directory, not each distribution's metadata).
        let mut heading: Option<Option<String>> = None;
        for r in rows {
            let here = r.path.as_deref().map(|p| place(p, usize::MAX));
            if self.place.is_none() && heading.as_ref() != Some(&here) {
                heading = Some(here);
                let w = self.width.saturating_sub(INDENT + 4);
                match r.path.as_deref() {
                    Some(p) => {
                        for (i, part) in wrap(&place(p, w), w).into_iter().enumerate() {
                            let lead = if i == 0 { "at " } else { "   " };
                            out.push(format!("{}{lead}{part}", " ".repeat(INDENT)));
                        }
                        if let Some(last) = out.last_mut() {
                            last.push(':');
                        }
                    }
                    None => out.push(format!("{}at no recorded place:", " ".repeat(INDENT))),
                }
            }
            out.extend(self.lines(r, color));
        }
        out
    }

    /// The lines of one row.
    fn lines(&self, r: &Row, color: bool) -> Vec<String> {
        let detail_under = self.place.is_none() && r.detail.chars().count() > self.detail;
        let mut cells = vec![
            wrap(&r.package, self.package),
            wrap(&r.version, self.version),
            wrap(&r.id, self.id),
            if detail_under {
                Vec::new()
            } else {
                wrap(&r.detail, self.detail)
            },
        ];
        let mut widths = vec![self.package, self.version, self.id, self.detail];
        if let Some(w) = self.place {
            cells.push(
                r.path
                    .as_deref()
                    .map_or_else(Vec::new, |p| wrap(&place(p, w), w)),
            );
            widths.push(w);
        }
        let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut out = Vec::with_capacity(height + 1);
        for i in 0..height {
            let sev = if i == 0 {
                paint(
                    color,
                    sev_color(r.severity),
                    &format!("{:<SEVERITY_WIDTH$}", r.severity.as_str()),
                )
            } else {
                " ".repeat(SEVERITY_WIDTH)
            };
            let mut line = format!("{}{sev}", " ".repeat(INDENT));
            for (c, w) in cells.iter().zip(&widths) {
                let text = c.get(i).map_or("", String::as_str);
                line.push_str(&" ".repeat(GAP));
                line.push_str(&format!("{text:<w$}"));
            }
            out.push(line.trim_end().to_owned());
        }
        if detail_under {
            // Under the package column, as wide as the line allows.
            let indent = INDENT + SEVERITY_WIDTH + GAP;
            let text = if r.fixed {
                format!("fixed in {}", r.detail)
            } else {
                r.detail.clone()
            };
            for part in wrap(&text, self.width.saturating_sub(indent)) {
                out.push(format!("{}{part}", " ".repeat(indent)));
            }
        }
        out
    }
}

/// Most severe first, then package, version, code and id: the order of each node's rows.
fn by_severity(fs: &mut [&crate::model::Finding]) {
    fs.sort_by(|a, b| {
        (
            std::cmp::Reverse(a.severity),
            &a.subject.name,
            &a.subject.version,
            a.code,
            super::util::finding_id(a),
        )
            .cmp(&(
                std::cmp::Reverse(b.severity),
                &b.subject.name,
                &b.subject.version,
                b.code,
                super::util::finding_id(b),
            ))
    });
}

/// `text` wrapped to `width` after a first-line prefix of `lead` characters, continuation
/// lines indented as deep.
fn hanging(text: &str, lead: usize, width: usize) -> String {
    wrap(text, width.saturating_sub(lead).max(20)).join(&format!("\n{}", " ".repeat(lead)))
}

impl ReportWriter for TableWriter {
    fn format(&self) -> Format {
        Format::Table
    }

    fn write(&self, r: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        let c = self.0.color;
        let width = if self.0.width == 0 {
            DEFAULT_WIDTH
        } else {
            self.0.width.max(MIN_WIDTH)
        };
        let s = &r.summary;
        let v = r.verdict();
        let verdict = paint(
            c,
            match v.class() {
                "ok" => "32",
                "warn" => "1;33",
                _ => "1;31",
            },
            v.as_str(),
        );
        writeln!(
            out,
            "{verdict}  {} nodes, {} packages, {} findings ({} waived), {} problems  [gate: {}; as of {}]",
            s.nodes, s.packages, s.findings, s.waived, s.problems, r.gate, r.as_of
        )?;
        if !s.by_severity.is_empty() {
            let parts: Vec<String> = s
                .by_severity
                .iter()
                .rev()
                .map(|(k, v)| paint(c, sev_color(*k), &format!("{} {v}", k.as_str())))
                .collect();
            writeln!(out, "by severity: {}", parts.join(", "))?;
        }
        let loaded: Vec<String> = r
            .feeds
            .iter()
            .filter(|f| f.loaded)
            .map(|f| format!("{} ({})", f.name, f.advisories))
            .collect();
        writeln!(
            out,
            "feeds: {}",
            if loaded.is_empty() {
                "none".to_owned()
            } else {
                loaded.join(", ")
            }
        )?;
        // One layout for every node's table, so that they line up.
        let listed: Vec<Row> = r
            .findings
            .iter()
            .filter(|f| r.nodes.iter().any(|n| n.id == f.node))
            .map(Row::of)
            .collect();
        let layout = Layout::new(&listed, width);
        for n in &r.nodes {
            writeln!(out)?;
            // A node without a failing finding in a report that could not judge everything
            // is not "ok": what was not judged is listed below.
            let mark = if !n.compliant {
                paint(c, "31", "FAIL")
            } else if r.is_complete() {
                paint(c, "32", "ok")
            } else {
                paint(c, "33", "incomplete")
            };
            writeln!(
                out,
                "node {} [{mark}]  {}  {} packages, {} findings",
                cell(&n.id, 60),
                cell(n.os.as_deref().unwrap_or("unknown OS"), 40),
                n.packages,
                n.findings
            )?;
            let mut fs: Vec<_> = r.findings.iter().filter(|f| f.node == n.id).collect();
            if fs.is_empty() {
                continue;
            }
            by_severity(&mut fs);
            let rows: Vec<Row> = fs.into_iter().map(Row::of).collect();
            for line in layout.table(&rows, c) {
                writeln!(out, "{line}")?;
            }
        }
        if !r.openstack.is_empty() {
            write_openstack(out, r)?;
        }
        write_policy_and_waived(out, r, c, width)?;
        if !r.problems.is_empty() {
            writeln!(out, "\nproblems ({}):", r.problems.len())?;
            for p in r.problems.iter().take(30) {
                // Whole: the reason is at the end of a line that starts with a path, and a
                // log or a CI page does not wrap for us.
                writeln!(out, "  {}", cell(&p.to_string(), PROBLEM_WIDTH))?;
            }
            if r.problems.len() > 30 {
                writeln!(out, "  … {} more in the JSON report", r.problems.len() - 30)?;
            }
        }
        for line in super::util::FeedProblems::of(&r.feed_problems).lines() {
            writeln!(out, "\n{}", clean(&line))?;
        }
        for n in &r.not_judged {
            writeln!(
                out,
                "\n{}: {}",
                paint(c, "33", "not judged"),
                cell(n, PROBLEM_WIDTH)
            )?;
        }
        Ok(())
    }
}

/// Findings of no listed node (waiver-expired, waiver-unused: the policy's own) are counted in
/// the summary, so they are listed too; then the waived findings.
fn write_policy_and_waived(
    out: &mut dyn Write,
    r: &Report,
    c: bool,
    width: usize,
) -> std::io::Result<()> {
    let mut policy_findings: Vec<_> = r
        .findings
        .iter()
        .filter(|f| !r.nodes.iter().any(|n| n.id == f.node))
        .collect();
    if !policy_findings.is_empty() {
        by_severity(&mut policy_findings);
        writeln!(out, "\npolicy ({}):", policy_findings.len())?;
        for f in policy_findings {
            let sev = format!("{:<8}", f.severity.as_str());
            let code = format!("{:<16}", f.code.as_str());
            writeln!(
                out,
                "  {}  {code}  {}",
                paint(c, sev_color(f.severity), &sev),
                hanging(&clean(&f.evidence.message), 30, width)
            )?;
        }
    }
    if !r.waived.is_empty() {
        writeln!(out, "\nwaived ({}):", r.waived.len())?;
        let mut waived: Vec<_> = r.waived.iter().collect();
        waived.sort_by(|a, b| {
            (&a.node, &a.subject.name, &a.subject.version, a.code).cmp(&(
                &b.node,
                &b.subject.name,
                &b.subject.version,
                b.code,
            ))
        });
        for f in waived {
            let w = f
                .waived_by
                .as_ref()
                .map(|w| format!("{} until {} ({})", w.id, w.expires, w.reason))
                .unwrap_or_default();
            let line = format!(
                "{} {} {} {}: {}",
                f.node, f.subject.name, f.subject.version, f.code, w
            );
            writeln!(out, "  {}", hanging(&clean(&line), 4, width))?;
        }
    }
    Ok(())
}

/// The OpenStack currency of every deliverable of every node, compliant or not.
fn write_openstack(out: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "\nOpenStack currency ({} deliverables):",
        r.openstack.len()
    )?;
    // Versions whole: their columns are as wide as the longest.
    let wv = r
        .openstack
        .iter()
        .map(|d| clean(&d.version).chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    let wn = r
        .openstack
        .iter()
        .filter_map(|d| d.newest_in_series.as_deref())
        .map(|v| clean(v).chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    writeln!(
        out,
        "  {:<16}  {:<18}  {:<wv$}  {:<22}  {:<12}  {:>4}  {:<wn$}  {:>6}",
        "NODE", "DELIVERABLE", "INSTALLED", "SERIES", "STATUS", "LAG", "NEWEST", "BEHIND"
    )?;
    for d in &r.openstack {
        let series = d.series_label();
        let lag = d.lag_label();
        writeln!(
            out,
            "  {:<16}  {:<18}  {:<wv$}  {:<22}  {:<12}  {:>4}  {:<wn$}  {:>6}",
            cell(&d.node, 16),
            cell(&d.deliverable, 18),
            clean(&d.version),
            cell(&series, 22),
            cell(d.status.as_deref().unwrap_or("-"), 12),
            lag,
            clean(d.newest_in_series.as_deref().unwrap_or("-")),
            d.behind.map_or_else(|| "-".to_owned(), |b| b.to_string())
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_every_character_and_the_width() {
        for (s, w) in [
            ("3.0.15-1~deb12u1, 3.0.16-1~deb12u1", 12),
            ("/opt/venvs/nova-31.0.0/lib/python3.12/site-packages", 20),
            ("nothingtobreakhere", 5),
            ("a b  c", 1),
            ("", 4),
        ] {
            let lines = wrap(s, w);
            assert!(lines.iter().all(|l| l.chars().count() <= w), "{lines:?}");
            let joined: String = lines.concat();
            assert_eq!(
                joined.replace(' ', ""),
                s.replace(' ', ""),
                "nothing is left out of {s:?}: {lines:?}"
            );
        }
        assert_eq!(
            wrap("openssl 3.0 reaches end of life", 12),
            ["openssl 3.0", "reaches end", "of life"]
        );
        assert_eq!(
            wrap("/openstack/venvs/nova", 12),
            ["/openstack/", "venvs/nova"]
        );
    }

    #[test]
    fn place_keeps_the_environment_and_the_end() {
        let p =
            "/opt/venvs/nova-31.0.0/lib/python3.12/site-packages/nova-31.0.0.dist-info/METADATA";
        assert_eq!(
            place(p, 100),
            "/opt/venvs/nova-31.0.0/lib/python3.12/site-packages"
        );
        assert_eq!(place(p, 40), "…/venvs/nova-31.0.0/…/site-packages");
        assert_eq!(place(p, 30), "…/nova-31.0.0/…/site-packages");
        // Shorter it cannot be without losing what tells the environments apart: the caller
        // wraps it.
        assert_eq!(place(p, 10), "…/nova-31.0.0/…/site-packages");
        assert_eq!(place("/var/lib/dpkg/status", 12), "…/dpkg/status");
        assert_eq!(place("/var/lib/dpkg/status", 40), "/var/lib/dpkg/status");
        assert_eq!(
            place("/usr/lib/python3/dist-packages/yaml-6.0.egg-info", 100),
            "/usr/lib/python3/dist-packages"
        );
        assert_eq!(place("Cargo.lock", 4), "Cargo.lock");
    }

    #[test]
    fn nine_environments_stay_apart_at_any_width() {
        let rows: Vec<Row> = (0..9)
            .map(|i| Row {
                severity: Severity::Low,
                fixed: true,
                package: "oslo.messaging".to_owned(),
                version: "14.7.0".to_owned(),
                id: "PYSEC-2026-1".to_owned(),
                detail: "14.7.1".to_owned(),
                path: Some(format!(
                    "/home/stack/.local/share/venvs/service-{i}/lib/python3.12/site-packages/oslo.messaging-14.7.0.dist-info/METADATA"
                )),
            })
            .collect();
        for width in [60, 80, 100, 120, 200] {
            let l = Layout::new(&rows, width);
            for (i, r) in rows.iter().enumerate() {
                let text = l.table(std::slice::from_ref(r), false).join("\n");
                assert!(
                    text.replace(['\n', ' '], "")
                        .contains(&format!("service-{i}/")),
                    "width {width}: {text}"
                );
                assert!(
                    text.lines().all(|line| line.chars().count() <= width),
                    "width {width}: {text}"
                );
                assert!(text.contains("14.7.0"), "whole version at {width}: {text}");
            }
        }
    }
}
