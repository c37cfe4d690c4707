//! §4 Durability, §4.1 durable closure, §5.2.1 atomicity: the durable store
//! behind `ds-server --data-dir DIR`, as layers that know nothing of HTTP:
//!
//! - `frame`: `[len u32][crc32 u32][payload]` framing and its checks;
//! - `segment`: segment files, rotation targets and crash recovery
//!   (a torn or corrupt tail is cut, never served);
//! - `log`: the append-only log with group commit (one write + one
//!   fdatasync per batch of concurrent appends, ack after the sync);
//! - `reader`: `pread` of stored ranges through a bounded LRU of handles;
//! - `record` / `codec`: typed stream-state records and their binary form;
//! - `replay`: the pure fold from records to the recovered store state;
//! - `journal`: the typed facade the store uses.
//!
//! The store side lives in `store::persist`: `Store::open` rebuilds the
//! streams from `Journal::open`'s replayed state (data left on disk as
//! `Body::Disk` locations), and every mutation is submitted under the lock
//! that applies it, its HTTP answer waiting for the fsync (`Commit`).
//!
//! Guarantees: an acknowledged create, append, close or delete survives
//! any crash; data and the producer state / `Stream-Seq` / closure it
//! implies are one record, so they survive together or not at all
//! (§5.2.1); readers never see past the durable tail. Sliding-TTL renewals
//! by reads are journaled lazily (at most one `Touch` per stream per
//! 100 ms, not awaited), so after a crash a stream may expire up to that
//! much early.
//!
//! Not done yet: compaction. Deleted streams' data stays in old segments
//! (`Recovered::dead_bytes` measures it). The hook is a rewrite of the live
//! state as fresh records into new segments followed by removal of the old
//! ones (`SegmentReader::forget` closes their handles; the store swaps its
//! `Body::Disk` locations under each stream's lock).

pub mod codec;
pub mod frame;
pub mod journal;
pub mod log;
pub mod reader;
pub mod record;
pub mod replay;
pub mod segment;

pub use journal::{Journal, Opened, Pending};
pub use log::{Ack, Log, LogOptions, LogStats};
pub use record::{Append, Create, Expiry, ForkPoint, Producer, Record};
pub use replay::{Chunk, Recovered, RecoveredStream};
pub use segment::{Loc, Recovery};

#[cfg(test)]
pub(crate) mod testdir;
#[cfg(test)]
mod tests;
