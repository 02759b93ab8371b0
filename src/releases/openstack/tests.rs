use super::*;
use crate::model::{Problem, ProblemKind};
use crate::releases::test_data::{fixture, shared};
use std::sync::OnceLock;

fn catalog() -> &'static (OpenStackCatalog, Vec<Problem>) {
    static CAT: OnceLock<(OpenStackCatalog, Vec<Problem>)> = OnceLock::new();
    CAT.get_or_init(|| {
        OpenStackCatalog::load(&shared("openstack-releases")).expect("load openstack-releases")
    })
}

/// Through the release-data cache: what is read back equals what was parsed, lookups by
/// (series, deliverable) and by PyPI name included.
/// Every (artifact, version) of every deliverable file of every series maps back to that
/// file's series and deliverable. Names and versions that upstream lists in more than one
/// file are listed (the lookup gives the oldest; `lookup_all` gives them all), never guessed.
#[test]
fn every_release_of_every_series_maps_to_its_own_file() {
    let (cat, _) = catalog();
    let (mut checked, mut ambiguous) = (0usize, Vec::new());
    for d in cat.deliverables() {
        for rel in d.releases.iter().filter(|r| r.tag.version().is_some()) {
            for (repo, _) in &rel.projects {
                let name = d.artifact_name(rel, repo);
                let all = cat.lookup_all(&name, &rel.version);
                checked += 1;
                assert!(
                    all.iter()
                        .any(|m| m.series == d.series && m.deliverable == d.name && m.exact),
                    "{name} {} (deliverables/{}/{}.yaml) maps to {all:?}",
                    rel.version,
                    d.series,
                    d.name
                );
                if all.len() > 1 {
                    ambiguous.push(format!(
                        "{name} {}: {}",
                        rel.version,
                        all.iter()
                            .map(|m| format!("{}/{}", m.series, m.deliverable))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let first = cat.lookup(&name, &rel.version).unwrap();
                assert!(all.iter().any(|m| m.series == first.series));
            }
        }
    }
    ambiguous.sort();
    ambiguous.dedup();
    eprintln!(
        "{checked} (artifact, version) pairs; {} in more than one file:\n{}",
        ambiguous.len(),
        ambiguous.join("\n")
    );
    assert!(checked > 24_000, "{checked}");
    // The known ambiguities (22 in the snapshot) are releases listed in two files of
    // mitaka … queens (sahara's plugins in ocata, dashboards re-listed a series later).
    assert!(ambiguous.len() < 40, "{ambiguous:#?}");
}

#[test]
fn cached_catalog_equals_parsed() {
    let cache = tempfile::tempdir().unwrap();
    let (parsed, problems) = catalog();
    let dir = shared("openstack-releases");
    for _ in 0..2 {
        let (c, p) = OpenStackCatalog::load_cached(&dir, Some(cache.path().into())).unwrap();
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::to_value(parsed).unwrap()
        );
        assert_eq!(&p, problems);
        assert_eq!(c.by_key, parsed.by_key);
        let nova = c.deliverable("nova", "2024.1").expect("nova in 2024.1");
        assert!(nova.releases.iter().any(|r| r.version == "29.0.0"));
        assert_eq!(
            c.lookup("nova", "29.0.0").map(|m| m.series),
            Some("caracal".to_owned())
        );
    }
    assert_eq!(
        fs_err::read_dir(cache.path().join("catalogs"))
            .unwrap()
            .count(),
        1
    );
}

fn cat() -> &'static OpenStackCatalog {
    &catalog().0
}

#[test]
fn snapshot_loads_with_few_problems() {
    let (c, problems) = catalog();
    assert!(c.deliverables().len() > 6000, "{}", c.deliverables().len());
    // The real data has a handful of non-PEP 440 tags at most; nothing else.
    for p in problems {
        assert_eq!(p.kind, ProblemKind::VersionUnparseable, "{p}");
    }
    assert!(problems.len() < 10, "{problems:?}");
    let oldest = &c.series()[0];
    assert_eq!(oldest.ordinal, 0);
    for w in c.series().windows(2) {
        assert!(w[0].initial_release <= w[1].initial_release);
        assert_eq!(w[0].ordinal + 1, w[1].ordinal);
    }
}

#[test]
fn n_and_slurp() {
    let c = cat();
    let n = c.n().unwrap();
    assert_eq!(n.name, "gazpacho");
    assert_eq!(n.release_id.as_deref(), Some("2026.1"));
    assert!(n.slurp);
    assert_eq!(n.branch().as_deref(), Some("stable/2026.1"));
    assert_eq!(c.n_minus(0).unwrap().name, "gazpacho");
    assert_eq!(c.n_minus(1).unwrap().name, "flamingo");
    assert!(!c.n_minus(1).unwrap().slurp);
    assert_eq!(c.n_minus(2).unwrap().name, "epoxy");
    assert_eq!(c.previous_slurp("gazpacho").unwrap().name, "epoxy");
    assert_eq!(
        c.previous_slurp("2026.1").unwrap().release_id.as_deref(),
        Some("2025.1")
    );
    assert_eq!(c.previous_slurp("epoxy").unwrap().name, "caracal");
    assert!(c.n_minus(10_000).is_none());
    let hib = c.series_named("hibiscus").unwrap();
    assert_eq!(hib.status, SeriesStatus::Development);
    assert_eq!(hib.branch().as_deref(), Some("master"));
    let caracal = c.series_named("2024.1").unwrap();
    assert_eq!(caracal.name, "caracal");
    assert_eq!(caracal.status, SeriesStatus::Unmaintained);
    assert_eq!(caracal.branch().as_deref(), Some("unmaintained/2024.1"));
    let np = caracal.next_phase.as_ref().unwrap();
    assert_eq!(np.status, SeriesStatus::EndOfLife);
    assert_eq!(np.date, None);
    let dal = c.series_named("dalmatian").unwrap();
    assert_eq!(dal.eol_date, Some(time::macros::date!(2026 - 04 - 29)));
    assert_eq!(c.series_named("zed").unwrap().id(), "zed");
    assert_eq!(
        c.series_named("indri").unwrap().status,
        SeriesStatus::Future
    );
    assert_eq!(
        c.series_named("independent").unwrap().status,
        SeriesStatus::Development
    );
}

#[test]
fn exact_lookup() {
    let c = cat();
    let m = c.lookup("nova", "29.0.0").unwrap();
    assert_eq!(
        (m.series.as_str(), m.deliverable.as_str(), m.exact),
        ("caracal", "nova", true)
    );
    assert_eq!(m.kind, DeliverableType::Service);
    assert_eq!(m.repo, "openstack/nova");
    assert_eq!(m.based_on, None);
    // PEP 440 equality: 29.0 == 29.0.0.
    assert_eq!(c.lookup("nova", "29.0").unwrap().series, "caracal");
    assert_eq!(c.lookup("Nova", "29.0.0.0rc1").unwrap().series, "caracal");
    // Horizon (cycle-with-intermediary): majors do not identify the series.
    for (v, s) in [
        ("25.0.0", "dalmatian"),
        ("25.2.0", "epoxy"),
        ("25.3.0", "epoxy"),
        ("25.4.0", "flamingo"),
        ("25.5.0", "flamingo"),
        ("25.6.0", "gazpacho"),
        ("25.7.0", "gazpacho"),
    ] {
        assert_eq!(c.lookup("horizon", v).unwrap().series, s, "horizon {v}");
    }
    // Ironic 27.x, 28.x and 29.x all in epoxy; swift 2.35 epoxy, 2.36 flamingo.
    for v in ["27.0.0", "28.0.0", "29.0.0"] {
        assert_eq!(c.lookup("ironic", v).unwrap().series, "epoxy", "ironic {v}");
    }
    assert_eq!(c.lookup("swift", "2.35.0").unwrap().series, "epoxy");
    assert_eq!(c.lookup("swift", "2.36.0").unwrap().series, "flamingo");
    // Names: PEP 503, pypi-name and the `openstack-` prefix.
    assert_eq!(
        c.lookup("oslo_messaging", "17.3.0").unwrap().deliverable,
        "oslo.messaging"
    );
    assert_eq!(
        c.lookup("openstack-heat", "26.0.1").unwrap().series,
        "gazpacho"
    );
    assert_eq!(
        c.lookup("openstack-placement", "15.0.0").unwrap().series,
        "gazpacho"
    );
    // Not a release.
    assert!(c.lookup("nova", "29.0.99").is_none());
    assert!(c.lookup("no-such-thing", "1.0.0").is_none());
    assert!(c.lookup("nova", "not a version").is_none());
    // Markers are not versions.
    assert!(c.lookup("nova", "2024.1-eom").is_none());
}

#[test]
fn site_packages_fixture_versions_all_map_to_their_series() {
    // The shared fixture holds the services at the last release of their series.
    let list = crate::releases::read_text(&shared(
        "fixtures/python/openstack-site-packages/2026.1-gazpacho/expected-installed.txt",
    ))
    .unwrap();
    for (name, series) in [
        ("nova", "gazpacho"),
        ("neutron", "gazpacho"),
        ("keystone", "gazpacho"),
        ("horizon", "gazpacho"),
        ("ironic", "gazpacho"),
        ("swift", "gazpacho"),
    ] {
        let line = list
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}==")))
            .unwrap();
        let v = line.split("==").nth(1).unwrap();
        let m = c_lookup(name, v);
        assert_eq!(m.series, series, "{line}");
        assert!(m.exact);
    }
}

fn c_lookup(name: &str, v: &str) -> Match {
    cat()
        .lookup(name, v)
        .unwrap_or_else(|| panic!("{name} {v} not found"))
}

#[test]
fn dev_builds() {
    let c = cat();
    let m = c.lookup("nova", "31.0.1.dev12").unwrap();
    assert_eq!(m.series, "epoxy");
    assert!(!m.exact);
    assert_eq!(m.based_on.as_deref(), Some("31.0.0"));
    assert_eq!(m.version, "31.0.0");
    assert_eq!(m.commits_after, Some(12));
    let m = c.lookup("nova", "31.1.1.dev9").unwrap();
    assert_eq!(m.based_on.as_deref(), Some("31.1.0"));
    assert_eq!(m.series, "epoxy");
    // A dev build before any release has no base.
    assert!(c.lookup("nova", "0.0.1.dev1").is_none());
}

#[test]
fn effective_status_from_markers() {
    let c = cat();
    let o = c.effective_status("octavia", "yoga").unwrap();
    assert_eq!(o.status, SeriesStatus::EndOfLife);
    assert_eq!(o.marker, Some(MarkerKind::Eol));
    let n = c.effective_status("nova", "yoga").unwrap();
    assert_eq!(n.status, SeriesStatus::Unmaintained);
    assert_eq!(n.marker, Some(MarkerKind::Eom));
    let n = c.effective_status("nova", "dalmatian").unwrap();
    assert_eq!(n.status, SeriesStatus::EndOfLife);
    let n = c.effective_status("nova", "gazpacho").unwrap();
    assert_eq!((n.status, n.marker), (SeriesStatus::Maintained, None));
    let n = c.effective_status("nova", "2024.1").unwrap();
    assert_eq!(n.status, SeriesStatus::Unmaintained);
    assert!(c.effective_status("nova", "no-such-series").is_none());
    assert!(c.effective_status("no-such-deliverable", "yoga").is_none());
}

#[test]
fn latest_and_dates() {
    let c = cat();
    let latest = c.latest_in_series("nova", "caracal").unwrap();
    assert_eq!(latest.version, "29.4.0");
    let d = latest.date().unwrap();
    assert!(d >= time::macros::date!(2024 - 04 - 03), "{d}");
    assert_eq!(c.release_date("nova", "caracal", "29.4.0"), Some(d));
    // The dalmatian deliverable ends with a marker; latest skips it and rc tags.
    let l = c.latest_in_series("nova", "dalmatian").unwrap();
    assert!(l.version.starts_with("30."), "{}", l.version);
    assert_eq!(c.days_behind("nova", "caracal", "29.4.0", d), Some(0));
    let behind = c
        .days_behind(
            "nova",
            "caracal",
            "29.0.0",
            time::macros::date!(2026 - 08 - 21),
        )
        .unwrap();
    assert!(behind > 700, "{behind}");
}

#[test]
fn release_id_is_text_not_float() {
    let dir = fixture("yaml-quirks");
    let (c, problems) = OpenStackCatalog::load(&dir).unwrap();
    let s = c
        .series_named("2030.10")
        .expect("release-id kept as written");
    assert_eq!(s.name, "zzz");
    assert!(s.slurp, "slurp: true");
    assert!(c.series_named("yyy").unwrap().slurp, "slurp: yes");
    assert!(!c.series_named("xxx").unwrap().slurp);
    assert_eq!(c.n().unwrap().name, "zzz");
    assert_eq!(c.previous_slurp("zzz").unwrap().name, "yyy");
    // `version: 2.10` unquoted stays 2.10.
    let m = c.lookup("widget", "2.10").unwrap();
    assert_eq!(m.version, "2.10");
    assert_eq!(m.series, "zzz");
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn malformed_files_are_problems_and_loading_continues() {
    let dir = fixture("malformed");
    let (c, problems) = OpenStackCatalog::load(&dir).unwrap();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.location.path.ends_with("broken.yaml") && p.kind == ProblemKind::Malformed),
        "{text:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.location.path.ends_with("badversion.yaml")
                && p.kind == ProblemKind::VersionUnparseable),
        "{text:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.location.path.ends_with("notamap.yaml")),
        "{text:#?}"
    );
    assert!(
        problems.iter().any(|p| p.location.path.ends_with("orphan")),
        "series dir without status entry: {text:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.location.field.as_deref() == Some("[0].status")),
        "{text:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.location.path.ends_with("release-dates.csv")),
        "{text:#?}"
    );
    // The good file still loads.
    assert_eq!(c.lookup("good", "1.0.0").unwrap().series, "aaa");
    assert_eq!(c.lookup("good", "1.0.0").unwrap().deliverable, "good");
    // The version next to a bad one still loads.
    assert!(c.lookup("badversion", "2.0.0").is_some());
}

#[test]
fn missing_series_status_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = OpenStackCatalog::load(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("series_status.yaml"), "{err}");
    fs_err::create_dir_all(tmp.path().join("data")).unwrap();
    fs_err::write(tmp.path().join("data/series_status.yaml"), "{ not: [a list").unwrap();
    let err = OpenStackCatalog::load(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("series_status.yaml"), "{err}");
}

/// Nesting deeper than any release file is refused before the YAML parser sees it (its
/// time grows with the square of the depth): the series list is an error, a deliverable
/// file a problem at its line while the rest loads.
#[test]
fn deeply_nested_release_yaml_is_refused_before_parsing() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = format!("team: x\nreleases: {}\n", "[".repeat(200_000));
    fs_err::create_dir_all(tmp.path().join("data")).unwrap();
    fs_err::write(
        tmp.path().join("data/series_status.yaml"),
        format!("- name: zed\n  status: {}\n", "[".repeat(200_000)),
    )
    .unwrap();
    let err = OpenStackCatalog::load(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("series_status.yaml") && err.contains("line 2"),
        "{err}"
    );
    fs_err::write(
        tmp.path().join("data/series_status.yaml"),
        "- name: zed\n  status: maintained\n  initial-release: 2022-10-05\n",
    )
    .unwrap();
    fs_err::create_dir_all(tmp.path().join("deliverables/zed")).unwrap();
    fs_err::write(tmp.path().join("deliverables/zed/deep.yaml"), deep).unwrap();
    fs_err::write(
        tmp.path().join("deliverables/zed/nova.yaml"),
        "team: nova\ntype: service\nreleases:\n  - version: 26.0.0\n    projects:\n      - repo: openstack/nova\n        hash: abc\n",
    )
    .unwrap();
    let (cat, problems) = OpenStackCatalog::load(tmp.path()).unwrap();
    assert!(cat.lookup("nova", "26.0.0").is_some());
    let p = problems
        .iter()
        .find(|p| p.location.path.ends_with("deep.yaml"))
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert_eq!(p.location.line, Some(2), "{p}");
}

#[test]
fn tag_parsing() {
    assert_eq!(
        Tag::parse("2024.1-eom"),
        Tag::Marker {
            series: "2024.1".into(),
            kind: MarkerKind::Eom
        }
    );
    assert_eq!(
        Tag::parse("yoga-eol"),
        Tag::Marker {
            series: "yoga".into(),
            kind: MarkerKind::Eol
        }
    );
    assert!(matches!(Tag::parse("29.0.0.0rc1"), Tag::Version(_)));
    assert_eq!(Tag::parse("-eol"), Tag::Unparsed);
    assert_eq!(Tag::parse("not-a-version"), Tag::Unparsed);
}
