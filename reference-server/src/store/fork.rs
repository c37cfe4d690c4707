//! §4.2 stream forking and §8 "Offsets and forked streams": fork creation
//! (validation before any reference is taken, sub-offset materialisation)
//! and reads that stitch inherited and own data by offset range.
//!
//! A fork stores its source and the position it diverges at (`Data::base`);
//! positions below it are read from the source chain in place, so a read at
//! depth d costs d lock acquisitions plus the bytes returned.

use std::sync::Arc;

use bytes::Bytes;
use time::OffsetDateTime;

use super::offsets::ReadFrom;
use super::stream::{Collector, Data, ForkLink, Status, Stream};
use super::ttl::Expiry;
use super::{check_live, expire_locked, Registry, StoreError};

/// Fork headers of a PUT, after syntax validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkRequest {
    pub source_path: String,
    /// `None`: the source's tail at creation time.
    pub offset: Option<u64>,
    pub sub_offset: u64,
}

/// What fork creation needs once the source has been validated.
pub(super) struct Prepared {
    pub link: ForkLink,
    pub data: Data,
    pub content_type: String,
    pub expiry: Expiry,
}

/// Validates a fork request against its source and materialises the
/// sub-offset prefix. Takes no reference: the caller increments the source's
/// count only once nothing else can fail.
pub(super) fn prepare(
    reg: &mut Registry,
    req: &ForkRequest,
    requested_essence: Option<&str>,
    requested_expiry: &Expiry,
    now: OffsetDateTime,
) -> Result<Prepared, StoreError> {
    let source = reg
        .get(&req.source_path)
        .cloned()
        .ok_or(StoreError::SourceNotFound)?;
    expire_locked(reg, &source, now);
    let (offset, json, content_type, expiry) = {
        let st = source.lock();
        match st.status {
            Status::Live => {}
            Status::SoftDeleted => return Err(StoreError::SourceGone),
            Status::Removed => return Err(StoreError::SourceNotFound),
        }
        if requested_essence.is_some_and(|e| e != st.config.essence) {
            return Err(StoreError::ContentTypeMismatch);
        }
        let offset = req.offset.unwrap_or(st.data.tail);
        if offset > st.data.tail {
            return Err(StoreError::OffsetBeyondTail);
        }
        (
            offset,
            st.data.json,
            st.config.content_type.clone(),
            Expiry::for_fork(&st.expiry, requested_expiry),
        )
    };
    let mut data = Data::new(offset, json);
    if req.sub_offset > 0 {
        let end = offset.saturating_add(req.sub_offset);
        if end > batch_boundary(&source, offset) {
            return Err(StoreError::SubOffsetOvershoot);
        }
        let mut out = Collector::new(json, usize::MAX);
        collect_chain(&source, offset, end, &mut out);
        data.push_batch(out.pieces);
    }
    Ok(Prepared {
        link: ForkLink {
            source,
            source_path: req.source_path.clone(),
            offset,
            sub_offset: req.sub_offset,
        },
        data,
        content_type,
        expiry,
    })
}

/// The end of the append batch that contains `pos`, as seen by `stream`
/// (an ancestor's batch is cut at the position its child diverged).
fn batch_boundary(stream: &Arc<Stream>, pos: u64) -> u64 {
    let mut cur = stream.clone();
    let mut limit = u64::MAX;
    loop {
        let st = cur.lock();
        let next = match &st.fork {
            Some(link) if pos < st.data.base => link.source.clone(),
            _ => return st.data.batch_end_after(pos, limit.min(st.data.tail)),
        };
        limit = limit.min(st.data.base);
        drop(st);
        cur = next;
    }
}

/// Collects `[from, to)` of `stream` as seen through its fork chain.
fn collect_chain(stream: &Arc<Stream>, from: u64, to: u64, out: &mut Collector) -> u64 {
    // Walk up until the segment holding `from`; each level covers
    // [its base, the position its child diverged).
    let mut segments = Vec::new();
    let mut cur = stream.clone();
    let mut hi = to;
    loop {
        let st = cur.lock();
        segments.push((cur.clone(), hi));
        let next = match &st.fork {
            Some(link) if from < st.data.base => link.source.clone(),
            _ => break,
        };
        hi = hi.min(st.data.base);
        drop(st);
        cur = next;
    }
    let mut pos = from;
    for (s, hi) in segments.iter().rev() {
        // A level whose range ends at or before `pos` contributes nothing: a
        // fork taken inside its source's inherited range stops below the
        // source's own data.
        if pos < *hi {
            pos = s.lock().data.collect(pos, *hi, out);
        }
        if pos < *hi || out.full() {
            break;
        }
    }
    pos
}

/// One read's answer: the pieces plus the stream state it was taken from.
#[derive(Debug)]
pub struct ReadResult {
    pub pieces: Vec<Bytes>,
    pub json: bool,
    pub from: u64,
    pub next: u64,
    pub tail: u64,
    /// The stream was closed when the read was taken.
    pub closed: bool,
}

impl ReadResult {
    /// §5.6: the response holds everything up to the tail.
    pub fn up_to_date(&self) -> bool {
        self.next == self.tail
    }

    /// §5.6: `Stream-Closed` only once the reader reached a closed tail.
    pub fn closed_at_end(&self) -> bool {
        self.closed && self.up_to_date()
    }

    pub fn is_empty(&self) -> bool {
        self.next == self.from
    }
}

/// Reads from `from` up to `budget` bytes, stitching through forks.
/// An offset beyond the tail is refused (400 at the HTTP layer); data that
/// cannot be read back from the data directory is a `Storage` error (503).
pub fn read(stream: &Arc<Stream>, from: ReadFrom, budget: usize) -> Result<ReadResult, StoreError> {
    let st = stream.lock();
    check_live(&st)?;
    let (tail, closed) = st.data.visible(st.closed);
    let (json, base) = (st.data.json, st.data.base);
    let from = match from {
        ReadFrom::Start => 0,
        ReadFrom::Now => tail,
        ReadFrom::At(o) => o.0,
    };
    if from > tail {
        return Err(StoreError::OffsetBeyondTail);
    }
    let mut out = Collector::new(json, budget);
    let next = if from >= base {
        st.data.collect(from, tail, &mut out)
    } else {
        drop(st);
        // Own data below `tail` is immutable, so reading it after the
        // inherited part under a second lock is consistent.
        collect_chain(stream, from, tail, &mut out)
    };
    if next == from && from < tail {
        // Data lies ahead but none could be read: the data directory
        // failed. An empty answer would tell the reader it is caught up
        // (a long-poll's 204 would even skip the range), so refuse.
        return Err(StoreError::Storage);
    }
    Ok(ReadResult {
        pieces: out.pieces,
        json,
        from,
        next,
        tail,
        closed,
    })
}
