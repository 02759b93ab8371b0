#![doc = include_str!("../README.md")]

pub mod agent;
pub mod analyze;
pub mod cli;
pub mod collect;
pub mod discover;
pub mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
pub mod plan;
pub mod policy;
pub mod releases;
pub mod report;
pub mod serve;
pub mod sources;
pub mod store;
pub(crate) mod util;
pub mod version;

pub use model::{Ecosystem, Inventory, Location, Package, Problem};
pub use version::{Scheme, Version, VersionError};
