//! Alpine apk database: `/lib/apk/db/installed` (and `/usr/lib/apk/db/installed` on newer
//! layouts). Stanzas of `X:value` lines separated by blank lines; `P` name, `V` version, `A`
//! architecture, `o` origin (the source package, which Alpine's secdb matches on). The file list
//! (`F` directory, `R` file) feeds the ownership map for Python metadata.

use super::files::FilePattern;
use super::{purl, Collected, Collector, Root};
use crate::model::{
    Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind, SourcePackage,
};

const DBS: [&str; 2] = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"];

/// The apk collector.
#[derive(Debug, Default)]
pub(crate) struct ApkCollector;

/// The files the apk collector reads.
pub(crate) const READS: &[FilePattern] = &[
    FilePattern::Path("lib/apk/db/installed"),
    FilePattern::Path("usr/lib/apk/db/installed"),
];

impl Collector for ApkCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

    fn name(&self) -> &'static str {
        "apk"
    }

    fn applies(&self, root: &Root) -> bool {
        DBS.iter().any(|p| root.exists(p))
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let distro = out
            .os
            .as_ref()
            .and_then(|o| o.version_id.as_deref())
            .map(|v| format!("alpine-{v}"));
        for db in DBS {
            if !root.exists(db) {
                continue;
            }
            match root.read(db) {
                Ok(b) => {
                    let parsed = parse_installed(&b, db, distro.as_deref());
                    out.packages.extend(parsed.packages);
                    out.problems.extend(parsed.problems);
                    out.os_owned_files.extend(parsed.python_files);
                }
                Err(e) => out.problems.push(Problem::new(
                    Location::path(db),
                    ProblemKind::Unreadable,
                    e.to_string(),
                )),
            }
        }
    }
}

/// What an apk database yields.
#[derive(Debug, Default)]
pub(crate) struct ApkParsed {
    /// Installed packages.
    pub packages: Vec<Package>,
    /// Malformed stanzas.
    pub problems: Vec<Problem>,
    /// Python metadata files owned by a package (absolute path → package).
    pub python_files: Vec<(String, String)>,
}

#[derive(Default)]
struct Stanza {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
    bad: Option<(usize, String)>,
    dir: String,
    files: Vec<String>,
}

/// Parse an apk `installed` database.
pub(crate) fn parse_installed(bytes: &[u8], path: &str, distro: Option<&str>) -> ApkParsed {
    let text = String::from_utf8_lossy(bytes);
    let mut out = ApkParsed::default();
    let mut st = Stanza::default();
    let mut started = false;
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if started {
                finish(std::mem::take(&mut st), path, distro, &mut out);
                started = false;
            }
            continue;
        }
        if !started {
            started = true;
            st.line = i + 1;
        }
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b':' {
            if st.bad.is_none() {
                st.bad = Some((
                    i + 1,
                    format!(
                        "expected `X:value`, found `{}`",
                        line.chars().take(60).collect::<String>()
                    ),
                ));
            }
            continue;
        }
        let v = &line[2..];
        match b[0] {
            b'P' => st.name = Some(v.to_owned()),
            b'V' => st.version = Some(v.to_owned()),
            b'A' => st.arch = Some(v.to_owned()),
            b'o' => st.origin = Some(v.to_owned()),
            b'F' => st.dir = v.to_owned(),
            b'R' if super::dpkg::is_python_metadata_path(&st.dir)
                || super::dpkg::is_python_metadata_path(v) =>
            {
                st.files.push(format!("/{}/{}", st.dir, v));
            }
            _ => {}
        }
    }
    if started {
        finish(st, path, distro, &mut out);
    }
    out
}

fn finish(st: Stanza, path: &str, distro: Option<&str>, out: &mut ApkParsed) {
    let loc = Location::path(path).at_line(st.line);
    if let Some((line, msg)) = st.bad {
        out.problems.push(Problem::new(
            Location::path(path).at_line(line),
            ProblemKind::Malformed,
            format!("malformed stanza skipped: {msg}"),
        ));
        return;
    }
    let (Some(name), Some(version)) = (
        st.name.filter(|n| !n.is_empty()),
        st.version.filter(|v| !v.is_empty()),
    ) else {
        out.problems.push(Problem::new(
            loc,
            ProblemKind::Malformed,
            "stanza without `P:` (name) or `V:` (version) skipped",
        ));
        return;
    };
    let mut q: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = &st.arch {
        q.push(("arch", a));
    }
    if let Some(d) = distro {
        q.push(("distro", d));
    }
    let origin = st.origin.clone().unwrap_or_else(|| name.clone());
    if origin != name {
        q.push(("upstream", &origin));
    }
    let purl = purl::build("apk", Some("alpine"), &name, &version, &q);
    for f in st.files {
        out.python_files.push((f, name.clone()));
    }
    out.packages.push(Package {
        ecosystem: Ecosystem::Apk,
        source: Some(SourcePackage {
            name: origin,
            version: version.clone(),
        }),
        name,
        version,
        purl,
        found_by: "apk".to_owned(),
        location: loc,
        meta: PackageMeta::Apk {
            arch: st.arch,
            origin: st.origin,
        },
        extra: Default::default(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rel: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/fixtures/apk")
            .join(rel);
        fs_err::read(&p).unwrap_or_else(|e| {
            panic!("missing shared data ({e}) — ../shared must sit beside the repository")
        })
    }

    #[test]
    fn real_databases() {
        let p = parse_installed(&data("fanal/apk"), "/lib/apk/db/installed", None);
        // The fixture deliberately holds one stanza without a version, at line 23.
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].location.line, Some(23));
        assert!(p.packages.len() > 10);
        let musl = p.packages.iter().find(|p| p.name == "musl").unwrap();
        assert!(musl.purl.starts_with("pkg:apk/alpine/musl@"));
        let single = parse_installed(
            &data("osv-scalibr/single"),
            "/lib/apk/db/installed",
            Some("alpine-3.18"),
        );
        assert_eq!(single.packages.len(), 1);
        assert_eq!(single.packages[0].version, "3.4.3-r1");
        assert_eq!(
            single.packages[0].source.as_ref().unwrap().name,
            "alpine-baselayout"
        );
        assert_eq!(
            single.packages[0].purl,
            "pkg:apk/alpine/alpine-baselayout-data@3.4.3-r1?arch=x86_64&distro=alpine-3.18&upstream=alpine-baselayout"
        );
    }

    #[test]
    fn malformed_gives_problems() {
        let p = parse_installed(&data("osv-scalibr/invalid"), "/lib/apk/db/installed", None);
        assert!(p.packages.is_empty());
        assert!(!p.problems.is_empty());
        assert!(
            p.problems[0].message.contains("expected `X:value`"),
            "{}",
            p.problems[0]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_installed(&bytes, "/x", None);
        }
    }
}
