//! §4 stream model: one stream's state behind its own lock (its data is in
//! `data`), and the per-stream change signal that wakes long-poll and SSE
//! readers (§5.7, §5.8) of this stream only. The state changes only in
//! `apply`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;
use tokio::sync::watch;

use super::data::Data;
use super::producer::{ProducerRef, ProducerState};
use super::ttl::Expiry;
use super::StoreError;

/// Where a fork's inherited data comes from.
#[derive(Clone, Debug)]
pub struct ForkLink {
    pub source: Arc<Stream>,
    /// Fork request as given, for idempotent re-creation (§4.2).
    pub source_path: String,
    pub offset: u64,
    pub sub_offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Live,
    /// Deleted or expired while forks still reference it (§4.2).
    SoftDeleted,
    /// Gone from the registry; only in-flight holders still see it.
    Removed,
}

/// The configuration PUT compares for idempotent creation (§5.1, §4.2).
#[derive(Clone, Debug)]
pub struct Config {
    pub content_type: String,
    pub essence: String,
    /// The lifetime the request asked for (a fork may inherit another).
    pub requested_expiry: Expiry,
}

#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub expiry: Expiry,
    pub last_access: OffsetDateTime,
    pub data: Data,
    pub fork: Option<ForkLink>,
    pub closed: bool,
    /// The producer request that closed the stream, for duplicate closes.
    pub closed_by: Option<ProducerRef>,
    pub producers: HashMap<String, ProducerState>,
    /// Last `Stream-Seq` (scope: the whole stream, §5.2).
    pub last_seq: Option<String>,
    pub refcount: u64,
    pub status: Status,
}

impl State {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expiry.is_expired(self.last_access, now)
    }

    /// A deleted stream is 410 while forks keep it (§4.2), else 404.
    pub fn check_live(&self) -> Result<(), StoreError> {
        match self.status {
            Status::Live => Ok(()),
            Status::SoftDeleted => Err(StoreError::Gone),
            Status::Removed => Err(StoreError::NotFound),
        }
    }

    /// Metadata as create answers it (the full tail; the answer waits for
    /// the create to be durable).
    pub fn info(&self) -> Info {
        Info {
            content_type: self.config.content_type.clone(),
            tail: self.data.tail,
            closed: self.closed,
            expiry: self.expiry.clone(),
        }
    }

    /// §5.5 HEAD metadata, limited to what is durable.
    pub fn visible_info(&self) -> Result<Info, StoreError> {
        self.check_live()?;
        let mut info = self.info();
        (info.tail, info.closed) = self.data.visible(self.closed);
        Ok(info)
    }
}

/// Metadata returned by create and HEAD.
#[derive(Debug, Clone)]
pub struct Info {
    pub content_type: String,
    pub tail: u64,
    pub closed: bool,
    pub expiry: Expiry,
}

/// A stream: identity, state behind one lock, and its change signal.
#[derive(Debug)]
pub struct Stream {
    /// Unique per incarnation, so ETags differ across delete + re-create.
    pub id: u64,
    pub path: String,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    /// Last access written to the journal (ms), to coalesce `Touch` events.
    logged_access_ms: AtomicI64,
}

impl Stream {
    pub fn new(id: u64, path: String, state: State) -> Stream {
        let created_ms = super::ttl::ms(state.last_access);
        Stream {
            id,
            path,
            state: Mutex::new(state),
            changed: watch::Sender::new(0),
            logged_access_ms: AtomicI64::new(created_ms),
        }
    }

    /// Claims the right to journal an access at `now_ms` if the last
    /// journaled one is at least `every_ms` older (one `Touch` per window
    /// per stream).
    pub fn claim_touch(&self, now_ms: i64, every_ms: i64) -> bool {
        let last = self.logged_access_ms.load(Ordering::Relaxed);
        now_ms.saturating_sub(last) >= every_ms
            && self
                .logged_access_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Locks the state; a panic elsewhere never poisons the server.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes this stream's live readers (appends, closes, deletes). Call it
    /// after the change, with the stream's lock released or held: a reader
    /// subscribes before it locks the stream to look for data, so one that
    /// is not counted here yet will see the change itself (and a stream
    /// without readers, the common case for writers, costs no wake-up).
    pub fn notify(&self) {
        if self.changed.receiver_count() > 0 {
            self.changed.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// Live readers (long-poll and SSE) currently waiting on this stream;
    /// a reader that has gone away is no longer counted.
    pub fn live_readers(&self) -> usize {
        self.changed.receiver_count()
    }

    /// Subscribe before checking for data so no wake-up is lost.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
