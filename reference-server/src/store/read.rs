//! §5.6-§5.8 reads: `chunk` is what every catch-up, long-poll and SSE read
//! takes from a stream (opened with `Store::open_for_read`).

use std::sync::Arc;

use bytes::Bytes;

use super::data::Collector;
use super::fork::collect_chain;
use super::offsets::ReadFrom;
use super::stream::Stream;
use super::StoreError;

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

/// The read entry point (§5.6-§5.8): one chunk of `stream` from `from`,
/// at most `budget` bytes (at least one JSON message), as far as readers
/// may see (durable data only), stitching inherited data through forks.
/// An offset beyond the tail is refused (400 at the HTTP layer); data that
/// cannot be read back from the data directory is a `Storage` error (503).
pub fn chunk(
    stream: &Arc<Stream>,
    from: ReadFrom,
    budget: usize,
) -> Result<ReadResult, StoreError> {
    let st = stream.lock();
    st.check_live()?;
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
        let next = st.data.collect(from, tail, &mut out);
        drop(st);
        next
    } else {
        drop(st);
        // Own data below `tail` is immutable, so reading it after the
        // inherited part under a second lock is consistent.
        collect_chain(stream, from, tail, &mut out)
    };
    // Disk reads happen here, with no lock held (the data is immutable).
    // Data that lies ahead but cannot be read means the data directory
    // failed: an empty answer would tell the reader it is caught up (a
    // long-poll's 204 would even skip the range), so refuse.
    let pieces = out.finish().ok_or(StoreError::Storage)?;
    if next == from && from < tail {
        return Err(StoreError::Storage);
    }
    Ok(ReadResult {
        pieces,
        json,
        from,
        next,
        tail,
        closed,
    })
}
