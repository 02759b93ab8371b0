//! Integration tests: one binary (faster to link), one module per area.
#![allow(unreachable_pub)]

mod support;

mod alerting;
mod cli;
mod client;
mod collect;
mod controlplane;
mod currency;
mod discover;
mod discover_token;
mod exposure;
mod faults;
mod fleet_api;
mod fleet_fixtures;
mod fleet_html;
mod fleet_scale;
mod fuzz_replay;
mod git_http_server;
mod hostile;
mod images;
mod layers;
mod open_findings;
mod plan;
mod plan_serve;
mod plan_verify;
mod reports;
mod scan;
mod serve;
mod store;
mod sync;
mod version_diff;
