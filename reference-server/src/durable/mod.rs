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
//! Not done yet: compaction. Deleted streams' data stays in old segments
//! (`Recovered::dead_bytes` measures it). The hook is a rewrite of the live
//! state as fresh records into new segments followed by removal of the old
//! ones (`SegmentReader::forget` closes their handles); it needs the store
//! to swap its chunk locations, so it waits for the wiring.

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
