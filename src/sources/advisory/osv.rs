//! OSV records (<https://ossf.github.io/osv-schema/>), JSON (`*.json`) or YAML (`*.yaml`,
//! `*.yml`), anywhere under the feed folder: PyPA's `vulns/<pkg>/PYSEC-*.yaml`, operator-written
//! advisories, Ubuntu / AlmaLinux / Rocky / Debian OSV exports. One file = one record; a JSON
//! or YAML file that is not a record is a problem (point a PyPA feed at its `vulns/` folder:
//! the repository root also holds `triage/false_positives.yaml`). Files are parsed on up to
//! eight threads (PyPA's 2,661 files: about 0.3 s in a release build on two cores).
//!
//! Mapping:
//! - `affected[]` → one [`Affected`] each, ecosystem as written, package name PEP 503-normalised
//!   for `PyPI`. `ECOSYSTEM` and `SEMVER` ranges are kept; `GIT` ranges are dropped: commit
//!   hashes cannot be compared with an installed version (so a `GIT` event with a short hash or
//!   a `.patch` name, as in the seven PyPA records that fail the OSV schema, is harmless here).
//!   An entry with only `GIT` ranges and no `versions` is kept and matches nothing. Explicit
//!   `versions` lists are kept. Other range types are a [`ProblemKind::Skipped`] problem.
//! - Event versions are checked in the ecosystem's scheme when nminus knows it (PyPI, crates.io,
//!   Debian, Ubuntu, Alpine, RPM distributions); one that does not parse is a
//!   [`ProblemKind::VersionUnparseable`] problem naming the field, and the range is kept (the
//!   matcher reports it again rather than reading it as "not affected").
//! - `aliases` and `upstream` (the ids a distro record derives from) become aliases.
//! - Severity: a feed's own word (`database_specific.severity`, a non-CVSS `severity[]` entry
//!   such as Ubuntu's priority) first, else the CVSS v3 base score computed from the first
//!   `CVSS_V3` vector ([`super::cvss`]); the vector text (v3, else v4, else v2) is kept in `cvss`.
//! - `summary`, else the first sentence of `details`; URL: the first `ADVISORY` reference, else
//!   the first reference.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{
    cvss, json_problem, max_severity, nullable, one_line, push_unique, scheme_for_ecosystem, walk,
    AdvisorySource, FeedFile, Loaded, Scalar, SourceError, TapField,
};
use crate::model::{
    Advisory, AdvisoryKind, Affected, AffectedRanges, Problem, ProblemKind, Severity,
};
use crate::util::normalize_name;
use crate::version::range::{Event, OsvRange};
use crate::version::{Scheme, Version};

/// The `osv` feed reader.
#[derive(Debug, Clone)]
pub struct OsvSource {
    name: String,
}

impl OsvSource {
    /// A reader whose advisories carry feed name `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl AdvisorySource for OsvSource {
    fn kind(&self) -> &'static str {
        "osv"
    }

    fn load(&self, dir: &Path) -> Result<Loaded, SourceError> {
        let mut out = Loaded::default();
        let files = walk(
            dir,
            |f| matches!(f.ext().as_str(), "json" | "yaml" | "yml"),
            &mut out.problems,
        )?;
        let results = parse_all(&files, &self.name);
        for (adv, problems) in results {
            out.advisories.extend(adv);
            out.problems.extend(problems);
        }
        Ok(out)
    }
}

/// Parse files on up to the machine's available cores (PyPA is 2,661 small YAML files).
fn parse_all(files: &[FeedFile], source: &str) -> Vec<(Option<Advisory>, Vec<Problem>)> {
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    if threads == 1 || files.len() < 64 {
        return files.iter().map(|f| load_file(f, source)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|f| load_file(f, source))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in a parser is a bug; re-raise it rather than lose files silently.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// Load one file: the advisory (when the record is usable) and its problems.
pub(crate) fn load_file(f: &FeedFile, source: &str) -> (Option<Advisory>, Vec<Problem>) {
    let text = match f.read() {
        Ok(t) => t,
        Err(p) => return (None, vec![p]),
    };
    let record: Result<Record, Problem> = if f.ext() == "json" {
        serde_json::from_str(&text)
            .map_err(|e| json_problem(f, "an OSV record (a JSON object)", &e))
    } else {
        super::from_yaml(f, "an OSV record (a YAML mapping)", &text)
    };
    match record {
        Ok(r) => convert(r, f, source),
        Err(p) => (None, vec![p]),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Record {
    id: String,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    #[serde(deserialize_with = "nullable")]
    aliases: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    upstream: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    #[serde(deserialize_with = "nullable")]
    severity: Vec<SeverityWire>,
    #[serde(deserialize_with = "nullable")]
    affected: Vec<AffectedWire>,
    #[serde(deserialize_with = "nullable")]
    references: Vec<Reference>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct SeverityWire {
    #[serde(rename = "type", default)]
    kind: String,
    score: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AffectedWire {
    package: Option<PackageWire>,
    #[serde(deserialize_with = "nullable")]
    ranges: Vec<RangeWire>,
    #[serde(deserialize_with = "nullable")]
    versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PackageWire {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct RangeWire {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "nullable")]
    events: Vec<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

fn convert(r: Record, f: &FeedFile, source: &str) -> (Option<Advisory>, Vec<Problem>) {
    let mut problems = Vec::new();
    if r.id.trim().is_empty() {
        problems.push(
            f.problem(
                ProblemKind::Malformed,
                "expected an OSV record with a non-empty `id`, found none",
            )
            .tap_field("id"),
        );
        return (None, problems);
    }
    let mut aliases = Vec::new();
    for a in r.aliases.iter().chain(&r.upstream) {
        if a != &r.id {
            push_unique(&mut aliases, a);
        }
    }
    let (severity, cvss_text) = severity_of(&r);
    let mut affected = Vec::new();
    for (ai, a) in r.affected.into_iter().enumerate() {
        let all_git =
            !a.ranges.is_empty() && a.ranges.iter().all(|g| g.kind.eq_ignore_ascii_case("GIT"));
        let Some(pkg) = a.package else {
            if !all_git {
                problems.push(
                    f.problem(
                        ProblemKind::Malformed,
                        "expected a `package` (ecosystem and name), found none",
                    )
                    .tap_field(format!("affected[{ai}].package")),
                );
            }
            continue;
        };
        let ecosystem = pkg.ecosystem.trim().to_owned();
        let package = if ecosystem.eq_ignore_ascii_case("PyPI") {
            normalize_name(&pkg.name)
        } else {
            pkg.name.trim().to_owned()
        };
        if ecosystem.is_empty() || package.is_empty() {
            problems.push(
                f.problem(
                    ProblemKind::Malformed,
                    "expected a non-empty package ecosystem and name",
                )
                .tap_field(format!("affected[{ai}].package")),
            );
            continue;
        }
        let scheme = scheme_for_ecosystem(&ecosystem);
        let (ranges, fixed) = convert_ranges(a.ranges, ai, scheme, f, &mut problems);
        affected.push(Affected {
            ecosystem,
            package,
            ranges: AffectedRanges::Osv {
                ranges,
                versions: a.versions,
            },
            fixed,
        });
    }

    let url = r
        .references
        .iter()
        .find(|x| x.kind.eq_ignore_ascii_case("ADVISORY") && !x.url.is_empty())
        .or_else(|| r.references.iter().find(|x| !x.url.is_empty()))
        .map(|x| x.url.clone());
    let summary = match r.summary.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => one_line(s),
        _ => one_line(r.details.as_deref().unwrap_or("")),
    };
    let adv = Advisory {
        id: r.id.trim().to_owned(),
        aliases,
        source: source.to_owned(),
        kind: AdvisoryKind::Vulnerability,
        summary,
        severity,
        cvss: cvss_text,
        affected,
        published: r.published,
        modified: r.modified,
        withdrawn: r.withdrawn,
        url,
        file: f.rel.clone(),
    };
    (Some(adv), problems)
}

/// The ranges of `affected[ai]` and the versions they name as fixed; an unsupported range
/// type, an unknown event or an unparseable version is a problem naming its field.
fn convert_ranges(
    wire: Vec<RangeWire>,
    ai: usize,
    scheme: Option<Scheme>,
    f: &FeedFile,
    problems: &mut Vec<Problem>,
) -> (Vec<OsvRange>, Vec<String>) {
    let mut ranges = Vec::new();
    let mut fixed = Vec::new();
    for (ri, range) in wire.into_iter().enumerate() {
        match range.kind.to_ascii_uppercase().as_str() {
            "ECOSYSTEM" | "SEMVER" => {}
            "GIT" => continue,
            other => {
                problems.push(
                    f.problem(
                        ProblemKind::Skipped,
                        format!("range type `{other}` is not supported (expected ECOSYSTEM, SEMVER or GIT): range ignored"),
                    )
                    .tap_field(format!("affected[{ai}].ranges[{ri}].type")),
                );
                continue;
            }
        }
        let mut events = Vec::new();
        for (ei, ev) in range.events.into_iter().enumerate() {
            for (key, val) in ev {
                let field = format!("affected[{ai}].ranges[{ri}].events[{ei}].{key}");
                let event = match key.as_str() {
                    "introduced" => Event::Introduced(val.clone()),
                    "fixed" => Event::Fixed(val.clone()),
                    "last_affected" => Event::LastAffected(val.clone()),
                    "limit" => Event::Limit(val.clone()),
                    _ => {
                        problems.push(
                            f.problem(
                                ProblemKind::Malformed,
                                format!("unknown event `{key}`: expected introduced, fixed, last_affected or limit"),
                            )
                            .tap_field(field),
                        );
                        continue;
                    }
                };
                let exempt = matches!(&event, Event::Introduced(v) if v == "0")
                    || matches!(&event, Event::Limit(v) if v == "*");
                if let (Some(s), false) = (scheme, exempt) {
                    if let Err(e) = Version::parse(s, &val) {
                        problems.push(
                            f.problem(ProblemKind::VersionUnparseable, e.to_string())
                                .tap_field(field),
                        );
                    }
                }
                if let Event::Fixed(v) = &event {
                    push_unique(&mut fixed, v);
                }
                events.push(event);
            }
        }
        if events.is_empty() {
            problems.push(
                f.problem(
                    ProblemKind::Malformed,
                    "expected range events, found none: range ignored",
                )
                .tap_field(format!("affected[{ai}].ranges[{ri}].events")),
            );
            continue;
        }
        ranges.push(OsvRange { events });
    }
    (ranges, fixed)
}

/// The record's severity (its word, else computed from a CVSS v3 vector) and the CVSS text
/// shown (v3, else v4, else v2).
fn severity_of(r: &Record) -> (Option<Severity>, Option<String>) {
    let mut word: Option<Severity> = r
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(serde_json::Value::as_str)
        .and_then(Severity::parse_word);
    let (mut v3, mut v4, mut v2) = (None, None, None);
    for s in &r.severity {
        let score = s.score.text();
        match s.kind.to_ascii_uppercase().as_str() {
            "CVSS_V3" => {
                v3.get_or_insert(score);
            }
            "CVSS_V4" => {
                v4.get_or_insert(score);
            }
            "CVSS_V2" => {
                v2.get_or_insert(score);
            }
            _ => word = max_severity(word, Severity::parse_word(&score)),
        }
    }
    let computed = v3.as_deref().and_then(cvss::severity_of_vector);
    let severity = word.or(computed);
    let cvss_text = v3.or(v4).or(v2);
    (severity, cvss_text)
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, shared};
    use super::*;
    use crate::version::Scheme;

    fn load(dir: &Path) -> Loaded {
        OsvSource::new("test").load(dir).unwrap()
    }

    fn by_id<'a>(l: &'a Loaded, id: &str) -> &'a Advisory {
        l.advisories
            .iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("{id} not loaded"))
    }

    /// PyPA: 2,661 records. The seven that fail the OSV schema (binderhub PYSEC-2021-371,
    /// matrix-synapse PYSEC-2021-424/425/436, python-dbusmock PYSEC-2019-155, python-fedora
    /// PYSEC-2017-27, vyper PYSEC-2023-80) fail it only through a `GIT` event that is a short
    /// hash or a `.patch` name: GIT ranges are ignored here, so they load without a problem.
    /// What is malformed for us is an ECOSYSTEM event that is not a PEP 440 version; those
    /// records still load (their `versions` lists stay usable) with one problem per event.
    #[test]
    fn pypa_loads_completely() {
        let dir = shared("pypa-advisory-database/vulns");
        let l = load(&dir);
        assert_eq!(l.advisories.len(), 2661);
        let mut bad: Vec<String> = l
            .problems
            .iter()
            .map(|p| {
                assert_eq!(p.kind, ProblemKind::VersionUnparseable, "{p}");
                format!(
                    "{} {}",
                    p.location.path,
                    p.location.field.as_deref().unwrap_or("")
                )
            })
            .collect();
        bad.sort();
        assert_eq!(bad, PYPA_BAD_EVENTS, "{bad:#?}");
        for (pkg, id) in [
            ("binderhub", "PYSEC-2021-371"),
            ("matrix-synapse", "PYSEC-2021-424"),
            ("matrix-synapse", "PYSEC-2021-425"),
            ("matrix-synapse", "PYSEC-2021-436"),
            ("python-dbusmock", "PYSEC-2019-155"),
            ("python-fedora", "PYSEC-2017-27"),
            ("vyper", "PYSEC-2023-80"),
        ] {
            let a = by_id(&l, id);
            assert_eq!(a.affected[0].package, pkg);
            let AffectedRanges::Osv { ranges, .. } = &a.affected[0].ranges else {
                panic!()
            };
            assert!(ranges
                .iter()
                .flat_map(|r| &r.events)
                .all(|e| !matches!(e, Event::Fixed(v) if v.ends_with(".patch"))));
        }
        // Spot checks.
        let nova: Vec<&str> = l
            .advisories
            .iter()
            .filter(|a| a.affected.iter().any(|x| x.package == "nova"))
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(nova, ["PYSEC-2012-21", "PYSEC-2019-191", "PYSEC-2020-243"]);
        let n = &by_id(&l, "PYSEC-2020-243").affected[0];
        assert_eq!(n.fixed, ["19.3.1", "20.3.1", "21.1.0"]);
        let AffectedRanges::Osv { ranges, versions } = &n.ranges else {
            panic!()
        };
        for (v, want) in [
            ("19.3.0", true),
            ("19.3.1", false),
            ("20.2.0", true),
            ("21.0.0", true),
            ("21.1.0", false),
            ("22.0.0", false),
        ] {
            let v = Version::parse(Scheme::Pep440, v).unwrap();
            assert_eq!(
                crate::version::range::osv_affected(&v, ranges, versions).unwrap(),
                want,
                "nova {v}"
            );
        }
        let a = by_id(&l, "PYSEC-2021-371");
        assert_eq!(a.affected[0].ecosystem, "PyPI");
        assert_eq!(a.affected[0].fixed, ["0.2.0-n653"]);
        assert!(a.aliases.contains(&"CVE-2021-39159".to_owned()));
        assert!(a
            .summary
            .starts_with("BinderHub is a kubernetes-based cloud service"));
        assert_eq!(a.file, "binderhub/PYSEC-2021-371.yaml");
        // Names are PEP 503-normalised.
        assert!(l
            .advisories
            .iter()
            .flat_map(|a| &a.affected)
            .all(|x| x.package == normalize_name(&x.package)));
        // Withdrawn records load with their date.
        assert_eq!(
            l.advisories
                .iter()
                .filter(|a| a.withdrawn.is_some())
                .count(),
            10
        );
        // Severity from CVSS vectors where given.
        assert!(l.advisories.iter().filter(|a| a.cvss.is_some()).count() >= 200);
        assert!(l
            .advisories
            .iter()
            .filter(|a| a.cvss.is_some())
            .all(|a| a.severity.is_some()));
    }

    /// ECOSYSTEM events of PyPA that are not PEP 440 versions (file, field), as observed.
    /// binderhub's `0.2.0-n653` is not PEP 440 (its `versions` list is what matches); steam's
    /// `fixed: "2019-09-12"` is a date, not a release, and not PEP 440 either.
    const PYPA_BAD_EVENTS: &[&str] = &[
        "binderhub/PYSEC-2021-371.yaml affected[0].ranges[1].events[1].fixed",
        "steam/PYSEC-2019-125.yaml affected[0].ranges[0].events[1].fixed",
    ];

    #[test]
    fn distro_osv_records() {
        let l = load(&shared("distro-advisories/vunnel/rocky-osv"));
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let a = by_id(&l, "RLSA-2021:3891");
        assert_eq!(a.affected[0].ecosystem, "Rocky Linux:8");
        assert_eq!(a.affected[0].fixed, ["1:11.0.13.0.8-1.el8_4"]);
        assert_eq!(
            a.cvss.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:N/A:N")
        );
        assert_eq!(a.severity, Some(Severity::Medium), "6.8");

        let l = load(&shared("distro-advisories/vunnel/alma-osv"));
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.advisories.len(), 5);
        let a = by_id(&l, "ALSA-2023:5259");
        assert_eq!(
            a.affected[0].fixed,
            ["3:10.3.39-1.module_el8.8.0+3609+204d4ab0"]
        );
        assert_eq!(a.file, "advisories/almalinux8/ALSA-2023:5259.json");

        let l = load(&shared("distro-advisories/vunnel/ubuntu-osv"));
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.advisories.len(), 6);
        let a = by_id(&l, "UBUNTU-CVE-2016-20013");
        // Ubuntu's own priority wins over the NVD CVSS score; the vector is kept.
        assert_eq!(a.severity, Some(Severity::None));
        assert!(a.cvss.as_deref().unwrap().starts_with("CVSS:3.1/"));
        assert!(a.aliases.contains(&"CVE-2016-20013".to_owned()));
        assert!(by_id(&l, "UBUNTU-CVE-2013-2208").withdrawn.is_some());
        let usn = by_id(&l, "USN-5614-1");
        assert_eq!(usn.affected.len(), 3);
        assert_eq!(usn.affected[0].ecosystem, "Ubuntu:18.04:LTS");

        // osv.dev samples: the Debian tracker mock in the same folder is not an OSV record.
        let l = load(&shared("distro-advisories/osv.dev-samples"));
        assert_eq!(l.advisories.len(), 3);
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert_eq!(
            l.problems[0].location.path,
            "debian_security_tracker_mock.json"
        );
        let dla = by_id(&l, "DLA-3623-1");
        assert!(dla.affected.is_empty());
        assert_eq!(dla.aliases.len(), 44, "upstream ids become aliases");
        let dsa = by_id(&l, "DSA-3029-1");
        assert_eq!(dsa.affected[0].ecosystem, "Debian:7");
        assert_eq!(dsa.affected[0].fixed, ["1.2.1-2.2+wheezy3"]);
    }

    #[test]
    fn malformed_files_are_problems_and_the_rest_loads() {
        let l = load(&fixture("osv-malformed"));
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            ["GIT-ONLY-1", "GOOD-1", "GOOD-2", "NUMERIC-1", "WEIRD-1"]
        );
        let mut seen: Vec<String> = l
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{}|{}|{:?}",
                    p.location.path,
                    p.location.field.as_deref().unwrap_or(""),
                    p.kind
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                "no-id.json|id|Malformed",
                "not-a-record.yaml||Malformed",
                "truncated.json||Malformed",
                "truncated.yaml||Malformed",
                "weird.yaml|affected[0].ranges[0].events[1].fixed|VersionUnparseable",
                "weird.yaml|affected[0].ranges[1].type|Skipped",
                "weird.yaml|affected[0].ranges[2].events[0].broken|Malformed",
                "weird.yaml|affected[1].package|Malformed",
                "wrong-type.json||Malformed",
            ],
            "{:#?}",
            l.problems
        );
        let trunc = l
            .problems
            .iter()
            .find(|p| p.location.path == "truncated.json")
            .unwrap();
        assert!(trunc.location.line.is_some(), "{trunc}");
        let wrong = l
            .problems
            .iter()
            .find(|p| p.location.path == "wrong-type.json")
            .unwrap();
        assert!(wrong.message.contains("expected an OSV record"), "{wrong}");
        // GIT-only entry: kept, matches nothing.
        let g = by_id(&l, "GIT-ONLY-1");
        assert_eq!(
            g.affected[0].ranges,
            AffectedRanges::Osv {
                ranges: vec![],
                versions: vec![]
            }
        );
        // Numbers written unquoted in YAML stay text.
        let n = by_id(&l, "NUMERIC-1");
        assert_eq!(n.affected[0].fixed, ["1.10"]);
        assert_eq!(n.affected[0].package, "some-pkg");
        let v = Version::parse(Scheme::Pep440, "1.9").unwrap();
        let AffectedRanges::Osv { ranges, versions } = &n.affected[0].ranges else {
            panic!()
        };
        assert!(crate::version::range::osv_affected(&v, ranges, versions).unwrap());
        assert_eq!(
            by_id(&l, "GOOD-2").severity,
            Some(Severity::High),
            "database_specific.severity"
        );
    }
}
