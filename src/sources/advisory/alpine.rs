//! Alpine's security database of backported fixes (secdb): `v3.x/main.yaml` and
//! `v3.x/community.yaml` (also their `.json` forms as secdb.alpinelinux.org publishes them, and
//! vuln-list's one-package-per-file JSON `{name, secfixes, distroversion}`).
//!
//! `packages[].pkg.secfixes` maps a package release to the vulnerabilities it fixes:
//! `{2.9.3-r0: [CVE-2019-14904, …]}`. Per Alpine's APKBUILD convention, a CVE listed under
//! version `0` never affected the package. One [`Advisory`] per (file, vulnerability id) —
//! the same CVE in `v3.10/main.yaml` and `v3.11/main.yaml` is two advisories, each naming its
//! file — with one [`Affected`] per package: ecosystem `Alpine:<distroversion>` (from the file,
//! else the folder name), package the origin (source) package name, ranges
//! [`AffectedRanges::Distro`] fixed at that release, or not affected for `0`.
//!
//! ## Recovery rules for the id lists
//!
//! Entries are free text written by hand. The first id-like word (`CVE-…`, `XSA-…`, `GHSA-…`,
//! `wnpa-sec-…`, `TALOS-…`: letters, `-`, digits) is the id; later id-like words are aliases
//! (`CVE-2019-5060 TALOS-2019-0844`); parenthesised notes are dropped
//! (`CVE-2018-14468 (FrameRelay)`). Repaired, because the meaning is plain:
//!
//! | written | read as | where (secdb 2020-06) |
//! | --- | --- | --- |
//! | `CVE_2019-2426` | `CVE-2019-2426` | openjdk7, v3.6–v3.11 community |
//! | `CVE 2018-16859` | `CVE-2018-16859` | ansible, v3.9 main |
//! | `CVE-2017-8073.patch`, `CVE-2019-19451.patch` | the id without `.patch` | weechat v3.3–v3.5, dia v3.11 |
//! | `CVE-2017-17434-1`, `-2` (two patches) | `CVE-2017-17434` | rsync, v3.4–v3.11 |
//! | `CVE-????-?????  XSA-295` (no CVE yet) | `XSA-295` | xen, v3.9–v3.11 |
//!
//! A version whose list is empty (`7.4.0-r0:` with nothing under it, heimdal in v3.6) or an
//! entry with no id is a problem.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{
    json_problem, nullable, push_unique, walk, AdvisorySource, FeedFile, Loaded, SourceError,
    TapField,
};
use crate::model::{Advisory, AdvisoryKind, Affected, AffectedRanges, ProblemKind};

/// The `alpine-secdb` feed reader.
#[derive(Debug, Clone)]
pub(crate) struct AlpineSecdbSource {
    name: String,
}

impl AlpineSecdbSource {
    /// A reader whose advisories carry feed name `name`.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl AdvisorySource for AlpineSecdbSource {
    fn kind(&self) -> &'static str {
        "alpine-secdb"
    }

    fn load(&self, dir: &Path) -> Result<Loaded, SourceError> {
        let mut out = Loaded::default();
        let files = walk(
            dir,
            |f| matches!(f.ext().as_str(), "yaml" | "yml" | "json"),
            &mut out.problems,
        )?;
        for f in &files {
            load_file(f, &self.name, &mut out);
        }
        Ok(out)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SecdbWire {
    distroversion: Option<String>,
    #[serde(deserialize_with = "nullable")]
    packages: Vec<PackageWire>,
    /// vuln-list form: one package per file.
    name: Option<String>,
    secfixes: Option<Secfixes>,
}

#[derive(Debug, Deserialize)]
struct PackageWire {
    pkg: PkgWire,
}

#[derive(Debug, Deserialize)]
struct PkgWire {
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    secfixes: Secfixes,
}

type Secfixes = BTreeMap<String, Option<Vec<String>>>;

fn load_file(f: &FeedFile, source: &str, out: &mut Loaded) {
    const WHAT: &str =
        "an Alpine secdb document `{distroversion, packages: [{pkg: {name, secfixes}}]}`";
    let text = match f.read() {
        Ok(t) => t,
        Err(p) => {
            out.problems.push(p);
            return;
        }
    };
    let w: SecdbWire = if f.ext() == "json" {
        match serde_json::from_str(&text) {
            Ok(w) => w,
            Err(e) => return out.problems.push(json_problem(f, WHAT, &e)),
        }
    } else {
        match super::from_yaml(f, WHAT, &text) {
            Ok(w) => w,
            Err(p) => return out.problems.push(p),
        }
    };
    let release = w
        .distroversion
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            f.dirs()
                .last()
                .filter(|d| d.starts_with('v') && d[1..].contains('.'))
                .map(|d| (*d).to_owned())
        });
    let Some(release) = release else {
        let msg = "expected a `distroversion` (such as `v3.11`), found none, \
                   and the folder name is not one";
        out.problems.push(
            f.problem(ProblemKind::Malformed, msg)
                .tap_field("distroversion"),
        );
        return;
    };
    let release = if release.starts_with('v') {
        release
    } else {
        format!("v{release}")
    };
    let ecosystem = format!("Alpine:{release}");
    let mut packages: Vec<(String, String, Secfixes)> = w
        .packages
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("packages[{i}].pkg"), p.pkg.name, p.pkg.secfixes))
        .collect();
    if let (Some(name), Some(sf)) = (w.name, w.secfixes) {
        packages.push(("secfixes".to_owned(), name, sf));
    }
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (field, name, secfixes) in packages {
        let name = name.trim().to_owned();
        if name.is_empty() {
            out.problems.push(
                f.problem(
                    ProblemKind::Malformed,
                    "expected a package name, found none",
                )
                .tap_field(format!("{field}.name")),
            );
            continue;
        }
        for (version, ids) in secfixes {
            let vfield = format!("{field}.secfixes.\"{version}\"");
            let ids = ids.unwrap_or_default();
            if ids.is_empty() {
                let msg = format!(
                    "{name} {version}: expected a list of fixed vulnerability ids, found none"
                );
                out.problems
                    .push(f.problem(ProblemKind::Malformed, msg).tap_field(vfield));
                continue;
            }
            let version = version.trim();
            for entry in ids {
                let Some((id, aliases)) = parse_entry(&entry) else {
                    let msg = format!(
                        "{name} {version}: expected a vulnerability id such as `CVE-2019-14904`, found `{entry}`"
                    );
                    out.problems.push(
                        f.problem(ProblemKind::Malformed, msg)
                            .tap_field(vfield.clone()),
                    );
                    continue;
                };
                let adv = by_id.entry(id.clone()).or_insert_with(|| {
                    order.push(id.clone());
                    Advisory {
                        url: Some(format!("https://security.alpinelinux.org/vuln/{id}")),
                        id: id.clone(),
                        aliases: Vec::new(),
                        source: source.to_owned(),
                        kind: AdvisoryKind::Vulnerability,
                        summary: String::new(),
                        severity: None,
                        cvss: None,
                        affected: Vec::new(),
                        published: None,
                        modified: None,
                        withdrawn: None,
                        file: f.rel.clone(),
                    }
                });
                for a in &aliases {
                    push_unique(&mut adv.aliases, a);
                }
                let not_affected = version == "0";
                let fixed = (!not_affected).then(|| version.to_owned());
                let affected = Affected {
                    ecosystem: ecosystem.clone(),
                    package: name.clone(),
                    fixed: fixed.iter().cloned().collect(),
                    ranges: AffectedRanges::Distro {
                        fixed,
                        not_affected,
                    },
                };
                if !adv.affected.contains(&affected) {
                    adv.affected.push(affected);
                }
            }
        }
    }
    for id in order {
        if let Some(mut a) = by_id.remove(&id) {
            a.summary = summary(&a);
            out.advisories.push(a);
        }
    }
}

fn summary(a: &Advisory) -> String {
    let pkgs: Vec<&str> =
        a.affected
            .iter()
            .map(|x| x.package.as_str())
            .fold(Vec::new(), |mut v, p| {
                if !v.contains(&p) {
                    v.push(p);
                }
                v
            });
    format!("{} in {}", a.id, pkgs.join(", "))
}

/// Whether a word looks like an advisory id: starts with a letter, has a `-` and a digit, and
/// only letters, digits and `-`.
fn id_like(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && w.contains('-')
        && w.chars().any(|c| c.is_ascii_digit())
        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The id and aliases of one secfixes entry (see the module documentation for the repairs).
pub(crate) fn parse_entry(entry: &str) -> Option<(String, Vec<String>)> {
    let mut ids: Vec<String> = Vec::new();
    let words: Vec<&str> = entry.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let mut w = words[i].to_owned();
        i += 1;
        if w.starts_with('(') {
            break;
        }
        // `CVE 2018-16859`
        if w == "CVE" {
            if let Some(next) = words.get(i) {
                w = format!("CVE-{next}");
                i += 1;
            }
        }
        // `CVE_2019-2426`
        if let Some(rest) = w.strip_prefix("CVE_") {
            w = format!("CVE-{rest}");
        }
        // `CVE-2017-8073.patch`
        for suffix in [".patch", ".diff"] {
            if let Some(stem) = w.strip_suffix(suffix) {
                w = stem.to_owned();
            }
        }
        // `CVE-2017-17434-1`: a patch counter after a complete CVE id.
        if w.starts_with("CVE-") {
            let parts: Vec<&str> = w.split('-').collect();
            if parts.len() == 4
                && parts[1].len() == 4
                && parts[2].len() >= 4
                && parts[3].len() <= 2
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            {
                w = parts[..3].join("-");
            }
        }
        if id_like(&w) {
            if !ids.contains(&w) {
                ids.push(w);
            }
        } else if ids.is_empty() && !w.contains('?') {
            // Free text before any id: not an entry we can read.
            return None;
        }
    }
    let mut it = ids.into_iter();
    let id = it.next()?;
    Some((id, it.collect()))
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, shared};
    use super::*;

    #[test]
    fn entries() {
        let p = |s: &str| parse_entry(s);
        let one = |s: &str| p(s).map(|(i, _)| i);
        assert_eq!(one("CVE-2019-14904").as_deref(), Some("CVE-2019-14904"));
        assert_eq!(
            p("CVE-2019-5060 TALOS-2019-0844"),
            Some(("CVE-2019-5060".into(), vec!["TALOS-2019-0844".into()]))
        );
        assert_eq!(
            one("CVE-2018-14468 (FrameRelay)").as_deref(),
            Some("CVE-2018-14468")
        );
        assert_eq!(
            one("CVE-2018-10103 (SMB - partially fixed, but SMB printing disabled)").as_deref(),
            Some("CVE-2018-10103")
        );
        assert_eq!(one("CVE_2019-2426").as_deref(), Some("CVE-2019-2426"));
        assert_eq!(one("CVE 2018-16859").as_deref(), Some("CVE-2018-16859"));
        assert_eq!(one("CVE-2017-8073.patch").as_deref(), Some("CVE-2017-8073"));
        assert_eq!(one("CVE-2017-17434-1").as_deref(), Some("CVE-2017-17434"));
        assert_eq!(
            p("CVE-????-?????  XSA-295"),
            Some(("XSA-295".into(), vec![]))
        );
        assert_eq!(one("wnpa-sec-2017-18").as_deref(), Some("wnpa-sec-2017-18"));
        assert_eq!(
            p("CVE-2024-22195 GHSA-h5c8-rqwp-cp95"),
            Some(("CVE-2024-22195".into(), vec!["GHSA-h5c8-rqwp-cp95".into()]))
        );
        assert_eq!(
            one("CVE-2017-2616 (+ regression fix)").as_deref(),
            Some("CVE-2017-2616")
        );
        assert_eq!(p("fixes a crash"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("CVE-????-????"), None);
    }

    #[test]
    fn whole_secdb_loads() {
        let l = AlpineSecdbSource::new("alpine")
            .load(&shared("distro-advisories/alpine-secdb"))
            .unwrap();
        let mut seen: Vec<String> = l
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{}|{}",
                    p.location.path,
                    p.location.field.as_deref().unwrap_or("")
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            ["v3.6/main.yaml|packages[34].pkg.secfixes.\"7.4.0-r0\""],
            "{:#?}",
            l.problems
        );
        let per_release = |r: &str| {
            l.advisories
                .iter()
                .filter(|a| a.affected.iter().any(|x| x.ecosystem == r))
                .count()
        };
        assert!(
            per_release("Alpine:v3.11") > 1000,
            "{}",
            per_release("Alpine:v3.11")
        );
        for a in &l.advisories {
            for x in &a.affected {
                assert!(x.ecosystem.starts_with("Alpine:v3."), "{}", x.ecosystem);
            }
        }
        let a = l
            .advisories
            .iter()
            .find(|a| a.id == "CVE-2019-14904" && a.file == "v3.11/main.yaml")
            .unwrap();
        assert_eq!(a.affected[0].package, "ansible");
        assert_eq!(
            a.affected[0].ranges,
            AffectedRanges::Distro {
                fixed: Some("2.9.3-r0".into()),
                not_affected: false
            }
        );
        let db = l
            .advisories
            .iter()
            .find(|a| a.id == "CVE-2016-0682" && a.file == "v3.8/main.yaml")
            .unwrap();
        assert_eq!(
            db.affected[0].ranges,
            AffectedRanges::Distro {
                fixed: None,
                not_affected: true
            },
            "version 0 = never affected"
        );
        let xen = l
            .advisories
            .iter()
            .find(|a| a.id == "XSA-295" && a.file == "v3.11/main.yaml")
            .unwrap();
        assert_eq!(xen.affected[0].package, "xen");
        assert!(l
            .advisories
            .iter()
            .any(|a| a.id == "CVE-2017-17434" && a.file == "v3.11/main.yaml"));
        let entries: usize = l.advisories.iter().map(|a| a.affected.len()).sum();
        eprintln!(
            "alpine-secdb: {} advisories, {entries} affected entries",
            l.advisories.len()
        );
    }

    #[test]
    fn vunnel_and_vuln_list_forms() {
        let l = AlpineSecdbSource::new("alpine")
            .load(&shared("distro-advisories/vunnel/alpine/secdb"))
            .unwrap();
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let xz = l
            .advisories
            .iter()
            .find(|a| a.id == "CVE-2022-1271")
            .unwrap();
        assert_eq!(xz.affected[0].ecosystem, "Alpine:v3.15");
        assert_eq!(xz.affected[0].fixed, ["5.2.5-r1"]);
        assert_eq!(xz.file, "v3.15/main.yaml");

        let l = AlpineSecdbSource::new("alpine")
            .load(&shared("distro-advisories/trivy-db/vuln-list-alpine"))
            .unwrap();
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let a = l
            .advisories
            .iter()
            .find(|a| a.id == "CVE-2024-22195")
            .unwrap();
        assert_eq!(a.aliases, ["GHSA-h5c8-rqwp-cp95"]);
        assert_eq!(a.affected[0].ecosystem, "Alpine:v3.12");
        assert!(l.advisories.iter().any(|a| a.id == "GHSA-f7r5-w49x-gxm3"));
    }

    #[test]
    fn malformed_secdb() {
        let l = AlpineSecdbSource::new("alpine")
            .load(&fixture("alpine-malformed"))
            .unwrap();
        let mut seen: Vec<String> = l
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{}|{}",
                    p.location.path,
                    p.location.field.as_deref().unwrap_or("")
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                "nodistro.yaml|distroversion",
                "v3.99/main.yaml|packages[0].pkg.secfixes.\"1.0-r1\"",
                "v3.99/truncated.yaml|"
            ],
            "{:#?}",
            l.problems
        );
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["CVE-2099-0001", "CVE-2099-0002"]);
        assert_eq!(
            l.advisories[0].affected[0].ecosystem, "Alpine:v3.99",
            "from the folder name"
        );
    }
}
