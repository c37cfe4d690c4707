//! The store's internal stream listing (used by §6.2 subscription backfill).

use super::Store;

impl Store {
    /// Paths of the live streams, in no particular order.
    pub fn live_paths(&self) -> Vec<String> {
        self.registry()
            .streams()
            .filter(|s| s.lock().check_live().is_ok())
            .map(|s| s.path.clone())
            .collect()
    }
}
