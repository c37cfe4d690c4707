//! §4 Durability: compaction of the file store's journal. Deleted and
//! expired streams' records stay in the log's segments until a compaction
//! rewrites the live state as a *base*: for every stream still in the
//! registry (live, or soft-deleted and kept by its forks, §4.2), the
//! ordinary events that rebuild it — a `Create`, one `Append` per append
//! batch with its data copied, an empty `Append` per producer and for the
//! last `Stream-Seq`, a `Close`, and at the end a `Delete` for each
//! soft-deleted one. Recovery replays the base through the same `apply` as
//! every other record, so no rule of the store is written twice.
//!
//! Steps, and why a crash (SIGKILL) at any point loses nothing acknowledged:
//!
//! 1. **Cut**, with the registry and every stream locked (every event is
//!    journaled under the lock that applied it, so nothing is half-way):
//!    the state is captured and the log is told to cut (`Log::cut`): it
//!    syncs everything before, seals the active segment `M`, reserves id
//!    `M+1` for the base and continues in `M+2`. A crash here: nothing
//!    changed on disk.
//! 2. **Write** the base to a temporary file and sync it (no lock held;
//!    the data is copied from the old segments, which never change). A
//!    crash: the temporary file is removed on open; the old log is whole.
//! 3. **Install**: rename it to the base `M+1` and sync the directory: the
//!    commit point. Recovery now starts at the base and ignores (removes)
//!    every file before it; the base holds exactly the state the records
//!    up to the cut built, and the records after it are in `M+2...`.
//! 4. **Relocate**: each captured stream's entries read from the base
//!    from now on (under its lock; entries added after the cut are
//!    already in `M+2...`).
//! 5. **Remove** the old files; reads that located data before step 4
//!    keep open handles for a while (`SegmentReader::retire`).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::durable::segment::{self, BaseWriter};
use crate::durable::Loc;
use crate::store::data::{read_bodies, Entry};
use crate::store::event::{Append, Close, Create, Event, ForkPoint};
use crate::store::journal::codec::{self, Encoded};
use crate::store::producer::{ProducerRef, ProducerState};
use crate::store::stream::{State, Status, Stream};
use crate::store::Store;

/// Where `Store::compact_until` stops, as a crash right after that step
/// would (tests of recovery).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Cut,
    Written,
    Installed,
    Relocated,
    Removed,
}

/// What one compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub base: u64,
    pub streams: usize,
    pub records: usize,
    /// Bytes of the log's files before and after.
    pub disk_before: u64,
    pub disk_after: u64,
}

/// Handles of removed files are kept this long for reads under way.
const RETIRED_FOR: Duration = Duration::from_secs(10);

/// When the file store compacts: once streams were removed and the log has
/// grown (records written since the last cut, or found on open) by at
/// least `min_bytes` and by the size of the last base (so the copying
/// costs at most about as much as the writing it follows).
#[derive(Debug)]
pub struct Policy {
    min_bytes: u64,
    running: AtomicBool,
    last: Mutex<Last>,
}

#[derive(Debug, Default)]
struct Last {
    base_bytes: u64,
    removed: u64,
    /// `Log::stats().bytes` at the last cut (records written since then
    /// are the log's growth; preallocated zeros are not).
    log_bytes: u64,
    /// Segments found on open, before any compaction of this run.
    carried: u64,
}

impl Policy {
    pub fn new(dir: &Path, min_bytes: u64) -> Policy {
        let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let base_bytes = segment::list_bases(dir)
            .ok()
            .and_then(|b| b.last().copied())
            .map_or(0, |b| size(segment::base_path(dir, b)));
        let carried = segment::list(dir)
            .unwrap_or_default()
            .into_iter()
            .map(|id| size(segment::path(dir, id)))
            .sum();
        Policy {
            min_bytes,
            running: AtomicBool::new(false),
            last: Mutex::new(Last {
                base_bytes,
                carried,
                ..Last::default()
            }),
        }
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Last> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One stream as it was at the cut.
struct Captured {
    stream: Arc<Stream>,
    source: Option<Arc<Stream>>,
    create: Create,
    entries: Vec<Entry>,
    batch_ends: Vec<u64>,
    base: u64,
    producers: Vec<(String, ProducerState)>,
    last_seq: Option<String>,
    closed: bool,
    closed_by: Option<ProducerRef>,
    soft_deleted: bool,
}

fn capture(stream: &Arc<Stream>, st: &State) -> Captured {
    let at = st.last_access;
    let fork = st.fork.as_ref().map(|f| ForkPoint {
        source: f.source_path.clone(),
        offset: f.offset,
        sub_offset: f.sub_offset,
        // Materialised prefix data is the fork's own first batch: it is
        // copied with the other batches.
        prefix: Vec::new(),
    });
    let mut producers: Vec<_> = st
        .producers
        .iter()
        .map(|(id, p)| (id.clone(), *p))
        .collect();
    producers.sort_by(|a, b| a.0.cmp(&b.0));
    Captured {
        stream: stream.clone(),
        source: st.fork.as_ref().map(|f| f.source.clone()),
        create: Create {
            path: stream.path.clone(),
            content_type: st.config.content_type.clone(),
            json: st.data.json,
            requested_expiry: st.config.requested_expiry.clone(),
            expiry: st.expiry.clone(),
            at,
            closed: false,
            fork,
            initial: Vec::new(),
        },
        entries: st.data.entries.clone(),
        batch_ends: st.data.batch_ends.clone(),
        base: st.data.base,
        producers,
        last_seq: st.last_seq.clone(),
        closed: st.closed,
        closed_by: st.closed_by.clone(),
        soft_deleted: st.status == Status::SoftDeleted,
    }
}

/// Sources before their forks (a fork's create needs its source).
fn creation_order(streams: &[Captured]) -> Vec<usize> {
    let index: HashMap<*const Stream, usize> = streams
        .iter()
        .enumerate()
        .map(|(i, c)| (Arc::as_ptr(&c.stream), i))
        .collect();
    let parent = |i: usize| {
        streams[i]
            .source
            .as_ref()
            .and_then(|s| index.get(&Arc::as_ptr(s)).copied())
    };
    let mut depth = vec![usize::MAX; streams.len()];
    for i in 0..streams.len() {
        let mut chain = vec![i];
        while let Some(p) = parent(*chain.last().unwrap_or(&i)) {
            if depth[p] != usize::MAX || chain.len() > streams.len() {
                break;
            }
            chain.push(p);
        }
        for &c in chain.iter().rev() {
            depth[c] = parent(c).map_or(0, |p| depth[p].saturating_add(1));
        }
    }
    let mut order: Vec<usize> = (0..streams.len()).collect();
    order.sort_by_key(|&i| depth[i]);
    order
}

/// Writes one event to the base; returns where each of its data parts lies.
fn push(w: &mut BaseWriter, event: &Event, records: &mut usize) -> io::Result<Vec<Loc>> {
    let Encoded { bytes, parts } = codec::encode(event);
    let loc = w.push(&bytes)?;
    *records += 1;
    Ok(Encoded::part_locs(&parts, loc))
}

/// A batch of data is read in groups of about this many bytes.
const READ_GROUP: usize = 4 << 20;

/// Writes the events that rebuild `c`'s data and writer state; returns the
/// new place of each entry, by start.
fn write_stream(
    w: &mut BaseWriter,
    c: &Captured,
    records: &mut usize,
) -> io::Result<Vec<(u64, Loc)>> {
    let path = &c.create.path;
    let at = c.create.at;
    push(w, &Event::Create(c.create.clone()), records)?;
    // Batches as ranges of entries: the entries starting below each end.
    let mut batches = Vec::with_capacity(c.batch_ends.len());
    let mut first = 0;
    for &end in &c.batch_ends {
        let last = first + c.entries[first..].partition_point(|e| e.start < end);
        batches.push((first, last, end));
        first = last;
    }
    let mut placed = Vec::with_capacity(c.entries.len());
    let mut i = 0;
    while i < batches.len() {
        // A group of whole batches, read together.
        let (lo, mut hi, mut j, mut bytes) = (batches[i].0, batches[i].1, i, 0usize);
        while j < batches.len() && (j == i || bytes < READ_GROUP) {
            hi = batches[j].1;
            bytes += c.entries[batches[j].0..batches[j].1]
                .iter()
                .map(|e| e.body.len())
                .sum::<usize>();
            j += 1;
        }
        let bodies: Vec<_> = c.entries[lo..hi].iter().map(|e| e.body.clone()).collect();
        let data = read_bodies(&bodies)
            .ok_or_else(|| io::Error::other(format!("cannot read the data of {path}")))?;
        for &(a, b, end) in &batches[i..j] {
            let append = Event::Append(Append {
                path: path.clone(),
                parts: data[a - lo..b - lo].to_vec(),
                tail: end,
                producer: None,
                stream_seq: None,
                close: false,
                at,
            });
            let locs = push(w, &append, records)?;
            placed.extend(c.entries[a..b].iter().map(|e| e.start).zip(locs));
        }
        i = j;
    }
    let tail = c.batch_ends.last().copied().unwrap_or(c.base);
    let state = |producer: Option<ProducerRef>, stream_seq: Option<String>| {
        Event::Append(Append {
            path: path.clone(),
            parts: Vec::new(),
            tail,
            producer,
            stream_seq,
            close: false,
            at,
        })
    };
    for (id, p) in &c.producers {
        let producer = ProducerRef {
            id: id.clone(),
            epoch: p.epoch,
            seq: p.last_seq,
        };
        push(w, &state(Some(producer), None), records)?;
    }
    if let Some(seq) = &c.last_seq {
        push(w, &state(None, Some(seq.clone())), records)?;
    }
    if c.closed {
        let close = Event::Close(Close {
            path: path.clone(),
            producer: c.closed_by.clone(),
            stream_seq: None,
            at,
        });
        push(w, &close, records)?;
    }
    Ok(placed)
}

impl Store {
    /// Whether a compaction would reclaim enough to be worth its copying.
    pub fn compaction_due(&self) -> bool {
        let (Some(j), Some(policy)) = (&self.journal, &self.compaction) else {
            return false;
        };
        if policy.running.load(Ordering::Relaxed) {
            return false;
        }
        // Removed files' space is freed once their last handles close.
        j.reader().drop_retired(RETIRED_FOR);
        let removed = self.registry().removed();
        let last = policy.last();
        if removed == last.removed {
            return false;
        }
        let grown = last.carried + j.stats().bytes.saturating_sub(last.log_bytes);
        grown >= policy.min_bytes.max(last.base_bytes)
    }

    /// Compacts the journal (see the module doc); `None` in memory or
    /// while another compaction runs. Blocks: call it off the runtime.
    pub fn compact(&self) -> io::Result<Option<Report>> {
        self.compact_until(Step::Removed)
    }

    /// `compact`, stopping after `step` as a crash there would (tests).
    pub fn compact_until(&self, step: Step) -> io::Result<Option<Report>> {
        let (Some(journal), Some(policy)) = (&self.journal, &self.compaction) else {
            return Ok(None);
        };
        if policy.running.swap(true, Ordering::AcqRel) {
            return Ok(None);
        }
        let result = self.run_compaction(journal, policy, step);
        policy.running.store(false, Ordering::Release);
        if let Err(e) = &result {
            tracing::error!("compaction of the data directory failed: {e}");
        }
        result.map(Some)
    }

    fn run_compaction(
        &self,
        journal: &super::Journal,
        policy: &Policy,
        step: Step,
    ) -> io::Result<Report> {
        let dir = journal.log().dir().to_path_buf();
        journal.reader().drop_retired(RETIRED_FOR);
        let disk_before = segment::disk_bytes(&dir)?;
        // 1. Cut: nothing can be applied-but-not-journaled while every lock
        // is held (registry first, then streams: the store's lock order;
        // no code holds one stream's lock while taking another's).
        let (cut, (removed, log_bytes), captured) = {
            let reg = self.registry();
            let streams: Vec<Arc<Stream>> = reg.streams().cloned().collect();
            let guards: Vec<_> = streams.iter().map(|s| s.lock()).collect();
            let cut = journal.log().cut();
            let log_bytes = journal.stats().bytes;
            let captured: Vec<Captured> = streams
                .iter()
                .zip(&guards)
                .filter(|(_, st)| st.status != Status::Removed)
                .map(|(s, st)| capture(s, st))
                .collect();
            (cut, (reg.removed(), log_bytes), captured)
        };
        let base = cut.wait()?.segment;
        if step == Step::Cut {
            return Ok(Report::default());
        }
        // 2. Write the base.
        let write = || {
            let mut w = BaseWriter::create(&dir, base)?;
            let mut records = 0;
            let mut placed = Vec::with_capacity(captured.len());
            for i in creation_order(&captured) {
                placed.push((i, write_stream(&mut w, &captured[i], &mut records)?));
            }
            for c in captured.iter().filter(|c| c.soft_deleted) {
                let delete = Event::Delete {
                    path: c.create.path.clone(),
                };
                push(&mut w, &delete, &mut records)?;
            }
            io::Result::Ok((w.finish()?, records, placed))
        };
        let (base_bytes, records, placed) = write().inspect_err(|_| {
            // A full disk must not stay full of a base nobody will use.
            segment::discard_base_tmp(&dir, base);
        })?;
        if step == Step::Written {
            return Ok(Report::default());
        }
        // 3. Install: the commit point.
        segment::install_base(&dir, base)?;
        if step == Step::Installed {
            return Ok(Report::default());
        }
        // 4. Relocate.
        for (i, placed) in placed {
            let s = &captured[i].stream;
            s.lock().data.relocate(journal.reader(), &placed);
        }
        if step == Step::Relocated {
            return Ok(Report::default());
        }
        // 5. Remove what the base replaced.
        let old: Vec<u64> = segment::list(&dir)?
            .into_iter()
            .chain(segment::list_bases(&dir)?)
            .filter(|&id| id < base)
            .collect();
        journal.reader().retire(&old);
        segment::remove_before(&dir, base)?;
        *policy.last() = Last {
            base_bytes,
            removed,
            log_bytes,
            carried: 0,
        };
        let report = Report {
            base,
            streams: captured.len(),
            records,
            disk_before,
            disk_after: segment::disk_bytes(&dir)?,
        };
        tracing::info!(
            "compacted the data directory: {} in {}, {} -> {} bytes",
            crate::count(report.streams as u64, "stream", "streams"),
            crate::count(report.records as u64, "record", "records"),
            report.disk_before,
            report.disk_after
        );
        Ok(report)
    }
}
