//! §5.2 append, §5.2.1 idempotent producers and §5.3 close, as one atomic
//! step under the stream's lock: checks in the §5.2 precedence order
//! (closed, content type, body, producer, `Stream-Seq`), then data, producer
//! state, `Stream-Seq` and closure change together.
//!
//! `Stream-Seq` scope: one sequence per stream, shared by all writers,
//! compared byte-wise.

use bytes::Bytes;

use super::json::JsonError;
use super::producer::{self, ProducerRef, Verdict};
use super::{check_live, Store, StoreError};

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
    pub fn append(&self, path: &str, req: AppendRequest) -> Result<Appended, StoreError> {
        let s = self.lookup(path)?;
        let now = self.clock().now();
        let mut st = s.lock();
        check_live(&st)?;
        // Any POST that reaches a live stream renews its TTL (§5.1).
        st.last_access = now;

        if st.closed {
            if let (Some(p), Some(by)) = (&req.producer, &st.closed_by) {
                if p == by {
                    return Ok(Appended::Duplicate {
                        tail: st.data.tail,
                        closed: true,
                        epoch: p.epoch,
                        seq: p.seq,
                    });
                }
            }
            if req.payload.is_empty() && req.close {
                return Ok(Appended::AlreadyClosed { tail: st.data.tail });
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

        let accepted = match &req.producer {
            None => None,
            Some(p) => match producer::check(st.producers.get(&p.id).copied(), p) {
                Verdict::Accept(state) => Some((p, state)),
                Verdict::Duplicate { epoch, last_seq } => {
                    return Ok(Appended::Duplicate {
                        tail: st.data.tail,
                        closed: st.closed,
                        epoch,
                        seq: last_seq,
                    })
                }
                Verdict::StaleEpoch { current } => return Err(StoreError::StaleEpoch { current }),
                Verdict::EpochSeqNotZero => return Err(StoreError::EpochSeqNotZero),
                Verdict::Gap { expected, received } => {
                    return Err(StoreError::SeqGap { expected, received })
                }
            },
        };

        if let (Some(seq), Some(last)) = (&req.stream_seq, &st.last_seq) {
            if seq.as_bytes() <= last.as_bytes() {
                return Err(StoreError::SeqRegression);
            }
        }

        if !parts.is_empty() {
            st.data.push_batch(parts);
        }
        if let Some((p, state)) = accepted {
            st.producers.insert(p.id.clone(), state);
        }
        if let Some(seq) = req.stream_seq {
            st.last_seq = Some(seq);
        }
        if req.close {
            st.closed = true;
            st.closed_by = req.producer.clone();
        }
        let outcome = Appended::Done {
            tail: st.data.tail,
            closed: st.closed,
            producer: req.producer.as_ref().map(|p| (p.epoch, p.seq)),
        };
        drop(st);
        s.notify();
        Ok(outcome)
    }
}
