//! Plans: ordered, explained upgrade, rollback and site-replication plans for deployers. Data
//! only: nothing in nminus executes a plan. Versioned; the JSON schema is published at
//! `reports/schema/plan-v1.json` and a test keeps it in step with these types.
//!
//! The facts behind the fields (upgrade-order DAG, SLURP paths, rollback windows) are described
//! in `docs/planner.md`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The current plan schema version.
pub const PLAN_SCHEMA_VERSION: u32 = 1;

/// What a plan does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PlanKind {
    /// Bring the scope to newer versions (a series path or patch releases).
    Upgrade,
    /// Bring the scope back to versions it ran before (from inventory history).
    Rollback,
    /// Deploy a site's exact versions as a new site.
    Replicate,
}

impl PlanKind {
    /// kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upgrade => "upgrade",
            Self::Rollback => "rollback",
            Self::Replicate => "replicate",
        }
    }
}

/// Which nodes a plan covers: every given key must match (`site=par1,cell=cell1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Scope {
    /// Site (region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Nova cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// Host aggregate (node label `aggregate=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<String>,
    /// Availability zone (node label `az=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub az: Option<String>,
    /// Tenant / project the hosts are dedicated to (node label `tenant=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Node id glob (`cmp-*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The nodes the scope selected, sorted.
    #[serde(default)]
    pub nodes: Vec<String>,
}

impl Scope {
    /// `site=par1,cell=cell1` (the selector only, without the node list).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("site", &self.site),
            ("cell", &self.cell),
            ("aggregate", &self.aggregate),
            ("az", &self.az),
            ("tenant", &self.tenant),
            ("node", &self.node),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        if parts.is_empty() {
            "everything".to_owned()
        } else {
            parts.join(",")
        }
    }
}

/// One release series, as the plan names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeriesRef {
    /// `2024.1`, or the codename before 2023.1 (`zed`).
    pub id: String,
    /// Codename (`caracal`).
    pub name: String,
    /// Skip-level upgrade release.
    pub slurp: bool,
}

impl SeriesRef {
    /// `2024.1 caracal` (or `zed`).
    pub fn label(&self) -> String {
        if self.id == self.name {
            self.name.clone()
        } else {
            format!("{} {}", self.id, self.name)
        }
    }
}

/// How one hop of a series path moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HopKind {
    /// Within a series: point releases only.
    Patch,
    /// N → N+1 (always supported).
    Adjacent,
    /// SLURP → next SLURP, skipping one release (supported from 2023.1 on).
    SlurpSkip,
}

impl HopKind {
    /// In words, for people: `point releases`, `to the next series`, `SLURP skip-level`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Patch => "point releases",
            Self::Adjacent => "to the next series",
            Self::SlurpSkip => "SLURP skip-level",
        }
    }
}

/// One supported upgrade between two series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Hop {
    /// 1-based position in the path.
    pub index: u32,
    /// From.
    pub from: SeriesRef,
    /// To.
    pub to: SeriesRef,
    /// Kind.
    pub kind: HopKind,
    /// Why this hop is allowed and what it implies (downtime, skipped release notes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The series path of one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SitePath {
    /// Site.
    pub site: String,
    /// The series the site's control plane runs.
    pub from: SeriesRef,
    /// The target series.
    pub to: SeriesRef,
    /// The hops, in order (one `patch` hop when the series does not change).
    pub hops: Vec<Hop>,
}

/// Where a step sits in the plan.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before the window: checks, backups, staging new code, additive schema changes.
    Prepare,
    /// Scenario 2, before the upgrade: canary and hold-back aggregates, pins on held hosts.
    HoldBack,
    /// Database, message queue, caches, load balancers, OVS/OVN.
    Infrastructure,
    /// API services, conductors, schedulers, servers.
    ControlPlane,
    /// Computes and agents, in batches.
    DataPlane,
    /// Steps that close the rollback window: contract, online data migrations, unpinning.
    Finalize,
    /// Per-tenant fallback: move a tenant onto held-back hosts.
    Fallback,
    /// Database restore and redeployment of older code.
    Restore,
    /// Deploy a new site.
    Deploy,
    /// Verify the result.
    Verify,
}

/// What a step does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Confirm the previous release's online data migrations are complete.
    VerifyDataMigrations,
    /// Back up the databases (and deployer configuration).
    BackupDatabase,
    /// Fetch / install the new code beside the running one (images, venvs, repositories).
    StageCode,
    /// `<service>-status upgrade check` with the new code.
    UpgradeCheck,
    /// Additive schema change both releases can run on (expand, api_db/db sync).
    DbExpand,
    /// Replace the running code with the new one (rolling where supported).
    Upgrade,
    /// Schema contraction: the old release can no longer use the database.
    DbContract,
    /// Online data migrations.
    OnlineDataMigrations,
    /// SIGHUP / restart so services drop RPC pins and cached minimum versions.
    Reload,
    /// Keep hosts on their current versions (pins and holds).
    Hold,
    /// Create or change host aggregates and scheduler settings.
    ConfigureAggregate,
    /// Cold-migrate (or rebuild) instances.
    ColdMigrate,
    /// Redeploy previous code.
    Downgrade,
    /// Restore a database backup.
    RestoreDatabase,
    /// Deploy pinned versions on new hosts.
    Deploy,
    /// Register a region with a shared keystone.
    RegisterRegion,
    /// Rebuild the amphora image and fail load balancers over.
    AmphoraFailover,
    /// Check the result.
    Verify,
}

/// What undoing a step takes (`docs/planner.md` §Reversibility).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Reversibility {
    /// Redeploying the previous code undoes it; the database still serves the older release.
    CodeOnly,
    /// The database changed in a way the older release cannot use: restore the backup (writes
    /// since are lost) and redeploy the older code.
    NeedsDbRestore,
    /// Cannot be undone by nminus-planned means (RabbitMQ feature flags, every compute newer).
    Irreversible,
}

impl Reversibility {
    /// kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodeOnly => "code-only",
            Self::NeedsDbRestore => "needs-db-restore",
            Self::Irreversible => "irreversible",
        }
    }
}

/// A thing a step changes: a component on a node, a package or an image, from → to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// Node id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Component (`nova-compute`, `rabbitmq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// OpenStack deliverable (`nova`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Package (`nova-compute` deb, `python3-nova`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Container image (`quay.io/openstack.kolla/nova-compute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Version (or image tag) now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Version (or image tag) after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// One edge of the upgrade-order DAG, as a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EdgeRef {
    /// Edge id (`E8`, `I-NOVA-1`).
    pub id: String,
    /// Component upgraded before.
    pub before: String,
    /// Component upgraded after.
    pub after: String,
    /// `hard`, `soft` or `gate`.
    pub strength: String,
    /// Why.
    pub why: String,
}

/// Why a step is where it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// In words.
    pub text: String,
    /// The DAG edges from earlier steps' components that put it after them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<EdgeRef>,
}

/// Compute batch of a data-plane step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Batch {
    /// `canary` (first, small) or `batch`.
    pub kind: BatchKind,
    /// 1-based.
    pub index: u32,
    /// Number of batches of this component in this hop.
    pub of: u32,
    /// The group the hosts share (`site=par1 cell=cell1 aggregate=agg-acme az=az1`).
    pub group: String,
}

/// Batch kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BatchKind {
    /// The first batch; stop and test before going on.
    Canary,
    /// Any later batch.
    Batch,
}

/// kolla-ansible specifics of a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KollaHint {
    /// `--tags` used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Commands, in order (`INVENTORY` stands for the deployer's inventory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Variables for `globals.yml` (same for every host: `openstack_release`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub globals: BTreeMap<String, String>,
    /// Per-group variables (inventory `group_vars/<group>.yml`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_vars: BTreeMap<String, BTreeMap<String, String>>,
    /// Per-host variables (inventory `host_vars/<host>.yml`): tags that differ between hosts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub host_vars: BTreeMap<String, BTreeMap<String, String>>,
}

/// OpenStack-Ansible specifics of a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OsaHint {
    /// Commands, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// `user_variables` pins (`nova_git_install_branch: <sha>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

/// Package manager of a pin.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    /// apt (Debian, Ubuntu).
    Apt,
    /// dnf (RHEL, Rocky, CentOS Stream).
    Dnf,
}

/// A distro package pin: install this version and hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackagePin {
    /// Node ids.
    pub hosts: Vec<String>,
    /// Package manager.
    pub manager: PackageManager,
    /// Package name.
    pub name: String,
    /// Exact version, or a glob (`3:31.*`) when the distro revision is not known.
    pub version: String,
    /// Whether `version` is exact (install it) or a glob (pin only).
    pub exact: bool,
    /// Hold / versionlock after installing.
    pub hold: bool,
    /// Repository to enable first (`cloud-archive:epoxy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

/// How each deployer does a step. Only the deployers present in the scope are filled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeployerHints {
    /// kolla-ansible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kolla: Option<KollaHint>,
    /// OpenStack-Ansible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osa: Option<OsaHint>,
    /// Distro packages (apt / dnf).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackagePin>,
    /// Service commands, whatever the deployer (`nova-manage db online_data_migrations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// Stable id (`u03-nova-conductor`).
    pub id: String,
    /// 1-based position in its list.
    pub order: u32,
    /// Site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Hop of the site's series path (1-based), when the step belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<u32>,
    /// Phase.
    pub phase: Phase,
    /// Action.
    pub action: Action,
    /// Component (`nova-conductor`, `rabbitmq`), when the step is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// One line for humans.
    pub title: String,
    /// What changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// What must hold before the step starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preconditions: Vec<String>,
    /// What to do right after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_steps: Vec<String>,
    /// What undoing it takes.
    pub reversibility: Reversibility,
    /// Why it is here.
    pub reason: Reason,
    /// How each deployer does it.
    pub hints: DeployerHints,
    /// Compute batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Batch>,
    /// Why the step cannot be carried out as is (a limit applies); empty when it can.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
    /// What to check before the next step or batch: the API endpoints the step moves (from a
    /// control-plane discovery), the version each must serve afterwards, and the PromQL
    /// (empty without control-plane data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verification: Vec<EndpointCheck>,
}

/// One API endpoint a step moves, and how to tell the step worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointCheck {
    /// Official service type (`compute`).
    pub service_type: String,
    /// Project (`nova`).
    pub project: String,
    /// Region.
    pub region: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// The catalog URL.
    pub url: String,
    /// The version document the check reads (absent: the URL gives none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_url: Option<String>,
    /// Catalog endpoint id.
    pub endpoint_id: String,
    /// What the endpoint must serve after the step (absent: upstream data has no maximum for
    /// the series).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<ExpectedVersion>,
    /// What it served at discovery.
    pub observed: ObservedVersion,
    /// PromQL over the probe metrics of `nminus discover --listen` / `nminus serve
    /// --discover-cloud`: each query returns a sample when its check holds.
    pub promql: Vec<PromCheck>,
}

/// The version an endpoint serves once a step is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExpectedVersion {
    /// Microversion or version id.
    pub kind: crate::model::controlplane::VersionKind,
    /// The maximum (`2.100`, `3.14`).
    pub value: String,
    /// The series the step moves the service to (codename).
    pub series: String,
    /// Where upstream states it (file:line and ref).
    pub source: String,
    /// Upstream's history document says otherwise, and which source wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
}

/// What an endpoint served when the control plane was discovered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObservedVersion {
    /// `ok`, `no-version-document`, `unreachable`.
    pub status: String,
    /// The maximum it served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Series whose code serves it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// One PromQL check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PromCheck {
    /// `up`, `version`, `latency`.
    pub check: String,
    /// The query.
    pub expr: String,
}

/// A documented limit that shapes the plan (`docs/planner.md` §Rollback limits).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LimitCode {
    /// No database schema downgrade: past a contract / data migration, only the backup helps.
    NoDbDowngrade,
    /// nova-compute cannot register older once every compute is newer (`ServiceTooOld`).
    ComputeServiceTooOld,
    /// Computes may lag the control plane by at most its `OLDEST_SUPPORTED_SERVICE_VERSION`.
    ComputeSkew,
    /// No live migration onto an older hypervisor (`DestinationHypervisorTooOld`).
    NoLiveMigrationToOlder,
    /// The control plane is shared by every tenant of a site.
    SharedControlPlane,
    /// RabbitMQ cannot be downgraded.
    NoRabbitmqDowngrade,
    /// A node has no earlier inventory to roll back to.
    NoHistory,
    /// An unreleased (pbr dev) build: no release tag or commit to pin.
    UnreleasedBuild,
    /// A version matches no release in openstack/releases.
    UnknownSeries,
}

/// One limit and where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Limit {
    /// Code.
    pub code: LimitCode,
    /// What it means here.
    pub message: String,
    /// Steps it applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Nodes it applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// A host role of a replicated site and how many hosts the new site gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleSpec {
    /// Role (`controller`, `compute`, `network`, `storage`).
    pub role: String,
    /// Nodes of the source site with this role.
    pub source_nodes: Vec<String>,
    /// Host names proposed for the new site (rename freely; keep the role).
    pub hosts: Vec<String>,
    /// Components the role runs.
    pub components: Vec<String>,
}

/// One OpenStack service of a bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BomService {
    /// Deliverable.
    pub deliverable: String,
    /// Python distribution.
    pub package: String,
    /// Exact version running.
    pub version: String,
    /// Series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// The release commit (from openstack/releases), when the version is a release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// How it is installed (`venv:/var/lib/kolla/venv`, `distro:python3-nova`).
    pub install: String,
    /// Roles running it.
    pub roles: Vec<String>,
}

/// One container image of a bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BomImage {
    /// Short name (`nova-compute`).
    pub name: String,
    /// Repository (`quay.io/openstack.kolla/nova-compute`).
    pub repository: String,
    /// Tag.
    pub tag: String,
    /// Digest (the exact pin), when the inventory has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Roles running it.
    pub roles: Vec<String>,
}

/// One OS package of a bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BomPackage {
    /// `deb` or `rpm`.
    #[schemars(with = "String")]
    pub ecosystem: super::Ecosystem,
    /// Name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Roles having it.
    pub roles: Vec<String>,
}

/// The pinned bill of materials of a site, as a deployable manifest (replication plans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// Site copied.
    pub source_site: String,
    /// New site.
    pub target_site: String,
    /// `small` or `same`.
    pub footprint: String,
    /// Deployer of the source site (`kolla`, `osa`, `distro`).
    pub deployer: String,
    /// Series the source runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesRef>,
    /// Operating system of the source hosts (`ubuntu 22.04 jammy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Roles and new hosts.
    pub roles: Vec<RoleSpec>,
    /// OpenStack services.
    pub services: Vec<BomService>,
    /// Container images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<BomImage>,
    /// OS packages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<BomPackage>,
    /// Keystone catalog entries the new site needs (from a control-plane discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogChanges>,
}

/// The Keystone catalog entries a new site needs: copied from the source site's endpoints,
/// the source host replaced by a placeholder; what the target's region already has is skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogChanges {
    /// Regions of the source site, copied from.
    pub source_regions: Vec<String>,
    /// Regions to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Services to create (absent from the catalog).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<CatalogService>,
    /// Endpoints to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<CatalogEndpointSpec>,
    /// Entries that already exist and are skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing: Vec<String>,
    /// Placeholders in the URLs and what to put there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub placeholders: BTreeMap<String, String>,
}

/// A catalog service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogService {
    /// The catalog's type (`volumev3`).
    pub catalog_type: String,
    /// Name (`cinderv3`).
    pub name: String,
}

/// An endpoint to create in the new site's region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogEndpointSpec {
    /// The catalog's service type (`volumev3`).
    pub catalog_type: String,
    /// Service name.
    pub service_name: String,
    /// Region to create it in.
    pub region: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// URL pattern (`http://{ber1_public_host}:8774/v2.1`).
    pub url: String,
    /// The source endpoint it is copied from.
    pub source_url: String,
}

/// What the plan was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanInputs {
    /// Inventories read (history included).
    pub inventories: usize,
    /// Distinct nodes.
    pub nodes: usize,
    /// openstack/releases directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releases: Option<String>,
    /// Policy, for policy-driven upgrades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The control-plane discovery steps are verified against (`cloud test, discovered …,
    /// from …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<String>,
}

/// A plan: ordered steps with reasons, the steps to roll it back, and the limits it honours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// [`PLAN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `plan-<hash>`: a hash of the plan's content (same inputs → same id).
    pub id: String,
    /// Kind.
    pub kind: PlanKind,
    /// RFC 3339 UTC time the plan was made.
    pub generated_at: String,
    /// Date the release data was judged at (`YYYY-MM-DD`).
    pub as_of: String,
    /// What was read.
    pub inputs: PlanInputs,
    /// Which nodes.
    pub scope: Scope,
    /// Series the scope runs now (control planes), oldest first.
    #[serde(default)]
    pub from_series: Vec<SeriesRef>,
    /// Series the plan ends at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_series: Option<SeriesRef>,
    /// Per-site series paths.
    #[serde(default)]
    pub paths: Vec<SitePath>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// How to go back, in order (for an upgrade: per-tenant fallback first, then the reverse of
    /// the steps with what each takes).
    #[serde(default)]
    pub rollback: Vec<Step>,
    /// Limits that shaped the plan.
    #[serde(default)]
    pub limits: Vec<Limit>,
    /// Things to read before starting.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Bill of materials (replication plans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
}

/// The JSON schema of [`Plan`], as published in `reports/schema/plan-v1.json`.
pub fn plan_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or_default();
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$id".to_owned(),
            serde_json::Value::String("urn:nminus:schema:plan-v1".to_owned()),
        );
    }
    s
}
