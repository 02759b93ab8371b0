//! Distribution lifecycles: Debian's distro-info-data (`debian.csv`, `ubuntu.csv`: release, EOL,
//! LTS / ELTS, server / ESM / legacy dates) and debian-security-support (source packages whose
//! security support ended early per release, or is limited).

use std::collections::BTreeMap;
use std::path::Path;

use time::Date;

use super::endoflife::cycle_matches;
use super::{parse_date, problem, read_text, ReleaseError};
use crate::model::{Location, Problem, ProblemKind};

/// Which distribution a distro-info row is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distro {
    /// `debian.csv`.
    Debian,
    /// `ubuntu.csv`.
    Ubuntu,
}

/// A support level of a distribution release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SupportLevel {
    /// Regular security support (`eol`).
    Standard,
    /// Debian LTS (`eol-lts`); Ubuntu server support of old LTS releases (`eol-server`).
    Lts,
    /// Debian ELTS (`eol-elts`, commercial); Ubuntu ESM (`eol-esm`, Ubuntu Pro).
    Extended,
    /// Ubuntu legacy support add-on (`eol-legacy`).
    Legacy,
}

/// One row of `debian.csv` / `ubuntu.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroRelease {
    /// Which distribution.
    pub distro: Distro,
    /// `12`, `22.04` (` LTS` removed); `None` for sid and experimental.
    pub version: Option<String>,
    /// Ubuntu LTS (the version said ` LTS`).
    pub lts: bool,
    /// `Bookworm`, `Jammy Jellyfish`.
    pub codename: String,
    /// `bookworm`, `jammy`.
    pub series: String,
    /// `created`.
    pub created: Option<Date>,
    /// `release`.
    pub release: Option<Date>,
    /// `eol`.
    pub eol: Option<Date>,
    /// Debian `eol-lts`.
    pub eol_lts: Option<Date>,
    /// Debian `eol-elts`.
    pub eol_elts: Option<Date>,
    /// Ubuntu `eol-server`.
    pub eol_server: Option<Date>,
    /// Ubuntu `eol-esm`.
    pub eol_esm: Option<Date>,
    /// Ubuntu `eol-legacy`.
    pub eol_legacy: Option<Date>,
}

impl DistroRelease {
    /// The end of support at `level`; a level the release lacks falls back to the next lower
    /// one (a Debian release without ELTS ends its extended support with LTS, or `eol`).
    pub fn support_end(&self, level: SupportLevel) -> Option<Date> {
        let (lts, ext) = match self.distro {
            Distro::Debian => (self.eol_lts, self.eol_elts),
            Distro::Ubuntu => (self.eol_server, self.eol_esm),
        };
        let chain = [self.eol, lts, ext, self.eol_legacy];
        let idx = match level {
            SupportLevel::Standard => 0,
            SupportLevel::Lts => 1,
            SupportLevel::Extended => 2,
            SupportLevel::Legacy => 3,
        };
        chain[..=idx].iter().rev().find_map(|d| *d)
    }

    /// Whether the release is out (its `release` date is on or before `as_of`) and still
    /// supported at `level` on `as_of` (no end date yet, or `as_of` before it).
    pub fn is_supported(&self, as_of: Date, level: SupportLevel) -> bool {
        self.release.is_some_and(|r| r <= as_of)
            && self.support_end(level).is_none_or(|end| as_of < end)
    }

    /// Whether `key` names this release: version (`12`, `22.04`, or a point release `12.5`),
    /// series (`bookworm`) or codename (`Bookworm`, `Jammy Jellyfish`), case-insensitive.
    pub fn is_named(&self, key: &str) -> bool {
        let k = key.trim();
        self.series.eq_ignore_ascii_case(k)
            || self.codename.eq_ignore_ascii_case(k)
            || self
                .codename
                .split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
            || self.version.as_deref().is_some_and(|v| cycle_matches(v, k))
    }
}

/// A source package whose security support ended before its release's EOL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportEnded {
    /// The source package name as written; may be a pattern (`php-horde.*`).
    pub package: String,
    /// The last version with support (`0` = none).
    pub last_version: String,
    /// When support ended or will end.
    pub end_date: Option<Date>,
    /// Details or a URL.
    pub details: Option<String>,
}

/// A source package whose security support is limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportLimited {
    /// The source package name as written; may be a pattern (`golang.*`).
    pub package: String,
    /// Details or a URL.
    pub details: Option<String>,
}

/// Distribution lifecycles: distro-info-data and debian-security-support.
#[derive(Debug, Clone, Default)]
pub struct DistroLifecycles {
    releases: Vec<DistroRelease>,
    /// Debian major → packages whose support ended early.
    ended: BTreeMap<u32, Vec<SupportEnded>>,
    limited: Vec<SupportLimited>,
}

impl DistroLifecycles {
    /// Load `<dir>/distro-info-data/{debian,ubuntu}.csv` and
    /// `<dir>/debian-security-support/security-support-{ended.debN,limited}`. Missing files are
    /// [`ProblemKind::Skipped`] problems; fails only when `dir` is not a directory.
    pub fn load(dir: &Path) -> Result<(Self, Vec<Problem>), ReleaseError> {
        if !dir.is_dir() {
            return Err(ReleaseError::Missing {
                path: dir.to_path_buf(),
                what: "a directory with distro-info-data/ and debian-security-support/".to_owned(),
            });
        }
        Self::load_parts(
            Some(&dir.join("distro-info-data")),
            Some(&dir.join("debian-security-support")),
        )
    }

    /// Load a distro-info-data folder (`debian.csv`, `ubuntu.csv`) and a debian-security-support
    /// folder (`security-support-ended.debN`, `security-support-limited`), each as its feed
    /// holds it; either may be absent. Missing files are [`ProblemKind::Skipped`] problems.
    pub fn load_parts(
        distro_info: Option<&Path>,
        security_support: Option<&Path>,
    ) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let mut problems = Vec::new();
        let mut out = Self::default();
        if let Some(dir) = distro_info {
            out.load_distro_info(dir, &mut problems);
        }
        if let Some(dss) = security_support {
            out.load_security_support(dss, &mut problems)?;
        }
        Ok((out, problems))
    }

    fn load_distro_info(&mut self, dir: &Path, problems: &mut Vec<Problem>) {
        for (distro, file) in [
            (Distro::Debian, "debian.csv"),
            (Distro::Ubuntu, "ubuntu.csv"),
        ] {
            let path = dir.join(file);
            match read_text(&path) {
                Ok(t) => self
                    .releases
                    .extend(parse_distro_csv(&t, distro, &path, problems)),
                Err(e) => problems.push(problem(&path, ProblemKind::Skipped, e.to_string())),
            }
        }
    }

    fn load_security_support(
        &mut self,
        dss: &Path,
        problems: &mut Vec<Problem>,
    ) -> Result<(), ReleaseError> {
        let out = self;
        if dss.is_dir() {
            for e in fs_err::read_dir(dss)? {
                let p = e?.path();
                let Some(fname) = p.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(major) = fname
                    .strip_prefix("security-support-ended.deb")
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                match read_text(&p) {
                    Ok(t) => {
                        out.ended.insert(major, parse_ended(&t, &p, problems));
                    }
                    Err(e) => problems.push(problem(&p, ProblemKind::Unreadable, e.to_string())),
                }
            }
            let lp = dss.join("security-support-limited");
            match read_text(&lp) {
                Ok(t) => out.limited = parse_limited(&t),
                Err(e) => problems.push(problem(&lp, ProblemKind::Skipped, e.to_string())),
            }
        } else {
            problems.push(problem(
                dss,
                ProblemKind::Skipped,
                "directory missing; no security-support lists",
            ));
        }
        Ok(())
    }

    /// Every release of both distributions, in file order (oldest first).
    pub fn releases(&self) -> &[DistroRelease] {
        &self.releases
    }

    /// A Debian release by version, series or codename (`12`, `12.5`, `bookworm`).
    pub fn debian(&self, key: &str) -> Option<&DistroRelease> {
        self.find(Distro::Debian, key)
    }

    /// An Ubuntu release by version, series or codename (`22.04`, `jammy`).
    pub fn ubuntu(&self, key: &str) -> Option<&DistroRelease> {
        self.find(Distro::Ubuntu, key)
    }

    fn find(&self, distro: Distro, key: &str) -> Option<&DistroRelease> {
        self.releases
            .iter()
            .filter(|r| r.distro == distro && r.is_named(key))
            .max_by_key(|r| r.version.as_ref().map_or(0, String::len))
    }

    /// The entry saying a source package's security support ended early in Debian `major`.
    pub fn support_ended(&self, major: u32, source_package: &str) -> Option<&SupportEnded> {
        self.ended
            .get(&major)?
            .iter()
            .find(|e| pattern_matches(&e.package, source_package))
    }

    /// All early-ended entries for Debian `major`.
    pub fn support_ended_list(&self, major: u32) -> &[SupportEnded] {
        self.ended.get(&major).map_or(&[], Vec::as_slice)
    }

    /// The entry saying a source package's security support is limited.
    pub fn support_limited(&self, source_package: &str) -> Option<&SupportLimited> {
        self.limited
            .iter()
            .find(|e| pattern_matches(&e.package, source_package))
    }
}

/// Package names in debian-security-support are matched as anchored patterns where `.*` is any
/// text and `.` any one character; other characters are literal. Never panics.
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'.', b'*', rest @ ..] => (0..=n.len()).any(|i| go(rest, &n[i..])),
            [b'.', rest @ ..] => !n.is_empty() && go(rest, &n[1..]),
            [c, rest @ ..] => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    // Bound the backtracking: patterns in the lists are short.
    pattern.len() <= 256 && name.len() <= 256 && go(pattern.as_bytes(), name.as_bytes())
}

fn parse_distro_csv(
    text: &str,
    distro: Distro,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<DistroRelease> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        problems.push(problem(path, ProblemKind::Malformed, "empty file"));
        return Vec::new();
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let idx = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(iv), Some(ic), Some(is)) = (idx("version"), idx("codename"), idx("series")) else {
        problems.push(Problem::new(
            Location::path(path.display().to_string()).at_line(1),
            ProblemKind::Malformed,
            format!("expected a header with version,codename,series,…; found `{header}`"),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: Option<usize>| c.and_then(|c| f.get(c)).copied().filter(|s| !s.is_empty());
        let mut date = |name: &str| -> Option<Date> {
            let s = get(idx(name))?;
            let d = parse_date(s);
            if d.is_none() {
                problems.push(Problem::new(
                    Location::path(path.display().to_string())
                        .at_line(i + 1)
                        .field(name),
                    ProblemKind::Malformed,
                    format!("expected a YYYY-MM-DD date, found `{s}`"),
                ));
            }
            d
        };
        let (Some(codename), Some(series)) = (get(Some(ic)), get(Some(is))) else {
            problems.push(Problem::new(
                Location::path(path.display().to_string()).at_line(i + 1),
                ProblemKind::Malformed,
                "row without codename or series; skipped",
            ));
            continue;
        };
        let raw_version = get(Some(iv));
        let lts = raw_version.is_some_and(|v| v.ends_with(" LTS"));
        out.push(DistroRelease {
            distro,
            version: raw_version.map(|v| v.trim_end_matches(" LTS").trim().to_owned()),
            lts,
            codename: codename.to_owned(),
            series: series.to_owned(),
            created: date("created"),
            release: date("release"),
            eol: date("eol"),
            eol_lts: date("eol-lts"),
            eol_elts: date("eol-elts"),
            eol_server: date("eol-server"),
            eol_esm: date("eol-esm"),
            eol_legacy: date("eol-legacy"),
        });
    }
    out
}

fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// `details` = the rest of the line after `n` whitespace-separated columns.
fn split_columns(line: &str, n: usize) -> (Vec<&str>, Option<String>) {
    let mut cols = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while cols.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        cols.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    let details = Some(rest.trim().to_owned()).filter(|s| !s.is_empty());
    (cols, details)
}

fn parse_ended(text: &str, path: &Path, problems: &mut Vec<Problem>) -> Vec<SupportEnded> {
    let mut out = Vec::new();
    for (line_no, line) in content_lines(text) {
        let (cols, details) = split_columns(line, 3);
        if cols.len() < 2 {
            problems.push(Problem::new(
                Location::path(path.display().to_string()).at_line(line_no),
                ProblemKind::Malformed,
                format!("expected `package version date [details]`, found `{line}`"),
            ));
            continue;
        }
        out.push(SupportEnded {
            package: cols[0].to_owned(),
            last_version: cols[1].to_owned(),
            end_date: cols.get(2).and_then(|d| parse_date(d)),
            details,
        });
    }
    out
}

fn parse_limited(text: &str) -> Vec<SupportLimited> {
    content_lines(text)
        .map(|(_, line)| {
            let (cols, details) = split_columns(line, 1);
            SupportLimited {
                package: cols.first().copied().unwrap_or_default().to_owned(),
                details,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::test_data::shared;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn distro_info() {
        let (d, problems) = DistroLifecycles::load(&shared("debian-lifecycle")).unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
        let b = d.debian("bookworm").unwrap();
        assert_eq!(b.version.as_deref(), Some("12"));
        assert_eq!(d.debian("12").unwrap().series, "bookworm");
        assert_eq!(d.debian("12.5").unwrap().series, "bookworm");
        assert_eq!(d.debian("Bookworm").unwrap().series, "bookworm");
        assert!(b.is_supported(date!(2026 - 01 - 01), SupportLevel::Standard));
        assert!(b.eol_lts.is_some());
        let eol = b.support_end(SupportLevel::Standard).unwrap();
        assert!(!b.is_supported(eol, SupportLevel::Standard));
        assert!(b.is_supported(eol, SupportLevel::Lts));
        assert!(d
            .debian("forky")
            .is_some_and(|r| !r.is_supported(date!(2026 - 08 - 21), SupportLevel::Standard)));
        let j = d.ubuntu("jammy").unwrap();
        assert_eq!(j.version.as_deref(), Some("22.04"));
        assert!(j.lts);
        assert_eq!(d.ubuntu("22.04").unwrap().series, "jammy");
        assert_eq!(d.ubuntu("Jammy Jellyfish").unwrap().series, "jammy");
        assert!(j.eol_esm.is_some());
        assert!(j.is_supported(date!(2026 - 08 - 21), SupportLevel::Standard));
        assert!(!d.ubuntu("25.04").unwrap().lts);
        let r = d.ubuntu("26.04").unwrap();
        assert_eq!(r.eol_legacy, Some(date!(2038 - 04 - 27)));
        assert_eq!(
            r.support_end(SupportLevel::Legacy),
            Some(date!(2038 - 04 - 27))
        );
        // Fallback: a level the release lacks ends with the next lower one.
        let plucky = d.ubuntu("plucky").unwrap();
        assert_eq!(plucky.support_end(SupportLevel::Extended), plucky.eol);
    }

    #[test]
    fn security_support_lists() {
        let (d, _) = DistroLifecycles::load(&shared("debian-lifecycle")).unwrap();
        let e = d.support_ended(12, "wpewebkit").unwrap();
        assert_eq!(e.last_version, "2.38.6-1");
        assert_eq!(e.end_date, Some(date!(2023 - 05 - 09)));
        assert_eq!(
            e.details.as_deref(),
            Some("https://bugs.debian.org/1035794")
        );
        let h = d.support_ended(12, "php-horde-imp").unwrap();
        assert_eq!(h.package, "php-horde.*");
        assert!(d.support_ended(12, "bash").is_none());
        assert!(!d.support_ended_list(9).is_empty());
        let g = d.support_limited("golang-1.19").unwrap();
        assert_eq!(g.package, "golang.*");
        assert!(d.support_limited("binutils").is_some());
        assert!(d.support_limited("nova").is_none());
    }

    proptest! {
        #[test]
        fn pattern_never_panics(p in "[a-z.*]{0,12}", n in "[a-z]{0,12}") {
            let _ = pattern_matches(&p, &n);
        }
    }
}
