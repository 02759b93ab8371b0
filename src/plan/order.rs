//! The upgrade-order DAG as data: components, edges with a reason each, and a deterministic
//! topological order.
//!
//! Source: the project's OpenStack domain notes (`shared/docs/openstack-domain.md` §3), edge ids
//! `E1`–`E19` as numbered there, plus the per-service internal orders of §3.2 (`I-*`). A
//! component is a unit the plan upgrades in one step (or one batch series): an infrastructure
//! service, a control-plane service group, or a data-plane agent. Where the DAG leaves two
//! components unordered, the tie-break is kolla-ansible's `site.yml` order (`rank`), then the
//! id, so the same input always gives the same plan.
//!
//! Two domain facts are deliberately not edges:
//! - E10 (nova ↔ neutron-server) is conflicting between tools; it is unordered, and the
//!   tie-break (kolla order) puts nova first. Plans say "do both in the same window".
//! - E12 (OVS userspace → kernel module), E14's amphora step order, E20 (upgrade check before
//!   restart) and E21 (previous online data migrations complete) are orders *inside* a step or
//!   preconditions of a hop; they appear as preconditions and post-steps.
//!
//! OVN chassis (`ovn-controller`) go before the OVN databases (E11, rolling upgrades), so they
//! are upgraded early with the network infrastructure, not with the data plane of E19.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use crate::model::Phase;

/// How a component changes its database during an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbStyle {
    /// No database of its own.
    None,
    /// Expand (additive, both releases run on it) → roll the nodes → contract (keystone,
    /// glance, neutron).
    ExpandContract,
    /// Additive schema sync before the window, online data migrations after (nova, cinder).
    SyncOnline,
    /// One schema sync with the new code, no documented expand/contract split (placement,
    /// heat, octavia, barbican, ironic, designate, manila): treated as one-way.
    Sync,
}

/// One component of the DAG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Component {
    /// Id (`nova-conductor`).
    pub id: &'static str,
    /// OpenStack deliverable, for services.
    pub deliverable: Option<&'static str>,
    /// Infrastructure, control plane or data plane.
    pub phase: Phase,
    /// Tie-break: kolla-ansible `site.yml` order.
    pub rank: u16,
    /// Database style.
    pub db: DbStyle,
    /// kolla-ansible `--tags` for it (empty: not deployed by kolla-ansible).
    pub kolla_tag: &'static str,
    /// OpenStack-Ansible playbook (empty: installed by another component's playbook, e.g. OVS
    /// and OVN by the neutron playbook).
    pub osa_playbook: &'static str,
    /// Serves an API behind the load balancer (E3, E4, E16).
    pub api: bool,
    /// Uses oslo.messaging (E2).
    pub messaging: bool,
}

#[allow(clippy::too_many_arguments)] // a table row constructor: one argument per column
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
pub(crate) const COMPONENTS: &[Component] = &[
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

/// The component with this id.
pub(crate) fn component(id: &str) -> Option<&'static Component> {
    COMPONENTS.iter().find(|c| c.id == id)
}

impl Component {
    /// Whether one instance serves every tenant of a site: the control plane, and the
    /// infrastructure it shares (database, queue, caches, load balancers, Ceph monitors, OVN
    /// databases). Per-host agents (openvswitch, ovn-controller, ceph-osd) and the data plane are
    /// not: a tenant-scoped rollback may move them.
    pub(crate) fn shared_by_every_tenant(&self) -> bool {
        self.phase == Phase::ControlPlane
            || matches!(
                self.id,
                "mariadb" | "haproxy" | "memcached" | "rabbitmq" | "ceph-mon" | "ovn-db"
            )
    }
}

/// Edge strength, as the domain notes grade it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Documented as required or enforced by code.
    Hard,
    /// The order deployment tools use, without a documented hard dependency.
    Soft,
}

impl Strength {
    /// `hard` / `soft`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
        }
    }
}

/// `before` must be upgraded before `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// `E8`, `I-NOVA-1`.
    pub id: &'static str,
    /// Upgraded first.
    pub before: &'static str,
    /// Upgraded after.
    pub after: &'static str,
    /// Strength.
    pub strength: Strength,
    /// Why.
    pub why: &'static str,
    /// Citation key(s) of the domain notes.
    pub source: &'static str,
}

impl Edge {
    /// As a plan reason.
    pub fn to_ref(&self) -> crate::model::EdgeRef {
        crate::model::EdgeRef {
            id: self.id.to_owned(),
            before: self.before.to_owned(),
            after: self.after.to_owned(),
            strength: self.strength.as_str().to_owned(),
            why: self.why.to_owned(),
        }
    }
}

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

fn build_edges() -> Vec<Edge> {
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

/// Every edge of the DAG, sorted by (id, before, after). A pair may have several edges (several
/// reasons).
pub fn edges() -> &'static [Edge] {
    static EDGES: OnceLock<Vec<Edge>> = OnceLock::new();
    EDGES.get_or_init(build_edges)
}

/// The edges into `after` from components in `present`.
pub(crate) fn edges_into<'a>(after: &str, present: &BTreeSet<&str>) -> Vec<&'a Edge> {
    edges()
        .iter()
        .filter(|e| e.after == after && present.contains(e.before))
        .collect()
}

/// Whether `before` must precede `after`, directly or through other components.
pub fn precedes(before: &str, after: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![before];
    while let Some(x) = stack.pop() {
        for e in edges().iter().filter(|e| e.before == x) {
            if e.after == after {
                return true;
            }
            if seen.insert(e.after) {
                stack.push(e.after);
            }
        }
    }
    false
}

/// A topological order of every component: Kahn's algorithm, always taking the ready
/// component with the lowest (rank, id). `Err` names the components left in a cycle.
pub(crate) fn topological(
    components: &[Component],
    edges: &[Edge],
) -> Result<Vec<&'static str>, Vec<&'static str>> {
    let mut indeg: BTreeMap<&str, usize> = components.iter().map(|c| (c.id, 0)).collect();
    for e in edges {
        if indeg.contains_key(e.before) {
            if let Some(d) = indeg.get_mut(e.after) {
                *d += 1;
            }
        }
    }
    let rank = |id: &str| {
        components
            .iter()
            .find(|c| c.id == id)
            .map_or(u16::MAX, |c| c.rank)
    };
    let mut ready: BTreeSet<(u16, &'static str)> = components
        .iter()
        .filter(|c| indeg[c.id] == 0)
        .map(|c| (c.rank, c.id))
        .collect();
    let mut out = Vec::with_capacity(components.len());
    while let Some(first) = ready.pop_first() {
        out.push(first.1);
        for e in edges.iter().filter(|e| e.before == first.1) {
            if let Some(d) = indeg.get_mut(e.after) {
                *d -= 1;
                if *d == 0 {
                    ready.insert((rank(e.after), e.after));
                }
            }
        }
    }
    if out.len() == components.len() {
        Ok(out)
    } else {
        Err(components
            .iter()
            .map(|c| c.id)
            .filter(|id| !out.contains(id))
            .collect())
    }
}

/// The upgrade order of every known component.
pub(crate) fn upgrade_order() -> &'static [&'static str] {
    static ORDER: OnceLock<Vec<&'static str>> = OnceLock::new();
    ORDER.get_or_init(|| {
        topological(COMPONENTS, edges())
            .unwrap_or_else(|_| COMPONENTS.iter().map(|c| c.id).collect())
    })
}

/// Position of a component in [`upgrade_order`] (unknown components last).
pub(crate) fn position(id: &str) -> usize {
    upgrade_order()
        .iter()
        .position(|c| *c == id)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dag_is_acyclic_and_order_respects_every_edge() {
        let order = topological(COMPONENTS, edges()).expect("acyclic");
        assert_eq!(order.len(), COMPONENTS.len());
        for e in edges() {
            assert!(
                position(e.before) < position(e.after),
                "{} {} → {}",
                e.id,
                e.before,
                e.after
            );
        }
        for e in edges() {
            assert!(
                component(e.before).is_some() && component(e.after).is_some(),
                "{e:?}"
            );
        }
    }

    #[test]
    fn documented_landmarks() {
        let p = position;
        assert!(p("mariadb") < p("rabbitmq"));
        assert!(p("rabbitmq") < p("keystone"));
        assert!(p("keystone") < p("glance"));
        assert!(p("placement") < p("nova-conductor"));
        assert!(p("nova-conductor") < p("nova-scheduler") && p("nova-scheduler") < p("nova-api"));
        assert!(
            p("nova-api") < p("neutron-server"),
            "tie-break: kolla order (E10 is unordered)"
        );
        assert!(
            p("neutron-server") < p("neutron-l2-agent")
                && p("neutron-l2-agent") < p("neutron-l3-agent")
        );
        assert!(p("horizon") < p("nova-compute"));
        assert!(p("ovn-controller") < p("ovn-db") && p("ovn-db") < p("neutron-server"));
        assert_eq!(*upgrade_order().last().unwrap(), "nova-compute");
        assert!(precedes("keystone", "nova-compute"));
        assert!(!precedes("nova-compute", "keystone"));
    }

    #[test]
    fn a_cycle_is_reported() {
        let comps = &COMPONENTS[..2];
        let e = vec![
            Edge {
                id: "x",
                before: comps[0].id,
                after: comps[1].id,
                strength: Strength::Soft,
                why: "",
                source: "",
            },
            Edge {
                id: "y",
                before: comps[1].id,
                after: comps[0].id,
                strength: Strength::Soft,
                why: "",
                source: "",
            },
        ];
        assert_eq!(topological(comps, &e).unwrap_err().len(), 2);
    }
}
