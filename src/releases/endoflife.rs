//! Lifecycles of third-party components and distributions.
//!
//! Three sources, each loaded on its own:
//! - [`Lifecycles`]: endoflife.date — `products/<product>.md` (YAML front matter between `---`
//!   lines; its `releases:` list of cycles with `releaseCycle`, `releaseDate`, `eol`, `eoas`,
//!   `eoes`, `lts`, `latest`, `latestReleaseDate`, `codename`) and
//!   `release-data/releases/<product>.json` (every patch version and its date). `eol`, `eoas`,
//!   `eoes` and `lts` may be a date or a boolean ([`Support`]). Scalars are read as written, so
//!   `releaseCycle: 3.10` stays `3.10`.
//! - [`DistroLifecycles`] (in `releases::distro`, re-exported here): Debian's distro-info-data (`debian.csv`, `ubuntu.csv`: release,
//!   EOL, LTS / ELTS, server / ESM / legacy dates) and debian-security-support (source packages
//!   whose security support ended early per release, or is limited).
//!
//! Dates compare as whole days: on its `eol` date a cycle counts as end of life.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Date;

use super::{parse_date, problem, read_text, ReleaseError};
use crate::model::{Location, Problem, ProblemKind};

/// An endoflife.date support field: a boolean (`eol: false` = still supported) or the date
/// it ends (or, for `lts`, starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
pub enum Support {
    /// `true` / `false`.
    Bool(bool),
    /// A `YYYY-MM-DD` date.
    Date(Date),
}

impl Support {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(Self::Bool(true)),
            "false" | "no" => Some(Self::Bool(false)),
            _ => parse_date(s).map(Self::Date),
        }
    }

    /// Whether the moment this marks has come by `as_of` (`true`, or a date on or before it).
    pub fn reached(self, as_of: Date) -> bool {
        match self {
            Self::Bool(b) => b,
            Self::Date(d) => as_of >= d,
        }
    }

    /// The date, when this is one.
    pub fn date(self) -> Option<Date> {
        match self {
            Self::Date(d) => Some(d),
            Self::Bool(_) => None,
        }
    }
}

/// One release cycle of a product (`15` of postgresql, `10.11` of mariadb, `22.04` of ubuntu).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Cycle {
    /// `releaseCycle`, as written.
    pub name: String,
    /// `codename`.
    pub codename: Option<String>,
    /// `releaseDate`.
    pub release_date: Option<Date>,
    /// `eol`: end of (security) support.
    pub eol: Option<Support>,
    /// `eoas`: end of active support (bug fixes).
    pub eoas: Option<Support>,
    /// `eoes`: end of extended (often commercial) support.
    pub eoes: Option<Support>,
    /// `lts`: whether (or since when) this is a long-term-support cycle.
    pub lts: Option<Support>,
    /// `latest`: the newest version in the cycle.
    pub latest: Option<String>,
    /// `latestReleaseDate`.
    pub latest_release_date: Option<Date>,
}

impl Cycle {
    /// Whether the cycle is end of life on `as_of`: `eol: true`, or an `eol` date on or before
    /// `as_of`. `eol: false` or no `eol` → not end of life.
    pub fn is_eol(&self, as_of: Date) -> bool {
        self.eol.is_some_and(|s| s.reached(as_of))
    }

    /// The `eol` date, when it is a date.
    pub fn eol_date(&self) -> Option<Date> {
        self.eol.and_then(Support::date)
    }

    /// Whether active support has ended on `as_of` (`None` when the product gives no `eoas`).
    pub fn is_active_support_over(&self, as_of: Date) -> Option<bool> {
        self.eoas.map(|s| s.reached(as_of))
    }

    /// Whether extended support has ended on `as_of` (`None` when there is no `eoes`).
    pub fn is_extended_support_over(&self, as_of: Date) -> Option<bool> {
        self.eoes.map(|s| s.reached(as_of))
    }

    /// Whether this is an LTS cycle on `as_of` (`lts: true`, or an `lts` date reached).
    pub fn is_lts(&self, as_of: Date) -> bool {
        self.lts.is_some_and(|s| s.reached(as_of))
    }
}

/// One endoflife.date product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Product {
    /// The file stem (`postgresql`).
    pub name: String,
    /// `title` (`PostgreSQL`).
    pub title: Option<String>,
    /// `category`.
    pub category: Option<String>,
    /// Package URLs naming the product (`identifiers: - purl: …`), without version or
    /// qualifiers: `pkg:deb/debian/mariadb`, `pkg:rpm/redhat/mariadb-server`.
    pub purls: Vec<String>,
    /// Repology project names (`identifiers: - repology: openssl`): the name distributions
    /// package the product under (as source package), for products without a purl for them.
    #[serde(default)]
    pub repology: Vec<String>,
    /// The cycles, newest first as upstream lists them. From the front matter; from the
    /// release-data JSON only when there is no product file.
    pub cycles: Vec<Cycle>,
    /// Every known version and its release date (release-data JSON).
    pub versions: BTreeMap<String, Option<Date>>,
    /// The product file, or the JSON when there is none.
    pub path: PathBuf,
}

impl Product {
    /// The cycle a version belongs to: the longest cycle name that equals the version or is a
    /// prefix of it ending at a `.`, `-`, `+`, `~` or `_` (postgresql `15.4` → `15`, mariadb
    /// `10.11.6` → `10.11`, ubuntu `22.04.3` → `22.04`). A leading `v` is ignored.
    pub fn cycle_for(&self, version: &str) -> Option<&Cycle> {
        let v = version.trim();
        let v = v
            .strip_prefix(['v', 'V'])
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(v);
        self.cycles
            .iter()
            .filter(|c| cycle_matches(&c.name, v))
            .max_by_key(|c| c.name.len())
    }

    /// A cycle by its exact name.
    pub fn cycle(&self, name: &str) -> Option<&Cycle> {
        self.cycles.iter().find(|c| c.name == name)
    }

    /// The release date of one version (release-data JSON).
    pub fn version_date(&self, version: &str) -> Option<Date> {
        self.versions.get(version).copied().flatten()
    }
}

pub(super) fn cycle_matches(cycle: &str, version: &str) -> bool {
    if cycle.is_empty() {
        return false;
    }
    match version.strip_prefix(cycle) {
        Some("") => true,
        // A letter right after a numeric cycle is a patch letter (OpenSSL `1.1.1w`).
        Some(rest) => {
            rest.starts_with(['.', '-', '+', '~', '_', ' '])
                || (cycle.ends_with(|c: char| c.is_ascii_digit())
                    && rest.len() <= 2
                    && rest.bytes().all(|b| b.is_ascii_lowercase()))
        }
        None => false,
    }
}

/// The endoflife.date products.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct Lifecycles {
    products: BTreeMap<String, Product>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawFrontMatter {
    title: Option<String>,
    category: Option<String>,
    identifiers: Vec<BTreeMap<String, serde_yaml::Value>>,
    releases: Vec<RawCycle>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawCycle {
    release_cycle: Option<String>,
    codename: Option<String>,
    release_date: Option<String>,
    eol: Option<String>,
    eoas: Option<String>,
    eoes: Option<String>,
    lts: Option<String>,
    latest: Option<String>,
    latest_release_date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawReleaseData {
    releases: BTreeMap<String, RawRdCycle>,
    versions: BTreeMap<String, RawRdVersion>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawRdCycle {
    name: Option<String>,
    codename: Option<String>,
    release_date: Option<String>,
    eol: serde_json::Value,
    eoas: serde_json::Value,
    eoes: serde_json::Value,
    lts: serde_json::Value,
    latest: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRdVersion {
    date: Option<String>,
}

/// The YAML between the first two `---` lines of a Markdown file, with the line number (1-based)
/// where it starts. `None` when the file does not start with a `---` line or it is not closed.
/// Never panics.
pub(crate) fn front_matter(text: &str) -> Option<(&str, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    if first.trim_end() != "---" {
        return None;
    }
    let start = first.len();
    let mut pos = start;
    for line in lines {
        if line.trim_end() == "---" {
            return Some((&text[start..pos], 2));
        }
        pos += line.len();
    }
    None
}

impl Lifecycles {
    /// [`Self::load`] through the release-data cache `cache`
    /// ([`crate::sources::cache::cached`]); `None` parses.
    pub fn load_cached(
        dir: &Path,
        cache: Option<crate::sources::cache::CacheDir<'_>>,
    ) -> Result<(Self, Vec<Problem>), ReleaseError> {
        crate::sources::cache::cached(cache, "endoflife", &[dir.to_path_buf()], || Self::load(dir))
    }

    /// Load an endoflife.date checkout: `products/*.md` and `release-data/releases/*.json`
    /// (either may be absent, not both). A malformed file is a [`Problem`] naming it; loading
    /// continues.
    pub fn load(dir: &Path) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let products_dir = dir.join("products");
        let data_dir = dir.join("release-data/releases");
        if !products_dir.is_dir() && !data_dir.is_dir() {
            return Err(ReleaseError::Missing {
                path: products_dir,
                what: "endoflife.date products/*.md (or release-data/releases/*.json)".to_owned(),
            });
        }
        let mut problems = Vec::new();
        let mut products = BTreeMap::new();
        for file in list_files(&products_dir, "md", &mut problems)? {
            if let Some(p) = load_product(&file, &mut problems) {
                products.insert(p.name.clone(), p);
            }
        }
        for file in list_files(&data_dir, "json", &mut problems)? {
            load_release_data(&file, &mut products, &mut problems);
        }
        Ok((Self { products }, problems))
    }

    /// A product by name (the file stem, case-insensitive).
    pub fn product(&self, name: &str) -> Option<&Product> {
        self.products
            .get(name)
            .or_else(|| self.products.get(&name.to_ascii_lowercase()))
    }

    /// All products, by name.
    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    /// The cycle of `version` in `product` ([`Product::cycle_for`]).
    pub fn cycle_for(&self, product: &str, version: &str) -> Option<&Cycle> {
        self.product(product)?.cycle_for(version)
    }

    /// Whether the cycle of `version` in `product` is end of life on `as_of`; `None` when the
    /// product or cycle is unknown.
    pub fn is_eol(&self, product: &str, version: &str, as_of: Date) -> Option<bool> {
        Some(self.cycle_for(product, version)?.is_eol(as_of))
    }

    /// The `eol` date of the cycle of `version` in `product`, when it is a date.
    pub fn eol_date(&self, product: &str, version: &str) -> Option<Date> {
        self.cycle_for(product, version)?.eol_date()
    }
}

/// Sorted files with extension `ext` in `dir`; an absent directory gives none.
fn list_files(
    dir: &Path,
    ext: &str,
    problems: &mut Vec<Problem>,
) -> Result<Vec<PathBuf>, ReleaseError> {
    if !dir.is_dir() {
        problems.push(problem(
            dir,
            ProblemKind::Skipped,
            format!("directory missing; no *.{ext} read"),
        ));
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|e| e == ext) && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn stem(file: &Path) -> Option<String> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_ascii_lowercase)
}

fn load_product(file: &Path, problems: &mut Vec<Problem>) -> Option<Product> {
    let name = stem(file)?;
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(file, ProblemKind::Unreadable, e.to_string()));
            return None;
        }
    };
    let Some((yaml, first_line)) = front_matter(&text) else {
        problems.push(problem(
            file,
            ProblemKind::Malformed,
            "expected YAML front matter between a first `---` line and a closing `---` line; skipped",
        ));
        return None;
    };
    if let Some(line) = crate::util::yaml::too_deep(yaml) {
        problems.push(Problem::new(
            Location::path(file.display().to_string()).at_line(line + first_line - 1),
            ProblemKind::Malformed,
            format!(
                "front matter is not a product definition; skipped: {}",
                crate::util::yaml::nesting_message()
            ),
        ));
        return None;
    }
    let raw: RawFrontMatter = match serde_yaml::from_str(yaml) {
        Ok(r) => r,
        Err(e) => {
            let mut loc = Location::path(file.display().to_string());
            if let Some(l) = e.location() {
                loc = loc.at_line(l.line() + first_line - 1);
            }
            problems.push(Problem::new(
                loc,
                ProblemKind::Malformed,
                format!("front matter is not a product definition; skipped: {e}"),
            ));
            return None;
        }
    };
    let mut cycles = Vec::with_capacity(raw.releases.len());
    for (i, r) in raw.releases.into_iter().enumerate() {
        let Some(cycle_name) = r
            .release_cycle
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        else {
            problems.push(Problem::new(
                Location::path(file.display().to_string())
                    .field(format!("releases[{i}].releaseCycle")),
                ProblemKind::Malformed,
                "cycle without releaseCycle; skipped",
            ));
            continue;
        };
        let mut field = |key: &str, v: Option<String>, support: bool| -> Option<Support> {
            let v = v?;
            let parsed = if support {
                Support::parse(&v)
            } else {
                parse_date(&v).map(Support::Date)
            };
            if parsed.is_none() {
                problems.push(Problem::new(
                    Location::path(file.display().to_string())
                        .field(format!("releases[{i}].{key}")),
                    ProblemKind::Malformed,
                    format!(
                        "cycle {cycle_name}: expected {}, found `{v}`; ignored",
                        if support {
                            "a date or true/false"
                        } else {
                            "a date"
                        }
                    ),
                ));
            }
            parsed
        };
        let release_date = field("releaseDate", r.release_date, false).and_then(Support::date);
        let eol = field("eol", r.eol, true);
        let eoas = field("eoas", r.eoas, true);
        let eoes = field("eoes", r.eoes, true);
        let lts = field("lts", r.lts, true);
        let latest_release_date =
            field("latestReleaseDate", r.latest_release_date, false).and_then(Support::date);
        cycles.push(Cycle {
            name: cycle_name,
            codename: r.codename,
            release_date,
            eol,
            eoas,
            eoes,
            lts,
            latest: r.latest,
            latest_release_date,
        });
    }
    let purls = raw
        .identifiers
        .iter()
        .filter_map(|m| {
            m.get("purl")
                .and_then(serde_yaml::Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let repology = raw
        .identifiers
        .iter()
        .filter_map(|m| {
            m.get("repology")
                .and_then(serde_yaml::Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    Some(Product {
        name,
        title: raw.title,
        category: raw.category,
        purls,
        repology,
        cycles,
        versions: BTreeMap::new(),
        path: file.to_path_buf(),
    })
}

fn json_support(v: &serde_json::Value) -> Option<Support> {
    match v {
        serde_json::Value::Bool(b) => Some(Support::Bool(*b)),
        serde_json::Value::String(s) => Support::parse(s),
        _ => None,
    }
}

fn load_release_data(
    file: &Path,
    products: &mut BTreeMap<String, Product>,
    problems: &mut Vec<Problem>,
) {
    let Some(name) = stem(file) else { return };
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(file, ProblemKind::Unreadable, e.to_string()));
            return;
        }
    };
    let raw: RawReleaseData = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem::new(
                Location::path(file.display().to_string()).at_line(e.line()),
                ProblemKind::Malformed,
                format!("expected {{\"releases\": {{…}}, \"versions\": {{…}}}}; skipped: {e}"),
            ));
            return;
        }
    };
    let versions: BTreeMap<String, Option<Date>> = raw
        .versions
        .into_iter()
        .map(|(v, r)| (v, r.date.as_deref().and_then(parse_date)))
        .collect();
    let product = products.entry(name.clone()).or_insert_with(|| {
        let mut cycles: Vec<Cycle> = raw
            .releases
            .into_iter()
            .map(|(key, c)| Cycle {
                name: c.name.unwrap_or(key),
                codename: c.codename,
                release_date: c.release_date.as_deref().and_then(parse_date),
                eol: json_support(&c.eol),
                eoas: json_support(&c.eoas),
                eoes: json_support(&c.eoes),
                lts: json_support(&c.lts),
                latest: c.latest,
                latest_release_date: None,
            })
            .collect();
        cycles.sort_by_key(|c| std::cmp::Reverse(c.release_date));
        Product {
            name,
            title: None,
            category: None,
            purls: Vec::new(),
            repology: Vec::new(),
            cycles,
            versions: BTreeMap::new(),
            path: file.to_path_buf(),
        }
    });
    product.versions = versions;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::distro::pattern_matches;
    use crate::releases::test_data::{fixture, shared};
    use proptest::prelude::*;
    use std::sync::OnceLock;
    use time::macros::date;

    #[test]
    fn cached_lifecycles_equal_parsed() {
        let cache = tempfile::tempdir().unwrap();
        let dir = shared("endoflife-date");
        let parsed = Lifecycles::load(&dir).unwrap();
        for _ in 0..2 {
            let c = Lifecycles::load_cached(&dir, Some(cache.path().into())).unwrap();
            assert_eq!(
                serde_json::to_value(&c).unwrap(),
                serde_json::to_value(&parsed).unwrap()
            );
        }
    }

    fn eol() -> &'static Lifecycles {
        static L: OnceLock<Lifecycles> = OnceLock::new();
        L.get_or_init(|| {
            let (l, problems) = Lifecycles::load(&shared("endoflife-date")).unwrap();
            // Real data: only a few odd values (e.g. `lts: "ESR staging period"`).
            assert!(problems.len() < 20, "{problems:#?}");
            l
        })
    }

    #[test]
    fn loads_products() {
        let l = eol();
        assert!(l.products().count() >= 464);
        // A product with release data only (no cycles upstream, only versions).
        let rh = l.product("redhat").unwrap();
        assert!(rh.path.ends_with("redhat.json"));
        assert!(rh.version_date("9.3").is_some());
    }

    #[test]
    fn openssl_patch_letters_stay_in_their_cycle() {
        let l = eol();
        let p = l.product("openssl").unwrap();
        assert!(p.purls.is_empty());
        assert_eq!(p.repology, ["openssl"]);
        assert_eq!(l.cycle_for("openssl", "1.1.1w").unwrap().name, "1.1.1");
        assert_eq!(l.cycle_for("openssl", "1.1.1").unwrap().name, "1.1.1");
        assert_eq!(l.cycle_for("openssl", "1.0.2u").unwrap().name, "1.0.2");
        assert_eq!(l.cycle_for("openssl", "3.0.19").unwrap().name, "3.0");
        // Not a patch letter: a longer word, or after a non-digit.
        assert!(!cycle_matches("1.1.1", "1.1.10"));
        assert!(!cycle_matches("1.1.1", "1.1.1beta"));
        assert!(!cycle_matches("jammy", "jammyx"));
    }

    #[test]
    fn postgresql() {
        let l = eol();
        let c = l.cycle_for("postgresql", "15.4").unwrap();
        assert_eq!(c.name, "15");
        assert_eq!(c.eol_date(), Some(date!(2027 - 11 - 11)));
        assert!(!c.is_eol(date!(2026 - 08 - 21)));
        assert!(c.is_eol(date!(2027 - 11 - 11)));
        let c13 = l.cycle_for("postgresql", "13.23").unwrap();
        assert!(c13.is_eol(date!(2026 - 08 - 21)));
        assert_eq!(
            l.is_eol("postgresql", "12.1", date!(2024 - 11 - 20)),
            Some(false)
        );
        assert_eq!(
            l.is_eol("postgresql", "12.1", date!(2024 - 11 - 21)),
            Some(true)
        );
        let p = l.product("PostgreSQL").unwrap();
        assert_eq!(p.title.as_deref(), Some("PostgreSQL"));
        assert!(p.version_date("15.4").is_some());
    }

    #[test]
    fn mariadb_rabbitmq_python() {
        let l = eol();
        let m = l.cycle_for("mariadb", "10.11.6").unwrap();
        assert_eq!(m.name, "10.11");
        assert_eq!(m.eol_date(), Some(date!(2028 - 02 - 16)));
        assert!(m.is_lts(date!(2026 - 08 - 21)));
        let m106 = l.cycle_for("mariadb", "10.6.12").unwrap();
        assert_eq!(m106.name, "10.6");
        assert!(m106.is_eol(date!(2026 - 08 - 21)));
        assert!(!m106.is_eol(date!(2026 - 07 - 05)));
        assert_eq!(
            l.cycle_for("mariadb", "11.4.2").unwrap().eol_date(),
            Some(date!(2029 - 05 - 29))
        );

        let r = l.cycle_for("rabbitmq", "3.13.1").unwrap();
        assert_eq!(r.name, "3.13");
        assert!(r.is_eol(date!(2026 - 08 - 21)));
        assert_eq!(r.eoes.and_then(Support::date), Some(date!(2027 - 12 - 30)));
        assert_eq!(
            r.is_extended_support_over(date!(2026 - 08 - 21)),
            Some(false)
        );
        // 4.1 and 4.2 community support ended 2026-01-30 and 2026-07-31 (domain notes §6.1).
        assert_eq!(l.eol_date("rabbitmq", "4.1.3"), Some(date!(2026 - 01 - 30)));
        assert_eq!(l.eol_date("rabbitmq", "4.2.8"), Some(date!(2026 - 07 - 31)));
        assert_eq!(
            l.is_eol("rabbitmq", "4.2.8", date!(2026 - 08 - 21)),
            Some(true)
        );

        let p = l.cycle_for("python", "3.11.2").unwrap();
        assert_eq!(p.name, "3.11");
        assert!(p.eoas.is_some());
        assert!(!p.is_eol(date!(2026 - 08 - 21)));
        assert_eq!(p.is_active_support_over(date!(2026 - 08 - 21)), Some(true));
        assert_eq!(l.cycle_for("python", "3.1.5").unwrap().name, "3.1");
        assert_eq!(l.cycle_for("python", "3.10.4").unwrap().name, "3.10");
        assert!(l.cycle_for("python", "3.99.0").is_none());
        assert!(l.cycle_for("no-such-product", "1").is_none());
    }

    #[test]
    fn debian_ubuntu_products() {
        let l = eol();
        let d = l.cycle_for("debian", "12").unwrap();
        assert_eq!(d.name, "12");
        assert_eq!(d.codename.as_deref(), Some("Bookworm"));
        assert_eq!(d.eol_date(), Some(date!(2026 - 07 - 11)));
        assert!(d.is_eol(date!(2026 - 08 - 21)));
        assert!(!d.is_eol(date!(2026 - 07 - 10)));
        assert_eq!(l.cycle_for("debian", "12.5").unwrap().name, "12");
        let u = l.cycle_for("ubuntu", "22.04").unwrap();
        assert_eq!(u.name, "22.04");
        assert!(u.is_lts(date!(2026 - 08 - 21)));
        assert_eq!(l.cycle_for("ubuntu", "22.04.3").unwrap().name, "22.04");
        let u26 = l.cycle_for("ubuntu", "26.04").unwrap();
        assert_eq!(u26.eol_date(), Some(date!(2031 - 04 - 30)));
        assert!(!u26.is_eol(date!(2026 - 08 - 21)));
    }

    #[test]
    fn bool_eol() {
        let l = eol();
        // memcached 1.6 is live with `eol: false` (domain notes §6.2).
        let m = l.cycle_for("memcached", "1.6.21").unwrap();
        assert_eq!(m.eol, Some(Support::Bool(false)));
        assert!(!m.is_eol(date!(2099 - 01 - 01)));
        assert_eq!(m.eol_date(), None);
    }

    #[test]
    fn malformed_products_are_problems() {
        let (l, problems) = Lifecycles::load(&fixture("endoflife")).unwrap();
        let msgs: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("nofront.md")),
            "{msgs:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("badyaml.md") && p.location.line.is_some()),
            "{msgs:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("badjson.json")),
            "{msgs:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.field.as_deref() == Some("releases[1].eol")),
            "{msgs:#?}"
        );
        let w = l.product("widget").unwrap();
        assert_eq!(w.cycles.len(), 3);
        // `releaseCycle: 1.10` unquoted stays 1.10.
        assert_eq!(l.cycle_for("widget", "1.10.2").unwrap().name, "1.10");
        assert_eq!(l.cycle_for("widget", "1.1.9").unwrap().name, "1.1");
        assert!(l.is_eol("widget", "1.1.9", date!(2000 - 01 - 01)).unwrap());
        // The bad eol value is ignored, the cycle kept.
        assert_eq!(l.cycle_for("widget", "1.10").unwrap().eol, None);
    }

    #[test]
    fn front_matter_cases() {
        assert_eq!(front_matter("---\na: 1\n---\nbody"), Some(("a: 1\n", 2)));
        assert_eq!(
            front_matter("---\r\na: 1\r\n---\r\n"),
            Some(("a: 1\r\n", 2))
        );
        assert_eq!(front_matter("---\n---\n"), Some(("", 2)));
        assert_eq!(front_matter("a: 1\n---\n"), None);
        assert_eq!(front_matter("---\na: 1\n"), None);
        assert_eq!(front_matter(""), None);
        assert!(pattern_matches("php-horde.*", "php-horde"));
        assert!(pattern_matches("a.c", "abc"));
        assert!(!pattern_matches("a.c", "ac"));
        assert!(!pattern_matches("bash", "bash2"));
    }

    proptest! {
        #[test]
        fn front_matter_never_panics(s in "\\PC{0,200}") {
            let _ = front_matter(&s);
        }

        #[test]
        fn front_matter_structured_never_panics(
            body in "[-a-zA-Z0-9:\" \n.]{0,120}",
            close in proptest::bool::ANY,
        ) {
            let text = format!("---\n{body}{}", if close { "\n---\n# body" } else { "" });
            if let Some((yaml, _)) = front_matter(&text) {
                prop_assert!(text.contains(yaml));
                let _ = serde_yaml::from_str::<RawFrontMatter>(yaml);
            }
        }

    }
}
