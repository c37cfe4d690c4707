//! §4 Durability, §4.1, §5.2.1: the file store (`--data-dir`). It is the
//! memory store with a journal: every event is journaled under the lock
//! that applied it (so the journal's order is the store's order) and
//! acknowledged only once the journal says it is on disk (`Commit`). On
//! start the store is rebuilt by applying the journaled events in order,
//! through the same `apply` as the live store, with the data left on disk.
//!
//! Readers see a stream only up to its durable tail (`Data::durable`), so
//! nothing they read can vanish in a crash; the writer's answer waits for
//! the sync too. Every other answer that reveals state — a stream that
//! exists before its create is synced, a 404/410 after a DELETE still
//! syncing, a 409 for a close or a 403/409 for producer state still syncing
//! — waits for a journal barrier first, so a client is never told something
//! a crash could undo.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::super::apply::Registry;
use super::super::ttl::{ms, Clock};
use super::super::Store;
use super::compact::Policy;
use super::Journal;
use crate::durable::LogOptions;

impl Store {
    /// Opens the file store in `dir`: recovers the journal and rebuilds
    /// every stream (data stays on disk; only its index is in memory).
    pub fn open(clock: Clock, dir: &Path) -> io::Result<Store> {
        Store::open_with(clock, dir, LogOptions::default())
    }

    pub fn open_with(clock: Clock, dir: &Path, options: LogOptions) -> io::Result<Store> {
        // ETags carry the id: ids of this run start past any of an earlier run.
        let first_id = (ms(OffsetDateTime::now_utc()).max(0) as u64) << 8;
        let min_bytes = options.compact_min_bytes;
        let mut reg = Registry::new(true, first_id);
        let mut anomalies = Vec::new();
        let (journal, rec) = Journal::open(dir, options, |event, bodies| {
            if let Err(a) = reg.apply(&event, bodies) {
                anomalies.push(a);
            }
        })?;
        tracing::info!(
            "data directory {}: {} in {}, {}",
            dir.display(),
            crate::count(rec.records, "record", "records"),
            crate::count(rec.segments as u64, "segment", "segments"),
            crate::count(reg.len() as u64, "stream", "streams")
        );
        if let Some(t) = &rec.truncated {
            tracing::warn!(
                "cut a torn tail: {} of segment {} ({})",
                crate::count(t.dropped_bytes, "byte", "bytes"),
                t.segment,
                t.reason
            );
        }
        for a in &anomalies {
            tracing::warn!("skipped an inconsistent record: {a}");
        }
        // Everything replayed is on disk.
        for s in reg.streams() {
            let mut st = s.lock();
            let (tail, closed) = (st.data.tail, st.closed);
            st.data.mark_durable(tail, closed);
        }
        Ok(Store {
            registry: Mutex::new(reg),
            clock,
            journal: Some(Arc::new(journal)),
            compaction: Some(Policy::new(dir, min_bytes)),
        })
    }
}
