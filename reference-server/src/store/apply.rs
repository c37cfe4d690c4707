//! The one place the store's state changes. Live operations (`ops`) call
//! `Registry::apply` (or, already holding a stream's lock, `State::apply`)
//! with an event they validated; recovery (`journal::recover`) calls the
//! same functions with every journaled event in order. So each rule is
//! written once: reference counts, soft-delete and the cascade up a fork
//! chain (§4.2), producer and `Stream-Seq` state (§5.2, §5.2.1), closure
//! (§4.1) and access times for expiry (§4).
//!
//! An event that does not fit the state (an append to a closed stream, a
//! create over a live one) changes nothing and comes back as an anomaly:
//! live operations never produce one (they validated), and recovery skips
//! and reports it, so a damaged journal never turns into a crash loop.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use foldhash::fast::SeedableRandomState;
use foldhash::SharedSeed;

use time::OffsetDateTime;

use super::content_type;
use super::data::{Body, Data, Durable};
use super::event::{Append, Close, Create, Event};
use super::producer::ProducerState;
use super::stream::{Config, ForkLink, State, Status, Stream};

/// Why an event was not applied.
pub type Anomaly = String;

/// The streams by path (live or soft-deleted), behind the store's registry
/// lock. Lock order: the registry, then a stream, then its sources.
#[derive(Debug)]
pub struct Registry {
    /// Hashed with foldhash (the path is hashed on every request; std's
    /// SipHash took about 250 instructions a lookup), keyed by
    /// [`path_hasher`].
    streams: HashMap<String, Arc<Stream>, SeedableRandomState>,
    /// Next stream id (ids tell incarnations apart in ETags).
    next_id: u64,
    /// File store: a new stream's data is invisible until it is durable.
    journaled: bool,
    /// Streams removed so far (their journaled data became garbage that
    /// compaction reclaims).
    removed: u64,
}

/// The registry's hasher. Paths are chosen by clients, so the hash is keyed
/// with secrets from the operating system's random source (one per process,
/// one per registry), not a fixed function whose collisions could be
/// computed offline, nor foldhash's own default seed (address-space layout
/// and the time).
fn path_hasher() -> SeedableRandomState {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    let shared = SHARED.get_or_init(|| SharedSeed::from_u64(rand::random()));
    SeedableRandomState::with_seed(rand::random(), shared)
}

/// What applying an event did, for the caller's commit.
pub enum Applied {
    /// A new stream, and where each data part of the event starts.
    Created(Arc<Stream>, Vec<Option<u64>>),
    /// Data and/or closure written: where each data part starts.
    Written(Vec<Option<u64>>),
    /// A touch or a delete.
    Changed,
}

impl Registry {
    pub fn new(journaled: bool, first_id: u64) -> Registry {
        Registry {
            streams: HashMap::with_hasher(path_hasher()),
            next_id: first_id,
            journaled,
            removed: 0,
        }
    }

    pub fn get(&self, path: &str) -> Option<&Arc<Stream>> {
        self.streams.get(path)
    }

    pub fn streams(&self) -> impl Iterator<Item = &Arc<Stream>> {
        self.streams.values()
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// How many streams were removed since the registry was built.
    pub fn removed(&self) -> u64 {
        self.removed
    }

    /// Applies `event`; `bodies` are its data parts (`Event::parts`), in
    /// memory or on disk.
    pub fn apply(&mut self, event: &Event, bodies: Vec<Body>) -> Result<Applied, Anomaly> {
        let anomaly = |what: &str| format!("{what}: {}", event.path());
        match event {
            Event::Create(c) => self.create(c, bodies).map_err(anomaly),
            Event::Delete { path } => self.delete(path).map_err(anomaly),
            Event::Append(_) | Event::Close(_) | Event::Touch { .. } => {
                let Some(s) = self.streams.get(event.path()).cloned() else {
                    // A read's touch may be journaled after the stream went.
                    if matches!(event, Event::Touch { .. }) {
                        return Ok(Applied::Changed);
                    }
                    return Err(anomaly("write to a missing stream"));
                };
                let applied = s.lock().apply(event, bodies);
                s.notify();
                applied.map_err(anomaly)
            }
        }
    }

    fn create(&mut self, c: &Create, mut bodies: Vec<Body>) -> Result<Applied, &'static str> {
        if self.streams.contains_key(&c.path) {
            return Err("create over an existing stream");
        }
        let prefix_len = c.fork.as_ref().map_or(0, |f| f.prefix.len());
        if bodies.len() != prefix_len + c.initial.len() {
            return Err("data parts do not match the event");
        }
        let fork = match &c.fork {
            None => None,
            Some(f) => {
                let source = self.streams.get(&f.source).cloned();
                let source = source.ok_or("fork of a missing source")?;
                let mut src = source.lock();
                if src.status != Status::Live || f.offset > src.data.tail {
                    return Err("fork of a deleted source or past its tail");
                }
                src.refcount += 1;
                drop(src);
                Some(ForkLink {
                    source,
                    source_path: f.source.clone(),
                    offset: f.offset,
                    sub_offset: f.sub_offset,
                })
            }
        };
        let base = fork.as_ref().map_or(0, |f| f.offset);
        let mut data = Data::new(base, c.json);
        if self.journaled {
            data.durable = Some(Durable {
                tail: base,
                ..Durable::default()
            });
        }
        let initial = bodies.split_off(prefix_len);
        let mut starts = data.push_batch(bodies);
        starts.extend(data.push_batch(initial));
        let state = State {
            config: Config {
                content_type: c.content_type.clone(),
                essence: content_type::essence(&c.content_type)
                    .unwrap_or_else(|| content_type::DEFAULT.into()),
                requested_expiry: c.requested_expiry.clone(),
            },
            expiry: c.expiry.clone(),
            last_access: c.at,
            data,
            fork,
            closed: c.closed,
            closed_by: None,
            producers: HashMap::new(),
            last_seq: None,
            refcount: 0,
            status: Status::Live,
        };
        let stream = Arc::new(Stream::new(self.next_id, c.path.clone(), state));
        self.next_id += 1;
        self.streams.insert(c.path.clone(), stream.clone());
        Ok(Applied::Created(stream, starts))
    }

    /// §4.2: a stream that forks still reference is soft-deleted (its path
    /// stays blocked); any other is removed and releases its source.
    fn delete(&mut self, path: &str) -> Result<Applied, &'static str> {
        let s = self
            .streams
            .get(path)
            .cloned()
            .ok_or("delete of a missing stream")?;
        let mut st = s.lock();
        if st.status != Status::Live {
            return Err("delete of a deleted stream");
        }
        if st.refcount > 0 {
            st.status = Status::SoftDeleted;
            drop(st);
            s.notify();
            return Ok(Applied::Changed);
        }
        st.status = Status::Removed;
        let parent = st.fork.as_ref().map(|f| f.source.clone());
        drop(st);
        self.remove(&s);
        if let Some(p) = parent {
            self.release(p);
        }
        Ok(Applied::Changed)
    }

    /// Drops one fork reference from `source`, removing soft-deleted
    /// sources whose count reaches zero, up the chain (§4.2).
    fn release(&mut self, mut source: Arc<Stream>) {
        loop {
            let mut st = source.lock();
            st.refcount = st.refcount.saturating_sub(1);
            if st.refcount > 0 || st.status != Status::SoftDeleted {
                return;
            }
            st.status = Status::Removed;
            let next = st.fork.as_ref().map(|f| f.source.clone());
            drop(st);
            self.remove(&source);
            match next {
                Some(n) => source = n,
                None => return,
            }
        }
    }

    fn remove(&mut self, s: &Arc<Stream>) {
        if self
            .streams
            .get(&s.path)
            .is_some_and(|cur| Arc::ptr_eq(cur, s))
        {
            self.streams.remove(&s.path);
            self.removed += 1;
        }
        s.notify();
    }
}

impl State {
    /// Applies an event of this stream: an append, a close or a touch.
    /// Returns where each data part starts. The caller wakes the readers.
    pub fn apply(&mut self, event: &Event, bodies: Vec<Body>) -> Result<Applied, &'static str> {
        match event {
            Event::Append(a) => self.append(a, bodies),
            Event::Close(c) => self.close(c),
            Event::Touch { at, .. } => {
                self.touch(*at);
                Ok(Applied::Changed)
            }
            Event::Create(_) | Event::Delete { .. } => Err("not an event of one stream"),
        }
    }

    /// §5.2 data with the producer / `Stream-Seq` / closure it implies, as
    /// one step (§5.2.1 atomicity).
    fn append(&mut self, a: &Append, bodies: Vec<Body>) -> Result<Applied, &'static str> {
        if self.status != Status::Live || self.closed {
            return Err("append to a deleted or closed stream");
        }
        let starts = self.data.push_batch(bodies);
        if self.data.tail != a.tail {
            tracing::warn!(
                "append to {}: tail {} recorded as {}",
                a.path,
                self.data.tail,
                a.tail
            );
        }
        self.write(&a.producer, &a.stream_seq, a.close, a.at);
        Ok(Applied::Written(starts))
    }

    fn close(&mut self, c: &Close) -> Result<Applied, &'static str> {
        if self.status != Status::Live {
            return Err("close of a deleted stream");
        }
        self.write(&c.producer, &c.stream_seq, true, c.at);
        Ok(Applied::Written(Vec::new()))
    }

    /// The writer state an accepted request leaves behind.
    fn write(
        &mut self,
        producer: &Option<super::producer::ProducerRef>,
        stream_seq: &Option<String>,
        close: bool,
        at: OffsetDateTime,
    ) {
        if let Some(p) = producer {
            let state = ProducerState {
                epoch: p.epoch,
                last_seq: p.seq,
            };
            self.producers.insert(p.id.clone(), state);
        }
        if let Some(seq) = stream_seq {
            self.last_seq = Some(seq.clone());
        }
        if close {
            self.closed = true;
            self.closed_by = producer.clone();
        }
        self.touch(at);
    }

    /// An access renews a sliding TTL (§4); time never moves it back.
    pub fn touch(&mut self, at: OffsetDateTime) {
        self.last_access = self.last_access.max(at);
    }
}
