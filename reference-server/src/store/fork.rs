//! §4.2 stream forking and §8 "Offsets and forked streams": validation of a
//! fork request against its source (sub-offset materialisation included),
//! and the walk up a fork chain that reads stitch inherited and own data
//! with.
//!
//! A fork stores its source and the position it diverges at (`Data::base`);
//! positions below it are read from the source chain in place, so a read at
//! depth d costs d lock acquisitions plus the bytes returned.

use std::sync::Arc;

use super::apply::Registry;
use super::data::Collector;
use super::event::ForkPoint;
use super::stream::{Status, Stream};
use super::ttl::Expiry;
use super::StoreError;

/// Fork headers of a PUT, after syntax validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkRequest {
    pub source_path: String,
    /// `None`: the source's tail at creation time.
    pub offset: Option<u64>,
    pub sub_offset: u64,
}

/// A fork request checked against its source.
pub(super) struct Prepared {
    pub point: ForkPoint,
    pub json: bool,
    pub content_type: String,
    pub expiry: Expiry,
}

/// Validates a fork request against its source (already expired if due)
/// and materialises the sub-offset prefix. Changes nothing: the reference
/// is taken when the create event is applied.
pub(super) fn prepare(
    reg: &Registry,
    req: &ForkRequest,
    requested_essence: Option<&str>,
    requested_expiry: &Expiry,
) -> Result<Prepared, StoreError> {
    let source = reg
        .get(&req.source_path)
        .cloned()
        .ok_or(StoreError::SourceNotFound)?;
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
    let mut prefix = Vec::new();
    if req.sub_offset > 0 {
        let end = offset.saturating_add(req.sub_offset);
        if end > batch_boundary(&source, offset) {
            return Err(StoreError::SubOffsetOvershoot);
        }
        let mut out = Collector::new(json, usize::MAX);
        collect_chain(&source, offset, end, &mut out);
        prefix = out.finish().ok_or(StoreError::Storage)?;
    }
    Ok(Prepared {
        point: ForkPoint {
            source: req.source_path.clone(),
            offset,
            sub_offset: req.sub_offset,
            prefix,
        },
        json,
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
pub(super) fn collect_chain(stream: &Arc<Stream>, from: u64, to: u64, out: &mut Collector) -> u64 {
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
