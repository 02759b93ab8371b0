//! PLACEHOLDER: being written; replaced before commit.
use super::{Collected, Collector, Root};

/// Collector.
#[derive(Debug, Default)]
pub struct LockfileCollector;

impl Collector for LockfileCollector {
    fn name(&self) -> &'static str {
        "lockfile"
    }
    fn applies(&self, _root: &Root) -> bool {
        false
    }
    fn collect(&self, _root: &Root, _out: &mut Collected) {}
}
