#![doc = include_str!("../README.md")]

// The library is the two binaries' engine: its modules are the crate's own, and what the
// binaries, the integration tests, the benchmarks and the fuzz targets use is re-exported
// here, so that this list is the public face.
mod agent;
mod analyze;
pub mod cli;
mod client;
mod collect;
mod discover;
mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
mod plan;
mod policy;
mod releases;
mod report;
mod serve;
mod sources;
mod store;
mod util;
pub mod version;

pub use model::{Ecosystem, Inventory, Location, Package, Problem};
pub use version::{Scheme, Version, VersionError};

// Collection: roots, collectors, container images.
pub use collect::dpkg::{parse_status as parse_dpkg_status, Ctx as DpkgContext};
pub use collect::image::layer::{parse_layer, Budget as LayerBudget};
pub use collect::image::runtime::{collect_runtime, Client as RuntimeClient};
pub use collect::image::{
    collect_path as collect_image_path, collect_reader as collect_image_reader, load_path,
    load_reader, CollectedImage, ImageOptions, Limits as ImageLimits,
};
pub use collect::lockfile::LockfileCollector;
pub use collect::{collect_root, collect_with, CollectOptions, Collector, Root};

// Feeds and release data.
pub use releases::distro::{DistroLifecycles, SupportLevel};
pub use releases::openstack::OpenStackCatalog;
pub use sources::advisory::osv::OsvSource;
pub use sources::advisory::AdvisorySource;
pub use sources::cache::load_all_cached;
pub use sources::feeds::{load_all, FeedAdvisories, FeedsConfig, LoadedFeeds, SyncState};
pub use sources::sync::{
    sync, ExtractLimits, Outcome as SyncOutcome, SyncEvent, SyncFrom, SyncOptions,
};

// Judging and reporting.
pub use analyze::{
    apply_waivers, build_report, judge_currency, lookup_keys, match_inventory, n_as_of,
    AdvisoryIndex, Analyzer, AnalyzerConfig, CatalogPaths, Catalogs, ReportInput,
};
pub use fleet::check_kolla;
pub use policy::{load as load_policy, parse as parse_policy, Gate, GateTerm, Policy};
pub use report::{write_fleet_pages, Format, WriterOptions, SITE_PAGE};

// Planning.
pub use plan::order::{edges as order_edges, precedes};
pub use plan::path::{jump_kind, oldest_supported_compute, upgrade_path, PathOptions};
pub use plan::render::{render, shell_word, PlanFormat};
pub use plan::replicate::{plan_replicate, Footprint, ReplicateOptions};
pub use plan::rollback::{plan_rollback, RollbackOptions, RollbackTarget};
pub use plan::upgrade::{plan_upgrade, UpgradeOptions};
pub use plan::{parse_scope, Context, FileInput, PlanInput};

// The client's wire, the server, its store and the discovery schema.
pub use client::{content_hash, hash_and_body};
pub use discover::discovery_schema;
pub use serve::analysis::{reanalyze, reanalyze_on, share_rounds, start_round};
pub use serve::query::{stored_inventories, InventoryCursor, InventoryQuery};
pub use serve::{app, Access, ApiTokens, AppState, Role, ServeOptions};
pub use store::controlplane::NewControlPlaneRound;
pub use store::{
    open as open_store, token_hash, Beat, FindingFilter, FleetDelta, FleetEntry, FleetHead, Judged,
    NewInventory, OpenFindings, PreparedInventory, PushOutcome, RunChunk, Store, StoreError,
};
pub use util::Millis;
