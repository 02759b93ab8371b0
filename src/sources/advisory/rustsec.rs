//! The RustSec advisory database (<https://github.com/rustsec/advisory-db>): a checkout
//! holding `crates/<crate>/RUSTSEC-*.md` and `rust/<component>/RUSTSEC-*.md` (the toolchain
//! itself), each a Markdown file with a TOML front matter.
//!
//! Each file is parsed by the `rustsec` crate (the parser `cargo audit` uses). The files are
//! walked here rather than through `rustsec::Database::open`, because that stops at the first
//! bad file; here a bad file is a problem and the rest loads. The same checks as
//! `Database::open` apply: the file is named after the advisory id and sits in a folder named
//! after its package; placeholder ids (`RUSTSEC-0000-0000`) are skipped.
//!
//! Mapping: informational `unmaintained` / `unsound` / `notice` (and any other informational
//! kind, as a notice) → [`AdvisoryKind`]; `withdrawn` kept; `versions.patched` / `unaffected` →
//! [`AffectedRanges::Rustsec`] with the requirements as the crate prints them; CVSS → severity
//! through [`Severity::from_cvss_score`], vector kept; ecosystem `crates.io` for `crates/`,
//! `rust-toolchain` for `rust/`; URL: the advisory's page on rustsec.org.

use std::path::Path;

use super::{check_dir, walk, AdvisorySource, FeedFile, Loaded, SourceError};
use crate::model::{
    Advisory, AdvisoryKind, Affected, AffectedRanges, Problem, ProblemKind, Severity,
};

/// The `rustsec` feed reader.
#[derive(Debug, Clone)]
pub(crate) struct RustsecSource {
    name: String,
}

impl RustsecSource {
    /// A reader whose advisories carry feed name `name`.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// The two collections of the database and their ecosystem keys.
const COLLECTIONS: [(&str, &str); 2] = [("crates", "crates.io"), ("rust", "rust-toolchain")];

impl AdvisorySource for RustsecSource {
    fn kind(&self) -> &'static str {
        "rustsec"
    }

    fn load(&self, dir: &Path) -> Result<Loaded, SourceError> {
        check_dir(dir)?;
        if !dir.join("crates").is_dir() {
            return Err(SourceError::Layout {
                path: dir.to_owned(),
                kind: "rustsec",
                expected: "a `crates/` folder (an advisory-db checkout), found none".into(),
            });
        }
        let mut out = Loaded::default();
        let files = walk(
            dir,
            |f| {
                let d = f.dirs();
                f.ext() == "md" && d.len() == 2 && COLLECTIONS.iter().any(|(c, _)| d[0] == *c)
            },
            &mut out.problems,
        )?;
        for f in &files {
            match load_file(f, &self.name) {
                Ok(Some(a)) => out.advisories.push(a),
                Ok(None) => {}
                Err(p) => out.problems.push(p),
            }
        }
        Ok(out)
    }
}

fn load_file(f: &FeedFile, source: &str) -> Result<Option<Advisory>, Problem> {
    let text = f.read()?;
    let adv: rustsec::Advisory = text.parse().map_err(|e: rustsec::Error| {
        f.problem(
            ProblemKind::Malformed,
            format!("expected a RustSec advisory (TOML front matter in a ```toml fence): {e}"),
        )
    })?;
    let m = &adv.metadata;
    let id = m.id.as_str().to_owned();
    if m.id.is_placeholder() {
        return Ok(None);
    }
    let dirs = f.dirs();
    let (collection, package_dir) = (dirs[0], dirs[1]);
    if f.name() != format!("{id}.md") {
        return Err(f.problem(
            ProblemKind::Malformed,
            format!(
                "expected the file to be named `{id}.md` after its id, found `{}`",
                f.name()
            ),
        ));
    }
    if package_dir != m.package.as_str() {
        return Err(f.problem(
            ProblemKind::Malformed,
            format!("expected the advisory for `{}` in a folder of that name, found it in `{package_dir}`", m.package),
        ));
    }
    let ecosystem = COLLECTIONS
        .iter()
        .find(|(c, _)| *c == collection)
        .map_or("crates.io", |(_, e)| *e);
    let kind = match &m.informational {
        None => AdvisoryKind::Vulnerability,
        Some(i) if i.is_unmaintained() => AdvisoryKind::Unmaintained,
        Some(i) if i.is_unsound() => AdvisoryKind::Unsound,
        Some(_) => AdvisoryKind::Notice,
    };
    let patched: Vec<String> = adv
        .versions
        .patched()
        .iter()
        .map(ToString::to_string)
        .collect();
    let unaffected: Vec<String> = adv
        .versions
        .unaffected()
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Some(Advisory {
        url: Some(format!("https://rustsec.org/advisories/{id}.html")),
        id,
        aliases: m.aliases.iter().map(|a| a.as_str().to_owned()).collect(),
        source: source.to_owned(),
        kind,
        summary: super::one_line(&m.title),
        severity: m
            .cvss
            .as_ref()
            .map(|c| Severity::from_cvss_score(c.score())),
        cvss: m.cvss.as_ref().map(ToString::to_string),
        affected: vec![Affected {
            ecosystem: ecosystem.to_owned(),
            package: m.package.as_str().to_owned(),
            ranges: AffectedRanges::Rustsec {
                patched: patched.clone(),
                unaffected,
            },
            fixed: patched,
        }],
        published: Some(m.date.as_str().to_owned()),
        modified: None,
        withdrawn: m.withdrawn.as_ref().map(|d| d.as_str().to_owned()),
        file: f.rel.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::{cvss, fixture, shared};
    use super::*;
    use crate::version::range::SemverReq;

    #[test]
    fn whole_database_loads() {
        let dir = shared("rustsec-advisory-db");
        let l = RustsecSource::new("rustsec").load(&dir).unwrap();
        assert!(l.problems.is_empty(), "{:#?}", l.problems);
        assert_eq!(l.advisories.len(), 1225);
        // The same set `rustsec::Database::open` loads.
        let db = rustsec::Database::open(&dir).unwrap();
        assert_eq!(db.iter().count(), l.advisories.len());
        let crates = l
            .advisories
            .iter()
            .filter(|a| a.affected[0].ecosystem == "crates.io")
            .count();
        let rust = l
            .advisories
            .iter()
            .filter(|a| a.affected[0].ecosystem == "rust-toolchain")
            .count();
        assert_eq!((crates, rust), (1205, 20));
        for kind in [
            AdvisoryKind::Vulnerability,
            AdvisoryKind::Unmaintained,
            AdvisoryKind::Unsound,
            AdvisoryKind::Notice,
        ] {
            assert!(l.advisories.iter().any(|a| a.kind == kind), "{kind:?}");
        }
        assert!(l.advisories.iter().any(|a| a.withdrawn.is_some()));
        // Every requirement round-trips through the matcher's parser; every vector through ours,
        // with the score the crate computes.
        for a in &l.advisories {
            let AffectedRanges::Rustsec {
                patched,
                unaffected,
            } = &a.affected[0].ranges
            else {
                panic!()
            };
            for r in patched.iter().chain(unaffected) {
                SemverReq::parse(r).unwrap_or_else(|e| panic!("{}: {e}", a.id));
            }
            if let Some(v) = &a.cvss {
                if v.starts_with("CVSS:3") {
                    assert_eq!(cvss::severity_of_vector(v), a.severity, "{}: {v}", a.id);
                }
            }
        }
        let a = l
            .advisories
            .iter()
            .find(|a| a.id == "RUSTSEC-2021-0078")
            .expect("hyper advisory");
        assert_eq!(a.affected[0].package, "hyper");
        assert_eq!(a.file, "crates/hyper/RUSTSEC-2021-0078.md");
        assert!(a.aliases.iter().any(|x| x.starts_with("CVE-")));
        assert!(!a.summary.is_empty());
    }

    #[test]
    fn bad_files_are_problems() {
        let l = RustsecSource::new("t")
            .load(&fixture("rustsec-malformed"))
            .unwrap();
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["RUSTSEC-2099-0001"]);
        let mut files: Vec<&str> = l
            .problems
            .iter()
            .map(|p| p.location.path.as_str())
            .collect();
        files.sort_unstable();
        assert_eq!(
            files,
            [
                "crates/bad/RUSTSEC-2099-0002.md",
                "crates/other/RUSTSEC-2099-0003.md",
                "crates/wrongname/RUSTSEC-2099-0009.md"
            ],
            "{:#?}",
            l.problems
        );
        let a = &l.advisories[0];
        assert_eq!(a.kind, AdvisoryKind::Unmaintained);
        assert_eq!(
            a.affected[0].ranges,
            AffectedRanges::Rustsec {
                patched: vec![],
                unaffected: vec![]
            }
        );
        let e = RustsecSource::new("t")
            .load(&fixture("osv-malformed"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a `crates/` folder"), "{e}");
    }
}
