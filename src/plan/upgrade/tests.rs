//! The upgrade planner's pieces, one by one, on the fixture fleet `three-sites` (par1: kolla
//! 2024.1, lon1: 2024.2, fra1: zed) and the shared `openstack-releases` data.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::model::{
    Action, BatchKind, HopKind, KollaHint, LimitCode, Phase, Reversibility, SitePath, Target,
};
use crate::plan::deployer;
use crate::plan::fleet::NodeView;
use crate::plan::order;
use crate::plan::path::PathError;
use crate::plan::{current_nodes, end_of_day, Context, FileInput, PlanInput};
use crate::releases::openstack::{OpenStackCatalog, Series, SeriesStatus};
use crate::releases::test_data::shared;

use super::rollback_steps::downgrade_hints;
use super::*;

fn cat() -> &'static OpenStackCatalog {
    static CAT: OnceLock<OpenStackCatalog> = OnceLock::new();
    CAT.get_or_init(|| {
        OpenStackCatalog::load(&shared("openstack-releases"))
            .expect("openstack-releases")
            .0
    })
}

fn ctx() -> Context<'static> {
    Context {
        catalog: cat(),
        as_of: time::macros::date!(2026 - 08 - 21),
        generated_at: "2026-08-21T00:00:00Z",
    }
}

fn fleet() -> &'static [NodeView] {
    static FLEET: OnceLock<Vec<NodeView>> = OnceLock::new();
    FLEET.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleets/three-sites");
        let fi = FileInput::load(&[dir]);
        assert!(fi.problems().is_empty(), "{:?}", fi.problems());
        current_nodes(fi.inventories(), Some(&end_of_day(ctx().as_of)), cat())
    })
}

fn site_nodes(site: &str) -> Vec<&'static NodeView> {
    fleet().iter().filter(|n| n.site == site).collect()
}

fn opts(to: &str) -> &'static UpgradeOptions {
    Box::leak(Box::new(UpgradeOptions {
        to: Some(to.to_owned()),
        canary: 1,
        ..UpgradeOptions::default()
    }))
}

/// A site's planner, its series and the steps of its whole path.
fn planned(site: &str, to: &str) -> (SitePlanner<'static>, SitePath) {
    let o = opts(to);
    let nodes = site_nodes(site);
    let mut warnings = Vec::new();
    let (from, to) = site_series(&ctx(), o, site, &nodes, &nodes, false, &mut warnings)
        .unwrap()
        .expect("the site has a series");
    let mut sp = site_planner(
        cat(),
        o,
        site.to_owned(),
        nodes.clone(),
        nodes,
        &mut warnings,
    );
    let path = sp.plan(from, to).unwrap();
    (sp, path)
}

fn series(name: &str) -> &'static Series {
    cat().series_named(name).unwrap()
}

#[test]
fn a_series_without_releases_is_refused_and_names_the_newest_with_releases() {
    assert_eq!(refuse_series_without_releases(cat(), "2025.1"), Ok(()));
    let dev = cat()
        .series()
        .iter()
        .find(|s| s.status == SeriesStatus::Development)
        .expect("the data has a series in development");
    match refuse_series_without_releases(cat(), &dev.name) {
        Err(PlanError::SeriesWithoutReleases { to, newest, .. }) => {
            assert_eq!(to, dev.name);
            assert_ne!(newest, "none");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refuse_series_without_releases(cat(), "no-such-series"),
        Err(PlanError::Path(PathError::UnknownSeries(_)))
    ));
}

#[test]
fn site_series_starts_at_the_oldest_control_plane_and_never_goes_back() {
    let nodes = site_nodes("fra1");
    let mut warnings = Vec::new();
    let (from, to) = site_series(
        &ctx(),
        opts("2025.1"),
        "fra1",
        &nodes,
        &nodes,
        true,
        &mut warnings,
    )
    .unwrap()
    .unwrap();
    assert_eq!((from.name.as_str(), to.id()), ("zed", "2025.1"));
    assert!(warnings.is_empty(), "{warnings:?}");
    // Older than what the site runs: left out with a warning among several sites, an error
    // for one.
    let lon1 = site_nodes("lon1");
    let left = site_series(
        &ctx(),
        opts("2024.1"),
        "lon1",
        &lon1,
        &lon1,
        true,
        &mut warnings,
    );
    assert_eq!(left, Ok(None));
    assert!(
        warnings.iter().any(|w| w.starts_with("lon1: already runs")),
        "{warnings:?}"
    );
    let refused = site_series(
        &ctx(),
        opts("2024.1"),
        "lon1",
        &lon1,
        &lon1,
        false,
        &mut warnings,
    );
    assert!(
        matches!(refused, Err(PlanError::Path(PathError::Backwards { .. }))),
        "{refused:?}"
    );
}

#[test]
fn site_series_caps_the_target_when_the_scope_leaves_out_the_control_plane() {
    let all = site_nodes("par1");
    let computes: Vec<&NodeView> = all
        .iter()
        .copied()
        .filter(|n| n.min_ordinal(Phase::ControlPlane).is_none())
        .collect();
    assert!(!computes.is_empty() && computes.len() < all.len());
    let mut warnings = Vec::new();
    let (from, to) = site_series(
        &ctx(),
        opts("2025.1"),
        "par1",
        &all,
        &computes,
        false,
        &mut warnings,
    )
    .unwrap()
    .unwrap();
    assert_eq!(from.ordinal, to.ordinal);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("leaves out control-plane nodes")),
        "{warnings:?}"
    );
}

#[test]
fn a_hop_prepares_then_moves_components_in_dag_order_then_verifies() {
    let (sp, path) = planned("par1", "2025.1");
    assert_eq!(path.hops.len(), 1);
    assert_eq!(path.hops[0].kind, HopKind::SlurpSkip);
    let phases: Vec<Phase> = sp.steps.iter().map(|s| s.phase).collect();
    let first_non_prepare = phases.iter().position(|p| *p != Phase::Prepare).unwrap();
    assert!(phases[..first_non_prepare].len() >= 3, "{phases:?}");
    assert!(phases[first_non_prepare..]
        .iter()
        .all(|p| *p != Phase::Prepare));
    assert_eq!(sp.steps.last().map(|s| s.action), Some(Action::Verify));
    let ids: Vec<&str> = sp.steps.iter().map(|s| s.id.as_str()).collect();
    for want in [
        "backup-database-par1-h1",
        "stage-code-par1-h1",
        "upgrade-check-par1-h1",
    ] {
        assert!(ids.contains(&want), "{want} missing: {ids:?}");
    }
    // Component steps follow the DAG.
    let positions: Vec<usize> = sp
        .steps
        .iter()
        .filter(|s| s.action == Action::Upgrade)
        .filter_map(|s| s.component.as_deref().map(order::position))
        .collect();
    assert!(positions.len() > 5);
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");
}

#[test]
fn kolla_rabbitmq_goes_one_allowed_version_at_a_time_and_cannot_be_undone() {
    let (sp, _) = planned("par1", "2025.1");
    let rabbit: Vec<&Step> = sp
        .steps
        .iter()
        .filter(|s| s.component.as_deref() == Some("rabbitmq"))
        .collect();
    assert!(!rabbit.is_empty());
    for s in &rabbit {
        assert_eq!(s.reversibility, Reversibility::Irreversible, "{}", s.id);
        assert!(sp
            .limits
            .iter()
            .any(|l| l.code == LimitCode::NoRabbitmqDowngrade && l.steps.contains(&s.id)));
    }
    // Each step starts where the one before ended.
    for w in rabbit.windows(2) {
        assert_eq!(w[0].targets[0].to, w[1].targets[0].from);
    }
    let want = deployer::kolla_rabbitmq_minor(series("2025.1")).unwrap();
    assert_eq!(rabbit.last().unwrap().targets[0].to.as_deref(), Some(want));
}

#[test]
fn schema_expansion_comes_before_the_first_component_of_its_deliverable() {
    let mut checked = 0;
    for (site, to) in [("par1", "2025.1"), ("lon1", "2025.1"), ("fra1", "2025.1")] {
        let (sp, _) = planned(site, to);
        for (i, e) in sp
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.action == Action::DbExpand)
        {
            let d =
                e.id.trim_start_matches("db-expand-")
                    .split('-')
                    .next()
                    .unwrap();
            let first_upgrade = sp
                .steps
                .iter()
                .position(|s| {
                    s.hop == e.hop
                        && s.action == Action::Upgrade
                        && s.targets.iter().any(|t| t.service.as_deref() == Some(d))
                })
                .unwrap_or(usize::MAX);
            assert!(
                i < first_upgrade,
                "{site}: {} after the first {d} upgrade",
                e.id
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no schema expansion step in any site's plan");
}

#[test]
fn compute_batches_put_one_canary_first_and_cover_every_host_once() {
    let computes: Vec<&NodeView> = site_nodes("par1")
        .into_iter()
        .filter(|n| n.get("nova-compute").is_some())
        .collect();
    assert!(computes.len() >= 3);
    let batches = compute_batches(&computes, 1, 2);
    assert_eq!(batches[0].0, BatchKind::Canary);
    assert_eq!(batches[0].2.len(), 1);
    assert!(batches[1..]
        .iter()
        .all(|b| b.0 == BatchKind::Batch && b.2.len() <= 2));
    let mut seen: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.2.iter().map(|n| n.id.as_str()))
        .collect();
    seen.sort_unstable();
    let before = seen.len();
    seen.dedup();
    assert_eq!((before, seen.len()), (computes.len(), computes.len()));
    // No canary: one batch per group when the batch size is 0.
    let whole = compute_batches(&computes, 0, 0);
    let groups: BTreeSet<String> = computes.iter().map(|n| n.group()).collect();
    assert_eq!(whole.len(), groups.len());
}

#[test]
fn the_last_compute_batch_is_irreversible_when_every_compute_moves() {
    let (sp, _) = planned("par1", "2025.1");
    let batches: Vec<&Step> = sp.steps.iter().filter(|s| s.batch.is_some()).collect();
    let (last, rest) = batches.split_last().unwrap();
    assert_eq!(last.reversibility, Reversibility::Irreversible);
    assert!(rest
        .iter()
        .all(|s| s.reversibility == Reversibility::CodeOnly));
    assert!(sp
        .limits
        .iter()
        .any(|l| l.code == LimitCode::ComputeServiceTooOld && l.steps == vec![last.id.clone()]));
}

#[test]
fn rollback_inverts_every_step_that_can_be_undone_and_states_the_rest() {
    let (mut downgrades, mut cannot) = (0, 0);
    for site in ["par1", "fra1"] {
        let (mut sp, path) = planned(site, "2025.1");
        sp.rollback_steps(&path);
        let undo: BTreeMap<&str, &Step> = sp.rollback.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut restore_needed = BTreeSet::new();
        for f in sp.steps.iter().filter(|s| {
            matches!(
                s.phase,
                Phase::Infrastructure | Phase::ControlPlane | Phase::DataPlane | Phase::Finalize
            )
        }) {
            match f.reversibility {
                Reversibility::CodeOnly if f.action == Action::Upgrade => {
                    let r = undo[format!("downgrade-{}", f.id).as_str()];
                    assert_eq!(r.targets.len(), f.targets.len());
                    for (a, b) in f.targets.iter().zip(&r.targets) {
                        assert_eq!((&a.from, &a.to), (&b.to, &b.from), "{}", r.id);
                    }
                    downgrades += 1;
                }
                Reversibility::Irreversible => {
                    let r = undo[format!("cannot-undo-{}", f.id).as_str()];
                    assert!(!r.blocked_by.is_empty());
                    cannot += 1;
                }
                Reversibility::NeedsDbRestore => {
                    restore_needed.insert(f.hop.unwrap());
                }
                _ => {}
            }
        }
        let restores: BTreeSet<u32> = sp
            .rollback
            .iter()
            .filter(|s| s.action == Action::RestoreDatabase)
            .filter_map(|s| s.hop)
            .collect();
        assert_eq!(restores, restore_needed, "{site}");
        // Newest hop first.
        let hops: Vec<u32> = sp.rollback.iter().filter_map(|s| s.hop).collect();
        assert!(hops.windows(2).all(|w| w[0] >= w[1]), "{site}: {hops:?}");
    }
    assert!(
        downgrades > 0 && cannot > 0,
        "{downgrades} downgrades, {cannot} stated"
    );
}

#[test]
fn downgrade_hints_pin_each_host_to_its_previous_image_tag() {
    let fwd = DeployerHints {
        kolla: Some(KollaHint {
            tags: vec!["nova".into()],
            ..KollaHint::default()
        }),
        ..DeployerHints::default()
    };
    let back = [Target {
        node: Some("cmp-1".into()),
        image: Some("quay.io/openstack.kolla/nova-compute".into()),
        from: Some("2025.1-ubuntu-noble".into()),
        to: Some("2024.1-ubuntu-jammy".into()),
        ..Target::default()
    }];
    let h = downgrade_hints(&fwd, &back, Deployer::Kolla);
    let k = h.kolla.unwrap();
    assert_eq!(
        k.host_vars["cmp-1"]
            .get("nova_compute_tag")
            .map(String::as_str),
        Some("2024.1-ubuntu-jammy"),
        "{:?}",
        k.host_vars
    );
    assert_eq!(
        k.commands,
        vec!["kolla-ansible deploy -i INVENTORY --tags nova --limit cmp-1"]
    );
    assert!(downgrade_hints(&fwd, &back, Deployer::Distro)
        .kolla
        .is_none());
}
