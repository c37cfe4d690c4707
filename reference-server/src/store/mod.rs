//! §4, §4.2, §5 the stream store, one state machine:
//!
//! 1. an operation (`ops`: create, append, delete, open for read, expiry)
//!    validates a request against the current state and yields an `event`;
//! 2. `apply` makes the change (the only code that changes state; recovery
//!    replays the journaled events through it too);
//! 3. the file store journals the event under the lock that applied it
//!    (`journal`), and the operation hands back its outcome with a
//!    `commit::Commit` that the HTTP layer awaits before answering. The
//!    memory store is the same code without a journal (empty commits).
//!
//! State: a registry of streams (path → `stream::Stream`) behind a
//! short-held lock, each stream behind its own lock, its data in `data`.
//! Reads take chunks with `read::chunk`. The protocol's rules on values
//! live beside them: `producer` (§5.2.1), `ttl` (§4, §5.1), `fork` (§4.2),
//! `json` (§9.1), `offsets` (§8), `content_type`.
//!
//! Lock order: registry, then a stream, then its sources (child before
//! parent). Every change of a stream's status (delete, expiry, cascade,
//! create) happens with the registry lock held, so reference counts and
//! soft-deletes never race.

pub mod apply;
pub mod commit;
pub mod content_type;
pub mod data;
pub mod event;
pub mod fork;
pub mod journal;
pub mod json;
mod listing;
pub mod offsets;
mod ops;
pub mod producer;
pub mod read;
pub mod stream;
pub mod ttl;

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use apply::Registry;
pub use commit::{Commit, Outcome};
use journal::Journal;
use json::JsonError;
pub use ops::append::{AppendRequest, Appended, Payload};
pub use read::ReadResult;
pub use stream::Info;
use ttl::{Clock, Expiry};

pub use fork::ForkRequest;

/// Everything a store operation can refuse; the HTTP layer maps each to a
/// status code (see `http::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("stream not found")]
    NotFound,
    #[error("stream was deleted")]
    Gone,
    #[error("stream already exists with a different configuration")]
    ConfigMismatch,
    #[error("path belongs to a deleted stream that still has forks")]
    PathBlocked,
    #[error("stream is closed")]
    Closed { tail: u64 },
    #[error("content type does not match the stream")]
    ContentTypeMismatch,
    #[error("Stream-Seq must be greater than the last one")]
    SeqRegression,
    #[error("{0}")]
    Json(JsonError),
    #[error("stale producer epoch")]
    StaleEpoch { current: u64 },
    #[error("a new producer epoch must start at seq 0")]
    EpochSeqNotZero,
    #[error("producer sequence gap")]
    SeqGap { expected: u64, received: u64 },
    #[error("offset is beyond the stream's tail")]
    OffsetBeyondTail,
    #[error("fork source not found")]
    SourceNotFound,
    #[error("fork source was deleted")]
    SourceGone,
    #[error("fork sub-offset goes past the next data boundary")]
    SubOffsetOvershoot,
    /// The data directory could not record the change (§4), so nothing was
    /// acknowledged, or could not give back stored data.
    #[error("the data directory failed; retry later")]
    Storage,
}

/// A create (PUT) request after header validation (§5.1, §4.2).
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub path: String,
    /// Exact header value; `None` means default (or inherit, for forks).
    pub content_type: Option<String>,
    pub expiry: Expiry,
    pub closed: bool,
    pub body: Bytes,
    pub fork: Option<ForkRequest>,
}

/// The stream store: in memory, or journaled to a data directory.
pub struct Store {
    registry: Mutex<Registry>,
    clock: Clock,
    /// The file store's journal; `None` in memory.
    journal: Option<Arc<Journal>>,
    /// When the file store compacts its journal; `None` in memory.
    compaction: Option<journal::compact::Policy>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("streams", &self.len())
            .field("durable", &self.journal.is_some())
            .finish()
    }
}

impl Store {
    /// The memory store.
    pub fn new(clock: Clock) -> Store {
        Store {
            registry: Mutex::new(Registry::new(false, 0)),
            clock,
            journal: None,
            compaction: None,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Number of streams holding a path (live or soft-deleted).
    pub fn len(&self) -> usize {
        self.registry().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An operation's answer once what it rests on is durable.
    fn answer<T>(&self, result: Result<(T, Commit), StoreError>) -> Outcome<T> {
        match result {
            Ok((value, commit)) => Outcome::new(Ok(value), commit),
            Err(e) => self.refuse(e),
        }
    }

    /// The refusal `e`, once what it reveals is durable: a 404 after a
    /// DELETE, a 409 for a close, a producer's 403... may rest on events
    /// still being synced.
    fn refuse<T>(&self, e: StoreError) -> Outcome<T> {
        Outcome::new(Err(e), self.barrier())
    }

    /// Waits for everything journaled so far (answers that rest on state
    /// an earlier event made).
    fn barrier(&self) -> Commit {
        Commit::barrier(self.journal.as_ref())
    }
}

/// A validated event that `apply` refused: a bug, never a client's fault.
fn unapplied(anomaly: apply::Anomaly) -> StoreError {
    tracing::error!("a validated event did not apply ({anomaly})");
    StoreError::Storage
}

#[cfg(test)]
mod tests;
