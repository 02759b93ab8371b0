#![doc = include_str!("../README.md")]

pub mod analyze;
pub mod cli;
pub mod collect;
pub mod model;
pub mod version;

pub use model::{Ecosystem, Inventory, Location, Package, Problem};
pub use version::{Scheme, Version, VersionError};
