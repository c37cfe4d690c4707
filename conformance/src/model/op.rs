//! The operations a property sequence is made of, and how their payloads
//! render for a stream's content type. Pure data: no IO, no randomness.

use std::fmt;

use serde_json::{json, Value};

/// Names in the small universe a sequence works over (so operations collide).
pub const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// A stream name of the universe; Debug-prints as the bare name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub u8);

impl Path {
    pub fn name(self) -> &'static str {
        NAMES[self.0 as usize % NAMES.len()]
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The content types a sequence uses (§9): bytes, text, JSON mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bytes,
    Text,
    Json,
}

impl Kind {
    pub fn media(self) -> &'static str {
        match self {
            Kind::Bytes => "application/octet-stream",
            Kind::Text => "text/plain",
            Kind::Json => "application/json",
        }
    }
    /// A different kind (for content-type mismatch requests).
    pub fn other(self) -> Kind {
        match self {
            Kind::Bytes => Kind::Text,
            Kind::Text => Kind::Json,
            Kind::Json => Kind::Bytes,
        }
    }
}

/// An abstract body: rendered per content type when the step runs.
/// `items` messages (JSON) or `items` small records (bytes/text);
/// `array` sends JSON as an array to be flattened (§9.1.2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    pub seed: u8,
    pub items: u8,
    pub array: bool,
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}x{}",
            if self.array { "arr" } else { "one" },
            self.seed,
            self.items
        )
    }
}

impl Payload {
    /// JSON messages this payload stores once flattened.
    pub fn messages(&self) -> Vec<Value> {
        let n = if self.array { self.items as usize } else { 1 };
        (0..n)
            .map(|i| {
                if self.array && self.seed.is_multiple_of(4) {
                    // A message that is itself an array: flattening is one level only.
                    json!([self.seed, i])
                } else {
                    json!({"s": self.seed, "i": i, "t": "é\"\\"})
                }
            })
            .collect()
    }

    /// Bytes of this payload for a non-JSON stream.
    pub fn bytes(&self, kind: Kind) -> Vec<u8> {
        let n = self.items as usize;
        match kind {
            Kind::Text => (0..n)
                .flat_map(|i| format!("{}.{}|", self.seed, i).into_bytes())
                .collect(),
            _ => (0..n * 3)
                .map(|i| ((i as u32 * 97 + self.seed as u32 * 31) % 256) as u8 ^ 0x80)
                .collect(),
        }
    }

    /// The request body for a stream of `kind`.
    pub fn render(&self, kind: Kind) -> Vec<u8> {
        match kind {
            Kind::Json => {
                let msgs = self.messages();
                let v = if self.array {
                    Value::Array(msgs)
                } else {
                    msgs.into_iter().next().unwrap_or(Value::Null)
                };
                serde_json::to_vec(&v).unwrap_or_default()
            }
            k => self.bytes(k),
        }
    }

    /// True when the rendered body is empty (bytes) or stores no message.
    pub fn is_empty(&self, kind: Kind) -> bool {
        match kind {
            Kind::Json => self.array && self.items == 0,
            _ => self.items == 0,
        }
    }
}

/// Producer behaviours (§5.2.1), resolved against the model's producer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProdAct {
    /// The next sequence number of the current epoch.
    Next,
    /// A retry of the last accepted batch (duplicate).
    Dup,
    /// Skips one sequence number.
    Gap,
    /// An epoch below the current one (zombie); at epoch 0, where there
    /// is none below, an epoch bump instead.
    Stale,
    /// Epoch + 1 with seq 0 (restart).
    Bump,
    /// Epoch + 1 with seq 1 (invalid restart).
    BadBump,
}

/// Where a read or a fork starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// `-1`, the stream beginning.
    Start,
    /// `now`, the tail.
    Now,
    /// The i-th offset the server minted for the stream (modulo the count).
    Minted(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    CatchUp,
    LongPoll,
    Sse,
}

/// The Content-Type a fork request sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkCt {
    Omit,
    Same,
    Different,
}

/// One step of a property sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Create {
        path: Path,
        kind: Kind,
        init: Option<Payload>,
        closed: bool,
        ttl: bool,
    },
    Append {
        path: Path,
        data: Payload,
        seq: Option<u8>,
    },
    Produce {
        path: Path,
        producer: u8,
        act: ProdAct,
        data: Payload,
        close: bool,
    },
    Close {
        path: Path,
        data: Option<Payload>,
    },
    Fork {
        path: Path,
        source: Path,
        at: Option<u8>,
        sub: u8,
        ct: ForkCt,
    },
    Delete {
        path: Path,
    },
    Head {
        path: Path,
    },
    Read {
        path: Path,
        from: Pick,
        mode: Mode,
    },
}

impl Op {
    pub fn path(&self) -> Path {
        match self {
            Op::Create { path, .. }
            | Op::Append { path, .. }
            | Op::Produce { path, .. }
            | Op::Close { path, .. }
            | Op::Fork { path, .. }
            | Op::Delete { path }
            | Op::Head { path }
            | Op::Read { path, .. } => *path,
        }
    }
}

/// Long enough never to expire during a sequence.
pub const TTL_SECS: u64 = 3600;
