//! Types that cross module boundaries: the agent → analyzer contract ([`Inventory`]), packages,
//! problems. No I/O here.

mod advisory;
pub mod controlplane;
mod environment;
mod finding;
mod install;
mod inventory;
pub mod openstack_names;
mod package;
mod plan;
mod problem;
mod report;

pub use advisory::{Advisory, AdvisoryKind, Affected, AffectedRanges, Severity};
pub use environment::PythonEnvironment;
pub use finding::{
    AdvisoryRef, Evidence, Finding, FindingCode, Subject, SubjectEcosystem, WaiverRef,
};
pub use install::{Install, InstallKind};
pub use inventory::{
    inventory_schema, token_problem, valid_label_value, valid_name, AgentInfo, ImageRef, Inventory,
    KollaImage, NodeInfo, OsRelease, ServiceInstance, INVENTORY_SCHEMA_VERSION,
};
pub use package::{Ecosystem, Package, PackageMeta, SourcePackage};
pub use plan::{
    plan_schema, Action, Batch, BatchKind, BomImage, BomPackage, BomService, CatalogChanges,
    CatalogEndpointSpec, CatalogService, DeployerHints, EdgeRef, EndpointCheck, ExpectedVersion,
    Hop, HopKind, KollaHint, Limit, LimitCode, Manifest, ObservedVersion, OsaHint, PackageManager,
    PackagePin, Phase, Plan, PlanInputs, PlanKind, PromCheck, Reason, Reversibility, RoleSpec,
    Scope, SeriesRef, SitePath, Step, Target, PLAN_SCHEMA_VERSION,
};
pub use problem::{Location, Origin, Problem, ProblemKind, ReportProblem};
pub use report::{
    report_inventory, report_schema, DeliverableCurrency, FeedStatus, HistoryPoint, NodeSummary,
    Report, ReportComponent, Summary, ToolInfo, Verdict, REPORT_SCHEMA_VERSION,
};
