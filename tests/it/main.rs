//! Integration tests: one binary (faster to link), one module per area.
#![allow(unreachable_pub)]

mod support;

mod cli;
mod collect;
mod version_diff;
