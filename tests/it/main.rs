//! Integration tests: one binary (faster to link), one module per area.
#![allow(unreachable_pub)]

mod support;

mod cli;
mod collect;
mod fuzz_replay;
mod scan;
mod version_diff;
