//! Loading a checkout: the series list, every deliverable file and the release dates, with
//! the raw YAML shapes they are read through.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::{Date, OffsetDateTime};

use super::*;
use crate::model::{Location, Problem, ProblemKind};
use crate::releases::{parse_date, problem, read_text, ReleaseError};

// ---- raw YAML shapes (private; every scalar read as its text) ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawSeries {
    name: Option<String>,
    release_id: Option<String>,
    status: Option<String>,
    slurp: Option<String>,
    initial_release: Option<String>,
    eol_date: Option<String>,
    next_phase: Option<RawNextPhase>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawNextPhase {
    status: Option<String>,
    date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawDeliverable {
    team: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    release_model: Option<String>,
    stable_branch_type: Option<String>,
    repository_settings: BTreeMap<String, Option<RawRepoSettings>>,
    releases: Vec<RawRelease>,
    branches: Vec<RawBranch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawRepoSettings {
    pypi_name: Option<String>,
    tarball_base: Option<String>,
    #[serde(deserialize_with = "string_or_seq")]
    flags: Vec<String>,
}

/// A list of strings, also accepting one string (`flags: -retired` occurs upstream) or null.
fn string_or_seq<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRelease {
    version: Option<String>,
    projects: Vec<RawProject>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawProject {
    repo: Option<String>,
    hash: Option<String>,
    tarball_base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawBranch {
    name: Option<String>,
    location: serde_yaml::Value,
}

/// `yes`/`true`/`on`/`y` (any case) → true; `no`/`false`/`off`/`n` → false.
fn yaml_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "y" => Some(true),
        "no" | "false" | "off" | "n" | "" => Some(false),
        _ => None,
    }
}

impl OpenStackCatalog {
    /// Load a checkout of `openstack/releases` (the directory holding `data/` and
    /// `deliverables/`).
    ///
    /// Fails when `data/series_status.yaml` is missing or not a list of series, or when
    /// `deliverables/` cannot be listed. Every other defect (a malformed deliverable file, an
    /// unparseable version, a bad line in `release-dates.csv`) is returned as a [`Problem`]
    /// naming the file, and loading continues.
    pub fn load(dir: &Path) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let mut problems = Vec::new();
        let series = load_series(&dir.join("data/series_status.yaml"), &mut problems)?;
        let independent = Series {
            name: "independent".to_owned(),
            release_id: None,
            ordinal: usize::MAX,
            status: SeriesStatus::Development,
            slurp: false,
            initial_release: None,
            eol_date: None,
            next_phase: None,
        };
        let dates = load_dates(&dir.join("release-dates.csv"), &mut problems);

        let deliverables_dir = dir.join("deliverables");
        if !deliverables_dir.is_dir() {
            return Err(ReleaseError::Missing {
                path: deliverables_dir,
                what: "the deliverables/<series>/*.yaml tree".to_owned(),
            });
        }
        let mut series_dirs: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs_err::read_dir(&deliverables_dir)? {
            let entry = entry?;
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                problems.push(problem(
                    &path,
                    ProblemKind::Skipped,
                    "series directory name is not UTF-8",
                ));
                continue;
            };
            series_dirs.push((name, path));
        }
        series_dirs.sort();

        let mut cat = Self {
            root: dir.to_path_buf(),
            series,
            independent,
            deliverables: Vec::new(),
            by_key: HashMap::new(),
            by_name: HashMap::new(),
        };

        for (series_name, path) in &series_dirs {
            let ordinal = if series_name == INDEPENDENT_DIR {
                usize::MAX
            } else if let Some(s) = cat.series.iter().find(|s| s.name == *series_name) {
                s.ordinal
            } else {
                problems.push(problem(
                    path,
                    ProblemKind::Skipped,
                    format!(
                        "series directory `{series_name}` has no entry in data/series_status.yaml; its deliverables are skipped"
                    ),
                ));
                continue;
            };
            let mut files: Vec<PathBuf> = Vec::new();
            for entry in fs_err::read_dir(path)? {
                let p = entry?.path();
                if p.extension().is_some_and(|e| e == "yaml" || e == "yml") && p.is_file() {
                    files.push(p);
                }
            }
            files.sort();
            for file in files {
                let Some(d) = load_deliverable(&file, series_name, &dates, &mut problems) else {
                    continue;
                };
                cat.add(d, ordinal);
            }
        }
        for entries in cat.by_name.values_mut() {
            entries.sort_by(|a, b| {
                a.version
                    .cmp(&b.version)
                    .then(a.ordinal.cmp(&b.ordinal))
                    .then(a.deliverable.cmp(&b.deliverable))
            });
        }
        Ok((cat, problems))
    }

    /// [`Self::load`] through the release-data cache `cache`
    /// ([`crate::sources::cache::cached`]): the same catalog and problems, read back from JSON
    /// when no file under `dir` changed. `None` parses.
    pub fn load_cached(
        dir: &Path,
        cache: Option<crate::sources::cache::CacheDir<'_>>,
    ) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let (mut cat, problems): (Self, Vec<Problem>) = crate::sources::cache::cached(
            cache,
            "openstack-releases",
            &[dir.to_path_buf()],
            || Self::load(dir),
        )?;
        if cat.by_key.is_empty() {
            cat.by_key = cat
                .deliverables
                .iter()
                .enumerate()
                .map(|(i, d)| ((d.series.clone(), d.name.clone()), i))
                .collect();
        }
        Ok((cat, problems))
    }

    fn add(&mut self, d: Deliverable, ordinal: usize) {
        let di = self.deliverables.len();
        for (ri, rel) in d.releases.iter().enumerate() {
            let Tag::Version(v) = &rel.tag else { continue };
            for (project_idx, (repo, _)) in rel.projects.iter().enumerate() {
                self.by_name
                    .entry(d.artifact_name(rel, repo))
                    .or_default()
                    .push(IndexEntry {
                        version: v.clone(),
                        deliverable: di,
                        release: ri,
                        repo: project_idx,
                        ordinal,
                    });
            }
        }
        self.by_key.insert((d.series.clone(), d.name.clone()), di);
        self.deliverables.push(d);
    }
}

fn load_series(path: &Path, problems: &mut Vec<Problem>) -> Result<Vec<Series>, ReleaseError> {
    if !path.is_file() {
        return Err(ReleaseError::Missing {
            path: path.to_path_buf(),
            what: "the series list of openstack/releases".to_owned(),
        });
    }
    let text = read_text(path)?;
    // The YAML parser's time grows with the square of the nesting: refuse a deep document first.
    if let Some(line) = crate::util::yaml::too_deep(&text) {
        return Err(ReleaseError::malformed(
            path,
            format!("line {line}: {}", crate::util::yaml::nesting_message()),
        ));
    }
    let raw: Vec<RawSeries> = serde_yaml::from_str(&text).map_err(|e| {
        ReleaseError::malformed(path, format!("expected a YAML list of series: {e}"))
    })?;
    let loc = |i: usize, field: &str| {
        Location::path(path.display().to_string()).field(format!("[{i}].{field}"))
    };
    let mut out: Vec<Series> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let Some(name) = r.name.filter(|n| !n.trim().is_empty()) else {
            problems.push(Problem::new(
                loc(i, "name"),
                ProblemKind::Malformed,
                "series entry without a name; skipped",
            ));
            continue;
        };
        let status = match r.status.as_deref().map(str::parse::<SeriesStatus>) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                problems.push(Problem::new(
                    loc(i, "status"),
                    ProblemKind::Malformed,
                    format!("series `{name}`: {e}; skipped"),
                ));
                continue;
            }
            None => {
                problems.push(Problem::new(
                    loc(i, "status"),
                    ProblemKind::Malformed,
                    format!("series `{name}` has no status; skipped"),
                ));
                continue;
            }
        };
        let slurp = match r.slurp.as_deref().map(yaml_bool) {
            None => false,
            Some(Some(b)) => b,
            Some(None) => {
                problems.push(Problem::new(
                    loc(i, "slurp"),
                    ProblemKind::Malformed,
                    format!(
                        "series `{name}`: expected yes/no or true/false, found `{}`; taken as not SLURP",
                        r.slurp.as_deref().unwrap_or_default()
                    ),
                ));
                false
            }
        };
        let mut date = |field: &str, v: Option<String>| -> Option<Date> {
            let v = v?;
            let d = parse_date(&v);
            if d.is_none() {
                problems.push(Problem::new(
                    loc(i, field),
                    ProblemKind::Malformed,
                    format!("series `{name}`: expected a YYYY-MM-DD date, found `{v}`"),
                ));
            }
            d
        };
        let initial_release = date("initial-release", r.initial_release);
        let eol_date = date("eol-date", r.eol_date);
        let next_phase = match r.next_phase {
            None => None,
            Some(np) => {
                let d = date("next-phase.date", np.date);
                match np.status.as_deref().map(str::parse::<SeriesStatus>) {
                    Some(Ok(status)) => Some(NextPhase { status, date: d }),
                    Some(Err(e)) => {
                        problems.push(Problem::new(
                            loc(i, "next-phase.status"),
                            ProblemKind::Malformed,
                            format!("series `{name}`: {e}"),
                        ));
                        None
                    }
                    None => None,
                }
            }
        };
        out.push(Series {
            name: name.trim().to_ascii_lowercase(),
            release_id: r
                .release_id
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            ordinal: 0,
            status,
            slurp,
            initial_release,
            eol_date,
            next_phase,
        });
    }
    // The file is newest first; order oldest first, then by GA date where every series has one.
    out.reverse();
    if out.iter().all(|s| s.initial_release.is_some()) {
        out.sort_by_key(|s| s.initial_release);
    } else {
        problems.push(problem(
            path,
            ProblemKind::Malformed,
            "some series have no initial-release date; chronology taken from file order (newest first)",
        ));
    }
    for (i, s) in out.iter_mut().enumerate() {
        s.ordinal = i;
    }
    Ok(out)
}

type DateKey = (String, String, String);

fn load_dates(path: &Path, problems: &mut Vec<Problem>) -> HashMap<DateKey, OffsetDateTime> {
    let mut out = HashMap::new();
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(
                path,
                ProblemKind::Skipped,
                format!("release dates unavailable ({e}); releases have no dates"),
            ));
            return out;
        }
    };
    let rfc3339 = time::format_description::well_known::Rfc3339;
    for (i, line) in text.lines().enumerate() {
        if i == 0 && line.starts_with("series,") {
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() < 4 {
            problems.push(Problem::new(
                Location::path(path.display().to_string()).at_line(i + 1),
                ProblemKind::Malformed,
                format!(
                    "expected series,deliverable,version,merged_at[,commit], found {} columns",
                    cols.len()
                ),
            ));
            continue;
        }
        if cols[3].is_empty() {
            continue; // upstream has no date for a few releases
        }
        match OffsetDateTime::parse(cols[3], &rfc3339) {
            Ok(t) => {
                out.insert(
                    (cols[0].to_owned(), cols[1].to_owned(), cols[2].to_owned()),
                    t,
                );
            }
            Err(e) => problems.push(Problem::new(
                Location::path(path.display().to_string())
                    .at_line(i + 1)
                    .field("merged_at"),
                ProblemKind::Malformed,
                format!("expected an RFC 3339 time, found `{}`: {e}", cols[3]),
            )),
        }
    }
    out
}

fn load_deliverable(
    file: &Path,
    series: &str,
    dates: &HashMap<DateKey, OffsetDateTime>,
    problems: &mut Vec<Problem>,
) -> Option<Deliverable> {
    let Some(name) = file.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
        problems.push(problem(
            file,
            ProblemKind::Skipped,
            "file name is not UTF-8",
        ));
        return None;
    };
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(file, ProblemKind::Unreadable, e.to_string()));
            return None;
        }
    };
    if let Some(line) = crate::util::yaml::too_deep(&text) {
        problems.push(Problem::new(
            Location::path(file.display().to_string()).at_line(line),
            ProblemKind::Malformed,
            format!(
                "expected a deliverable file; skipped: {}",
                crate::util::yaml::nesting_message()
            ),
        ));
        return None;
    }
    let raw: RawDeliverable = match serde_yaml::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            let mut loc = Location::path(file.display().to_string());
            if let Some(l) = e.location() {
                loc = loc.at_line(l.line());
            }
            problems.push(Problem::new(
                loc,
                ProblemKind::Malformed,
                format!("expected a deliverable file (YAML mapping); skipped: {e}"),
            ));
            return None;
        }
    };
    let field_loc = |field: String| Location::path(file.display().to_string()).field(field);
    let repos = raw
        .repository_settings
        .into_iter()
        .map(|(repo, s)| {
            let s = s.unwrap_or_default();
            RepoSettings {
                repo,
                pypi_name: s.pypi_name.filter(|p| !p.trim().is_empty()),
                tarball_base: s.tarball_base.filter(|p| !p.trim().is_empty()),
                flags: s.flags,
            }
        })
        .collect();
    let mut releases = Vec::with_capacity(raw.releases.len());
    for (i, r) in raw.releases.into_iter().enumerate() {
        let Some(version) = r
            .version
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        else {
            problems.push(Problem::new(
                field_loc(format!("releases[{i}].version")),
                ProblemKind::Malformed,
                "release without a version; skipped",
            ));
            continue;
        };
        let tag = Tag::parse(&version);
        if tag == Tag::Unparsed {
            problems.push(Problem::new(
                field_loc(format!("releases[{i}].version")),
                ProblemKind::VersionUnparseable,
                format!("`{version}` is neither a PEP 440 version nor a marker tag (<series>-eol|eom|em|last)"),
            ));
        }
        let tarball_bases = r
            .projects
            .iter()
            .filter_map(|p| {
                let base = p.tarball_base.as_deref()?.trim();
                Some((p.repo.clone()?, base.to_owned())).filter(|_| !base.is_empty())
            })
            .collect();
        let projects = r
            .projects
            .into_iter()
            .filter_map(|p| Some((p.repo?, p.hash.unwrap_or_default())))
            .collect();
        let released_at = dates
            .get(&(series.to_owned(), name.clone(), version.clone()))
            .copied();
        releases.push(Release {
            version,
            tag,
            projects,
            tarball_bases,
            released_at,
        });
    }
    let branches = raw
        .branches
        .into_iter()
        .filter_map(|b| {
            let location = match b.location {
                serde_yaml::Value::String(s) => Some(s),
                serde_yaml::Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            Some(Branch {
                name: b.name?,
                location,
            })
        })
        .collect();
    Some(Deliverable {
        series: series.to_owned(),
        name,
        team: raw.team.unwrap_or_default(),
        kind: DeliverableType::parse(raw.kind.as_deref().unwrap_or("")),
        model: raw.release_model.as_deref().map(ReleaseModel::parse),
        stable_branch_type: raw.stable_branch_type,
        repos,
        releases,
        branches,
    })
}
