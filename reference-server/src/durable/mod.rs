//! §4 Durability: the append-only record log behind `ds-server --data-dir
//! DIR`, as layers that know nothing of streams or HTTP (the store's
//! journal, `store::journal`, writes its events here):
//!
//! - `frame`: `[len u32][crc32 u32][payload]` framing and its checks;
//! - `segment`: segment files, rotation targets and crash recovery
//!   (a torn or corrupt tail is cut, never served);
//! - `log`: the append-only log with group commit (one write + one
//!   fdatasync per batch of concurrent appends, ack after the sync);
//! - `reader`: `pread` of stored ranges through a bounded LRU of handles.
//!
//! Guarantees: a record acknowledged by `Log::submit`'s `Ack` survives any
//! crash; a record is written whole or not at all (a torn tail is cut on
//! recovery), so everything one record carries survives together.
//!
//! Compaction (`store::journal::compact` decides what to keep): `Log::cut`
//! seals the active segment and reserves an id; a *base* written under that
//! id (`segment::BaseWriter`, installed by an atomic rename) replaces every
//! segment before it, and recovery starts at the latest base.

pub mod frame;
pub mod log;
pub mod reader;
pub mod segment;

pub use log::{Ack, Log, LogOptions, LogStats, SyncHook};
pub use segment::{Loc, Recovery};

#[cfg(test)]
pub(crate) mod testdir;
#[cfg(test)]
mod tests;
