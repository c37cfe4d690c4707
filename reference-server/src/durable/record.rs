//! §4, §4.1, §4.2, §5.2.1: the typed records of the log, one per change of
//! stream state. Each record is self-contained: an append carries its data
//! *and* the producer / `Stream-Seq` / closure state it implies, so a crash
//! can never leave data without the producer state that deduplicates its
//! retry (§5.2.1 "Atomicity Requirements"), and closure is durable with the
//! final append (§4.1).
//!
//! Positions are plain integers in the stream's offset space (bytes, or
//! messages for JSON streams); offset tokens are the store's business.

use bytes::Bytes;

/// A stream's lifetime rule (§4, §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expiry {
    Never,
    /// Sliding window in seconds.
    Ttl(u64),
    /// Absolute deadline, kept as the RFC 3339 text the client sent.
    At(String),
}

/// The three producer headers of an accepted request (§5.2.1); after the
/// record the producer's state is `(epoch, last_seq = seq)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    pub id: String,
    pub epoch: u64,
    pub seq: u64,
}

/// Where a fork diverges from its source (§4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkPoint {
    pub source: String,
    pub offset: u64,
    pub sub_offset: u64,
    /// The source data that the sub-offset materialises into the fork
    /// (positions `offset .. offset + sub_offset`), one part per message for
    /// JSON streams.
    pub prefix: Vec<Bytes>,
}

/// §5.1 create / §4.2 fork creation.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Creation time, milliseconds since the Unix epoch (first access).
    pub at_ms: i64,
    pub closed: bool,
    pub fork: Option<ForkPoint>,
    /// The initial body: one part for byte streams, one per message for JSON.
    pub initial: Vec<Bytes>,
}

/// §5.2 append (possibly with §5.3 close and §5.2.1 producer headers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append {
    pub path: String,
    /// One part for byte streams, one per flattened message for JSON.
    pub parts: Vec<Bytes>,
    /// The stream's tail after this append (a consistency check on replay).
    pub tail: u64,
    pub producer: Option<Producer>,
    pub stream_seq: Option<String>,
    /// Append-and-close: closure is atomic with the final data (§4.1).
    pub close: bool,
    /// Request time, milliseconds since the Unix epoch (renews a TTL).
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Create(Create),
    Append(Append),
    /// §5.3 close without data; `producer` (if any) is both the producer's
    /// new state and the tuple a duplicate close is recognised by.
    Close {
        path: String,
        producer: Option<Producer>,
        stream_seq: Option<String>,
        at_ms: i64,
    },
    /// A read renewed a sliding TTL (§4); written lazily, never awaited.
    Touch {
        path: String,
        at_ms: i64,
    },
    /// DELETE or expiry of a stream that still has forks (§4.2).
    SoftDelete {
        path: String,
    },
    /// DELETE or expiry of a stream without forks: it is gone, and its
    /// source loses a reference (replay cascades like the store does).
    Delete {
        path: String,
    },
    /// Clean-up of a soft-deleted stream whose last fork went (§4.2). Replay
    /// derives cascades itself, so this record is optional and idempotent.
    Purge {
        path: String,
    },
}

impl Record {
    pub fn path(&self) -> &str {
        match self {
            Record::Create(c) => &c.path,
            Record::Append(a) => &a.path,
            Record::Close { path, .. }
            | Record::Touch { path, .. }
            | Record::SoftDelete { path }
            | Record::Delete { path }
            | Record::Purge { path } => path,
        }
    }
}
