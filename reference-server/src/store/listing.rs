//! The store's internal stream listing (used by §6.2 subscription backfill).

use super::Store;

impl Store {
    /// Paths of the live streams, sorted: the registry's own order follows
    /// its per-process hash keys, and a subscription's backfill should not
    /// change order from one run to the next.
    pub fn live_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .registry()
            .streams()
            .filter(|s| s.lock().check_live().is_ok())
            .map(|s| s.path.clone())
            .collect();
        paths.sort_unstable();
        paths
    }
}
