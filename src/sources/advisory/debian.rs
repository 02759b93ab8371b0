//! The Debian security tracker, in the three layouts found in the wild (and in
//! `shared/data/distro-advisories`):
//!
//! 1. **Tracker JSON** (`https://security-tracker.debian.org/tracker/data/json`, any `*.json`
//!    not matched below): `{source package: {CVE: {description, releases: {codename: {status,
//!    fixed_version, urgency}}}}}`.
//! 2. **vuln-list-debian** (`tracker/CVE/*.json`, `tracker/DSA/*.json`, `tracker/DLA/*.json`,
//!    `tracker/distributions.json`): the tracker's `data/CVE/list` and `data/DSA/list` files
//!    parsed into one JSON record per entry (`Header` + `Annotations`). The `source/` and
//!    `updates-source/` folders there are copies of APT `Sources` indexes, not advisories, and
//!    are skipped.
//! 3. **DSA / DLA lists** (`data/DSA/list`, `data/DLA/list`, or a file named `DSA` / `DLA`):
//!    the tracker's text format, `[01 Aug 2002] DSA-141 mpack - buffer overflow` followed by
//!    indented `{CVE-…}` and `[woody] - mpack 1.5-7woody2` lines.
//!
//! Every CVE (or DSA / DLA) becomes one [`Advisory`] per file, with one [`Affected`] per
//! (release, source package): ecosystem `Debian:<major>` from the codename (bookworm → 12,
//! …; `sid` stays `Debian:sid`; a codename nminus does not know stays `Debian:<codename>`,
//! and `distributions.json`, when the folder has one, adds to the table), ranges
//! [`AffectedRanges::Distro`]:
//!
//! - JSON status `resolved` with `fixed_version` `0` → not affected; `resolved` with a version
//!   → fixed there; `open` and `undetermined` → affected, no fix.
//! - List annotations: a version → fixed; `<not-affected>` → not affected; `<unfixed>`,
//!   `<no-dsa>`, `<ignored>`, `<postponed>`, `<end-of-life>`, `<undetermined>` → affected, no
//!   fix (the tracker shows all of these as vulnerable); `<removed>` and `<itp>` → no
//!   statement. An annotation without `[release]` is about unstable (`Debian:sid`); as in the
//!   tracker, a release listed in `distributions.json` that has no annotation of its own
//!   inherits it (the fix reaches it through testing).
//! - Severity: the worst urgency (`unimportant` → none, `low`, `medium`, `high`; a trailing
//!   `**`, "not yet reviewed", is ignored; `not yet assigned` and `end-of-life` give none).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::{
    json_problem, max_severity, nullable, one_line, push_unique, walk, AdvisorySource, FeedFile,
    Loaded, SourceError, TapField,
};
use crate::model::{
    Advisory, AdvisoryKind, Affected, AffectedRanges, Location, Problem, ProblemKind, Severity,
};

/// The `debian-tracker` feed reader.
#[derive(Debug, Clone)]
pub(crate) struct DebianTrackerSource {
    name: String,
}

impl DebianTrackerSource {
    /// A reader whose advisories carry feed name `name`.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// Debian codenames and their major versions.
const CODENAMES: [(&str, &str); 17] = [
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// Codename → ecosystem key, and the releases an unstable annotation is inherited by.
#[derive(Debug, Clone, Default)]
struct Releases {
    majors: BTreeMap<String, String>,
    /// Releases from `distributions.json` (empty: no inheritance).
    tracked: Vec<String>,
}

impl Releases {
    fn builtin() -> Self {
        Self {
            majors: CODENAMES
                .iter()
                .map(|(c, m)| ((*c).to_owned(), (*m).to_owned()))
                .collect(),
            tracked: Vec::new(),
        }
    }

    fn ecosystem(&self, codename: &str) -> String {
        let c = codename.trim().to_ascii_lowercase();
        match self.majors.get(&c) {
            Some(m) => format!("Debian:{m}"),
            None => format!("Debian:{c}"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Distribution {
    #[serde(rename = "major-version", default)]
    major_version: String,
}

impl AdvisorySource for DebianTrackerSource {
    fn kind(&self) -> &'static str {
        "debian-tracker"
    }

    fn load(&self, dir: &Path) -> Result<Loaded, SourceError> {
        let mut out = Loaded::default();
        let files = walk(dir, wanted, &mut out.problems)?;
        let mut rel = Releases::builtin();
        for f in files.iter().filter(|f| f.name() == "distributions.json") {
            let parsed = f.read().and_then(|t| {
                serde_json::from_str::<BTreeMap<String, Distribution>>(&t)
                    .map_err(|e| json_problem(f, "a map of codename to `{major-version, …}`", &e))
            });
            match parsed {
                Ok(m) => {
                    for (code, d) in m {
                        let code = code.to_ascii_lowercase();
                        if !d.major_version.trim().is_empty() {
                            rel.majors
                                .insert(code.clone(), d.major_version.trim().to_owned());
                        }
                        if code != "sid" && !rel.tracked.contains(&code) {
                            rel.tracked.push(code);
                        }
                    }
                }
                Err(p) => out.problems.push(p),
            }
        }
        for f in &files {
            if f.name() == "distributions.json" {
                continue;
            }
            let dirs = f.dirs();
            let text = match f.read() {
                Ok(t) => t,
                Err(p) => {
                    out.problems.push(p);
                    continue;
                }
            };
            let before = out.advisories.len();
            if f.ext() != "json" {
                load_list(f, &text, &rel, &self.name, &mut out);
            } else if matches!(dirs.last(), Some(&("CVE" | "DSA" | "DLA"))) {
                load_vuln_list(f, &text, &rel, &self.name, &mut out);
            } else {
                load_tracker_json(f, &text, &rel, &self.name, &mut out);
            }
            for a in &mut out.advisories[before..] {
                a.file.clone_from(&f.rel);
            }
        }
        Ok(out)
    }
}

fn wanted(f: &FeedFile) -> bool {
    let dirs = f.dirs();
    if dirs
        .iter()
        .any(|d| *d == "source" || *d == "updates-source")
    {
        return false;
    }
    match f.name() {
        "DSA" | "DLA" => true,
        "list" => matches!(dirs.last(), Some(&("DSA" | "DLA"))),
        _ => f.ext() == "json",
    }
}

// ---------------------------------------------------------------------------------------------
// Shared statements

/// What the tracker says about one (release, package).
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Fixed(String),
    Unfixed,
    NotAffected,
}

impl State {
    fn affected(&self, ecosystem: String, package: &str) -> Affected {
        let (fixed, not_affected) = match self {
            Self::Fixed(v) if v == "0" => (None, true),
            Self::Fixed(v) => (Some(v.clone()), false),
            Self::Unfixed => (None, false),
            Self::NotAffected => (None, true),
        };
        Affected {
            ecosystem,
            package: package.to_owned(),
            fixed: fixed.iter().cloned().collect(),
            ranges: AffectedRanges::Distro {
                fixed,
                not_affected,
            },
        }
    }
}

fn urgency(u: &str) -> Option<Severity> {
    let u = u.trim().trim_end_matches('*').trim();
    match u {
        "" | "not yet assigned" | "end-of-life" => None,
        _ => Severity::parse_word(u),
    }
}

fn tracker_url(id: &str) -> Option<String> {
    Some(format!("https://security-tracker.debian.org/tracker/{id}"))
}

fn new_advisory(id: &str, source: &str, summary: String) -> Advisory {
    Advisory {
        id: id.to_owned(),
        aliases: Vec::new(),
        source: source.to_owned(),
        kind: AdvisoryKind::Vulnerability,
        summary,
        severity: None,
        cvss: None,
        affected: Vec::new(),
        published: None,
        modified: None,
        withdrawn: None,
        url: tracker_url(id),
        file: String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Layout 1: tracker JSON

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TrackerCve {
    description: Option<String>,
    #[serde(deserialize_with = "map_or_empty_list")]
    releases: BTreeMap<String, TrackerRelease>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TrackerRelease {
    status: String,
    fixed_version: Option<String>,
    urgency: Option<String>,
}

/// A map, or `[]` / `null` for an empty one (the tracker writes `"releases": []` for a CVE with
/// no release information).
fn map_or_empty_list<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<V> {
        Map(BTreeMap<String, V>),
        List(Vec<serde::de::IgnoredAny>),
    }
    Ok(match Option::<Either<V>>::deserialize(d)? {
        Some(Either::Map(m)) => m,
        Some(Either::List(l)) if l.is_empty() => BTreeMap::new(),
        Some(Either::List(_)) => {
            return Err(serde::de::Error::custom(
                "expected a map of releases, found a non-empty list",
            ))
        }
        None => BTreeMap::new(),
    })
}

fn load_tracker_json(f: &FeedFile, text: &str, rel: &Releases, source: &str, out: &mut Loaded) {
    const WHAT: &str =
        "a Debian security tracker JSON document `{source package: {CVE: {releases: …}}}`";
    let doc: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
        match serde_json::from_str(text) {
            Ok(d) => d,
            Err(e) => {
                out.problems.push(json_problem(f, WHAT, &e));
                return;
            }
        };
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    for (package, cves) in doc {
        for (id, value) in cves {
            let field = format!("{package}.{id}");
            let cve = match TrackerCve::deserialize(value) {
                Ok(c) => c,
                Err(e) => {
                    let msg = format!(
                        "expected `{{description, releases: {{codename: {{status, fixed_version, urgency}}}}}}`: {e}"
                    );
                    out.problems
                        .push(f.problem(ProblemKind::Malformed, msg).tap_field(field));
                    continue;
                }
            };
            let adv = by_id.entry(id.clone()).or_insert_with(|| {
                new_advisory(
                    &id,
                    source,
                    one_line(cve.description.as_deref().unwrap_or("")),
                )
            });
            if adv.summary.is_empty() {
                adv.summary = one_line(cve.description.as_deref().unwrap_or(""));
            }
            for (codename, r) in cve.releases {
                let state = match r.status.as_str() {
                    "resolved" => {
                        match r.fixed_version.as_deref().map(str::trim) {
                            Some(v) if !v.is_empty() => State::Fixed(v.to_owned()),
                            _ => {
                                out.problems.push(
                                f.problem(ProblemKind::Malformed, "status `resolved` without a `fixed_version`: release skipped")
                                    .tap_field(format!("{field}.releases.{codename}")),
                            );
                                continue;
                            }
                        }
                    }
                    "open" | "undetermined" => State::Unfixed,
                    other => {
                        out.problems.push(
                            f.problem(ProblemKind::Malformed, format!("unknown status `{other}`: expected resolved, open or undetermined; release skipped"))
                                .tap_field(format!("{field}.releases.{codename}.status")),
                        );
                        continue;
                    }
                };
                adv.severity = max_severity(adv.severity, r.urgency.as_deref().and_then(urgency));
                adv.affected
                    .push(state.affected(rel.ecosystem(&codename), &package));
            }
        }
    }
    out.advisories.extend(by_id.into_values());
}

// ---------------------------------------------------------------------------------------------
// Layouts 2 and 3: list entries (vuln-list JSON records and DSA / DLA text)

/// One parsed list entry.
#[derive(Debug, Default)]
struct Entry {
    id: String,
    line: Option<usize>,
    description: String,
    date: Option<String>,
    xrefs: Vec<String>,
    packages: Vec<Statement>,
}

/// One package line of a list entry.
#[derive(Debug)]
struct Statement {
    /// `None`: unstable.
    release: Option<String>,
    package: String,
    /// `None`: no statement (`<removed>`, `<itp>`).
    state: Option<State>,
    severity: Option<String>,
}

/// An annotation of a package that says nothing nminus can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum AnnotationError {
    /// `fixed` without the version.
    #[error("a fixed annotation without a version")]
    FixedWithoutVersion,
    /// A kind the tracker does not write.
    #[error("unknown annotation `<{0}>`: expected a version or one of not-affected, unfixed, no-dsa, ignored, postponed, end-of-life, undetermined, removed, itp")]
    Unknown(String),
}

fn state_of(kind: &str, version: Option<&str>) -> Result<Option<State>, AnnotationError> {
    Ok(Some(match kind {
        "fixed" => match version.map(str::trim) {
            Some(v) if !v.is_empty() => State::Fixed(v.to_owned()),
            _ => return Err(AnnotationError::FixedWithoutVersion),
        },
        "not-affected" => State::NotAffected,
        "unfixed" | "no-dsa" | "ignored" | "postponed" | "end-of-life" | "undetermined" => {
            State::Unfixed
        }
        "removed" | "itp" => return Ok(None),
        other => return Err(AnnotationError::Unknown(other.to_owned())),
    }))
}

fn entry_to_advisory(
    e: Entry,
    rel: &Releases,
    source: &str,
    loc: &Location,
    problems: &mut Vec<Problem>,
) -> Advisory {
    let mut adv = new_advisory(&e.id, source, one_line(&e.description));
    adv.published = e.date;
    for x in &e.xrefs {
        if x != &e.id {
            push_unique(&mut adv.aliases, x);
        }
    }
    let is_cve = !(e.id.starts_with("DSA-") || e.id.starts_with("DLA-"));
    let mut explicit: Vec<(String, String)> = Vec::new();
    let mut unstable: Vec<(String, State)> = Vec::new();
    for Statement {
        release,
        package,
        state,
        severity,
    } in &e.packages
    {
        adv.severity = max_severity(adv.severity, severity.as_deref().and_then(urgency));
        match release {
            Some(r) => {
                explicit.push((r.to_ascii_lowercase(), package.clone()));
                if let Some(s) = state {
                    adv.affected.push(s.affected(rel.ecosystem(r), package));
                }
            }
            None => {
                if let Some(s) = state {
                    adv.affected
                        .push(s.affected("Debian:sid".to_owned(), package));
                    unstable.push((package.clone(), s.clone()));
                } else if !is_cve {
                    problems.push(Problem::new(
                        loc.clone(),
                        ProblemKind::Malformed,
                        format!("{}: a package line without `[release]`", e.id),
                    ));
                }
            }
        }
    }
    if is_cve {
        for (package, state) in &unstable {
            for r in &rel.tracked {
                if !explicit.iter().any(|(er, ep)| er == r && ep == package) {
                    adv.affected.push(state.affected(rel.ecosystem(r), package));
                }
            }
        }
    }
    adv
}

#[derive(Debug, Deserialize)]
struct VlRecord {
    #[serde(rename = "Header")]
    header: VlHeader,
    #[serde(rename = "Annotations", default, deserialize_with = "nullable")]
    annotations: Vec<VlAnnotation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VlHeader {
    #[serde(rename = "Original")]
    original: String,
    #[serde(rename = "Line")]
    line: Option<usize>,
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Description")]
    description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VlAnnotation {
    #[serde(rename = "Line")]
    line: Option<usize>,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Release")]
    release: Option<String>,
    #[serde(rename = "Package")]
    package: Option<String>,
    #[serde(rename = "Kind")]
    status: Option<String>,
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "Severity")]
    severity: Option<String>,
    #[serde(rename = "Bugs", deserialize_with = "nullable")]
    bugs: Vec<String>,
}

fn load_vuln_list(f: &FeedFile, text: &str, rel: &Releases, source: &str, out: &mut Loaded) {
    let r: VlRecord = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            out.problems.push(json_problem(
                f,
                "a vuln-list-debian record `{Header, Annotations}`",
                &e,
            ));
            return;
        }
    };
    if r.header.id.trim().is_empty() {
        out.problems.push(
            f.problem(ProblemKind::Malformed, "expected `Header.ID`, found none")
                .tap_field("Header.ID"),
        );
        return;
    }
    let mut e = Entry {
        id: r.header.id.trim().to_owned(),
        line: r.header.line,
        description: r
            .header
            .description
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim()
            .to_owned(),
        date: list_date(&r.header.original),
        ..Entry::default()
    };
    for (i, a) in r.annotations.into_iter().enumerate() {
        match a.kind.as_str() {
            "xref" => e.xrefs.extend(a.bugs),
            "package" => {
                let Some(package) = a.package.filter(|p| !p.trim().is_empty()) else {
                    out.problems.push(
                        f.problem(
                            ProblemKind::Malformed,
                            "a package annotation without `Package`",
                        )
                        .tap_field(format!("Annotations[{i}]")),
                    );
                    continue;
                };
                let kind = a.status.as_deref().unwrap_or("fixed");
                match state_of(kind, a.version.as_deref()) {
                    Ok(state) => e.packages.push(Statement {
                        release: a.release,
                        package: package.trim().to_owned(),
                        state,
                        severity: a.severity,
                    }),
                    Err(why) => {
                        let mut loc = f.loc().field(format!("Annotations[{i}]"));
                        if let Some(l) = a.line {
                            loc = loc.at_line(l);
                        }
                        out.problems.push(Problem::new(
                            loc,
                            ProblemKind::Malformed,
                            format!("{}: {why}", e.id),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let mut loc = f.loc();
    if let Some(l) = e.line {
        loc = loc.at_line(l);
    }
    let adv = entry_to_advisory(e, rel, source, &loc, &mut out.problems);
    out.advisories.push(adv);
}

/// `[15 Nov 2016] …` → `2016-11-15`.
fn list_date(header: &str) -> Option<String> {
    let inner = header.trim().strip_prefix('[')?.split(']').next()?;
    let mut p = inner.split_whitespace();
    let day: u32 = p.next()?.parse().ok()?;
    let month = match p.next()?.get(..3)?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: u32 = p.next()?.parse().ok()?;
    ((1..=31).contains(&day) && year > 1990).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// Parse a DSA / DLA text list.
fn load_list(f: &FeedFile, text: &str, rel: &Releases, source: &str, out: &mut Loaded) {
    let mut current: Option<Entry> = None;
    let finish = |e: Entry, out: &mut Loaded| {
        let loc = f.loc().at_line(e.line.unwrap_or(0));
        let adv = entry_to_advisory(e, rel, source, &loc, &mut out.problems);
        out.advisories.push(adv);
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |why: String| Problem::new(f.loc().at_line(n), ProblemKind::Malformed, why);
        if !raw.starts_with(char::is_whitespace) {
            // `[01 Aug 2002] DSA-141 mpack - buffer overflow`
            let Some((date_part, rest)) = raw.split_once(']') else {
                out.problems.push(bad(format!(
                    "expected `[DD Mon YYYY] DSA-NNNN-N package - description`, found `{raw}`"
                )));
                current = None;
                continue;
            };
            let rest = rest.trim();
            let (id, desc) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if !(id.starts_with("DSA-") || id.starts_with("DLA-")) {
                out.problems.push(bad(format!(
                    "expected a DSA or DLA id after the date, found `{id}`"
                )));
                current = None;
                continue;
            }
            if let Some(e) = current.take() {
                finish(e, out);
            }
            current = Some(Entry {
                id: id.to_owned(),
                line: Some(n),
                description: desc.trim().to_owned(),
                date: list_date(&format!("{date_part}]")),
                ..Entry::default()
            });
            continue;
        }
        let line = raw.trim();
        let Some(e) = current.as_mut() else {
            out.problems.push(bad(
                "an indented line before any `[date] DSA-…` header".into()
            ));
            continue;
        };
        if let Some(ids) = line.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
            e.xrefs.extend(ids.split_whitespace().map(str::to_owned));
        } else if line.starts_with("NOTE:") || line.starts_with("TODO:") {
        } else if let Some(after) = line.strip_prefix('[') {
            // `[woody] - mpack 1.5-7woody2` / `[buster] - pkg <not-affected> (reason)`
            let parsed = after.split_once(']').and_then(|(r, rest)| {
                let rest = rest.trim().strip_prefix('-')?.trim();
                let (pkg, tail) = rest.split_once(char::is_whitespace)?;
                let tail = tail.trim();
                let (kind, version) = match tail.strip_prefix('<') {
                    Some(t) => (t.split('>').next()?.to_owned(), None),
                    None => (
                        "fixed".to_owned(),
                        Some(tail.split_whitespace().next()?.to_owned()),
                    ),
                };
                Some((r.trim().to_owned(), pkg.to_owned(), kind, version))
            });
            match parsed {
                Some((r, pkg, kind, version)) => match state_of(&kind, version.as_deref()) {
                    Ok(state) => e.packages.push(Statement {
                        release: Some(r),
                        package: pkg,
                        state,
                        severity: None,
                    }),
                    Err(why) => out.problems.push(bad(format!("{}: {why}", e.id))),
                },
                None => out.problems.push(bad(format!(
                    "expected `[release] - package version`, found `{line}`"
                ))),
            }
        } else {
            out.problems.push(bad(format!(
                "expected `{{CVE-…}}`, `[release] - package version` or `NOTE: …`, found `{line}`"
            )));
        }
    }
    if let Some(e) = current.take() {
        finish(e, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, shared};
    use super::*;

    fn load(dir: &Path) -> Loaded {
        DebianTrackerSource::new("debian").load(dir).unwrap()
    }

    fn find<'a>(l: &'a Loaded, id: &str) -> &'a Advisory {
        l.advisories
            .iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("{id} not loaded"))
    }

    fn distro(a: &Advisory, eco: &str, pkg: &str) -> (Option<String>, bool) {
        let x = a
            .affected
            .iter()
            .find(|x| x.ecosystem == eco && x.package == pkg)
            .unwrap_or_else(|| panic!("{} has no {eco} {pkg}: {:?}", a.id, a.affected));
        match &x.ranges {
            AffectedRanges::Distro {
                fixed,
                not_affected,
            } => (fixed.clone(), *not_affected),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn tracker_json_mock() {
        let t = tempfile::tempdir().unwrap();
        fs_err::copy(
            shared("distro-advisories/osv.dev-samples/debian_security_tracker_mock.json"),
            t.path().join("tracker.json"),
        )
        .unwrap();
        let l = load(t.path());
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.advisories.len(), 3);
        let a = find(&l, "CVE-2014-1424");
        assert_eq!(
            distro(a, "Debian:12", "apparmor"),
            (None, true),
            "fixed_version 0 = not affected"
        );
        assert_eq!(a.severity, Some(Severity::None));
        let b = find(&l, "CVE-2016-1585");
        assert_eq!(
            distro(b, "Debian:12", "apparmor"),
            (None, false),
            "open = unfixed"
        );
        assert_eq!(
            distro(b, "Debian:13", "apparmor"),
            (Some("3.0.12-1".into()), false)
        );
        assert_eq!(
            distro(b, "Debian:sid", "apparmor"),
            (Some("3.0.12-1".into()), false)
        );
        assert_eq!(
            b.url.as_deref(),
            Some("https://security-tracker.debian.org/tracker/CVE-2016-1585")
        );
        assert_eq!(b.file, "tracker.json");
    }

    #[test]
    fn vunnel_debian_folder() {
        let l = load(&shared("distro-advisories/vunnel/debian"));
        // The legacy file is vunnel's own output format, not the tracker's.
        assert_eq!(l.problems.len(), 1, "{:#?}", l.problems);
        assert_eq!(
            l.problems[0].location.path,
            "legacy/vulnerabilities-debian:7-0.json"
        );
        assert!(l.problems[0]
            .message
            .contains("expected a Debian security tracker JSON document"));
        let chromium = find(&l, "CVE-2022-0456");
        assert_eq!(
            distro(chromium, "Debian:11", "chromium"),
            (Some("98.0.4758.80-1~deb11u1".into()), false)
        );
        assert_eq!(
            distro(chromium, "Debian:10", "chromium"),
            (None, false),
            "open / end-of-life"
        );
        assert_eq!(chromium.severity, None, "not yet assigned");
        let proto = find(&l, "CVE-2008-7220");
        assert_eq!(
            proto.severity,
            Some(Severity::High),
            "`high**` reads as high"
        );
        assert_eq!(
            distro(proto, "Debian:8", "prototypejs"),
            (Some("1.6.0.2-1".into()), false)
        );
        let empty = find(&l, "CVE-2022-0358");
        assert!(empty.affected.is_empty(), "`releases: []`");
        // DSA list.
        let dsa = find(&l, "DSA-140");
        assert_eq!(dsa.aliases, ["CVE-2002-0660", "CVE-2002-0728"]);
        assert_eq!(dsa.published.as_deref(), Some("2002-08-05"));
        assert_eq!(
            distro(dsa, "Debian:3.0", "libpng3"),
            (Some("1.2.1-1.1.woody.2".into()), false)
        );
        let sope = find(&l, "DSA-5970-1");
        assert_eq!(
            distro(sope, "Debian:12", "sope"),
            (Some("5.8.0-1+deb12u1".into()), false)
        );
        assert_eq!(sope.file, "DSA");
        assert!(find(&l, "DSA-4205-1").affected.is_empty());
        let dsa_count = l
            .advisories
            .iter()
            .filter(|a| a.id.starts_with("DSA-"))
            .count();
        assert_eq!(dsa_count, 10);
    }

    #[test]
    fn vuln_list_layout() {
        let l = load(&shared("distro-advisories/trivy-db/vuln-list-debian"));
        assert!(l.problems.is_empty(), "{:#?}", l.problems);
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            8,
            "{ids:?}: 6 CVEs, 1 DSA, 1 DLA; source/ package copies skipped"
        );
        let openssl = find(&l, "CVE-2021-3450");
        assert_eq!(
            distro(openssl, "Debian:sid", "openssl"),
            (Some("1.1.1k-1".into()), false)
        );
        assert_eq!(distro(openssl, "Debian:10", "openssl"), (None, true));
        // bullseye has no annotation: it inherits unstable's fix (distributions.json lists it).
        assert_eq!(
            distro(openssl, "Debian:11", "openssl"),
            (Some("1.1.1k-1".into()), false)
        );
        assert_eq!(distro(openssl, "Debian:sid", "openssl1.0"), (None, true));
        let cloud = find(&l, "CVE-2020-8631");
        assert_eq!(
            distro(cloud, "Debian:11", "cloud-init"),
            (None, false),
            "no-dsa = unfixed"
        );
        assert_eq!(cloud.aliases, ["DLA-2113-1"]);
        let dacs = find(&l, "CVE-2021-29629");
        assert_eq!(dacs.severity, Some(Severity::None));
        assert_eq!(
            distro(dacs, "Debian:10", "dacs"),
            (None, false),
            "ignored = unfixed"
        );
        let dla = find(&l, "DLA-2691-1");
        assert_eq!(dla.aliases, ["CVE-2021-33560"]);
        assert_eq!(
            distro(dla, "Debian:9", "libgcrypt20"),
            (Some("1.7.6-2+deb9u4".into()), false)
        );
        assert_eq!(dla.published.as_deref(), Some("2021-06-25"));
        assert_eq!(dla.file, "tracker/DLA/DLA-2691-1.json");
    }

    #[test]
    fn malformed_inputs() {
        let l = load(&fixture("debian-malformed"));
        let mut seen: Vec<String> = l
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{}:{}|{}",
                    p.location.path,
                    p.location.line.unwrap_or(0),
                    p.location.field.as_deref().unwrap_or("")
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                "DSA:4|",
                "DSA:6|",
                "bad-release.json:0|pkg.CVE-2099-0003",
                "status.json:0|pkg.CVE-2099-0002.releases.bookworm.status",
                "truncated.json:2|",
            ],
            "{:#?}",
            l.problems
        );
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            ["DSA-9001-1", "DSA-9002-1", "CVE-2099-0001", "CVE-2099-0002"]
        );
        assert_eq!(
            find(&l, "CVE-2099-0002").affected.len(),
            1,
            "the good release of the record loads"
        );
    }
}
