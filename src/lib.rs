#![doc = include_str!("../README.md")]

pub mod analyze;
pub mod cli;
pub mod collect;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
pub mod releases;
pub mod report;
pub mod sources;
pub mod version;

pub use model::{Ecosystem, Inventory, Location, Package, Problem};
pub use version::{Scheme, Version, VersionError};
