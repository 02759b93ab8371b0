//! Readers of the public data nminus judges against: advisory feeds ([`advisory`]).
//!
//! Each reader turns one feed folder into the crate's own types (`model::Advisory`); the
//! feeds' wire formats stay private to their reader. A bad item inside a feed is a
//! [`Problem`](crate::model::Problem) in the result, never an abort.

pub(crate) mod advisory;
pub(crate) mod cache;
mod compiled;
pub(crate) mod feeds;
pub(crate) mod githttp;
pub(crate) mod sync;
