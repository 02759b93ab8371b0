//! Upstream API data read at run time from the data directory (`<data>/openstack-api`, see its
//! `SOURCE.txt`) and the series chronology (`openstack-releases/data/series_status.yaml`):
//! service-type normalisation and the series an endpoint's maximum microversion (or version id)
//! implies.
//!
//! Which source wins: the maximum declared by each series' **code** at its final ref
//! (`max-per-series-code.tsv`, `version-ids-per-series-code.tsv`) decides, because that is what a
//! running endpoint serves. The history documents (`max-per-series.tsv`, `first_series` of
//! `microversions.tsv`) are written by hand and disagree with the code in places upstream knows
//! of (placement 1.30 and 1.39, ironic 1.88, barbican 1.1); they are quoted as evidence only.
//! ironic's `release_mappings.py` (`ironic-release-mapping.tsv`) names the ironic release that
//! first declared the maximum, also as evidence.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::releases::SeriesStatus;

/// Errors loading the data directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiDataError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 = the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn read(path: &Path) -> Result<String, ApiDataError> {
    fs_err::read_to_string(path).map_err(|source| ApiDataError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A microversion or minor version id `MAJOR.MINOR`, ordered numerically (2.10 > 2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ApiVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl ApiVersion {
    /// `2.104`, `v3.14`, `V2.0`; `None` for anything else (`latest`, empty, `v1`).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s
            .strip_prefix('v')
            .or_else(|| s.strip_prefix('V'))
            .unwrap_or(s);
        let (a, b) = s.split_once('.')?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 9 && x.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return None;
        }
        Some(Self {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for ApiVersion {
    fn schema_name() -> String {
        "ApiVersion".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            string: Some(Box::new(schemars::schema::StringValidation {
                pattern: Some(r"^[0-9]+\.[0-9]+$".into()),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a version: `{s}`")))
    }
}

/// One series of `series_status.yaml`.
#[derive(Debug, Clone)]
pub(crate) struct SeriesInfo {
    /// Codename, lowercase.
    pub name: String,
    /// Lifecycle status.
    pub status: SeriesStatus,
    /// Chronological index (oldest = 0).
    pub ordinal: usize,
    /// A SLURP release (upgrades may skip the next series).
    pub slurp: bool,
}

/// What the series of an endpoint is, from its maximum version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct SeriesEvidence {
    /// The series whose code can serve exactly this maximum, oldest first (several when the
    /// maximum did not move between series; empty when it cannot be told).
    pub candidates: Vec<String>,
    /// The newest candidate: what findings judge (an endpoint is never called older than it may be).
    pub series: Option<String>,
    /// How: `code-max` (equal to a series' final code maximum), `between-releases` (a
    /// development snapshot of the next series), `development` (newer than every released
    /// series, within master), `newer-than-data`, `no-data`.
    pub basis: String,
    /// Evidence lines: file, row and what it says.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone)]
struct CodeMax {
    series: String,
    max: ApiVersion,
    reference: String,
    source: String,
}

/// The loaded data.
#[derive(Debug)]
pub(crate) struct ApiData {
    /// alias or official type -> official type.
    type_of: HashMap<String, String>,
    /// official type -> project.
    project_of: HashMap<String, String>,
    /// project -> per-series code maxima (microversions), in series order.
    code_max: HashMap<String, Vec<CodeMax>>,
    /// project -> per-series code maxima of version ids (keystone, glance, octavia).
    id_max: HashMap<String, Vec<CodeMax>>,
    /// project -> highest microversion at HEAD (master).
    head_max: HashMap<String, ApiVersion>,
    /// (project, series) -> upstream statement.
    stated: HashMap<(String, String), String>,
    /// (project, series) -> the maximum upstream's history document states.
    stated_max: HashMap<(String, String), ApiVersion>,
    /// ironic API version -> ironic releases (with named series) declaring it.
    ironic: BTreeMap<ApiVersion, Vec<String>>,
    series: Vec<SeriesInfo>,
}

#[derive(Deserialize)]
struct ServiceTypes {
    services: Vec<ServiceTypeEntry>,
    reverse: HashMap<String, String>,
}

#[derive(Deserialize)]
struct ServiceTypeEntry {
    project: String,
    service_type: String,
}

#[derive(Deserialize)]
struct RawSeries {
    name: String,
    status: String,
    #[serde(default)]
    slurp: Option<serde_yaml::Value>,
}

/// Rows of a TSV with a header, as maps column -> value; a row with the wrong number of
/// fields is an error naming its line.
/// A TSV row: its 1-based line and column -> value.
type Row = (usize, HashMap<String, String>);

fn tsv(path: &Path) -> Result<Vec<Row>, ApiDataError> {
    let text = read(path)?;
    let mut lines = text.lines().enumerate();
    let Some((_, head)) = lines.next() else {
        return Err(ApiDataError::Malformed {
            path: path.to_owned(),
            line: 1,
            message: "empty file: expected a header line".into(),
        });
    };
    let cols: Vec<&str> = head.split('\t').collect();
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != cols.len() {
            return Err(ApiDataError::Malformed {
                path: path.to_owned(),
                line: i + 1,
                message: format!("{} fields, the header has {}", fields.len(), cols.len()),
            });
        }
        rows.push((
            i + 1,
            cols.iter()
                .zip(fields)
                .map(|(c, f)| ((*c).to_owned(), f.to_owned()))
                .collect(),
        ));
    }
    Ok(rows)
}

fn field<'a>(
    path: &Path,
    line: usize,
    row: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, ApiDataError> {
    row.get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiDataError::Malformed {
            path: path.to_owned(),
            line,
            message: format!("no column `{name}`"),
        })
}

fn version_field(
    path: &Path,
    line: usize,
    row: &HashMap<String, String>,
    name: &str,
) -> Result<ApiVersion, ApiDataError> {
    let v = field(path, line, row, name)?;
    ApiVersion::parse(v).ok_or_else(|| ApiDataError::Malformed {
        path: path.to_owned(),
        line,
        message: format!("`{name}` is `{v}`, expected MAJOR.MINOR"),
    })
}

impl ApiData {
    /// Load `api_dir` (the `openstack-api` folder) and `series_status` (openstack/releases'
    /// `data/series_status.yaml`).
    pub(crate) fn load(api_dir: &Path, series_status: &Path) -> Result<Self, ApiDataError> {
        let st_path = api_dir.join("service-types/service-types.json");
        let st: ServiceTypes =
            serde_json::from_str(&read(&st_path)?).map_err(|e| ApiDataError::Malformed {
                path: st_path.clone(),
                line: e.line(),
                message: e.to_string(),
            })?;
        let mut type_of = HashMap::new();
        let mut project_of = HashMap::new();
        for s in &st.services {
            type_of.insert(s.service_type.clone(), s.service_type.clone());
            project_of.insert(s.service_type.clone(), s.project.clone());
        }
        for (alias, official) in st.reverse {
            type_of.entry(alias).or_insert(official);
        }

        let ss_text = read(series_status)?;
        let raw: Vec<RawSeries> =
            serde_yaml::from_str(&ss_text).map_err(|e| ApiDataError::Malformed {
                path: series_status.to_owned(),
                line: e.location().map_or(0, |l| l.line()),
                message: e.to_string(),
            })?;
        // series_status.yaml lists the newest first.
        let mut series = Vec::new();
        for (i, r) in raw.into_iter().rev().enumerate() {
            let status = r
                .status
                .parse::<SeriesStatus>()
                .map_err(|m| ApiDataError::Malformed {
                    path: series_status.to_owned(),
                    line: 0,
                    message: format!("series {}: {m}", r.name),
                })?;
            // `slurp: yes` (YAML 1.1 spelling) and `slurp: true` alike.
            let slurp = match &r.slurp {
                Some(serde_yaml::Value::Bool(b)) => *b,
                Some(serde_yaml::Value::String(s)) => {
                    matches!(s.to_ascii_lowercase().as_str(), "yes" | "true" | "on" | "y")
                }
                _ => false,
            };
            series.push(SeriesInfo {
                name: r.name.to_ascii_lowercase(),
                status,
                ordinal: i,
                slurp,
            });
        }
        let ordinal: HashMap<String, usize> =
            series.iter().map(|s| (s.name.clone(), s.ordinal)).collect();

        let load_max =
            |file: &str, col: &str| -> Result<HashMap<String, Vec<CodeMax>>, ApiDataError> {
                let path = api_dir.join(file);
                let mut out: HashMap<String, Vec<CodeMax>> = HashMap::new();
                for (line, row) in tsv(&path)? {
                    let s = field(&path, line, &row, "series")?;
                    if s == "master" {
                        continue;
                    }
                    out.entry(field(&path, line, &row, "project")?.to_owned())
                        .or_default()
                        .push(CodeMax {
                            series: s.to_owned(),
                            max: version_field(&path, line, &row, col)?,
                            reference: field(&path, line, &row, "ref")?.to_owned(),
                            source: format!("{file}:{line}"),
                        });
                }
                for v in out.values_mut() {
                    v.sort_by_key(|c| ordinal.get(&c.series).copied().unwrap_or(usize::MAX));
                }
                Ok(out)
            };
        let code_max = load_max("max-per-series-code.tsv", "max_microversion")?;
        let id_max = load_max("version-ids-per-series-code.tsv", "max_version_id")?;

        let mut head_max: HashMap<String, ApiVersion> = HashMap::new();
        let mv = api_dir.join("microversions.tsv");
        for (line, row) in tsv(&mv)? {
            let p = field(&mv, line, &row, "project")?.to_owned();
            let v = version_field(&mv, line, &row, "microversion")?;
            let e = head_max.entry(p).or_insert(v);
            if v > *e {
                *e = v;
            }
        }
        let mut stated = HashMap::new();
        let mut stated_max = HashMap::new();
        let mps = api_dir.join("max-per-series.tsv");
        for (line, row) in tsv(&mps)? {
            if let Some(v) = ApiVersion::parse(field(&mps, line, &row, "max_microversion")?) {
                stated_max.insert(
                    (
                        field(&mps, line, &row, "project")?.to_owned(),
                        field(&mps, line, &row, "series")?.to_owned(),
                    ),
                    v,
                );
            }
            stated.insert(
                (
                    field(&mps, line, &row, "project")?.to_owned(),
                    field(&mps, line, &row, "series")?.to_owned(),
                ),
                format!(
                    "max-per-series.tsv:{line}: upstream states \"{}\" ({})",
                    field(&mps, line, &row, "upstream_text")?,
                    field(&mps, line, &row, "source_file")?
                ),
            );
        }
        let mut ironic: BTreeMap<ApiVersion, Vec<String>> = BTreeMap::new();
        let irm = api_dir.join("ironic-release-mapping.tsv");
        for (line, row) in tsv(&irm)? {
            let Some(api) = ApiVersion::parse(field(&irm, line, &row, "api")?) else {
                continue;
            };
            let rel = field(&irm, line, &row, "ironic_release")?;
            let named = field(&irm, line, &row, "named_releases")?;
            ironic.entry(api).or_default().push(if named == "-" {
                format!("ironic {rel}")
            } else {
                format!("ironic {rel} ({named})")
            });
        }
        Ok(Self {
            type_of,
            project_of,
            code_max,
            id_max,
            head_max,
            stated,
            stated_max,
            ironic,
            series,
        })
    }

    /// The official service type of a catalog type (`volumev3` → `block-storage`); `None` when
    /// the registry does not know it.
    pub(crate) fn service_type(&self, catalog_type: &str) -> Option<&str> {
        self.type_of
            .get(&catalog_type.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The project serving an official service type (`compute` → `nova`).
    pub(crate) fn project(&self, service_type: &str) -> Option<&str> {
        self.project_of.get(service_type).map(String::as_str)
    }

    /// Series, oldest first.
    pub(crate) fn series(&self) -> &[SeriesInfo] {
        &self.series
    }

    /// A series by name.
    pub(crate) fn series_named(&self, name: &str) -> Option<&SeriesInfo> {
        self.series
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// n: the newest maintained series.
    pub(crate) fn n(&self) -> Option<&SeriesInfo> {
        self.series
            .iter()
            .rev()
            .find(|s| s.status == SeriesStatus::Maintained)
    }

    /// Each series' maximum of `project` as its code declares it at the series' final ref (what
    /// a running endpoint serves), microversions and version ids, oldest series first; where
    /// upstream's history document states another maximum, that is quoted and the code wins.
    pub(crate) fn maxima(&self, project: &str) -> Vec<crate::model::controlplane::SeriesMaximum> {
        use crate::model::controlplane::{SeriesMaximum, VersionKind};
        let mut out = Vec::new();
        for (table, kind) in [
            (&self.code_max, VersionKind::Microversion),
            (&self.id_max, VersionKind::VersionId),
        ] {
            for r in table.get(project).into_iter().flatten() {
                let key = (project.to_owned(), r.series.clone());
                let disagreement = match self.stated_max.get(&key) {
                    Some(v) if *v != r.max => Some(format!(
                        "{}; the {} code ({}) declares {}: the code wins, it is what a running endpoint serves",
                        self.stated.get(&key).map_or("", String::as_str),
                        r.series,
                        r.reference,
                        r.max
                    )),
                    _ => None,
                };
                out.push(SeriesMaximum {
                    project: project.to_owned(),
                    series: r.series.clone(),
                    kind,
                    value: r.max.to_string(),
                    source: format!("{} ({})", r.source, r.reference),
                    disagreement,
                });
            }
        }
        out
    }

    /// Whether `project` has per-series data for microversions (`micro`) or version ids.
    pub(crate) fn has_data(&self, project: &str, micro: bool) -> bool {
        if micro {
            self.code_max.contains_key(project)
        } else {
            self.id_max.contains_key(project)
        }
    }

    /// The series `max` implies for `project`: `micro` for a microversion, else a version id
    /// (keystone v3.14, glance v2.18, octavia v2.30).
    pub(crate) fn implied_series(
        &self,
        project: &str,
        max: ApiVersion,
        micro: bool,
    ) -> SeriesEvidence {
        let (table, file) = if micro {
            (self.code_max.get(project), "max-per-series-code.tsv")
        } else {
            (self.id_max.get(project), "version-ids-per-series-code.tsv")
        };
        let Some(rows) = table else {
            return SeriesEvidence {
                candidates: Vec::new(),
                series: None,
                basis: "no-data".into(),
                evidence: vec![format!(
                    "{file} has no rows for {project}: its version does not tell the series"
                )],
            };
        };
        let rows: Vec<&CodeMax> = rows.iter().filter(|r| r.max.major == max.major).collect();
        let mut evidence = Vec::new();
        let exact: Vec<&CodeMax> = rows.iter().copied().filter(|r| r.max == max).collect();
        let (candidates, basis): (Vec<String>, &str) = if !exact.is_empty() {
            for r in &exact {
                evidence.push(format!(
                    "{}: {project} {} code ({}) declares maximum {}",
                    r.source, r.series, r.reference, r.max
                ));
                if let Some(s) = self.stated.get(&(project.to_owned(), r.series.clone())) {
                    evidence.push(s.clone());
                }
            }
            (exact.iter().map(|r| r.series.clone()).collect(), "code-max")
        } else if let Some(next) = rows.iter().find(|r| r.max > max) {
            // Microversions are never backported: a maximum between two series' final maxima is
            // code of the later series taken before its release.
            if let Some(prev) = rows.iter().rev().find(|r| r.max < max) {
                evidence.push(format!(
                    "{}: {project} {} code declares {} (< {max})",
                    prev.source, prev.series, prev.max
                ));
            }
            evidence.push(format!(
                "{}: {project} {} code ({}) declares {} (> {max}): a pre-release of {}",
                next.source, next.series, next.reference, next.max, next.series
            ));
            (vec![next.series.clone()], "between-releases")
        } else if let Some(last) = rows.last() {
            evidence.push(format!(
                "{}: newest released {project} code, {} ({}), declares {} (< {max})",
                last.source, last.series, last.reference, last.max
            ));
            let dev = self
                .series
                .iter()
                .find(|s| s.status == SeriesStatus::Development);
            let head = if micro {
                self.head_max.get(project).copied()
            } else {
                None
            };
            match (dev, head) {
                (Some(d), Some(h)) if max <= h => {
                    evidence.push(format!(
                        "microversions.tsv: {project} master declares up to {h}; {} is the series in development",
                        d.name
                    ));
                    (vec![d.name.clone()], "development")
                }
                (Some(d), None) if !micro => {
                    evidence.push(format!("{} is the series in development", d.name));
                    (vec![d.name.clone()], "development")
                }
                _ => {
                    evidence.push(format!(
                        "{max} is newer than every version in the data: sync it again"
                    ));
                    (Vec::new(), "newer-than-data")
                }
            }
        } else {
            evidence.push(format!(
                "{file}: no {project} series declares a {}.x maximum",
                max.major
            ));
            (Vec::new(), "no-data")
        };
        if micro && project == "ironic" {
            if let Some(rels) = self.ironic.get(&max) {
                evidence.push(format!(
                    "ironic-release-mapping.tsv: API {max} is that of {}",
                    rels.join(", ")
                ));
            }
        }
        SeriesEvidence {
            series: candidates.last().cloned(),
            candidates,
            basis: basis.into(),
            evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Option<(PathBuf, PathBuf)> {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        Some((
            d.join("openstack-api"),
            d.join("openstack-releases/data/series_status.yaml"),
        ))
        .filter(|(a, _)| a.is_dir())
    }

    #[test]
    fn versions_parse_and_order_numerically() {
        let a = ApiVersion::parse("2.9").unwrap();
        let b = ApiVersion::parse("v2.10").unwrap();
        assert!(a < b);
        assert_eq!(ApiVersion::parse("latest"), None);
        assert_eq!(ApiVersion::parse("v1"), None);
        assert_eq!(ApiVersion::parse("1.99999999999"), None);
    }

    #[test]
    fn series_from_the_shared_data() {
        let (api, ss) = shared().expect("../shared/data");
        let d = ApiData::load(&api, &ss).unwrap();
        assert_eq!(d.service_type("volumev3"), Some("block-storage"));
        assert_eq!(d.service_type("compute"), Some("compute"));
        assert_eq!(d.project("block-storage"), Some("cinder"));
        // Every code row: its own maximum implies (at least) its own series.
        for (project, rows) in &d.code_max {
            for r in rows {
                let e = d.implied_series(project, r.max, true);
                assert_eq!(e.basis, "code-max", "{project} {}", r.max);
                assert!(
                    e.candidates.contains(&r.series),
                    "{project} {} {e:?}",
                    r.max
                );
            }
        }
        for (project, rows) in &d.id_max {
            for r in rows {
                let e = d.implied_series(project, r.max, false);
                assert!(
                    e.candidates.contains(&r.series),
                    "{project} {} {e:?}",
                    r.max
                );
            }
        }
    }
}
