//! §4, §4.2, §5 the in-memory store: a registry of streams (path → stream)
//! behind a short-held lock, each stream behind its own lock.
//!
//! Lock order: registry, then a stream, then its sources (child before
//! parent). Every change of a stream's status (delete, expiry, cascade,
//! create) happens with the registry lock held, so reference counts and
//! soft-deletes never race. The operations here are the seam a durable store
//! (issue 6) implements too: create, append, read, head, delete, sweep.

mod append;
pub mod content_type;
pub mod fork;
pub mod json;
pub mod offsets;
pub mod persist;
pub mod producer;
pub mod stream;
pub mod ttl;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use time::OffsetDateTime;

use crate::durable::{self, Journal, Record};
pub use append::{AppendRequest, Appended, Payload};
pub use fork::{ForkRequest, ReadResult};
use json::JsonError;
pub use persist::Commit;
use persist::{expiry_record, log_detached, mem_parts, ms};
use stream::{Config as StreamConfig, Data, State, Status, Stream};
use ttl::{Clock, Expiry};

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

/// Metadata returned by create and HEAD.
#[derive(Debug, Clone)]
pub struct Info {
    pub content_type: String,
    pub tail: u64,
    pub closed: bool,
    pub expiry: Expiry,
}

impl Info {
    fn of(st: &State) -> Info {
        Info {
            content_type: st.config.content_type.clone(),
            tail: st.data.tail,
            closed: st.closed,
            expiry: st.expiry.clone(),
        }
    }
}

type Registry = HashMap<String, Arc<Stream>>;

/// The stream store: in memory, or journaled to a data directory
/// (`persist`).
#[derive(Default)]
pub struct Store {
    registry: Mutex<Registry>,
    clock: Clock,
    next_id: AtomicU64,
    journal: Option<Arc<Journal>>,
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
    pub fn new(clock: Clock) -> Store {
        Store {
            clock,
            ..Store::default()
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finds a live stream, applying lazy expiry (§4).
    fn lookup(&self, path: &str) -> Result<Arc<Stream>, StoreError> {
        let s = self
            .registry()
            .get(path)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let now = self.clock.now();
        let expired = {
            let st = s.lock();
            check_live(&st)?;
            st.is_expired(now)
        };
        if expired {
            let mut reg = self.registry();
            expire_locked(&mut reg, &s, now);
            check_live(&s.lock())?;
        }
        Ok(s)
    }

    /// §5.1 create, idempotent create, and §4.2 fork creation.
    pub fn create(&self, req: CreateRequest) -> Result<(bool, Info), StoreError> {
        self.create_logged(req)
            .map(|(created, info, _)| (created, info))
    }

    /// `create`, answered once it is durable (file store).
    pub async fn create_durable(&self, req: CreateRequest) -> Result<(bool, Info), StoreError> {
        let (created, info, commit) = match self.create_logged(req) {
            Ok(done) => done,
            Err(e) => return self.refused(e).await,
        };
        commit.durable().await?;
        Ok((created, info))
    }

    fn create_logged(&self, req: CreateRequest) -> Result<(bool, Info, Commit), StoreError> {
        let now = self.clock.now();
        // A new JSON stream's initial body is parsed before taking the
        // registry lock (a large body would stall every other request);
        // a fork's type may be inherited, so its body is parsed under it.
        let mut parsed = None;
        if req.fork.is_none() && !req.body.is_empty() {
            let essence = req.content_type.as_deref().and_then(content_type::essence);
            if essence.as_deref().is_some_and(content_type::is_json) {
                parsed = Some(json::flatten(&req.body, true));
            }
        }
        let mut reg = self.registry();
        if let Some(existing) = reg.get(&req.path).cloned() {
            expire_locked(&mut reg, &existing, now);
            let st = existing.lock();
            match st.status {
                Status::SoftDeleted => return Err(StoreError::PathBlocked),
                Status::Live if same_config(&st, &req) => {
                    return Ok((false, Info::of(&st), self.commit_barrier()))
                }
                Status::Live => return Err(StoreError::ConfigMismatch),
                Status::Removed => {}
            }
        }
        let requested_essence = req.content_type.as_deref().and_then(content_type::essence);
        let (content_type, data, link, expiry) = match &req.fork {
            Some(f) => {
                let p = fork::prepare(&mut reg, f, requested_essence.as_deref(), &req.expiry, now)?;
                let ct = req.content_type.clone().unwrap_or(p.content_type);
                (ct, p.data, Some(p.link), p.expiry)
            }
            None => {
                let ct = req
                    .content_type
                    .clone()
                    .unwrap_or_else(|| content_type::DEFAULT.into());
                let json = requested_essence
                    .as_deref()
                    .is_some_and(content_type::is_json);
                (ct, Data::new(0, json), None, req.expiry.clone())
            }
        };
        let essence =
            content_type::essence(&content_type).unwrap_or_else(|| content_type::DEFAULT.into());
        let mut data = data;
        let prefix_entries = data.entries.len();
        if !req.body.is_empty() {
            let parts = if data.json {
                let parsed = parsed.unwrap_or_else(|| json::flatten(&req.body, true));
                parsed.map_err(StoreError::Json)?
            } else {
                vec![req.body.clone()]
            };
            data.push_batch(parts);
        }
        if let Some(link) = &link {
            link.source.lock().refcount += 1;
        }
        let state = State {
            config: StreamConfig {
                content_type,
                essence,
                requested_expiry: req.expiry.clone(),
            },
            expiry,
            last_access: now,
            data,
            fork: link,
            closed: req.closed,
            closed_by: None,
            producers: HashMap::new(),
            last_seq: None,
            refcount: 0,
            status: Status::Live,
        };
        let info = Info::of(&state);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let record = self.journal.as_ref().map(|_| {
            let entries = &state.data.entries;
            Record::Create(durable::Create {
                path: req.path.clone(),
                content_type: state.config.content_type.clone(),
                json: state.data.json,
                requested_expiry: expiry_record(&req.expiry),
                expiry: expiry_record(&state.expiry),
                at_ms: ms(now),
                closed: req.closed,
                fork: state.fork.as_ref().map(|l| durable::ForkPoint {
                    source: l.source_path.clone(),
                    offset: l.offset,
                    sub_offset: l.sub_offset,
                    prefix: mem_parts(&entries[..prefix_entries]),
                }),
                initial: mem_parts(&entries[prefix_entries..]),
            })
        });
        let starts: Vec<u64> = state.data.entries.iter().map(|e| e.start).collect();
        let mut state = state;
        if self.journal.is_some() {
            state.data.durable = Some(stream::Durable {
                tail: state.data.base,
                closed: false,
                created: false,
            });
        }
        let mark = (state.data.tail, state.closed);
        let stream = Arc::new(
            Stream::new(id, req.path.clone(), state).journaled(self.journal.clone(), ms(now)),
        );
        reg.insert(req.path, stream.clone());
        let commit = match record {
            Some(r) => self.commit_record(&r, Some((stream, starts, mark))),
            None => Commit::none(),
        };
        Ok((true, info, commit))
    }

    /// §5.5 HEAD: metadata; never renews a TTL.
    pub fn head(&self, path: &str) -> Result<Info, StoreError> {
        self.lookup(path).and_then(|s| head_of(&s))
    }

    /// `head`, answered once what it reveals is durable (file store): the
    /// stream's existence, or its absence after a DELETE still syncing.
    pub async fn head_durable(&self, path: &str) -> Result<Info, StoreError> {
        let s = self.lookup_durable(path).await?;
        match head_of(&s) {
            Ok(info) => Ok(info),
            Err(e) => self.refused(e).await,
        }
    }

    /// The live stream at `path` (no TTL renewal), once its existence or
    /// absence is durable.
    pub async fn lookup_durable(&self, path: &str) -> Result<Arc<Stream>, StoreError> {
        self.settled_stream(self.lookup(path)).await
    }

    /// `open_for_read`, once the stream's existence (or absence) is durable.
    pub async fn open_for_read_durable(&self, path: &str) -> Result<Arc<Stream>, StoreError> {
        self.settled_stream(self.open_for_read(path)).await
    }

    /// A stream found (or not) in the registry, once that is durable: a
    /// refusal waits for a barrier, a stream only while its Create record is
    /// not yet known to be on disk.
    async fn settled_stream(
        &self,
        found: Result<Arc<Stream>, StoreError>,
    ) -> Result<Arc<Stream>, StoreError> {
        let s = match found {
            Ok(s) => s,
            Err(e) => return self.refused(e).await,
        };
        if !s.lock().data.created_durably() {
            self.settle().await?;
            s.lock().data.mark_created();
        }
        Ok(s)
    }

    /// Opens a stream for a read (§5.6-§5.8), renewing its TTL (§5.1).
    pub fn open_for_read(&self, path: &str) -> Result<Arc<Stream>, StoreError> {
        let s = self.lookup(path)?;
        let now = self.clock.now();
        let mut st = s.lock();
        check_live(&st)?;
        st.last_access = now;
        // A sliding TTL's renewal must survive a restart (coalesced).
        let sliding = matches!(st.expiry, Expiry::Ttl(_));
        drop(st);
        if sliding && s.journal.is_some() && s.claim_touch(ms(now), persist::TOUCH_EVERY_MS) {
            log_detached(
                &s,
                Record::Touch {
                    path: s.path.clone(),
                    at_ms: ms(now),
                },
            );
        }
        Ok(s)
    }

    /// §5.4 DELETE, with §4.2 soft-delete and cascading cleanup.
    pub fn delete(&self, path: &str) -> Result<(), StoreError> {
        self.delete_logged(path).map(|_| ())
    }

    /// `delete`, answered once it is durable (file store).
    pub async fn delete_durable(&self, path: &str) -> Result<(), StoreError> {
        match self.delete_logged(path) {
            Ok(commit) => commit.durable().await,
            Err(e) => self.refused(e).await,
        }
    }

    fn delete_logged(&self, path: &str) -> Result<Commit, StoreError> {
        let now = self.clock.now();
        let mut reg = self.registry();
        let s = reg.get(path).cloned().ok_or(StoreError::NotFound)?;
        expire_locked(&mut reg, &s, now);
        let mut st = s.lock();
        check_live(&st)?;
        let path = path.to_string();
        if st.refcount > 0 {
            st.status = Status::SoftDeleted;
            let commit = self.commit_record(&Record::SoftDelete { path }, None);
            drop(st);
            s.notify();
            return Ok(commit);
        }
        st.status = Status::Removed;
        // Replay releases the source and cascades like `release_ref`.
        let commit = self.commit_record(&Record::Delete { path }, None);
        let parent = st.fork.as_ref().map(|f| f.source.clone());
        drop(st);
        remove_if_same(&mut reg, &s);
        s.notify();
        if let Some(p) = parent {
            release_ref(&mut reg, p);
        }
        Ok(commit)
    }

    /// Periodic expiry of streams nobody touches (§4).
    pub fn sweep(&self) {
        let now = self.clock.now();
        let all: Vec<Arc<Stream>> = self.registry().values().cloned().collect();
        for s in all {
            let expired = {
                let st = s.lock();
                st.status == Status::Live && st.is_expired(now)
            };
            if expired {
                expire_locked(&mut self.registry(), &s, now);
            }
        }
    }

    /// Number of streams holding a path (live or soft-deleted).
    pub fn len(&self) -> usize {
        self.registry().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// HEAD metadata of a stream, limited to what is durable.
fn head_of(s: &Stream) -> Result<Info, StoreError> {
    let st = s.lock();
    check_live(&st)?;
    let mut info = Info::of(&st);
    (info.tail, info.closed) = st.data.visible(st.closed);
    Ok(info)
}

fn check_live(st: &State) -> Result<(), StoreError> {
    match st.status {
        Status::Live => Ok(()),
        Status::SoftDeleted => Err(StoreError::Gone),
        Status::Removed => Err(StoreError::NotFound),
    }
}

/// Whether a repeated PUT asks for the configuration the stream has.
fn same_config(st: &State, req: &CreateRequest) -> bool {
    let ct_matches = match req.content_type.as_deref() {
        Some(ct) => content_type::essence(ct).as_deref() == Some(st.config.essence.as_str()),
        None => req.fork.is_some() || st.config.essence == content_type::DEFAULT,
    };
    let fork_matches = match (&req.fork, &st.fork) {
        (None, None) => true,
        (Some(want), Some(have)) => {
            want.source_path == have.source_path
                && want.offset.is_none_or(|o| o == have.offset)
                && want.sub_offset == have.sub_offset
        }
        _ => false,
    };
    ct_matches
        && fork_matches
        && st.config.requested_expiry == req.expiry
        && st.closed == req.closed
}

/// Applies expiry to `s` if it is due: soft-delete when forks still
/// reference it, otherwise remove it and release its source (§4.2).
fn expire_locked(reg: &mut Registry, s: &Arc<Stream>, now: OffsetDateTime) {
    let mut st = s.lock();
    if st.status != Status::Live || !st.is_expired(now) {
        return;
    }
    let path = s.path.clone();
    if st.refcount > 0 {
        st.status = Status::SoftDeleted;
        log_detached(s, Record::SoftDelete { path });
        drop(st);
        s.notify();
        return;
    }
    st.status = Status::Removed;
    log_detached(s, Record::Delete { path });
    let parent = st.fork.as_ref().map(|f| f.source.clone());
    drop(st);
    remove_if_same(reg, s);
    s.notify();
    if let Some(p) = parent {
        release_ref(reg, p);
    }
}

fn remove_if_same(reg: &mut Registry, s: &Arc<Stream>) {
    if reg.get(&s.path).is_some_and(|cur| Arc::ptr_eq(cur, s)) {
        reg.remove(&s.path);
    }
}

/// Drops one fork reference from `source`, cleaning up soft-deleted
/// sources whose count reaches zero, up the chain.
fn release_ref(reg: &mut Registry, mut source: Arc<Stream>) {
    loop {
        let mut st = source.lock();
        st.refcount = st.refcount.saturating_sub(1);
        if st.refcount > 0 || st.status != Status::SoftDeleted {
            return;
        }
        st.status = Status::Removed;
        let next = st.fork.as_ref().map(|f| f.source.clone());
        drop(st);
        remove_if_same(reg, &source);
        source.notify();
        match next {
            Some(n) => source = n,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests;
