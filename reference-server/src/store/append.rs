//! §5.2 append, §5.2.1 idempotent producers and §5.3 close, as one atomic
//! step under the stream's lock: checks in the §5.2 precedence order
//! (closed, content type, body, producer, `Stream-Seq`), then data, producer
//! state, `Stream-Seq` and closure change together.
//!
//! `Stream-Seq` scope: one sequence per stream, shared by all writers,
//! compared byte-wise.

use bytes::Bytes;

use super::json::JsonError;
use super::persist::{mem_parts, ms, producer_record, Commit};
use super::producer::{self, ProducerRef, Verdict};
use super::{check_live, Store, StoreError};
use crate::durable::{self, Record};

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
        self.append_logged(path, req).map(|(a, _)| a)
    }

    /// `append`, answered once it is durable (file store). A duplicate's
    /// 204 also waits, for the original append may still be syncing.
    pub async fn append_durable(
        &self,
        path: &str,
        req: AppendRequest,
    ) -> Result<Appended, StoreError> {
        let (appended, commit) = match self.append_logged(path, req) {
            Ok(done) => done,
            Err(e) => return self.refused(e).await,
        };
        commit.durable().await?;
        Ok(appended)
    }

    pub(super) fn append_logged(
        &self,
        path: &str,
        req: AppendRequest,
    ) -> Result<(Appended, Commit), StoreError> {
        let s = self.lookup(path)?;
        let now = self.clock().now();
        let mut st = s.lock();
        check_live(&st)?;
        // Any POST that reaches a live stream renews its TTL (§5.1).
        st.last_access = now;

        if st.closed {
            if let (Some(p), Some(by)) = (&req.producer, &st.closed_by) {
                if p == by {
                    let dup = Appended::Duplicate {
                        tail: st.data.tail,
                        closed: true,
                        epoch: p.epoch,
                        seq: p.seq,
                    };
                    return Ok((dup, self.commit_barrier()));
                }
            }
            if req.payload.is_empty() && req.close {
                let done = Appended::AlreadyClosed { tail: st.data.tail };
                return Ok((done, self.commit_barrier()));
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
                    let dup = Appended::Duplicate {
                        tail: st.data.tail,
                        closed: st.closed,
                        epoch,
                        seq: last_seq,
                    };
                    return Ok((dup, self.commit_barrier()));
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

        let first_new = st.data.entries.len();
        let with_data = !parts.is_empty();
        if with_data {
            st.data.push_batch(parts);
        }
        if let Some((p, state)) = accepted {
            st.producers.insert(p.id.clone(), state);
        }
        let new_seq = req.stream_seq.clone();
        if let Some(seq) = req.stream_seq {
            st.last_seq = Some(seq);
        }
        if req.close {
            st.closed = true;
            st.closed_by = req.producer.clone();
        }
        // Data, producer state, Stream-Seq and closure in one record
        // (§5.2.1 atomicity, §4.1), submitted under the stream's lock.
        let commit = match self.journal() {
            None => Commit::none(),
            Some(_) => {
                let new = &st.data.entries[first_new..];
                let starts: Vec<u64> = new.iter().map(|e| e.start).collect();
                let producer = req.producer.as_ref().map(producer_record);
                let record = if !with_data && req.close {
                    Record::Close {
                        path: s.path.clone(),
                        producer,
                        stream_seq: new_seq.clone(),
                        at_ms: ms(now),
                    }
                } else {
                    Record::Append(durable::Append {
                        path: s.path.clone(),
                        parts: mem_parts(new),
                        tail: st.data.tail,
                        producer,
                        stream_seq: new_seq.clone(),
                        close: req.close,
                        at_ms: ms(now),
                    })
                };
                let mark = (st.data.tail, st.closed);
                self.commit_record(&record, Some((s.clone(), starts, mark)))
            }
        };
        let outcome = Appended::Done {
            tail: st.data.tail,
            closed: st.closed,
            producer: req.producer.as_ref().map(|p| (p.epoch, p.seq)),
        };
        drop(st);
        s.notify();
        Ok((outcome, commit))
    }
}
