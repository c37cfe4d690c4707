//! §4 Durability, recovery: a pure fold of the log's records into the state
//! the memory store is rebuilt from: per path its configuration, an index of
//! its own data (disk locations, not bytes), closure (§4.1), lifetime,
//! producer states and last `Stream-Seq` (§5.2.1, §5.2), fork point,
//! soft-delete flag and reference count (§4.2).
//!
//! Replay trusts the records' order but not their consistency: a record
//! that the store could never have written (an append to a missing or
//! closed stream, a create over a live one) is skipped and reported, so a
//! bug never turns into a crash loop at start-up.

use std::collections::BTreeMap;

use super::record::{Append, Create, Expiry, ForkPoint, Producer, Record};
use super::segment::Loc;

/// One record as recovered: where it is and where its data parts are.
#[derive(Clone, Debug)]
pub struct Logged {
    pub record: Record,
    /// Data parts in record order (fork prefix, then initial body).
    pub parts: Vec<Loc>,
}

/// One stored piece of a stream's own data (an append's bytes, or one
/// JSON message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Position of its first unit.
    pub start: u64,
    pub loc: Loc,
    /// Last chunk of the append that wrote it (limits a fork sub-offset).
    pub batch_end: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerState {
    pub epoch: u64,
    pub last_seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Live,
    SoftDeleted,
}

/// Where a fork diverges; the source is named by path, which cannot be
/// reused while the fork holds its reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkLink {
    pub source: String,
    pub offset: u64,
    pub sub_offset: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredStream {
    pub path: String,
    /// Creation order, for deterministic rebuilds (sources before forks).
    pub created: u64,
    pub content_type: String,
    pub json: bool,
    pub requested_expiry: Expiry,
    pub expiry: Expiry,
    /// Last recorded access (ms since the Unix epoch), for sliding TTLs.
    pub last_access_ms: i64,
    pub fork: Option<ForkLink>,
    /// Own data covers `[base, tail)`; below `base` it is the source's.
    pub base: u64,
    pub tail: u64,
    pub chunks: Vec<Chunk>,
    pub closed: bool,
    pub closed_by: Option<Producer>,
    pub producers: BTreeMap<String, ProducerState>,
    pub last_seq: Option<String>,
    pub status: Status,
    pub refcount: u64,
}

impl RecoveredStream {
    fn push_batch(&mut self, parts: &[Loc]) {
        let mut pushed = false;
        for &loc in parts {
            let units = if self.json { 1 } else { u64::from(loc.len) };
            if units == 0 {
                continue;
            }
            self.chunks.push(Chunk {
                start: self.tail,
                loc,
                batch_end: false,
            });
            self.tail += units;
            pushed = true;
        }
        if pushed {
            if let Some(last) = self.chunks.last_mut() {
                last.batch_end = true;
            }
        }
    }

    fn apply_writer_state(&mut self, producer: &Option<Producer>, stream_seq: &Option<String>) {
        if let Some(p) = producer {
            self.producers.insert(
                p.id.clone(),
                ProducerState {
                    epoch: p.epoch,
                    last_seq: p.seq,
                },
            );
        }
        if let Some(s) = stream_seq {
            self.last_seq = Some(s.clone());
        }
    }
}

/// Everything recovered from a data directory.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// Streams holding a path (live or soft-deleted).
    pub streams: BTreeMap<String, RecoveredStream>,
    /// Records skipped as inconsistent, with the reason.
    pub anomalies: Vec<String>,
    /// Locations of data that no stream references any more (input for a
    /// future compaction).
    pub dead_bytes: u64,
}

impl Recovered {
    /// Streams in creation order (every fork after its source).
    pub fn in_creation_order(&self) -> Vec<&RecoveredStream> {
        let mut v: Vec<_> = self.streams.values().collect();
        v.sort_by_key(|s| s.created);
        v
    }
}

/// Folds records, in log order, into the recovered state.
pub fn replay(records: impl IntoIterator<Item = Logged>) -> Recovered {
    let mut r = Replayer::default();
    for logged in records {
        r.apply(logged);
    }
    r.finish()
}

/// The fold one record at a time, so recovery can replay while it scans.
#[derive(Default)]
pub struct Replayer {
    out: Recovered,
    next_created: u64,
}

impl Replayer {
    fn anomaly(&mut self, what: &str, record: &Record) {
        self.out
            .anomalies
            .push(format!("{what}: {}", record.path()));
    }

    pub fn finish(self) -> Recovered {
        self.out
    }

    pub fn apply(&mut self, logged: Logged) {
        let Logged { record, parts } = logged;
        let streams = &mut self.out.streams;
        match &record {
            Record::Create(c) => self.create(c, &parts, &record),
            Record::Append(a) => match streams.get_mut(&a.path) {
                Some(s) if s.status == Status::Live && !s.closed => {
                    apply_append(s, a, &parts);
                    if s.tail != a.tail {
                        let msg = format!("tail {} recorded as {}", s.tail, a.tail);
                        self.anomaly(&msg, &record);
                    }
                }
                _ => self.anomaly("append to a missing, deleted or closed stream", &record),
            },
            Record::Close {
                path,
                producer,
                stream_seq,
                at_ms,
            } => match streams.get_mut(path) {
                Some(s) if s.status == Status::Live => {
                    s.apply_writer_state(producer, stream_seq);
                    s.closed = true;
                    s.closed_by = producer.clone();
                    s.last_access_ms = s.last_access_ms.max(*at_ms);
                }
                _ => self.anomaly("close of a missing or deleted stream", &record),
            },
            Record::Touch { path, at_ms } => {
                if let Some(s) = streams.get_mut(path) {
                    s.last_access_ms = s.last_access_ms.max(*at_ms);
                }
            }
            Record::SoftDelete { path } => match streams.get_mut(path) {
                Some(s) => s.status = Status::SoftDeleted,
                None => self.anomaly("soft-delete of a missing stream", &record),
            },
            Record::Delete { path } => match streams.get(path) {
                Some(s) if s.refcount == 0 => self.remove(path),
                Some(_) => {
                    // The store soft-deletes a stream with forks; do the same.
                    self.anomaly("delete of a stream with forks (soft-deleted)", &record);
                    if let Some(s) = self.out.streams.get_mut(path) {
                        s.status = Status::SoftDeleted;
                    }
                }
                None => self.anomaly("delete of a missing stream", &record),
            },
            Record::Purge { path } => {
                if let Some(s) = streams.get(path) {
                    if s.status == Status::SoftDeleted && s.refcount == 0 {
                        self.remove(path);
                    }
                }
            }
        }
    }

    fn create(&mut self, c: &Create, parts: &[Loc], record: &Record) {
        if self.out.streams.contains_key(&c.path) {
            return self.anomaly("create over an existing stream", record);
        }
        let prefix_len = c.fork.as_ref().map_or(0, |f| f.prefix.len());
        if parts.len() != prefix_len + c.initial.len() {
            return self.anomaly("data locations do not match the record", record);
        }
        let fork = match &c.fork {
            None => None,
            Some(ForkPoint {
                source,
                offset,
                sub_offset,
                ..
            }) => match self.out.streams.get_mut(source) {
                Some(src) if src.status == Status::Live && *offset <= src.tail => {
                    src.refcount += 1;
                    Some(ForkLink {
                        source: source.clone(),
                        offset: *offset,
                        sub_offset: *sub_offset,
                    })
                }
                _ => return self.anomaly("fork of a missing or deleted source", record),
            },
        };
        let base = fork.as_ref().map_or(0, |f| f.offset);
        let mut s = RecoveredStream {
            path: c.path.clone(),
            created: self.next_created,
            content_type: c.content_type.clone(),
            json: c.json,
            requested_expiry: c.requested_expiry.clone(),
            expiry: c.expiry.clone(),
            last_access_ms: c.at_ms,
            fork,
            base,
            tail: base,
            chunks: Vec::new(),
            closed: c.closed,
            closed_by: None,
            producers: BTreeMap::new(),
            last_seq: None,
            status: Status::Live,
            refcount: 0,
        };
        self.next_created += 1;
        s.push_batch(&parts[..prefix_len]);
        s.push_batch(&parts[prefix_len..]);
        self.out.streams.insert(c.path.clone(), s);
    }

    /// Removes a stream and releases its source, cascading up the chain
    /// through soft-deleted sources that lose their last fork (§4.2).
    fn remove(&mut self, path: &str) {
        let mut next = Some(path.to_string());
        while let Some(p) = next.take() {
            let Some(s) = self.out.streams.remove(&p) else {
                return;
            };
            self.out.dead_bytes += s.chunks.iter().map(|c| u64::from(c.loc.len)).sum::<u64>();
            let Some(link) = s.fork else { return };
            if let Some(src) = self.out.streams.get_mut(&link.source) {
                src.refcount = src.refcount.saturating_sub(1);
                if src.refcount == 0 && src.status == Status::SoftDeleted {
                    next = Some(link.source);
                }
            }
        }
    }
}

fn apply_append(s: &mut RecoveredStream, a: &Append, parts: &[Loc]) {
    s.push_batch(parts);
    s.apply_writer_state(&a.producer, &a.stream_seq);
    if a.close {
        s.closed = true;
        s.closed_by = a.producer.clone();
    }
    s.last_access_ms = s.last_access_ms.max(a.at_ms);
}
