//! Types that cross module boundaries: the agent → analyzer contract ([`Inventory`]), packages,
//! problems. No I/O here.

mod advisory;
mod finding;
mod inventory;
mod package;
mod problem;
mod report;

pub use advisory::{Advisory, AdvisoryKind, Affected, AffectedRanges, Severity};
pub use finding::{AdvisoryRef, Evidence, Finding, FindingCode, Subject, WaiverRef};
pub use inventory::{
    inventory_schema, AgentInfo, ImageRef, Inventory, NodeInfo, OsRelease, ServiceInstance,
    INVENTORY_SCHEMA_VERSION,
};
pub use package::{Ecosystem, Package, PackageMeta, SourcePackage};
pub use problem::{Location, Problem, ProblemKind};
pub use report::{
    report_schema, FeedStatus, NodeSummary, Report, Summary, ToolInfo, REPORT_SCHEMA_VERSION,
};
