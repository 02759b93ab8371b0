//! The operating system of a root: `/etc/os-release`, `/usr/lib/os-release`, and the fallbacks
//! older or minimal systems carry (`lsb-release`, `debian_version`, `redhat-release` and its
//! relatives, `system-release-cpe`, `alpine-release`, `SuSE-release`).

use super::files::FilePattern;
use super::{Collected, Collector, Root};
use crate::model::{Location, OsRelease, Problem, ProblemKind};

/// The os-release collector.
#[derive(Debug, Default)]
pub(crate) struct OsReleaseCollector;

/// `*-release` files with one "Name release X.Y (Codename)" line, and the id each stands for.
const REDHAT_LIKE: [(&str, &str); 8] = [
    ("/etc/oracle-release", "ol"),
    ("/etc/rocky-release", "rocky"),
    ("/etc/almalinux-release", "almalinux"),
    ("/etc/centos-release", "centos"),
    ("/etc/fedora-release", "fedora"),
    ("/etc/system-release", ""),
    ("/etc/redhat-release", ""),
    ("/etc/SuSE-release", "sles"),
];

/// The files the os-release collector reads: `os-release` and the distributions' older
/// `/etc/*-release`, `/etc/*_version` and `system-release-cpe` files.
pub(crate) const READS: &[FilePattern] = &[
    FilePattern::InDir {
        dir: "etc",
        suffix: "-release",
    },
    FilePattern::InDir {
        dir: "etc",
        suffix: "_version",
    },
    FilePattern::Path("etc/system-release-cpe"),
    FilePattern::Path("usr/lib/os-release"),
];

impl Collector for OsReleaseCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

    fn name(&self) -> &'static str {
        "os-release"
    }

    fn applies(&self, _root: &Root) -> bool {
        true
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let (os, problems) = detect(root);
        out.os = os;
        out.problems.extend(problems);
    }
}

/// Read a file that may well be absent: absent is ordinary, anything else (a FIFO, a device,
/// unreadable) is a problem.
fn optional(root: &Root, path: &str, problems: &mut Vec<Problem>) -> Option<String> {
    match root.read_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            problems.push(Problem::new(
                Location::path(path),
                ProblemKind::Unreadable,
                e.to_string(),
            ));
            None
        }
    }
}

/// Detect the OS of a root. `None` when nothing identifies it (not a problem: a bare lockfile
/// tree has no OS).
pub(crate) fn detect(root: &Root) -> (Option<OsRelease>, Vec<Problem>) {
    let mut problems = Vec::new();
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if !root.exists(path) {
            continue;
        }
        match root.read_string(path) {
            Ok(text) => {
                let (os, mut pr) = parse_os_release(&text, path);
                problems.append(&mut pr);
                if let Some(mut os) = os {
                    // Debian testing/sid carry no VERSION_ID; debian_version says `trixie/sid`.
                    if os.id == "debian" && os.version_id.is_none() {
                        if let Ok(dv) = root.read_string("/etc/debian_version") {
                            let dv = dv.trim();
                            if dv.starts_with(|c: char| c.is_ascii_digit()) {
                                os.version_id = dv.split('.').next().map(str::to_owned);
                            }
                        }
                    }
                    return (Some(os), problems);
                }
            }
            Err(e) => problems.push(Problem::new(
                Location::path(path),
                ProblemKind::Unreadable,
                e.to_string(),
            )),
        }
    }
    if let Some(text) = optional(root, "/etc/lsb-release", &mut problems) {
        if let Some(os) = parse_lsb_release(&text, "/etc/lsb-release") {
            return (Some(os), problems);
        }
    }
    if let Some(text) = optional(root, "/etc/debian_version", &mut problems) {
        let v = text.trim();
        let major = v.split(['.', '/']).next().unwrap_or("");
        return (
            Some(OsRelease {
                id: "debian".to_owned(),
                version_id: major
                    .chars()
                    .all(|c| c.is_ascii_digit())
                    .then(|| major.to_owned())
                    .filter(|m| !m.is_empty()),
                codename: (!v.starts_with(|c: char| c.is_ascii_digit()))
                    .then(|| v.split('/').next().unwrap_or(v).to_owned()),
                pretty_name: Some(format!("Debian {v}")),
                source_file: "/etc/debian_version".to_owned(),
                ..OsRelease::default()
            }),
            problems,
        );
    }
    if let Some(text) = optional(root, "/etc/alpine-release", &mut problems) {
        let v = text.trim();
        if !v.is_empty() {
            return (
                Some(OsRelease {
                    id: "alpine".to_owned(),
                    version_id: Some(v.to_owned()),
                    source_file: "/etc/alpine-release".to_owned(),
                    ..OsRelease::default()
                }),
                problems,
            );
        }
    }
    for (path, id) in REDHAT_LIKE {
        if let Some(text) = optional(root, path, &mut problems) {
            match parse_release_line(&text, id, path) {
                Some(os) => return (Some(os), problems),
                None => problems.push(Problem::new(
                    Location::path(path).at_line(1),
                    ProblemKind::Malformed,
                    format!(
                        "expected `<name> release <version> (<codename>)`, found `{}`",
                        text.trim().chars().take(80).collect::<String>()
                    ),
                )),
            }
        }
    }
    if let Some(text) = optional(root, "/etc/system-release-cpe", &mut problems) {
        match parse_cpe(&text) {
            Some(os) => return (Some(os), problems),
            None => problems.push(Problem::new(
                Location::path("/etc/system-release-cpe").at_line(1),
                ProblemKind::Malformed,
                format!(
                    "expected `cpe:/o:<vendor>:<product>:<version>`, found `{}`",
                    text.trim().chars().take(80).collect::<String>()
                ),
            )),
        }
    }
    (None, problems)
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(v);
    let mut out = String::with_capacity(v.len());
    let mut esc = false;
    for c in v.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// Parse os-release text (`KEY=value` shell assignments). Returns `None` without `ID`, unless
/// `NAME` identifies the system.
pub(crate) fn parse_os_release(text: &str, path: &str) -> (Option<OsRelease>, Vec<Problem>) {
    let mut os = OsRelease {
        source_file: path.to_owned(),
        ..OsRelease::default()
    };
    let mut name = None;
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            problems.push(Problem::new(
                Location::path(path).at_line(i + 1),
                ProblemKind::Malformed,
                format!(
                    "expected `KEY=value`, found `{}`",
                    line.chars().take(80).collect::<String>()
                ),
            ));
            continue;
        };
        let v = unquote(v);
        match k.trim() {
            "ID" => os.id = v.to_ascii_lowercase(),
            "ID_LIKE" => os.id_like = v.split_whitespace().map(str::to_owned).collect(),
            "VERSION_ID" => os.version_id = Some(v).filter(|s| !s.is_empty()),
            "VERSION_CODENAME" => os.codename = Some(v).filter(|s| !s.is_empty()),
            "UBUNTU_CODENAME" if os.codename.is_none() => {
                os.codename = Some(v).filter(|s| !s.is_empty())
            }
            "PRETTY_NAME" => os.pretty_name = Some(v),
            "NAME" => name = Some(v),
            _ => {}
        }
    }
    if os.id.is_empty() {
        match name {
            Some(n) if !n.is_empty() => {
                os.id = n
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
            }
            _ => return (None, problems),
        }
    }
    if os.codename.is_none() {
        // Older Debian/Ubuntu: VERSION="8 (jessie)" / "14.04.6 LTS, Trusty Tahr".
        if let Some(p) = &os.pretty_name {
            if let Some(c) = p.split('(').nth(1).and_then(|s| s.split(')').next()) {
                if os.id == "debian" && c.chars().all(|c| c.is_ascii_lowercase()) {
                    os.codename = Some(c.to_owned());
                }
            }
        }
    }
    (Some(os), problems)
}

fn parse_lsb_release(text: &str, path: &str) -> Option<OsRelease> {
    let mut os = OsRelease {
        source_file: path.to_owned(),
        ..OsRelease::default()
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = unquote(v);
        match k.trim() {
            "DISTRIB_ID" => os.id = v.to_ascii_lowercase(),
            "DISTRIB_RELEASE" => os.version_id = Some(v),
            "DISTRIB_CODENAME" => os.codename = Some(v),
            "DISTRIB_DESCRIPTION" => os.pretty_name = Some(v),
            _ => {}
        }
    }
    (!os.id.is_empty()).then_some(os)
}

/// Parse `Red Hat Enterprise Linux release 8.10 (Ootpa)` and relatives.
pub(crate) fn parse_release_line(text: &str, id: &str, path: &str) -> Option<OsRelease> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let lname = name.to_ascii_lowercase();
    let id = if !id.is_empty() {
        id
    } else if lname.contains("red hat") {
        "rhel"
    } else if lname.contains("centos") {
        "centos"
    } else if lname.contains("rocky") {
        "rocky"
    } else if lname.contains("alma") {
        "almalinux"
    } else if lname.contains("oracle") {
        "ol"
    } else if lname.contains("scientific") {
        "scientific"
    } else if lname.contains("fedora") {
        "fedora"
    } else if lname.contains("amazon") {
        "amzn"
    } else {
        return None;
    };
    let codename = rest
        .split('(')
        .nth(1)
        .and_then(|s| s.split(')').next())
        .map(str::to_owned);
    Some(OsRelease {
        id: id.to_owned(),
        version_id: Some(version.to_owned()),
        codename,
        pretty_name: Some(line.to_owned()),
        source_file: path.to_owned(),
        ..OsRelease::default()
    })
}

/// Parse `cpe:/o:centos:linux:6:GA` (CPE 2.2 URI).
fn parse_cpe(text: &str) -> Option<OsRelease> {
    let parts: Vec<&str> = text.trim().strip_prefix("cpe:/o:")?.split(':').collect();
    let vendor = *parts.first()?;
    // `cpe:/o:centos:linux:6` names vendor, product, version.
    let version = parts
        .get(2)
        .copied()
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))?;
    let id = match vendor {
        "redhat" => "rhel",
        "oracle" => "ol",
        v => v,
    };
    Some(OsRelease {
        id: id.to_owned(),
        version_id: Some(version.to_owned()),
        source_file: "/etc/system-release-cpe".to_owned(),
        ..OsRelease::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> std::path::PathBuf {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/fixtures/os-release")
            .join(rel);
        assert!(
            p.exists(),
            "missing shared data {} — ../shared must sit beside the repository",
            p.display()
        );
        p
    }

    fn os(rel: &str) -> OsRelease {
        detect(&Root::new(fixture(rel)))
            .0
            .unwrap_or_else(|| panic!("no OS detected in {rel}"))
    }

    #[test]
    fn every_fixture_root_is_identified() {
        let base = fixture("");
        let mut roots = Vec::new();
        for e in walk(&base) {
            // A root is a directory holding `etc/` or `usr/lib/os-release`.
            if e.join("etc").is_dir() || e.join("usr/lib/os-release").is_file() {
                roots.push(e);
            }
        }
        assert!(roots.len() > 60, "{}", roots.len());
        let mut unidentified = Vec::new();
        for r in &roots {
            let rel = r.strip_prefix(&base).unwrap().display().to_string();
            match detect(&Root::new(r)).0 {
                Some(o) => assert!(!o.id.is_empty(), "{rel}"),
                None => unidentified.push(rel),
            }
        }
        unidentified.sort();
        // An empty os-release says nothing; `missing-id` is named by its NAME.
        assert_eq!(unidentified, ["syft/os/empty"], "{unidentified:?}");
    }

    fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut v = vec![p.to_path_buf()];
        if let Ok(rd) = fs_err::read_dir(p) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    v.extend(walk(&e.path()));
                }
            }
        }
        v
    }

    #[test]
    fn known_systems() {
        let d = os("claircore/debian/12");
        assert_eq!(
            (
                d.id.as_str(),
                d.version_id.as_deref(),
                d.codename.as_deref()
            ),
            ("debian", Some("12"), Some("bookworm"))
        );
        let u = os("claircore/ubuntu/22.04");
        assert_eq!(
            (
                u.id.as_str(),
                u.version_id.as_deref(),
                u.codename.as_deref()
            ),
            ("ubuntu", Some("22.04"), Some("jammy"))
        );
        let r = os("syft/os/redhat/from-redhat-release");
        assert_eq!(
            (r.id.as_str(), r.version_id.as_deref()),
            ("rhel", Some("8.10"))
        );
        let c = os("syft/os/centos6");
        assert_eq!(
            (c.id.as_str(), c.version_id.as_deref()),
            ("centos", Some("6"))
        );
        let a = os("claircore/alpine/3.18");
        assert_eq!(a.id, "alpine");
        let o = os("claircore/oracle/oracle-6");
        assert_eq!(
            (o.id.as_str(), o.version_id.as_deref()),
            ("ol", Some("6.10"))
        );
        let dv = os("syft/os/debian/from-debian_version");
        assert_eq!(dv.id, "debian");
    }

    #[test]
    fn flat_files_and_bad_ones() {
        let t = fs_err::read_to_string(fixture("syft/unprintable")).unwrap();
        let (o, _) = parse_os_release(&t, "/etc/os-release");
        assert_eq!(o.unwrap().codename.as_deref(), Some("jessie"));
        let t = fs_err::read_to_string(fixture("syft/bad-redhat-release")).unwrap();
        assert!(parse_release_line(&t, "", "/etc/redhat-release")
            .unwrap()
            .version_id
            .is_some());
        let t = fs_err::read_to_string(fixture("syft/bad-system-release-cpe")).unwrap();
        assert!(parse_cpe(&t).is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = parse_os_release(&s, "/etc/os-release");
            let _ = parse_release_line(&s, "", "/etc/redhat-release");
            let _ = parse_cpe(&s);
        }
    }
}
