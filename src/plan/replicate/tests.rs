//! The replication planner's pieces, one by one, on the fixture fleet `three-sites` (par1:
//! kolla, two controllers, six computes) and the shared `openstack-releases` data.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::model::controlplane::{CatalogEndpoint, PlanControlPlane};
use crate::plan::{current_nodes, end_of_day, FileInput, PlanInput};
use crate::releases::openstack::OpenStackCatalog;
use crate::releases::test_data::shared;

use super::*;

fn cat() -> &'static OpenStackCatalog {
    static CAT: OnceLock<OpenStackCatalog> = OnceLock::new();
    CAT.get_or_init(|| {
        OpenStackCatalog::load(&shared("openstack-releases"))
            .expect("openstack-releases")
            .0
    })
}

fn fleet() -> &'static [NodeView] {
    static FLEET: OnceLock<Vec<NodeView>> = OnceLock::new();
    FLEET.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleets/three-sites");
        let fi = FileInput::load(&[dir]);
        assert!(fi.problems().is_empty(), "{:?}", fi.problems());
        current_nodes(
            fi.inventories(),
            Some(&end_of_day(time::macros::date!(2026 - 08 - 21))),
            cat(),
        )
    })
}

fn opts(from: &str, to: &str, footprint: Footprint) -> ReplicateOptions {
    ReplicateOptions {
        from: from.into(),
        to: to.into(),
        footprint,
        ..ReplicateOptions::default()
    }
}

fn source<'a>(o: &'a ReplicateOptions, warnings: &mut Vec<String>) -> (Source<'a>, Vec<RoleSpec>) {
    let nodes: Vec<&NodeView> = fleet().iter().filter(|n| n.site == o.from).collect();
    let mut roles: BTreeMap<String, Vec<&NodeView>> = BTreeMap::new();
    for n in &nodes {
        roles.entry(n.role.clone()).or_default().push(n);
    }
    let (specs, new_hosts) = role_specs(o, &roles, warnings);
    (
        Source {
            opts: o,
            deployer: site_deployer(&nodes),
            shared_keystone: nodes.iter().any(|n| n.get("keystone").is_some()),
            nodes,
            roles,
            new_hosts,
        },
        specs,
    )
}

#[test]
fn sites_are_checked() {
    assert!(matches!(
        check_sites(fleet(), &opts("nowhere", "ber1", Footprint::Small)),
        Err(PlanError::UnknownSite { .. })
    ));
    assert!(matches!(
        check_sites(fleet(), &opts("par1", "par1", Footprint::Small)),
        Err(PlanError::SameSite)
    ));
    assert!(
        check_sites(fleet(), &opts("par1", "ber1", Footprint::Small))
            .unwrap()
            .is_empty()
    );
    let w = check_sites(fleet(), &opts("par1", "lon1", Footprint::Small)).unwrap();
    assert!(w[0].contains("lon1 already has inventories"), "{w:?}");
}

#[test]
fn footprints_size_the_roles() {
    let o = opts("par1", "ber1", Footprint::Small);
    let mut w = Vec::new();
    let (src, specs) = source(&o, &mut w);
    for s in &specs {
        let want = if s.role.contains("compute") {
            s.source_nodes.len().min(2)
        } else {
            1
        };
        assert_eq!(s.hosts.len(), want, "{s:?}");
        assert!(s.hosts.iter().all(|h| h.starts_with("ber1-")), "{s:?}");
    }
    assert!(
        w.iter().any(|x| x.contains("single-node clusters")),
        "{w:?}"
    );
    assert_eq!(src.new_hosts.len(), specs.len());
    let o = opts("par1", "ber1", Footprint::Same);
    let mut w = Vec::new();
    let (_, specs) = source(&o, &mut w);
    assert!(specs.iter().all(|s| s.hosts.len() == s.source_nodes.len()));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn the_bill_of_materials_pins_what_runs() {
    let o = opts("par1", "ber1", Footprint::Small);
    let (src, _) = source(&o, &mut Vec::new());
    let mut notes = Notes::default();
    let (services, versions) = bom_services(cat(), &src, &mut notes);
    assert!(!services.is_empty());
    for s in &services {
        // The pinned version runs on some source node, and is the one looked up for steps.
        assert!(src
            .nodes
            .iter()
            .any(|n| n.installed.iter().any(
                |i| i.deliverable.as_deref() == Some(&s.deliverable) && i.version == s.version
            )));
        assert_eq!(versions[&s.deliverable].0, s.version);
    }
    assert!(
        services.iter().any(|s| s.commit.is_some()),
        "release commits"
    );
    let images = bom_images(&src, &mut Vec::new());
    assert!(!images.is_empty(), "par1 is kolla: images");
    let (packages, pkg_version) = bom_packages(&src, &mut Vec::new());
    assert_eq!(packages.len(), pkg_version.len());
}

#[test]
fn deploy_steps_follow_the_upgrade_order_and_share_keystone() {
    let o = opts("par1", "ber1", Footprint::Small);
    let (src, _) = source(&o, &mut Vec::new());
    let mut notes = Notes::default();
    let (services, service_version) = bom_services(cat(), &src, &mut notes);
    let images = bom_images(&src, &mut Vec::new());
    let (packages, pkg_version) = bom_packages(&src, &mut Vec::new());
    let bom = Bom {
        services,
        service_version,
        images,
        packages,
        pkg_version,
    };
    let steps = deploy_steps(&src, &bom);
    let comps: Vec<&str> = steps
        .iter()
        .filter_map(|s| s.component.as_deref())
        .collect();
    assert!(!comps.contains(&"keystone") && !comps.contains(&"horizon"));
    let pos: Vec<usize> = comps.iter().map(|c| order::position(c)).collect();
    assert!(pos.windows(2).all(|w| w[0] <= w[1]), "{comps:?}");
    assert!(steps.iter().all(|s| s.hints.kolla.is_some()), "kolla site");

    // The register-region step carries the catalog's commands when a discovery is given.
    let cp = PlanControlPlane {
        endpoints: vec![CatalogEndpoint {
            service_type: "compute".into(),
            catalog_type: "compute".into(),
            service_name: "nova".into(),
            region: "par1".into(),
            site: "par1".into(),
            interface: "public".into(),
            url: "http://par1-vip:8774/v2.1".into(),
            status: "ok".into(),
            ..CatalogEndpoint::default()
        }],
        ..PlanControlPlane::default()
    };
    let c = crate::plan::catalog::changes(&cp, "par1", "ber1", false);
    let r = register_region_step(&src, Some(&c));
    assert_eq!(r.hints.commands[0], "openstack region create ber1");
    assert!(r.hints.commands.contains(
        &"openstack endpoint create --region ber1 nova public http://BER1_PUBLIC_HOST:8774/v2.1"
            .to_owned()
    ));
    let r = register_region_step(&src, None);
    assert_eq!(r.hints.commands[0], "openstack region create ber1");
}
