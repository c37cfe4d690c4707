//! §5.2 append, §5.2.1 idempotent producers and §5.3 close, as one atomic
//! step under the stream's lock: checks in the §5.2 precedence order
//! (closed, content type, body, producer, `Stream-Seq`) yield an `Append`
//! or `Close` event, whose `apply` changes data, producer state,
//! `Stream-Seq` and closure together.
//!
//! `Stream-Seq` scope: one sequence per stream, shared by all writers,
//! compared byte-wise.

use bytes::Bytes;
use time::OffsetDateTime;

use crate::store::apply::Applied;
use crate::store::commit::{self, Commit, Outcome, Spill};
use crate::store::event::{Append, Close, Event};
use crate::store::json::JsonError;
use crate::store::producer::{self, ProducerRef, Verdict};
use crate::store::stream::State;
use crate::store::{unapplied, Store, StoreError};

/// The body of an append, pre-parsed outside the lock.
#[derive(Debug, Clone)]
pub enum Payload {
    Empty,
    Bytes(Bytes),
    /// Flattened JSON messages, or why the body is not acceptable JSON.
    Json(Result<Vec<Bytes>, JsonError>),
}

impl Payload {
    pub fn is_empty(&self) -> bool {
        matches!(self, Payload::Empty)
    }
}

#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// Media type essence of the request's `Content-Type`, if any.
    pub essence: Option<String>,
    pub payload: Payload,
    pub close: bool,
    pub stream_seq: Option<String>,
    pub producer: Option<ProducerRef>,
}

/// A successful append's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Data and/or closure applied. `producer` echoes `(epoch, seq)`.
    Done {
        tail: u64,
        closed: bool,
        producer: Option<(u64, u64)>,
    },
    /// Producer retry of something already applied (204).
    Duplicate {
        tail: u64,
        closed: bool,
        epoch: u64,
        seq: u64,
    },
    /// Close-only request on an already closed stream (204).
    AlreadyClosed { tail: u64 },
}

impl Store {
    /// Appends to (and/or closes) the stream at `path`. A duplicate's 204
    /// also waits, for the original append may still be syncing.
    pub fn append(&self, path: &str, req: AppendRequest) -> Outcome<Appended> {
        self.answer(self.try_append(path, req))
    }

    fn try_append(&self, path: &str, req: AppendRequest) -> Result<(Appended, Commit), StoreError> {
        let now = self.clock().now();
        let s = self.lookup(path, now)?;
        let mut st = s.lock();
        st.check_live()?;
        // Any POST that reaches a live stream renews its TTL (§5.1).
        st.touch(now);
        let event = match validate(&s.path, &st, req, now)? {
            Checked::Answer(already) => return Ok((already, self.barrier())),
            Checked::Write(event) => event,
        };
        let applied = st.apply(&event, commit::in_memory(&event));
        let starts = match applied.map_err(|what| unapplied(what.into()))? {
            Applied::Written(starts) => starts,
            _ => Vec::new(),
        };
        let producer = match &event {
            Event::Append(a) => a.producer.as_ref(),
            Event::Close(c) => c.producer.as_ref(),
            _ => None,
        };
        let outcome = Appended::Done {
            tail: st.data.tail,
            closed: st.closed,
            producer: producer.map(|p| (p.epoch, p.seq)),
        };
        // Journaled under the stream's lock that applied it.
        let spill = Spill {
            stream: &s,
            starts,
            tail: st.data.tail,
            closed: st.closed,
        };
        let commit = Commit::event(self.journal.as_ref(), &event, Some(spill));
        drop(st);
        s.notify();
        Ok((outcome, commit))
    }
}

/// What an append request comes to, before anything changes.
enum Checked {
    /// Nothing to change: a producer's duplicate, or a repeated close.
    Answer(Appended),
    /// The event to apply.
    Write(Event),
}

/// Checks `req` against the stream's state in the §5.2 precedence order.
fn validate(
    path: &str,
    st: &State,
    req: AppendRequest,
    now: OffsetDateTime,
) -> Result<Checked, StoreError> {
    if st.closed {
        if let (Some(p), Some(by)) = (&req.producer, &st.closed_by) {
            if p == by {
                return Ok(Checked::Answer(Appended::Duplicate {
                    tail: st.data.tail,
                    closed: true,
                    epoch: p.epoch,
                    seq: p.seq,
                }));
            }
        }
        if req.payload.is_empty() && req.close {
            return Ok(Checked::Answer(Appended::AlreadyClosed {
                tail: st.data.tail,
            }));
        }
        return Err(StoreError::Closed { tail: st.data.tail });
    }

    let parts = match req.payload {
        Payload::Empty => Vec::new(),
        _ if req.essence.as_deref() != Some(st.config.essence.as_str()) => {
            return Err(StoreError::ContentTypeMismatch)
        }
        Payload::Bytes(b) => vec![b],
        Payload::Json(Ok(messages)) => messages,
        Payload::Json(Err(e)) => return Err(StoreError::Json(e)),
    };

    if let Some(p) = &req.producer {
        match producer::check(st.producers.get(&p.id).copied(), p) {
            Verdict::Accept => {}
            Verdict::Duplicate { epoch, last_seq } => {
                return Ok(Checked::Answer(Appended::Duplicate {
                    tail: st.data.tail,
                    closed: st.closed,
                    epoch,
                    seq: last_seq,
                }));
            }
            Verdict::StaleEpoch { current } => return Err(StoreError::StaleEpoch { current }),
            Verdict::EpochSeqNotZero => return Err(StoreError::EpochSeqNotZero),
            Verdict::Gap { expected, received } => {
                return Err(StoreError::SeqGap { expected, received })
            }
        }
    }

    if let (Some(seq), Some(last)) = (&req.stream_seq, &st.last_seq) {
        if seq.as_bytes() <= last.as_bytes() {
            return Err(StoreError::SeqRegression);
        }
    }

    // Data, producer state, Stream-Seq and closure in one event (§5.2.1
    // atomicity, §4.1).
    let path = path.to_string();
    Ok(Checked::Write(if parts.is_empty() && req.close {
        Event::Close(Close {
            path,
            producer: req.producer,
            stream_seq: req.stream_seq,
            at: now,
        })
    } else {
        Event::Append(Append {
            path,
            tail: st.data.tail_after(&parts),
            parts,
            producer: req.producer,
            stream_seq: req.stream_seq,
            close: req.close,
            at: now,
        })
    }))
}
