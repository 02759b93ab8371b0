//! Readers of the public data nminus judges against: advisory feeds ([`advisory`]).
//!
//! Each reader turns one feed folder into the crate's own types (`model::Advisory`); the
//! feeds' wire formats stay private to their reader. A bad item inside a feed is a
//! [`Problem`](crate::model::Problem) in the result, never an abort.

pub mod advisory;
pub mod cache;
mod compiled;
pub mod feeds;
pub mod githttp;
pub mod sync;
