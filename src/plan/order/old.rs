//! The tables as code, before they became data files: kept for one commit so that a test can
//! compare the loaded tables with them.
#![allow(clippy::all)]

use super::{DbStyle, Edge, Strength};
use crate::model::Phase;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Component {
    pub id: &'static str,
    pub deliverable: Option<&'static str>,
    pub phase: Phase,
    pub rank: u16,
    pub db: DbStyle,
    pub kolla_tag: &'static str,
    pub osa_playbook: &'static str,
    pub api: bool,
    pub messaging: bool,
}

impl Component {
    pub(super) fn shared_by_every_tenant(&self) -> bool {
        self.phase == Phase::ControlPlane
            || matches!(
                self.id,
                "mariadb" | "haproxy" | "memcached" | "rabbitmq" | "ceph-mon" | "ovn-db"
            )
    }
}

const fn c(
    id: &'static str,
    deliverable: Option<&'static str>,
    phase: Phase,
    rank: u16,
    db: DbStyle,
    kolla_tag: &'static str,
    osa_playbook: &'static str,
    api: bool,
    messaging: bool,
) -> Component {
    Component {
        id,
        deliverable,
        phase,
        rank,
        db,
        kolla_tag,
        osa_playbook,
        api,
        messaging,
    }
}

use DbStyle as D;
use Phase::{ControlPlane as CP, DataPlane as DP, Infrastructure as IN};

/// Every component the planner knows, in tie-break order.
pub(super) const COMPONENTS: &[Component] = &[
    c(
        "mariadb",
        None,
        IN,
        10,
        D::None,
        "mariadb",
        "openstack.osa.galera_server",
        false,
        false,
    ),
    c(
        "haproxy",
        None,
        IN,
        20,
        D::None,
        "loadbalancer",
        "openstack.osa.haproxy",
        false,
        false,
    ),
    c(
        "memcached",
        None,
        IN,
        30,
        D::None,
        "memcached",
        "openstack.osa.memcached_server",
        false,
        false,
    ),
    c(
        "rabbitmq",
        None,
        IN,
        40,
        D::None,
        "rabbitmq",
        "openstack.osa.rabbitmq_server",
        false,
        false,
    ),
    c("ceph-mon", None, IN, 45, D::None, "", "", false, false),
    c("ceph-osd", None, IN, 46, D::None, "", "", false, false),
    c(
        "openvswitch",
        None,
        IN,
        50,
        D::None,
        "openvswitch",
        "",
        false,
        false,
    ),
    c(
        "ovn-controller",
        None,
        IN,
        60,
        D::None,
        "ovn-controller",
        "",
        false,
        false,
    ),
    c("ovn-db", None, IN, 70, D::None, "ovn-db", "", false, false),
    c(
        "keystone",
        Some("keystone"),
        CP,
        100,
        D::ExpandContract,
        "keystone",
        "openstack.osa.keystone",
        true,
        true,
    ),
    c(
        "barbican",
        Some("barbican"),
        CP,
        105,
        D::Sync,
        "barbican",
        "openstack.osa.barbican",
        true,
        true,
    ),
    c(
        "glance",
        Some("glance"),
        CP,
        110,
        D::ExpandContract,
        "glance",
        "openstack.osa.glance",
        true,
        true,
    ),
    c(
        "ironic",
        Some("ironic"),
        CP,
        120,
        D::Sync,
        "ironic",
        "openstack.osa.ironic",
        true,
        true,
    ),
    c(
        "cinder-scheduler",
        Some("cinder"),
        CP,
        130,
        D::SyncOnline,
        "cinder",
        "openstack.osa.cinder",
        false,
        true,
    ),
    c(
        "cinder-volume",
        Some("cinder"),
        CP,
        131,
        D::SyncOnline,
        "cinder",
        "openstack.osa.cinder",
        false,
        true,
    ),
    c(
        "cinder-backup",
        Some("cinder"),
        CP,
        132,
        D::SyncOnline,
        "cinder",
        "openstack.osa.cinder",
        false,
        true,
    ),
    c(
        "cinder-api",
        Some("cinder"),
        CP,
        133,
        D::SyncOnline,
        "cinder",
        "openstack.osa.cinder",
        true,
        true,
    ),
    c(
        "placement",
        Some("placement"),
        CP,
        140,
        D::Sync,
        "placement",
        "openstack.osa.placement",
        true,
        false,
    ),
    c(
        "nova-conductor",
        Some("nova"),
        CP,
        150,
        D::SyncOnline,
        "nova",
        "openstack.osa.nova",
        false,
        true,
    ),
    c(
        "nova-scheduler",
        Some("nova"),
        CP,
        151,
        D::SyncOnline,
        "nova",
        "openstack.osa.nova",
        false,
        true,
    ),
    c(
        "nova-api",
        Some("nova"),
        CP,
        152,
        D::SyncOnline,
        "nova",
        "openstack.osa.nova",
        true,
        true,
    ),
    c(
        "neutron-server",
        Some("neutron"),
        CP,
        160,
        D::ExpandContract,
        "neutron",
        "openstack.osa.neutron",
        true,
        true,
    ),
    c(
        "heat",
        Some("heat"),
        CP,
        170,
        D::Sync,
        "heat",
        "openstack.osa.heat",
        true,
        true,
    ),
    c(
        "designate",
        Some("designate"),
        CP,
        175,
        D::Sync,
        "designate",
        "openstack.osa.designate",
        true,
        true,
    ),
    c(
        "manila",
        Some("manila"),
        CP,
        176,
        D::Sync,
        "manila",
        "openstack.osa.manila",
        true,
        true,
    ),
    c(
        "swift",
        Some("swift"),
        CP,
        177,
        D::None,
        "swift",
        "openstack.osa.swift",
        true,
        false,
    ),
    c(
        "octavia",
        Some("octavia"),
        CP,
        180,
        D::Sync,
        "octavia",
        "openstack.osa.octavia",
        true,
        true,
    ),
    c(
        "horizon",
        Some("horizon"),
        CP,
        190,
        D::None,
        "horizon",
        "openstack.osa.horizon",
        true,
        false,
    ),
    c(
        "neutron-l2-agent",
        Some("neutron"),
        DP,
        300,
        D::None,
        "neutron",
        "openstack.osa.neutron",
        false,
        true,
    ),
    c(
        "neutron-l3-agent",
        Some("neutron"),
        DP,
        310,
        D::None,
        "neutron",
        "openstack.osa.neutron",
        false,
        true,
    ),
    c(
        "octavia-amphora",
        Some("octavia"),
        DP,
        315,
        D::None,
        "octavia",
        "openstack.osa.octavia",
        false,
        false,
    ),
    c(
        "nova-compute",
        Some("nova"),
        DP,
        320,
        D::None,
        "nova-cell",
        "openstack.osa.nova",
        false,
        true,
    ),
];
const NOVA: &[&str] = &[
    "nova-conductor",
    "nova-scheduler",
    "nova-api",
    "nova-compute",
];
const NOVA_CP: &[&str] = &["nova-conductor", "nova-scheduler", "nova-api"];
const CINDER: &[&str] = &[
    "cinder-scheduler",
    "cinder-volume",
    "cinder-backup",
    "cinder-api",
];
const DATA_PLANE: &[&str] = &["neutron-l2-agent", "neutron-l3-agent", "nova-compute"];

fn ids(pred: impl Fn(&Component) -> bool) -> Vec<&'static str> {
    COMPONENTS
        .iter()
        .filter(|c| pred(c))
        .map(|c| c.id)
        .collect()
}

pub(super) fn build_edges() -> Vec<Edge> {
    let mut e = Vec::new();
    let mut add = |id: &'static str,
                   before: &[&'static str],
                   after: &[&'static str],
                   strength,
                   why: &'static str,
                   source: &'static str| {
        for b in before {
            for a in after {
                if b != a {
                    e.push(Edge {
                        id,
                        before: b,
                        after: a,
                        strength,
                        why,
                        source,
                    });
                }
            }
        }
    };
    use Strength::{Hard, Soft};
    let with_db = ids(|c| c.db != DbStyle::None);
    let messaging = ids(|c| c.messaging);
    let apis = ids(|c| c.api);
    let openstack: Vec<&str> = ids(|c| c.deliverable.is_some() && c.id != "keystone");
    let control = ids(|c| c.phase == CP);
    add("E1", &["mariadb"], &with_db, Soft, "the DB tier is upgraded before any service's schema sync; galera nodes restart one at a time and resync", "KA-SITE, OSA-MAJ");
    add("E2", &["rabbitmq"], &messaging, Soft, "the message queue (through its allowed intermediate versions) comes before the services using oslo.messaging", "KA-RMQ, OSA-MAJ");
    add(
        "E3",
        &["memcached", "haproxy"],
        &apis,
        Soft,
        "caches and load balancers are infrastructure, upgraded before the API services",
        "KA-SITE",
    );
    add("E4", &["keystone"], &openstack, Hard, "every service validates tokens against keystone; while it is down nothing else authenticates (hard in practice)", "KS-UPG, CHARM, KA-SITE, OSA-PLAY");
    add(
        "E5",
        &["barbican"],
        &[
            CINDER,
            &[
                "nova-conductor",
                "nova-scheduler",
                "nova-api",
                "nova-compute",
                "octavia",
            ],
        ]
        .concat(),
        Soft,
        "key manager consumers (cinder, nova, octavia) call barbican through castellan",
        "OSA-PLAY, TC-BASE",
    );
    add(
        "E6",
        &["glance"],
        NOVA,
        Soft,
        "nova consumes images",
        "KA-SITE, OSA-PLAY",
    );
    add(
        "E7",
        CINDER,
        NOVA,
        Soft,
        "nova attaches volumes through the cinder API",
        "KA-SITE, OSA-PLAY",
    );
    add(
        "E8",
        &["placement"],
        NOVA,
        Hard,
        "nova services rely on placement being at the newest level",
        "NOVA-UPG",
    );
    add(
        "E9",
        &["ironic"],
        NOVA,
        Soft,
        "the nova ironic driver calls the ironic API",
        "KA-SITE",
    );
    add("E11", &["ovn-controller"], &["ovn-db"], Hard, "rolling OVN upgrade: chassis controllers understand both schemas, so they go before the NB/SB databases and northd (within the supported LTS span)", "OVN-UPG");
    add(
        "E11",
        &["ovn-db"],
        &["neutron-server"],
        Hard,
        "the OVN databases and northd are upgraded before neutron's OVN integration",
        "OVN-UPG",
    );
    add(
        "E13",
        &[
            "nova-conductor",
            "nova-scheduler",
            "nova-api",
            "neutron-server",
            "glance",
            "keystone",
            "barbican",
        ],
        &["octavia"],
        Soft,
        "octavia builds on compute, network, image, identity and key manager",
        "OCT-UPG",
    );
    add("E14", &["octavia"], &["octavia-amphora"], Soft, "new amphora agent code reaches amphorae only through an image rebuild and failover, after the control plane", "OCT-UPG");
    add(
        "E15",
        &[NOVA_CP, CINDER, &["neutron-server", "glance", "placement"]].concat(),
        &["heat"],
        Soft,
        "heat drives the other APIs; tools place it after nova and neutron",
        "KA-SITE, OSA-PLAY",
    );
    let before_horizon: Vec<&str> = apis.iter().copied().filter(|a| *a != "horizon").collect();
    add(
        "E16",
        &before_horizon,
        &["horizon"],
        Soft,
        "the dashboard consumes every API; last in every tool",
        "KA-SITE, CHARM",
    );
    add(
        "E17",
        &["ceph-mon"],
        &["ceph-osd"],
        Soft,
        "monitors before OSDs; Ceph is upgraded separately from OpenStack",
        "CHARM, OSA-MAJ",
    );
    add(
        "E18",
        &["keystone"],
        &["swift"],
        Soft,
        "swift authenticates through keystone",
        "CHARM",
    );
    add("E19", &control, DATA_PLANE, Hard, "conductors and servers must be at least as new as computes and agents (control plane before data plane)", "NOVA-UPG, NEU-UPG, COU");
    add(
        "I-NOVA-1",
        &["nova-conductor"],
        &["nova-scheduler", "nova-api"],
        Hard,
        "nova: conductor first, API last ([upgrade_levels]compute=auto)",
        "NOVA-UPG",
    );
    add(
        "I-NOVA-2",
        &["nova-scheduler"],
        &["nova-api"],
        Soft,
        "nova: scheduler between conductor and API",
        "NOVA-UPG",
    );
    add(
        "I-CINDER-1",
        &["cinder-scheduler"],
        &["cinder-volume", "cinder-backup", "cinder-api"],
        Hard,
        "cinder: scheduler → volume → backup → api",
        "CIN-UPG",
    );
    add(
        "I-CINDER-2",
        &["cinder-volume"],
        &["cinder-backup", "cinder-api"],
        Hard,
        "cinder: scheduler → volume → backup → api",
        "CIN-UPG",
    );
    add(
        "I-CINDER-3",
        &["cinder-backup"],
        &["cinder-api"],
        Hard,
        "cinder: api last (it ignores SIGHUP and is restarted)",
        "CIN-UPG",
    );
    add("I-NEUTRON-1", &["neutron-server"], &["neutron-l2-agent", "neutron-l3-agent"], Hard, "neutron-server first: it is the only component using the DB and handles older agents' RPC, not the reverse", "NEU-UPG");
    add(
        "I-NEUTRON-2",
        &["neutron-l2-agent"],
        &["neutron-l3-agent"],
        Soft,
        "per node: L2 agents (OVS/linuxbridge/SR-IOV) before L3/DHCP/metadata",
        "NEU-UPG",
    );
    e.sort_by(|a, b| (a.id, a.before, a.after).cmp(&(b.id, b.before, b.after)));
    e.dedup();
    e
}
