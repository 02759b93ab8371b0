//! Types that cross module boundaries: the agent → analyzer contract ([`Inventory`]), packages,
//! problems. No I/O here.

/// The JSON schema of a typed value that is written as a plain string (an inlined `string`).
macro_rules! schema_as_string {
    ($t:ty) => {
        impl schemars::JsonSchema for $t {
            fn is_referenceable() -> bool {
                false
            }
            fn schema_name() -> String {
                String::schema_name()
            }
            fn json_schema(g: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
                String::json_schema(g)
            }
        }
    };
}
pub(crate) use schema_as_string;

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
