//! What a client knows about one stream: content, closure, TTL, fork
//! origin, writer state, and the offsets the server minted with the
//! positions they name (learned from responses, never parsed).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::op::{Kind, Path};
use super::Violation;

/// The stream's content: bytes, or JSON messages (positions count messages).
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Bytes(Vec<u8>),
    Json(Vec<Value>),
}

impl Data {
    pub fn empty(kind: Kind) -> Data {
        match kind {
            Kind::Json => Data::Json(Vec::new()),
            _ => Data::Bytes(Vec::new()),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Data::Bytes(b) => b.len(),
            Data::Json(m) => m.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn prefix(&self, n: usize) -> Data {
        match self {
            Data::Bytes(b) => Data::Bytes(b[..n.min(b.len())].to_vec()),
            Data::Json(m) => Data::Json(m[..n.min(m.len())].to_vec()),
        }
    }
    pub fn suffix(&self, from: usize) -> Data {
        match self {
            Data::Bytes(b) => Data::Bytes(b[from.min(b.len())..].to_vec()),
            Data::Json(m) => Data::Json(m[from.min(m.len())..].to_vec()),
        }
    }
    pub fn extend(&mut self, other: &Data) {
        match (self, other) {
            (Data::Bytes(a), Data::Bytes(b)) => a.extend_from_slice(b),
            (Data::Json(a), Data::Json(b)) => a.extend(b.iter().cloned()),
            _ => {}
        }
    }
    /// Short printable form for failure messages.
    pub fn show(&self) -> String {
        let s = match self {
            Data::Bytes(b) => format!("{} bytes {:?}", b.len(), String::from_utf8_lossy(b)),
            Data::Json(m) => format!("{} messages {}", m.len(), Value::Array(m.clone())),
        };
        if s.len() > 400 {
            format!(
                "{}…",
                &s[..s.char_indices().take(400).last().map_or(0, |(i, _)| i)]
            )
        } else {
            s
        }
    }
}

/// Idempotent producer state (§5.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Producer {
    pub epoch: u64,
    pub last_seq: u64,
}

/// Fork origin (§4.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ForkInfo {
    pub source: Path,
    pub point: usize,
}

#[derive(Clone, Debug)]
pub struct Stream {
    pub kind: Kind,
    pub data: Data,
    pub closed: bool,
    pub ttl: Option<u64>,
    pub fork: Option<ForkInfo>,
    /// Position → the offset token the server minted for it.
    pub offsets: BTreeMap<usize, String>,
    /// Positions where a write (or the fork point) ended: data boundaries.
    pub boundaries: BTreeSet<usize>,
    pub producers: BTreeMap<String, Producer>,
    /// The `(producer, epoch, seq)` whose append closed the stream.
    pub closed_by: Option<(String, u64, u64)>,
    /// Last accepted `Stream-Seq` (§5.2).
    pub stream_seq: Option<String>,
}

impl Stream {
    pub fn new(kind: Kind, data: Data, closed: bool, ttl: Option<u64>) -> Stream {
        let mut boundaries = BTreeSet::new();
        boundaries.insert(0);
        boundaries.insert(data.len());
        Stream {
            kind,
            data,
            closed,
            ttl,
            fork: None,
            offsets: BTreeMap::new(),
            boundaries,
            producers: BTreeMap::new(),
            closed_by: None,
            stream_seq: None,
        }
    }

    pub fn tail(&self) -> usize {
        self.data.len()
    }

    pub fn append(&mut self, data: &Data) {
        self.data.extend(data);
        self.boundaries.insert(self.data.len());
    }

    /// The known token for the tail, if any.
    pub fn tail_token(&self) -> Option<&str> {
        self.offsets.get(&self.tail()).map(String::as_str)
    }

    /// Tokens in position order.
    pub fn tokens(&self) -> Vec<(usize, String)> {
        self.offsets.iter().map(|(p, t)| (*p, t.clone())).collect()
    }

    /// The end of the data unit starting at `pos` (next write boundary).
    pub fn boundary_after(&self, pos: usize) -> usize {
        self.boundaries
            .range(pos + 1..)
            .next()
            .copied()
            .unwrap_or(self.tail())
            .min(self.tail())
    }

    /// Record that the server named position `pos` with `token` (§8):
    /// one token per position, unique, lexicographic order = stream order,
    /// never a sentinel.
    pub fn learn(&mut self, pos: usize, token: &str, what: &str) -> Result<(), Violation> {
        let req = "PROP-OFFSET-ORDER";
        if token == "-1" || token == "now" || token.is_empty() {
            return Err(Violation::new(
                req,
                format!("{what}: server minted the reserved/empty offset {token:?}"),
            ));
        }
        if let Some(known) = self.offsets.get(&pos) {
            if known != token {
                return Err(Violation::new(
                    req,
                    format!(
                        "{what}: position {pos} was named {known:?} before, now {token:?} (one position, one offset)"
                    ),
                ));
            }
            return Ok(());
        }
        for (p, t) in &self.offsets {
            let ok = match p.cmp(&pos) {
                std::cmp::Ordering::Less => t.as_str() < token,
                std::cmp::Ordering::Greater => t.as_str() > token,
                std::cmp::Ordering::Equal => true,
            };
            if !ok {
                return Err(Violation::new(
                    req,
                    format!(
                        "{what}: offset {token:?} for position {pos} does not sort consistently with {t:?} for position {p}"
                    ),
                ));
            }
        }
        self.offsets.insert(pos, token.to_string());
        Ok(())
    }
}
