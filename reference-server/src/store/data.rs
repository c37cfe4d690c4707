//! §4 a stream's own data: an indexed list of chunks (an append's bytes, or
//! one JSON message each), in memory or, in the file store, on disk; and
//! the budgeted collector reads fill (§5.6).
//!
//! Memory: the memory store packs the bytes of small appends into shared
//! chunks (`PACK_BYTES`), so a stream of 64-byte appends costs about its
//! payload plus one position per append (`batch_ends`), not an allocation
//! and an index entry each. Positions and batch boundaries are unchanged:
//! packing only changes how the bytes are held.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::durable::reader::SegmentReader;
use crate::durable::Loc;

/// Where an entry's bytes are: in memory, or in the durable store's log
/// (read back with `pread` on demand, so the stream is not held in memory).
#[derive(Clone)]
pub enum Body {
    Mem(Bytes),
    Disk(Arc<SegmentReader>, Loc),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Mem(b) => write!(f, "Mem({} bytes)", b.len()),
            Body::Disk(_, loc) => write!(f, "Disk({loc:?})"),
        }
    }
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::Mem(b) => b.len(),
            Body::Disk(_, loc) => loc.len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes `[lo, hi)`; `None` (logged) if the disk read failed.
    pub fn slice(&self, lo: usize, hi: usize) -> Option<Bytes> {
        match self {
            Body::Mem(b) => Some(b.slice(lo..hi)),
            Body::Disk(r, loc) => match r.read(loc.slice(lo as u32, hi as u32)) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::error!("reading {loc:?} from the data directory: {e}");
                    None
                }
            },
        }
    }
}

/// Appends smaller than this are packed together (memory store, byte
/// streams) into chunks of about this size, or of `PACK_COUNT` appends.
const PACK_BYTES: usize = 32 * 1024;
const PACK_COUNT: usize = 32;

/// One stored chunk: an append's bytes (or, packed, several appends'), or
/// one JSON message.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Position of the first unit of this entry.
    pub start: u64,
    pub body: Body,
}

/// A stream's own data: positions `[base, tail)`. Below `base` a fork reads
/// from its source.
#[derive(Debug, Default)]
pub struct Data {
    pub base: u64,
    pub tail: u64,
    pub json: bool,
    pub entries: Vec<Entry>,
    /// The end of each append batch, ascending: the "data boundaries" that
    /// limit a fork sub-offset (§4.2).
    pub batch_ends: Vec<u64>,
    /// File store only: how far the stream is on disk. Readers see no
    /// further, so nothing they read can vanish in a crash (§4).
    pub durable: Option<Durable>,
    /// Memory store byte streams: how many trailing entries are small
    /// appends not packed yet, and their bytes.
    loose: usize,
    loose_bytes: usize,
}

/// The part of a stream's state that is known to be on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    pub tail: u64,
    pub closed: bool,
    /// The stream's Create record is on disk.
    pub created: bool,
}

impl Data {
    pub fn new(base: u64, json: bool) -> Data {
        Data {
            base,
            tail: base,
            json,
            ..Data::default()
        }
    }

    /// What readers may see: `(tail, closed)`, limited to what is durable.
    pub fn visible(&self, closed: bool) -> (u64, bool) {
        match self.durable {
            None => (self.tail, closed),
            Some(d) => (
                d.tail.min(self.tail),
                closed && d.closed && d.tail >= self.tail,
            ),
        }
    }

    /// Records that the state up to `tail` (and closure) is on disk; any
    /// record of the stream being durable implies its Create record is.
    pub fn mark_durable(&mut self, tail: u64, closed: bool) {
        if let Some(d) = &mut self.durable {
            d.tail = d.tail.max(tail);
            d.closed |= closed;
            d.created = true;
        }
    }

    /// Records that the Create record is on disk (a barrier submitted after
    /// the stream was seen in the registry has completed).
    pub fn mark_created(&mut self) {
        if let Some(d) = &mut self.durable {
            d.created = true;
        }
    }

    /// Whether the stream's existence is durable (always, in memory).
    pub fn created_durably(&self) -> bool {
        self.durable.is_none_or(|d| d.created)
    }

    /// Positions one piece of data takes: a message, or its bytes (§9.1).
    fn units_of(&self, len: usize) -> u64 {
        if self.json {
            1
        } else {
            len as u64
        }
    }

    fn units(&self, e: &Entry) -> u64 {
        self.units_of(e.body.len())
    }

    /// The tail once `parts` are pushed.
    pub fn tail_after<'a>(&self, parts: impl IntoIterator<Item = &'a Bytes>) -> u64 {
        let added: u64 = parts.into_iter().map(|p| self.units_of(p.len())).sum();
        self.tail + added
    }

    /// Appends one batch (an append's bytes, or its flattened messages).
    /// Returns each body's start, `None` for an empty byte part (no entry).
    pub fn push_batch(&mut self, bodies: impl IntoIterator<Item = Body>) -> Vec<Option<u64>> {
        let mut starts = Vec::new();
        for body in bodies {
            let units = self.units_of(body.len());
            if units == 0 {
                starts.push(None);
                continue;
            }
            starts.push(Some(self.tail));
            let small = self.packs() && matches!(body, Body::Mem(_)) && body.len() < PACK_BYTES;
            if !small {
                self.pack();
            }
            if small {
                self.loose += 1;
                self.loose_bytes += body.len();
            }
            self.entries.push(Entry {
                start: self.tail,
                body,
            });
            self.tail += units;
            if self.loose_bytes >= PACK_BYTES || self.loose >= PACK_COUNT {
                self.pack();
            }
        }
        if self.batch_ends.last().is_none_or(|&end| end < self.tail) && self.tail > self.base {
            self.batch_ends.push(self.tail);
        }
        starts
    }

    /// Whether small appends are packed: in memory (the file store moves
    /// each entry to its place on disk instead), for byte streams (a JSON
    /// entry is one message).
    fn packs(&self) -> bool {
        self.durable.is_none() && !self.json
    }

    /// Copies the trailing small appends into one chunk (one allocation
    /// and one entry), releasing theirs.
    fn pack(&mut self) {
        let (n, bytes) = (self.loose, self.loose_bytes);
        (self.loose, self.loose_bytes) = (0, 0);
        if n < 2 {
            return;
        }
        let run = self.entries.len() - n;
        let start = self.entries[run].start;
        let mut chunk = BytesMut::with_capacity(bytes);
        for e in self.entries.drain(run..) {
            if let Body::Mem(b) = e.body {
                chunk.extend_from_slice(&b);
            }
        }
        self.entries.push(Entry {
            start,
            body: Body::Mem(chunk.freeze()),
        });
    }

    /// Moves entries that are now durable to their disk locations, so their
    /// memory is released; `(start, loc)` pairs name the entries.
    pub fn spill(&mut self, reader: &Arc<SegmentReader>, placed: &[(u64, Loc)]) {
        self.place(reader, placed, true);
    }

    /// Compaction: entries (in memory or on disk) whose bytes were copied
    /// to a base read from there from now on.
    pub fn relocate(&mut self, reader: &Arc<SegmentReader>, placed: &[(u64, Loc)]) {
        self.place(reader, placed, false);
    }

    fn place(&mut self, reader: &Arc<SegmentReader>, placed: &[(u64, Loc)], only_mem: bool) {
        for &(start, loc) in placed {
            // Spills name entries appended moments ago: look near the end
            // first, so a long stream does not pay a full binary search
            // (cache misses over the whole index) per durable append.
            let before = |e: &Entry| e.start < start;
            let near = self.entries.len().saturating_sub(64);
            let i = match self.entries.get(near) {
                Some(e) if e.start <= start => near + self.entries[near..].partition_point(before),
                _ => self.entries.partition_point(before),
            };
            if let Some(e) = self.entries.get_mut(i) {
                if e.start == start
                    && (!only_mem || matches!(e.body, Body::Mem(_)))
                    && e.body.len() == loc.len as usize
                {
                    e.body = Body::Disk(reader.clone(), loc);
                }
            }
        }
    }

    /// Index of the entry containing `pos` (or the first one after it).
    fn find(&self, pos: u64) -> usize {
        self.entries
            .partition_point(|e| e.start + self.units(e) <= pos)
    }

    /// Copies references to the data in `[from, to)` into `out`, stopping
    /// once `out` is full. Returns the position reached.
    pub fn collect(&self, from: u64, to: u64, out: &mut Collector) -> u64 {
        let to = to.min(self.tail);
        if from >= to {
            return from;
        }
        let mut pos = from.max(self.base);
        let mut i = self.find(pos);
        while pos < to && i < self.entries.len() && !out.full() {
            let e = &self.entries[i];
            if self.json {
                if !out.push_message(&e.body) {
                    break;
                }
                pos += 1;
            } else {
                let lo = (pos - e.start) as usize;
                let hi = ((to - e.start) as usize).min(e.body.len());
                // Only what fits the budget is read from disk.
                let hi = hi.min(lo.saturating_add(out.room()));
                out.push_bytes(&e.body, lo, hi);
                pos += (hi - lo) as u64;
                if out.full() {
                    break;
                }
            }
            i += 1;
        }
        pos
    }

    /// End of the append batch that contains `pos`, capped at `limit`.
    pub fn batch_end_after(&self, pos: u64, limit: u64) -> u64 {
        let i = self.batch_ends.partition_point(|&end| end <= pos);
        self.batch_ends.get(i).copied().unwrap_or(pos).min(limit)
    }
}

/// Accumulates a read's pieces within a byte budget. JSON reads always take
/// at least one message so a read never stalls on a large message.
///
/// Pieces on disk are only located while the stream is locked; `finish`
/// reads them afterwards, one `pread` for each run of pieces that lie close
/// together in one segment (a catch-up of many appends is a few large
/// reads, not one per append).
#[derive(Debug)]
pub struct Collector {
    pub json: bool,
    pieces: Vec<Body>,
    budget: usize,
    used: usize,
}

/// The bytes of whole bodies, read with as few `pread`s as `Collector`
/// makes; `None` (logged) if the data directory failed.
pub fn read_bodies(bodies: &[Body]) -> Option<Vec<Bytes>> {
    let mut c = Collector::new(false, usize::MAX);
    for b in bodies {
        c.push_bytes(b, 0, b.len());
    }
    c.finish()
}

/// Pieces on disk at most this far apart (record headers and event fields
/// between two appends' data) are read together...
const MERGE_GAP: u64 = 4096;
/// ...in reads of at most this size.
const MERGE_MAX: u64 = 8 << 20;

impl Collector {
    pub fn new(json: bool, budget: usize) -> Collector {
        Collector {
            json,
            pieces: Vec::new(),
            budget: budget.max(1),
            used: 0,
        }
    }

    pub fn full(&self) -> bool {
        self.used >= self.budget
    }

    /// Bytes left in the budget.
    pub fn room(&self) -> usize {
        self.budget - self.used
    }

    fn push_message(&mut self, m: &Body) -> bool {
        let cost = m.len() + usize::from(!self.pieces.is_empty());
        if !self.pieces.is_empty() && self.used + cost > self.budget {
            self.used = self.budget;
            return false;
        }
        self.used += cost;
        self.pieces.push(m.clone());
        true
    }

    /// Takes `body[lo..hi)`; the caller keeps `hi - lo` within `room()`.
    fn push_bytes(&mut self, body: &Body, lo: usize, hi: usize) {
        if lo < hi {
            self.pieces.push(match body {
                Body::Mem(b) => Body::Mem(b.slice(lo..hi)),
                Body::Disk(r, loc) => Body::Disk(r.clone(), loc.slice(lo as u32, hi as u32)),
            });
            self.used += hi - lo;
        }
    }

    /// The pieces' bytes, read from disk where need be; `None` (logged) if
    /// the data directory failed.
    pub fn finish(self) -> Option<Vec<Bytes>> {
        let mut out = Vec::with_capacity(self.pieces.len());
        let mut rest = &self.pieces[..];
        while let Some(first) = rest.first() {
            let (reader, start) = match first {
                Body::Mem(b) => {
                    out.push(b.clone());
                    rest = &rest[1..];
                    continue;
                }
                Body::Disk(reader, loc) => (reader, *loc),
            };
            // The run of pieces after `first` that one read can cover.
            let mut end = start.offset + u64::from(start.len);
            let mut n = 1;
            while let Some(Body::Disk(r, loc)) = rest.get(n) {
                let next_end = loc.offset + u64::from(loc.len);
                if !Arc::ptr_eq(r, reader)
                    || loc.segment != start.segment
                    || loc.offset < end
                    || loc.offset - end > MERGE_GAP
                    || next_end - start.offset > MERGE_MAX
                {
                    break;
                }
                end = next_end;
                n += 1;
            }
            let span = Loc {
                len: (end - start.offset) as u32,
                ..start
            };
            let bytes = match reader.read(span) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("reading {span:?} from the data directory: {e}");
                    return None;
                }
            };
            for piece in &rest[..n] {
                if let Body::Disk(_, loc) = piece {
                    let at = (loc.offset - start.offset) as usize;
                    out.push(bytes.slice(at..at + loc.len as usize));
                }
            }
            rest = &rest[n..];
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem<const N: usize>(parts: [&'static str; N]) -> Vec<Body> {
        parts
            .map(|p| Body::Mem(Bytes::from_static(p.as_bytes())))
            .into()
    }

    fn text(c: Collector) -> String {
        c.finish()
            .unwrap()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn byte_reads_slice_across_chunks_within_budget() {
        let mut d = Data::new(0, false);
        d.push_batch(mem(["hello"]));
        d.push_batch(mem([" world"]));
        assert_eq!(d.tail, 11);
        let mut c = Collector::new(false, 100);
        assert_eq!(d.collect(3, 11, &mut c), 11);
        assert_eq!(text(c), "lo world");
        let mut c = Collector::new(false, 4);
        assert_eq!(d.collect(3, 11, &mut c), 7);
        assert_eq!(text(c), "lo w");
        assert_eq!(d.batch_end_after(2, 100), 5);
        assert_eq!(d.batch_end_after(5, 8), 8);
    }

    #[test]
    fn small_appends_are_packed_without_moving_positions_or_boundaries() {
        let mut d = Data::new(10, false);
        let mut expected = String::new();
        for i in 0..(3 * PACK_COUNT + 7) {
            let piece = format!("<{i}>");
            expected.push_str(&piece);
            d.push_batch([Body::Mem(Bytes::from(piece))]);
        }
        assert!(d.entries.len() < 20, "{} entries", d.entries.len());
        assert_eq!(d.tail, 10 + expected.len() as u64);
        assert_eq!(d.batch_ends.len(), 3 * PACK_COUNT + 7);
        // Every append's end is still a boundary, and reads see the bytes.
        assert_eq!(d.batch_end_after(10, u64::MAX), 13);
        assert_eq!(d.batch_end_after(13, u64::MAX), 16);
        let mut c = Collector::new(false, usize::MAX);
        assert_eq!(d.collect(12, d.tail, &mut c), d.tail);
        assert_eq!(text(c), expected[2..]);
        // A large append is kept whole, after the small ones before it.
        let big = "x".repeat(PACK_BYTES);
        d.push_batch([Body::Mem(Bytes::from(big.clone()))]);
        let mut c = Collector::new(false, usize::MAX);
        d.collect(10, d.tail, &mut c);
        assert_eq!(text(c), expected + &big);
    }

    #[test]
    fn the_file_store_keeps_one_entry_per_append() {
        let mut d = Data::new(0, false);
        d.durable = Some(Durable::default());
        for _ in 0..PACK_COUNT + 1 {
            d.push_batch(mem(["ab"]));
        }
        assert_eq!(d.entries.len(), PACK_COUNT + 1);
    }

    #[test]
    fn disk_pieces_close_together_are_read_with_one_pread() {
        use crate::durable::segment;
        use crate::durable::testdir::TestDir;
        let dir = TestDir::new("merge");
        let mut file = b"..hello..world".to_vec();
        file.resize(6000, b'.');
        file.extend_from_slice(b"far");
        std::fs::write(segment::path(dir.path(), 7), &file).unwrap();
        let reader = Arc::new(SegmentReader::new(dir.path(), 4));
        let at = |offset: u64, len: u32| Loc {
            segment: 7,
            offset,
            len,
        };
        let mut d = Data::new(0, false);
        d.durable = Some(Durable::default());
        for loc in [at(2, 5), at(9, 5), at(6000, 3)] {
            d.push_batch([Body::Disk(reader.clone(), loc)]);
        }
        let mut c = Collector::new(false, usize::MAX);
        assert_eq!(d.collect(1, d.tail, &mut c), 13);
        let pieces = c.finish().unwrap();
        assert_eq!(pieces, ["ello", "world", "far"].map(str::as_bytes));
        // "ello" and "world" came from one read (one buffer); "far" is
        // beyond MERGE_GAP and was read on its own.
        assert_eq!(pieces[1].as_ptr(), pieces[0].as_ptr().wrapping_add(6));
        // Within a budget, only what fits is located (and read).
        let mut c = Collector::new(false, 6);
        assert_eq!(d.collect(0, d.tail, &mut c), 6);
        assert_eq!(text(c), "hellow");
        // A segment that cannot be read is an error, not a short read.
        std::fs::remove_file(segment::path(dir.path(), 7)).unwrap();
        let reader = Arc::new(SegmentReader::new(dir.path(), 4));
        let mut c = Collector::new(false, usize::MAX);
        c.push_bytes(&Body::Disk(reader, at(2, 5)), 0, 5);
        assert!(c.finish().is_none());
    }

    #[test]
    fn spill_finds_recent_and_old_entries() {
        let reader = Arc::new(SegmentReader::new(std::path::Path::new("/nonexistent"), 1));
        let mut d = Data::new(0, false);
        d.durable = Some(Durable::default());
        for _ in 0..200 {
            d.push_batch(mem(["abc"]));
        }
        let at = |i: u64| Loc {
            segment: 1,
            offset: 100 + i,
            len: 3,
        };
        // Entry 5 is far from the end (the full search), entry 195 near it
        // (the search over the last entries); 31 is not an entry's start.
        d.spill(&reader, &[(15, at(5)), (585, at(195)), (31, at(10))]);
        for (i, e) in d.entries.iter().enumerate() {
            match (&e.body, i) {
                (Body::Disk(_, loc), 5 | 195) => assert_eq!(*loc, at(i as u64)),
                (Body::Mem(_), i) => assert!(i != 5 && i != 195, "entry {i} stayed in memory"),
                (body, i) => panic!("entry {i}: {body:?}"),
            }
        }
    }

    #[test]
    fn json_reads_keep_message_boundaries() {
        let mut d = Data::new(0, true);
        d.push_batch(mem(["1", "22"]));
        d.push_batch(mem(["333"]));
        assert_eq!(d.tail, 3);
        let mut c = Collector::new(true, 4);
        assert_eq!(d.collect(0, 3, &mut c), 2);
        assert_eq!(c.finish().unwrap().len(), 2);
        let mut c = Collector::new(true, 1);
        assert_eq!(d.collect(2, 3, &mut c), 3, "one message always fits");
        assert_eq!(d.batch_end_after(0, 10), 2);
        assert_eq!(d.batch_end_after(2, 10), 3);
    }
}
