//! §4 Durability: the file store's journal (`--data-dir`). Store events go
//! in (`codec` is their binary form, written to `durable::Log` with group
//! commit); the disk locations of their data come back once durable. On
//! open, every journaled event is decoded and handed to the caller while
//! the segments are scanned, its data as `Body::Disk` locations, so only an
//! index of the data is ever held in memory (`recover` folds them into the
//! store through `apply`).

pub mod codec;
pub mod compact;
pub mod recover;

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::data::Body;
use super::event::Event;
use crate::durable::reader::SegmentReader;
use crate::durable::{Ack, Loc, Log, LogOptions, LogStats, Recovery};
use codec::Encoded;

pub struct Journal {
    log: Log,
    reader: Arc<SegmentReader>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.log.dir().display())
    }
}

/// Resolves once the event is durable, with the disk locations of its data
/// parts (in event order).
pub struct Pending {
    ack: Ack,
    parts: Vec<(u32, u32)>,
}

impl Future for Pending {
    type Output = io::Result<Vec<Loc>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        Pin::new(&mut this.ack)
            .poll(cx)
            .map(|r| r.map(|loc| Encoded::part_locs(&this.parts, loc)))
    }
}

impl Journal {
    /// Opens `dir`, recovering it: `visit` sees every journaled event in
    /// order, with its data parts on disk. An event with a valid checksum
    /// that does not decode was written by another format version: opening
    /// fails rather than silently dropping state.
    pub fn open(
        dir: &Path,
        options: LogOptions,
        mut visit: impl FnMut(Event, Vec<Body>),
    ) -> io::Result<(Journal, Recovery)> {
        let reader = Arc::new(SegmentReader::new(dir, options.max_open_files));
        let (log, recovery) =
            Log::open_with_reader(dir, options, reader.clone(), |loc, payload| {
                // The event's data is only located here; its bytes are dropped
                // again once it is applied.
                let payload = Bytes::copy_from_slice(payload);
                let (event, parts) = codec::decode(&payload).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{loc:?}: {e}"))
                })?;
                let bodies = Encoded::part_locs(&parts, loc)
                    .into_iter()
                    .map(|l| Body::Disk(reader.clone(), l))
                    .collect();
                visit(event, bodies);
                Ok(())
            })?;
        Ok((Journal { log, reader }, recovery))
    }

    /// Queues an event (in call order) and returns a future for its
    /// durability; see `Log::submit` for the locking pattern.
    pub fn submit(&self, event: &Event) -> Pending {
        let e = codec::encode(event);
        Pending {
            ack: self.log.submit(e.bytes),
            parts: e.parts,
        }
    }

    /// Resolves once everything submitted before it is durable.
    pub fn barrier(&self) -> Pending {
        Pending {
            ack: self.log.barrier(),
            parts: Vec::new(),
        }
    }

    /// Queues an event nobody waits for (a read's `Touch`, an expiry).
    pub fn submit_detached(&self, event: &Event) {
        self.log.submit_detached(codec::encode(event).bytes);
    }

    /// Reads stored data back.
    pub fn reader(&self) -> &Arc<SegmentReader> {
        &self.reader
    }

    pub fn stats(&self) -> LogStats {
        self.log.stats()
    }

    pub fn log(&self) -> &Log {
        &self.log
    }
}
