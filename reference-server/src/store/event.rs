//! §4, §4.1, §4.2, §5.2.1: the events of the store. Every change of state is
//! one event: an operation validates a request against the current state and
//! yields an event, `apply` makes the change, and the file store journals
//! the same event (`journal::codec` is its binary form), so recovery replays
//! exactly what the live store applied.
//!
//! Each event is self-contained: an append carries its data *and* the
//! producer / `Stream-Seq` / closure state it implies, so a crash can never
//! leave data without the producer state that deduplicates its retry
//! (§5.2.1 "Atomicity Requirements"), and closure is durable with the final
//! append (§4.1). Positions are plain integers in the stream's offset space
//! (bytes, or messages for JSON streams).

use bytes::Bytes;
use time::OffsetDateTime;

use super::producer::ProducerRef;
use super::ttl::Expiry;

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// §5.1 create / §4.2 fork creation.
    Create(Create),
    /// §5.2 append, possibly with §5.3 close and §5.2.1 producer headers.
    Append(Append),
    /// §5.3 close without data.
    Close(Close),
    /// A read renewed a sliding TTL (§4, §5.1); journaled at most every
    /// `TOUCH_EVERY_MS` per stream and never awaited.
    Touch { path: String, at: OffsetDateTime },
    /// DELETE or expiry: a stream that forks still reference is
    /// soft-deleted, any other is removed and releases its source,
    /// cascading up the fork chain (§4.2).
    Delete { path: String },
}

/// §5.1 create / §4.2 fork creation.
#[derive(Clone, Debug, PartialEq)]
pub struct Create {
    pub path: String,
    /// The stream's content type as stored (inherited for a fork).
    pub content_type: String,
    /// Whether positions count JSON messages (§9.1) rather than bytes.
    pub json: bool,
    /// The lifetime the request asked for (compared on idempotent create).
    pub requested_expiry: Expiry,
    /// The lifetime in force (a fork may inherit its source's, §4.2).
    pub expiry: Expiry,
    /// Creation time (the first access).
    pub at: OffsetDateTime,
    pub closed: bool,
    pub fork: Option<ForkPoint>,
    /// The initial body: one part for byte streams, one per message for JSON.
    pub initial: Vec<Bytes>,
}

/// Where a fork diverges from its source (§4.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ForkPoint {
    pub source: String,
    pub offset: u64,
    pub sub_offset: u64,
    /// The source data that the sub-offset materialises into the fork
    /// (positions `offset .. offset + sub_offset`), one part per message for
    /// JSON streams.
    pub prefix: Vec<Bytes>,
}

/// §5.2 append (possibly with §5.3 close and §5.2.1 producer headers).
#[derive(Clone, Debug, PartialEq)]
pub struct Append {
    pub path: String,
    /// One part for byte streams, one per flattened message for JSON.
    pub parts: Vec<Bytes>,
    /// The stream's tail after this append (checked again on replay).
    pub tail: u64,
    /// The accepted producer request: the producer's state becomes
    /// `(epoch, last_seq = seq)`; with `close` it also names the closer.
    pub producer: Option<ProducerRef>,
    pub stream_seq: Option<String>,
    /// Append-and-close: closure is atomic with the final data (§4.1).
    pub close: bool,
    /// Request time (renews a sliding TTL).
    pub at: OffsetDateTime,
}

/// §5.3 close without data; `producer` (if any) is both the producer's new
/// state and the tuple a duplicate close is recognised by.
#[derive(Clone, Debug, PartialEq)]
pub struct Close {
    pub path: String,
    pub producer: Option<ProducerRef>,
    pub stream_seq: Option<String>,
    pub at: OffsetDateTime,
}

impl Event {
    pub fn path(&self) -> &str {
        match self {
            Event::Create(c) => &c.path,
            Event::Append(a) => &a.path,
            Event::Close(c) => &c.path,
            Event::Touch { path, .. } | Event::Delete { path } => path,
        }
    }

    /// The data the event adds, in order (a fork's prefix, then the
    /// initial body; or an append's parts). The journal stores each part
    /// verbatim and reports where it landed.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        let (first, second): (&[Bytes], &[Bytes]) = match self {
            Event::Create(c) => (c.fork.as_ref().map_or(&[], |f| &f.prefix), &c.initial),
            Event::Append(a) => (&a.parts, &[]),
            Event::Close(_) | Event::Touch { .. } | Event::Delete { .. } => (&[], &[]),
        };
        first.iter().chain(second)
    }
}
