//! dpkg databases: `/var/lib/dpkg/status`, distroless `status.d/`, and the `info/*.list` file
//! lists (which files each package owns; the Python collector uses them to tell distro-owned
//! distributions apart).
//!
//! Only packages whose files are on disk count: the states `installed`, `half-configured`,
//! `unpacked`, `half-installed`, `triggers-awaited` and `triggers-pending`. `config-files` (`rc`)
//! and `not-installed` do not. A package whose selection is `hold` is flagged. A malformed stanza
//! is a [`Problem`] naming the file and line; the other stanzas are kept (where `dpkg-query` gives
//! up on the whole file).

use super::files::FilePattern;
use super::root::join;
use super::{purl, Collected, Collector, Root};
use crate::model::{
    Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind, SourcePackage,
};
use std::io::Read;

/// Python metadata paths recorded as owned by OS packages, at most (a large host has a few
/// tens of thousands).
const MAX_OWNED_FILES: usize = 1_000_000;

/// Where dpkg keeps its database (Debian, and `usr/lib/dpkg` on merged layouts).
const ADMINDIRS: [&str; 2] = ["/var/lib/dpkg", "/usr/lib/dpkg"];

/// The dpkg collector.
#[derive(Debug, Default)]
pub(crate) struct DpkgCollector;

/// The files the dpkg collector reads: the status file, distroless `status.d/*`, and the
/// `info/*.list` file lists (for the files each package owns).
pub(crate) const READS: &[FilePattern] = &[
    FilePattern::Path("var/lib/dpkg/status"),
    FilePattern::InDir {
        dir: "var/lib/dpkg/status.d",
        suffix: "",
    },
    FilePattern::InDir {
        dir: "var/lib/dpkg/info",
        suffix: ".list",
    },
    FilePattern::Path("usr/lib/dpkg/status"),
    FilePattern::InDir {
        dir: "usr/lib/dpkg/status.d",
        suffix: "",
    },
    FilePattern::InDir {
        dir: "usr/lib/dpkg/info",
        suffix: ".list",
    },
];

impl Collector for DpkgCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn applies(&self, root: &Root) -> bool {
        ADMINDIRS
            .iter()
            .any(|d| root.exists(&join(d, "status")) || root.is_dir(&join(d, "status.d")))
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let distro = out.os.as_ref().map(|o| o.id.clone());
        let distro_q = out
            .os
            .as_ref()
            .map(|o| format!("{}-{}", o.id, o.version_id.clone().unwrap_or_default()));
        let ctx = Ctx {
            namespace: distro.as_deref().unwrap_or("debian"),
            distro: distro_q.as_deref(),
        };
        for admin in ADMINDIRS {
            let status = join(admin, "status");
            if root.exists(&status) {
                match root
                    .open(&status)
                    .and_then(|r| parse_status_reader(r, &status, false, &ctx))
                {
                    Ok((p, pr)) => {
                        // Moved, not copied, when it is the first list (the usual case).
                        if out.packages.is_empty() {
                            out.packages = p;
                        } else {
                            out.packages.extend(p);
                        }
                        out.problems.extend(pr);
                    }
                    Err(e) => out.problems.push(Problem::new(
                        Location::path(&status),
                        ProblemKind::Unreadable,
                        e.to_string(),
                    )),
                }
            }
            let sd = join(admin, "status.d");
            for name in root.list(&sd) {
                // Distroless keeps `<pkg>` stanzas beside `<pkg>.md5sums` etc.
                if name.contains('.') && !name.ends_with(".status") {
                    continue;
                }
                let path = join(&sd, &name);
                match root.read(&path) {
                    Ok(bytes) => {
                        let (p, pr) = parse_status(&bytes, &path, true, &ctx);
                        out.packages.extend(p);
                        out.problems.extend(pr);
                    }
                    Err(e) => out.problems.push(Problem::new(
                        Location::path(&path),
                        ProblemKind::Unreadable,
                        e.to_string(),
                    )),
                }
            }
            // File ownership, kept only for Python metadata (all the analyzer needs), and
            // bounded: a node's lists cannot grow the map without end.
            let info = join(admin, "info");
            for name in root.list(&info) {
                if out.os_owned_files.len() >= MAX_OWNED_FILES {
                    out.problems.push(Problem::new(
                        Location::path(&info),
                        ProblemKind::Skipped,
                        format!(
                            "more than {MAX_OWNED_FILES} Python metadata paths owned by packages: the rest are not recorded (Python packages they own may be reported as not OS-owned)"
                        ),
                    ));
                    break;
                }
                let Some(pkg) = name.strip_suffix(".list") else {
                    continue;
                };
                let pkg = pkg.split(':').next().unwrap_or(pkg);
                if let Ok(text) = root.read_string(&join(&info, &name)) {
                    for line in text.lines() {
                        if is_python_metadata_path(line) {
                            out.os_owned_files.insert(line.to_owned(), pkg.to_owned());
                        }
                    }
                }
            }
        }
    }
}

/// Whether a path is Python distribution metadata (what the ownership map keeps).
pub(crate) fn is_python_metadata_path(p: &str) -> bool {
    p.contains(".dist-info") || p.contains(".egg-info")
}

/// Naming context for purls.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// purl namespace (`debian`, `ubuntu`).
    pub namespace: &'a str,
    /// purl `distro` qualifier (`debian-12`).
    pub distro: Option<&'a str>,
}

impl Default for Ctx<'_> {
    fn default() -> Self {
        Self {
            namespace: "debian",
            distro: None,
        }
    }
}

#[derive(Default)]
struct Stanza<'a> {
    line: usize,
    package: Option<&'a str>,
    version: Option<&'a str>,
    status: Option<&'a str>,
    arch: Option<&'a str>,
    source: Option<&'a str>,
    maintainer: Option<&'a str>,
    bad: Option<(usize, String)>,
}

/// Parse a dpkg status file (or one `status.d/` file). `distroless` means a missing `Status`
/// field stands for "installed" (distroless images write none).
pub fn parse_status(
    bytes: &[u8],
    path: &str,
    distroless: bool,
    ctx: &Ctx<'_>,
) -> (Vec<Package>, Vec<Problem>) {
    let mut pkgs = Vec::new();
    let mut problems = Vec::new();
    parse_status_at(bytes, 0, path, distroless, ctx, &mut pkgs, &mut problems);
    (pkgs, problems)
}

/// [`parse_status`] over a reader, a block of whole stanzas at a time (a block ends at an
/// empty line), so that memory stays at one block rather than the whole database (dpkg's
/// `status` is often several megabytes). Same packages and problems, same line numbers.
pub(crate) fn parse_status_reader(
    mut r: impl Read,
    path: &str,
    distroless: bool,
    ctx: &Ctx<'_>,
) -> std::io::Result<(Vec<Package>, Vec<Problem>)> {
    const BLOCK: u64 = 64 * 1024;
    let mut pkgs = Vec::new();
    let mut problems = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK as usize);
    let mut lines_before = 0usize;
    loop {
        let before = buf.len();
        let n = r.by_ref().take(BLOCK).read_to_end(&mut buf)?;
        let cut = if n == 0 {
            buf.len()
        } else {
            // Only the bytes just read (and the one before them) can complete a `\n\n`.
            let from = before.saturating_sub(1);
            match buf[from..].windows(2).rposition(|w| w == b"\n\n") {
                Some(i) => from + i + 2,
                None => continue,
            }
        };
        let block = &buf[..cut];
        parse_status_at(
            block,
            lines_before,
            path,
            distroless,
            ctx,
            &mut pkgs,
            &mut problems,
        );
        lines_before += block.iter().filter(|&&b| b == b'\n').count();
        buf.drain(..cut);
        if n == 0 {
            return Ok((pkgs, problems));
        }
    }
}

/// Parse whole stanzas whose first line is line `lines_before + 1` of the file.
fn parse_status_at(
    bytes: &[u8],
    lines_before: usize,
    path: &str,
    distroless: bool,
    ctx: &Ctx<'_>,
    pkgs: &mut Vec<Package>,
    problems: &mut Vec<Problem>,
) {
    let text = String::from_utf8_lossy(bytes);
    let mut st = Stanza::default();
    let mut started = false;
    // The last line without its newline: the file was cut there (dpkg-query refuses such a file:
    // "end of file during value of field … (missing final newline)"). Whatever it says may be a
    // prefix of the real value, so its stanza is a problem, never a package at a shortened
    // version.
    let cut = if bytes.ends_with(b"\n") {
        None
    } else {
        text.rsplit('\n').next().filter(|l| !l.trim().is_empty())
    };
    for (i, line) in text.split('\n').enumerate() {
        let lineno = lines_before + i + 1;
        if let Some(cut) = cut.filter(|c| std::ptr::eq(*c, line)) {
            let field = match cut.split_once(':') {
                Some((k, _)) if !cut.starts_with([' ', '\t']) => format!("field `{}`", truncate(k)),
                _ => "a field".to_owned(),
            };
            if !started {
                started = true;
                st.line = lineno;
            }
            st.bad = Some((
                lineno,
                format!("end of file during the value of {field} (missing final newline): the file is cut short"),
            ));
            continue;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if started {
                finish(
                    std::mem::take(&mut st),
                    path,
                    distroless,
                    ctx,
                    pkgs,
                    problems,
                );
                started = false;
            }
            continue;
        }
        if !started {
            started = true;
            st.line = lineno;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue; // continuation of a multi-line field
        }
        let Some((key, value)) = line.split_once(':') else {
            if st.bad.is_none() {
                st.bad = Some((
                    lineno,
                    format!("expected `Field: value`, found `{}`", truncate(line)),
                ));
            }
            continue;
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            if st.bad.is_none() {
                st.bad = Some((lineno, format!("invalid field name `{}`", truncate(key))));
            }
            continue;
        }
        let value = value.trim();
        match key {
            "Package" => st.package = Some(value),
            "Version" => st.version = Some(value),
            "Status" => st.status = Some(value),
            "Architecture" => st.arch = Some(value),
            "Source" => st.source = Some(value),
            "Maintainer" => st.maintainer = Some(value),
            _ => {}
        }
    }
    if started {
        finish(st, path, distroless, ctx, pkgs, problems);
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// States in which a package's files are on disk.
fn state_counts(state: &str) -> bool {
    matches!(
        state,
        "installed"
            | "half-configured"
            | "unpacked"
            | "half-installed"
            | "triggers-awaited"
            | "triggers-pending"
    )
}

fn finish(
    st: Stanza<'_>,
    path: &str,
    distroless: bool,
    ctx: &Ctx<'_>,
    pkgs: &mut Vec<Package>,
    problems: &mut Vec<Problem>,
) {
    let loc = Location::path(path).at_line(st.line);
    if let Some((line, msg)) = st.bad {
        problems.push(Problem::new(
            Location::path(path).at_line(line),
            ProblemKind::Malformed,
            format!("malformed stanza skipped: {msg}"),
        ));
        return;
    }
    let Some(name) = st.package.filter(|p| !p.is_empty()) else {
        problems.push(Problem::new(
            loc.field("Package"),
            ProblemKind::Malformed,
            "stanza without a `Package` field skipped",
        ));
        return;
    };
    let mut held = false;
    match st.status {
        Some(s) => {
            let parts: Vec<&str> = s.split_whitespace().collect();
            if parts.len() != 3 {
                problems.push(Problem::new(
                    loc.field("Status"),
                    ProblemKind::Malformed,
                    format!("package `{name}`: expected `Status: want flag state`, found `{s}`"),
                ));
                return;
            }
            if !state_counts(parts[2]) {
                return;
            }
            held = parts[0] == "hold";
        }
        None if distroless => {}
        None => {
            problems.push(Problem::new(
                loc.clone().field("Status"),
                ProblemKind::Malformed,
                format!("package `{name}` has no `Status` field; assumed installed"),
            ));
        }
    }
    let Some(version) = st.version.filter(|v| !v.is_empty()) else {
        problems.push(Problem::new(
            loc.field("Version"),
            ProblemKind::Malformed,
            format!("package `{name}` has no `Version` field; skipped"),
        ));
        return;
    };
    let source = match st.source {
        Some(s) => {
            let (n, v) = match s.split_once('(') {
                Some((n, v)) => (n.trim(), v.trim_end_matches(')').trim()),
                None => (s.trim(), version),
            };
            SourcePackage {
                name: n.to_owned(),
                version: v.to_owned(),
            }
        }
        None => SourcePackage {
            name: name.to_owned(),
            version: version.to_owned(),
        },
    };
    let arch = st.arch.map(str::to_owned);
    let mut quals: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = st.arch {
        quals.push(("arch", a));
    }
    if let Some(d) = ctx.distro {
        quals.push(("distro", d));
    }
    let upstream_q;
    if source.name != name {
        upstream_q = source.name.clone();
        quals.push(("upstream", &upstream_q));
    }
    let purl = purl::build("deb", Some(ctx.namespace), name, version, &quals);
    pkgs.push(Package {
        ecosystem: Ecosystem::Deb,
        name: name.to_owned(),
        version: version.to_owned(),
        source: Some(source),
        purl,
        found_by: "dpkg".to_owned(),
        location: loc,
        meta: PackageMeta::Deb {
            arch,
            held,
            maintainer: st.maintainer.map(str::to_owned),
        },
        extra: Default::default(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call (block boundaries anywhere).
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Streaming gives exactly what parsing the whole file gives — packages, problems and their
    /// line numbers — for every real dpkg database in the shared fixtures and hostile shapes
    /// (CRLF, no final newline, runs of blank lines, garbage), whatever the read sizes.
    #[test]
    fn streaming_equals_whole_file() {
        let base =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fixtures/dpkg");
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            for e in fs_err::read_dir(&d).expect("../shared/data/fixtures/dpkg") {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == "status") {
                    inputs.push(fs_err::read(&p).unwrap());
                }
            }
        }
        assert!(inputs.len() >= 3, "found {} status files", inputs.len());
        let big = inputs.iter().map(Vec::len).max().unwrap();
        assert!(big > 200_000, "the largest status has {big} bytes");
        inputs.push(b"Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\nPackage: b\r\nVersion: 2\r\nStatus: install ok installed\r\n".to_vec());
        inputs.push(b"\n\n\nPackage: a\nStatus: install ok installed\nVersion: 1\n\n\n\ngarbage\n\nPackage: b\nVersion: 2\nStatus: install ok installed".to_vec());
        inputs.push(Vec::new());
        for input in &inputs {
            let want = parse_status(input, "status", false, &Ctx::default());
            for step in [1, 7, 4096, 65_536, usize::MAX] {
                let r = Trickle { data: input, step };
                let got = parse_status_reader(r, "status", false, &Ctx::default()).unwrap();
                assert_eq!(
                    serde_json::to_value(&got).unwrap(),
                    serde_json::to_value(&want).unwrap(),
                    "read size {step}"
                );
            }
        }
    }

    #[test]
    fn states_holds_sources_and_problems() {
        let text = b"Package: a\nStatus: hold ok installed\nVersion: 1.0-1\nSource: asrc (0.9-1)\nArchitecture: amd64\n\n\
Package: b\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
Package: c\nStatus: install ok installed\nDescription: x\n more\nVersion: 2:3.4\nSource: csrc\n\n\
garbage line\nPackage: d\n\n\
Package: e\nStatus: install ok unpacked\nVersion: 5\n";
        let (p, pr) = parse_status(text, "/var/lib/dpkg/status", false, &Ctx::default());
        let names: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("a", "1.0-1"), ("c", "2:3.4"), ("e", "5")]);
        assert!(matches!(p[0].meta, PackageMeta::Deb { held: true, .. }));
        assert_eq!(p[0].source.as_ref().unwrap().version, "0.9-1");
        assert_eq!(p[1].source.as_ref().unwrap().name, "csrc");
        assert_eq!(p[1].source.as_ref().unwrap().version, "2:3.4");
        assert_eq!(pr.len(), 1);
        assert_eq!(pr[0].location.line, Some(18));
        assert_eq!(p[0].purl, "pkg:deb/debian/a@1.0-1?arch=amd64&upstream=asrc");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_status(&bytes, "/s", false, &Ctx::default());
        }
    }
}
