//! The upgrade-order DAG as data: components, edges with a reason each, and a deterministic
//! topological order.
//!
//! The tables are data files beside this one, embedded in the binary and loaded and validated
//! once: `order/components.yaml` (every component, with its kolla tag, OSA playbook, database
//! style and sources) and `order/upgrade-edges.yaml` (every edge, with its strength, reason and
//! sources). Source: the project's OpenStack domain notes (`shared/docs/openstack-domain.md`
//! §3), edge ids `E1`–`E19` as numbered there, plus the per-service internal orders of §3.2
//! (`I-*`). A component is a unit the plan upgrades in one step (or one batch series): an
//! infrastructure service, a control-plane service group, or a data-plane agent. Where the DAG
//! leaves two components unordered, the tie-break is kolla-ansible's `site.yml` order (`rank`),
//! then the id, so the same input always gives the same plan.
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

use serde::Deserialize;

use crate::model::Phase;

/// The component table's name in errors, and its text.
const COMPONENTS_FILE: &str = "src/plan/order/components.yaml";
const COMPONENTS_YAML: &str = include_str!("order/components.yaml");
/// The edge table's name in errors, and its text.
const EDGES_FILE: &str = "src/plan/order/upgrade-edges.yaml";
const EDGES_YAML: &str = include_str!("order/upgrade-edges.yaml");

/// How a component changes its database during an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
    /// Infrastructure one instance of which serves every tenant of a site.
    shared: bool,
    /// Citation keys of the domain notes.
    #[allow(dead_code)] // documentation carried with the row; read by the tests
    pub source: &'static str,
    /// Why the row says what it says.
    #[allow(dead_code)] // documentation carried with the row; read by the tests
    pub why: &'static str,
}

/// Every component the planner knows, in tie-break order.
pub(crate) fn components() -> &'static [Component] {
    &tables().components
}

/// The component with this id.
pub(crate) fn component(id: &str) -> Option<&'static Component> {
    components().iter().find(|c| c.id == id)
}

impl Component {
    /// Whether one instance serves every tenant of a site: the control plane, and the
    /// infrastructure it shares (database, queue, caches, load balancers, Ceph monitors, OVN
    /// databases). Per-host agents (openvswitch, ovn-controller, ceph-osd) and the data plane are
    /// not: a tenant-scoped rollback may move them.
    pub(crate) fn shared_by_every_tenant(&self) -> bool {
        self.phase == Phase::ControlPlane || self.shared
    }
}

/// Edge strength, as the domain notes grade it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
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

/// A table that does not load: the file, the entry (1-based, with its id) and the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TableError {
    /// Not YAML, or not a list of entries.
    #[error("{file}: {message}")]
    Syntax { file: &'static str, message: String },
    /// A field missing, of the wrong type, unknown, or an unknown enum value.
    #[error("{file}: entry {entry} ({id}){}: {message}", at_field(field))]
    Field {
        file: &'static str,
        entry: usize,
        id: String,
        field: String,
        message: String,
    },
    /// Two components with one id.
    #[error("{file}: entry {entry}, field `id`: duplicate component id `{id}` (entry {first} has it too)")]
    Duplicate {
        file: &'static str,
        entry: usize,
        id: String,
        first: usize,
    },
    /// An edge naming a component the component table does not have.
    #[error("{file}: entry {entry} ({id}), field `{field}`: unknown component `{component}`")]
    UnknownComponent {
        file: &'static str,
        entry: usize,
        id: String,
        field: &'static str,
        component: String,
    },
    /// An edge whose `before` or `after` side names no component.
    #[error("{file}: entry {entry} ({id}), field `{field}`: names no component")]
    Empty {
        file: &'static str,
        entry: usize,
        id: String,
        field: &'static str,
    },
    /// The edges form a cycle.
    #[error("{file}: the edges form a cycle; these components cannot be ordered: {}", components.join(", "))]
    Cycle {
        file: &'static str,
        components: Vec<String>,
    },
}

/// serde_yaml's message without the path it may start with (the error names the entry and
/// field itself).
fn without_path(message: &str) -> &str {
    match message.split_once(": ") {
        Some((path, rest)) if path.starts_with(['.', '[']) => rest,
        _ => message,
    }
}

fn at_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(", field `{field}`")
    }
}

/// The phases a component may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Tier {
    Infrastructure,
    ControlPlane,
    DataPlane,
}

impl From<Tier> for Phase {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Infrastructure => Self::Infrastructure,
            Tier::ControlPlane => Self::ControlPlane,
            Tier::DataPlane => Self::DataPlane,
        }
    }
}

/// One entry of `components.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentRow {
    id: String,
    #[serde(default)]
    deliverable: Option<String>,
    phase: Tier,
    rank: u16,
    db: DbStyle,
    #[serde(default)]
    kolla_tag: String,
    #[serde(default)]
    osa_playbook: String,
    #[serde(default)]
    api: bool,
    #[serde(default)]
    messaging: bool,
    #[serde(default)]
    shared_by_every_tenant: bool,
    source: String,
    why: String,
}

/// A group of components an edge may name instead of listing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Group {
    /// Every component with a database of its own.
    Database,
    /// Every component using oslo.messaging.
    Messaging,
    /// Every component serving an API.
    Api,
    /// Every component of an OpenStack deliverable.
    Openstack,
    /// Every control-plane component.
    ControlPlane,
}

impl Group {
    fn has(self, c: &ComponentRow) -> bool {
        match self {
            Self::Database => c.db != DbStyle::None,
            Self::Messaging => c.messaging,
            Self::Api => c.api,
            Self::Openstack => c.deliverable.is_some(),
            Self::ControlPlane => c.phase == Tier::ControlPlane,
        }
    }
}

/// One entry of `upgrade-edges.yaml`: every component of `before` (the ids listed and the
/// group) before every one of `after`, a component never before itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeRow {
    id: String,
    #[serde(default)]
    before: Vec<String>,
    #[serde(default)]
    before_every: Option<Group>,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    after_every: Option<Group>,
    strength: Strength,
    why: String,
    source: String,
}

/// Both tables as read, validated.
#[derive(Debug)]
struct Rows {
    components: Vec<ComponentRow>,
    edges: Vec<EdgeRow>,
}

/// The tables as the planner uses them.
struct Tables {
    components: Vec<Component>,
    edges: Vec<Edge>,
    order: Vec<&'static str>,
}

/// Reads one table: a YAML list of entries, each deserialized with its path for errors.
fn read_rows<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<Vec<T>, TableError> {
    if let Some(depth) = crate::util::yaml::too_deep(text) {
        return Err(TableError::Syntax {
            file,
            message: format!("nested {depth} levels deep"),
        });
    }
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut segments = e.path().iter();
        let Some(serde_path_to_error::Segment::Seq { index }) = segments.next() else {
            return TableError::Syntax {
                file,
                message: e.inner().to_string(),
            };
        };
        let field: Vec<String> = segments.map(ToString::to_string).collect();
        let id = serde_yaml::from_str::<serde_yaml::Value>(text)
            .ok()
            .and_then(|v| v.get(*index)?.get("id")?.as_str().map(str::to_owned))
            .map_or_else(|| "no id".to_owned(), |id| format!("`{id}`"));
        TableError::Field {
            file,
            entry: index + 1,
            id,
            field: field.join("."),
            message: without_path(&e.inner().to_string()).to_owned(),
        }
    })
}

/// Reads and validates both tables: ids unique, every edge's components known and present, no
/// cycle.
fn load(components: (&'static str, &str), edges: (&'static str, &str)) -> Result<Rows, TableError> {
    let rows = Rows {
        components: read_rows(components.0, components.1)?,
        edges: read_rows(edges.0, edges.1)?,
    };
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in rows.components.iter().enumerate() {
        if let Some(f) = first.insert(&c.id, i + 1) {
            return Err(TableError::Duplicate {
                file: components.0,
                entry: i + 1,
                id: c.id.clone(),
                first: f,
            });
        }
    }
    for (i, e) in rows.edges.iter().enumerate() {
        for (field, ids) in [("before", &e.before), ("after", &e.after)] {
            if let Some(unknown) = ids.iter().find(|id| !first.contains_key(id.as_str())) {
                return Err(TableError::UnknownComponent {
                    file: edges.0,
                    entry: i + 1,
                    id: e.id.clone(),
                    field,
                    component: unknown.clone(),
                });
            }
        }
        let (before, after) = ends(&rows.components, e);
        for (field, side) in [("before", before), ("after", after)] {
            if side.is_empty() {
                return Err(TableError::Empty {
                    file: edges.0,
                    entry: i + 1,
                    id: e.id.clone(),
                    field,
                });
            }
        }
    }
    kahn(&rows.components, &pairs(&rows)).map_err(|left| TableError::Cycle {
        file: edges.0,
        components: left.into_iter().map(str::to_owned).collect(),
    })?;
    Ok(rows)
}

/// The components an edge entry puts before and after: the ids listed, then the group's.
fn ends<'a>(components: &'a [ComponentRow], e: &'a EdgeRow) -> (Vec<&'a str>, Vec<&'a str>) {
    let side = |ids: &'a [String], group: Option<Group>| -> Vec<&'a str> {
        let listed = ids.iter().map(String::as_str);
        let grouped = components
            .iter()
            .filter(move |c| group.is_some_and(|g| g.has(c)))
            .map(|c| c.id.as_str());
        listed.chain(grouped).collect()
    };
    (
        side(&e.before, e.before_every),
        side(&e.after, e.after_every),
    )
}

/// Every (entry, before, after) pair the edge entries make, a component never before itself.
fn pairs(rows: &Rows) -> Vec<(usize, &str, &str)> {
    let mut out = Vec::new();
    for (i, e) in rows.edges.iter().enumerate() {
        let (before, after) = ends(&rows.components, e);
        for b in &before {
            for a in after.iter().filter(|a| *a != b) {
                out.push((i, *b, *a));
            }
        }
    }
    out
}

/// Kahn's algorithm, always taking the ready component with the lowest (rank, id). `Err` names
/// the components left in a cycle. Pairs naming unknown components are ignored.
fn kahn<'a>(
    components: &'a [ComponentRow],
    pairs: &[(usize, &'a str, &'a str)],
) -> Result<Vec<&'a str>, Vec<&'a str>> {
    let mut indeg: BTreeMap<&str, usize> = components.iter().map(|c| (c.id.as_str(), 0)).collect();
    for (_, b, a) in pairs {
        if indeg.contains_key(b) {
            if let Some(d) = indeg.get_mut(a) {
                *d += 1;
            }
        }
    }
    let rank: BTreeMap<&str, u16> = components.iter().map(|c| (c.id.as_str(), c.rank)).collect();
    let mut ready: BTreeSet<(u16, &'a str)> = components
        .iter()
        .filter(|c| indeg[c.id.as_str()] == 0)
        .map(|c| (c.rank, c.id.as_str()))
        .collect();
    let mut out = Vec::with_capacity(components.len());
    while let Some((_, first)) = ready.pop_first() {
        out.push(first);
        for (_, _, a) in pairs.iter().filter(|(_, b, _)| *b == first) {
            if let Some(d) = indeg.get_mut(a) {
                *d -= 1;
                if *d == 0 {
                    ready.insert((rank[*a], *a));
                }
            }
        }
    }
    if out.len() == components.len() {
        Ok(out)
    } else {
        Err(components
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| !out.contains(id))
            .collect())
    }
}

impl Tables {
    /// The planner's view of validated rows.
    fn new(rows: &'static Rows) -> Self {
        let components = rows
            .components
            .iter()
            .map(|c| Component {
                id: &c.id,
                deliverable: c.deliverable.as_deref(),
                phase: c.phase.into(),
                rank: c.rank,
                db: c.db,
                kolla_tag: &c.kolla_tag,
                osa_playbook: &c.osa_playbook,
                api: c.api,
                messaging: c.messaging,
                shared: c.shared_by_every_tenant,
                source: &c.source,
                why: &c.why,
            })
            .collect();
        let pairs = pairs(rows);
        let mut edges: Vec<Edge> = pairs
            .iter()
            .map(|&(i, before, after)| {
                let e = &rows.edges[i];
                Edge {
                    id: &e.id,
                    before,
                    after,
                    strength: e.strength,
                    why: &e.why,
                    source: &e.source,
                }
            })
            .collect();
        edges.sort_by(|a, b| (a.id, a.before, a.after).cmp(&(b.id, b.before, b.after)));
        edges.dedup();
        let order = kahn(&rows.components, &pairs).unwrap_or_default();
        Self {
            components,
            edges,
            order,
        }
    }
}

/// The embedded tables, loaded and validated on first use. They are part of the binary: a unit
/// test loads them, so an invalid table is a failing test, never a failing run.
fn tables() -> &'static Tables {
    static ROWS: OnceLock<Rows> = OnceLock::new();
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let rows = ROWS.get_or_init(|| {
            load((COMPONENTS_FILE, COMPONENTS_YAML), (EDGES_FILE, EDGES_YAML))
                .unwrap_or_else(|e| panic!("the embedded upgrade tables are invalid: {e}"))
        });
        Tables::new(rows)
    })
}

/// Every edge of the DAG, sorted by (id, before, after). A pair may have several edges (several
/// reasons).
pub fn edges() -> &'static [Edge] {
    &tables().edges
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

/// The upgrade order of every known component.
pub(crate) fn upgrade_order() -> &'static [&'static str] {
    &tables().order
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

    fn load_texts(components: &str, edges: &str) -> Result<Rows, TableError> {
        load((COMPONENTS_FILE, components), (EDGES_FILE, edges))
    }

    /// The embedded tables with the first `from` in the component table replaced by `to`.
    fn components_with(from: &str, to: &str) -> Result<Rows, TableError> {
        assert!(COMPONENTS_YAML.contains(from), "{from}");
        load_texts(&COMPONENTS_YAML.replacen(from, to, 1), EDGES_YAML)
    }

    /// The embedded tables with the first `from` in the edge table replaced by `to`.
    fn edges_with(from: &str, to: &str) -> Result<Rows, TableError> {
        assert!(EDGES_YAML.contains(from), "{from}");
        load_texts(COMPONENTS_YAML, &EDGES_YAML.replacen(from, to, 1))
    }

    #[test]
    fn the_embedded_tables_load() {
        let rows = load_texts(COMPONENTS_YAML, EDGES_YAML).expect("valid tables");
        assert_eq!(rows.components.len(), components().len());
        for c in components() {
            assert!(!c.source.is_empty() && !c.why.is_empty(), "{}", c.id);
        }
        for e in edges() {
            assert!(!e.source.is_empty() && !e.why.is_empty(), "{}", e.id);
        }
    }

    #[test]
    fn an_unknown_enum_value_names_file_entry_and_field() {
        let err = components_with("db: sync\n", "db: sideways\n").unwrap_err();
        let TableError::Field {
            file,
            entry,
            id,
            field,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (*file, *entry, id.as_str(), field.as_str()),
            (COMPONENTS_FILE, 11, "`barbican`", "db")
        );
        assert!(message.contains("unknown variant `sideways`"), "{message}");
        let shown = err.to_string();
        assert!(shown.starts_with("src/plan/order/components.yaml: entry 11 (`barbican`), field `db`: unknown variant `sideways`"), "{shown}");

        let err = edges_with("strength: hard", "strength: firm").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { entry: 4, field, .. } if field == "strength"),
            "{err:?}"
        );
        let err = edges_with("after_every: database", "after_every: everything").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { entry: 1, field, .. } if field == "after_every"),
            "{err:?}"
        );
        let err = components_with("phase: infrastructure", "phase: finalize").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { entry: 1, field, .. } if field == "phase"),
            "{err:?}"
        );
    }

    #[test]
    fn a_missing_or_unknown_field_is_named() {
        let err = components_with("  rank: 10\n", "").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { entry: 1, message, .. } if message.contains("missing field `rank`")),
            "{err:?}"
        );
        let err = components_with("  rank: 10\n", "  rank: 10\n  kola_tag: x\n").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { entry: 1, field, message, .. } if field == "kola_tag" && message.contains("unknown field")),
            "{err:?}"
        );
        let err = components_with("rank: 10\n", "rank: -3\n").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { entry: 1, field, .. } if field == "rank"),
            "{err:?}"
        );
    }

    #[test]
    fn a_table_that_is_no_list_or_no_yaml_is_refused() {
        let err = load_texts("components: {}\n", EDGES_YAML).unwrap_err();
        assert!(
            matches!(
                &err,
                TableError::Syntax {
                    file: COMPONENTS_FILE,
                    ..
                }
            ),
            "{err:?}"
        );
        // Broken YAML inside an entry is named where the parser found it.
        let err = load_texts(COMPONENTS_YAML, "- id: E1\n  why: \"open\n").unwrap_err();
        assert!(
            matches!(&err, TableError::Field { file: EDGES_FILE, entry: 1, field, message, .. } if field == "why" && message.contains("line 2")),
            "{err:?}"
        );
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let err = load_texts(&deep, EDGES_YAML).unwrap_err();
        assert!(
            matches!(
                &err,
                TableError::Syntax {
                    file: COMPONENTS_FILE,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_duplicate_component_id_is_refused() {
        let err = components_with("- id: haproxy\n", "- id: mariadb\n").unwrap_err();
        assert_eq!(
            err,
            TableError::Duplicate {
                file: COMPONENTS_FILE,
                entry: 2,
                id: "mariadb".into(),
                first: 1
            }
        );
        assert!(err
            .to_string()
            .contains("entry 2, field `id`: duplicate component id `mariadb`"));
    }

    #[test]
    fn an_edge_naming_an_unknown_component_is_refused() {
        let err = edges_with("after: [ovn-db]", "after: [ovn-dbs]").unwrap_err();
        assert_eq!(
            err,
            TableError::UnknownComponent {
                file: EDGES_FILE,
                entry: 10,
                id: "E11".into(),
                field: "after",
                component: "ovn-dbs".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "src/plan/order/upgrade-edges.yaml: entry 10 (E11), field `after`: unknown component `ovn-dbs`"
        );
        let err = edges_with("before: [ceph-mon]", "before: [ceph-mon, ceph-mds]").unwrap_err();
        assert!(
            matches!(&err, TableError::UnknownComponent { field: "before", component, .. } if component == "ceph-mds"),
            "{err:?}"
        );
    }

    #[test]
    fn an_edge_side_naming_nothing_is_refused() {
        let err = edges_with("  before: [ceph-mon]\n", "").unwrap_err();
        assert!(
            matches!(
                &err,
                TableError::Empty {
                    entry: 16,
                    field: "before",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = edges_with("after: [ceph-osd]", "after: []").unwrap_err();
        assert!(
            matches!(
                &err,
                TableError::Empty {
                    entry: 16,
                    field: "after",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_cycle_is_refused_with_its_components() {
        let err = edges_with(
            "before: [ceph-mon]\n  after: [ceph-osd]",
            "before: [nova-compute]\n  after: [mariadb]",
        )
        .unwrap_err();
        let TableError::Cycle { file, components } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*file, EDGES_FILE);
        assert!(
            components.contains(&"mariadb".to_owned())
                && components.contains(&"nova-compute".to_owned()),
            "{components:?}"
        );
        assert!(
            !components.contains(&"ceph-osd".to_owned()),
            "{components:?}"
        );
    }

    #[test]
    fn dag_is_acyclic_and_order_respects_every_edge() {
        assert_eq!(upgrade_order().len(), components().len());
        for e in edges() {
            assert!(
                position(e.before) < position(e.after),
                "{} {} → {}",
                e.id,
                e.before,
                e.after
            );
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
        assert!(!edges().iter().any(|e| e.id == "E10"), "E10 is unordered");
        assert!(component("keystone").is_some_and(|k| k.db == DbStyle::ExpandContract));
        assert!(component("ovn-db").is_some_and(Component::shared_by_every_tenant));
        assert!(!component("ovn-controller").is_some_and(Component::shared_by_every_tenant));
    }
}
