//! §4 Durability: the typed journal the store talks to: typed records in,
//! disk locations of their data out, and on open the replayed state
//! (records decoded and folded while the segments are scanned, so only an
//! index of the data is ever held in memory).

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::codec::{self, Encoded};
use super::log::{Ack, Log, LogOptions, LogStats};
use super::record::Record;
use super::replay::{Logged, Recovered, Replayer};
use super::segment::{Loc, Recovery};

pub struct Journal {
    log: Log,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.log.dir().display())
    }
}

/// A journal just opened: the state to rebuild the store from, and what
/// recovery did to the files.
pub struct Opened {
    pub journal: Journal,
    pub state: Recovered,
    pub recovery: Recovery,
}

/// Resolves once the record is durable, with the disk locations of its data
/// parts (in record order).
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
    /// Opens `dir`, recovering and replaying it. A record with a valid
    /// checksum that does not decode was written by another format version:
    /// opening fails rather than silently dropping state.
    pub fn open(dir: &Path, options: LogOptions) -> io::Result<Opened> {
        let mut replayer = Replayer::default();
        let (log, recovery) = Log::open(dir, options, |loc, payload| {
            // Data parts are only located here; the bytes are dropped again.
            let payload = Bytes::copy_from_slice(payload);
            let (record, parts) = codec::decode(&payload)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{loc:?}: {e}")))?;
            replayer.apply(Logged {
                record: strip_data(record),
                parts: Encoded::part_locs(&parts, loc),
            });
            Ok(())
        })?;
        let state = replayer.finish();
        Ok(Opened {
            journal: Journal { log },
            state,
            recovery,
        })
    }

    /// Queues a record (in call order) and returns a future for its
    /// durability; see `Log::submit` for the locking pattern.
    pub fn submit(&self, record: &Record) -> Pending {
        let e = codec::encode(record);
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

    /// Queues a record nobody waits for (`Touch`, expiry bookkeeping).
    pub fn submit_detached(&self, record: &Record) {
        self.log.submit_detached(codec::encode(record).bytes);
    }

    pub fn read_range(&self, loc: Loc) -> io::Result<Bytes> {
        self.log.read_range(loc)
    }

    pub fn stats(&self) -> LogStats {
        self.log.stats()
    }

    pub fn log(&self) -> &Log {
        &self.log
    }
}

/// Replay only needs data locations; dropping the bytes keeps recovery's
/// memory to one record at a time.
fn strip_data(record: Record) -> Record {
    match record {
        Record::Create(mut c) => {
            c.initial = vec![Bytes::new(); c.initial.len()];
            if let Some(f) = c.fork.as_mut() {
                f.prefix = vec![Bytes::new(); f.prefix.len()];
            }
            Record::Create(c)
        }
        Record::Append(mut a) => {
            a.parts = vec![Bytes::new(); a.parts.len()];
            Record::Append(a)
        }
        other => other,
    }
}
