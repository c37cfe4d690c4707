//! §4 Durability of answers: every store operation hands back its outcome
//! and a `Commit`, and the HTTP layer awaits the commit before answering,
//! so a client is never told something a crash could undo. In memory the
//! commit is empty; in the file store it is the journaling of the
//! operation's event, or a barrier for answers that rest on earlier events
//! (a duplicate's 204, a refusal, a stream whose creation is still syncing).

use std::sync::Arc;

use super::data::Body;
use super::event::Event;
use super::journal::{Journal, Pending};
use super::stream::Stream;
use super::StoreError;

/// An operation's outcome, valid once its commit is durable.
#[must_use = "await durable() before answering the client"]
pub struct Outcome<T> {
    result: Result<T, StoreError>,
    commit: Commit,
}

impl<T> Outcome<T> {
    pub fn new(result: Result<T, StoreError>, commit: Commit) -> Outcome<T> {
        Outcome { result, commit }
    }

    /// The outcome, once what it reveals is on disk.
    pub async fn durable(self) -> Result<T, StoreError> {
        self.commit.durable().await?;
        self.result
    }

    /// The outcome as applied in memory, without waiting for the journal
    /// (the memory store's answers; tests).
    pub fn applied(self) -> Result<T, StoreError> {
        self.result
    }

    pub fn into_parts(self) -> (Result<T, StoreError>, Commit) {
        (self.result, self.commit)
    }
}

/// What to wait for before answering, and what to do once it is durable.
#[must_use = "await durable() before acknowledging the request"]
pub struct Commit {
    pending: Option<Pending>,
    then: Then,
}

enum Then {
    Nothing,
    Spill {
        journal: Arc<Journal>,
        stream: Arc<Stream>,
        starts: Vec<Option<u64>>,
        tail: u64,
        closed: bool,
    },
    /// The stream's creation is known to be on disk.
    Created(Arc<Stream>),
}

/// A stream whose new entries move to disk once durable (by start, one per
/// data part of the event), after which readers may see up to
/// `(tail, closed)`.
pub struct Spill<'a> {
    pub stream: &'a Arc<Stream>,
    pub starts: Vec<Option<u64>>,
    pub tail: u64,
    pub closed: bool,
}

impl Commit {
    /// Nothing to wait for (the memory store).
    pub fn none() -> Commit {
        Commit {
            pending: None,
            then: Then::Nothing,
        }
    }

    /// Waits for everything journaled so far.
    pub fn barrier(journal: Option<&Arc<Journal>>) -> Commit {
        Commit {
            pending: journal.map(|j| j.barrier()),
            then: Then::Nothing,
        }
    }

    /// Journals `event` (call it under the lock that applied the event, so
    /// the journal's order is the store's).
    pub fn event(journal: Option<&Arc<Journal>>, event: &Event, spill: Option<Spill>) -> Commit {
        let Some(j) = journal else {
            return Commit::none();
        };
        let then = match spill {
            None => Then::Nothing,
            Some(s) => Then::Spill {
                journal: j.clone(),
                stream: s.stream.clone(),
                starts: s.starts,
                tail: s.tail,
                closed: s.closed,
            },
        };
        Commit {
            pending: Some(j.submit(event)),
            then,
        }
    }

    /// Waits, if need be, until `stream`'s creation is durable (a stream
    /// found in the registry may still be syncing its create).
    pub fn created(journal: Option<&Arc<Journal>>, stream: &Arc<Stream>) -> Commit {
        // In memory there is nothing to wait for (and no lock to take).
        if journal.is_none() || stream.lock().data.created_durably() {
            return Commit::none();
        }
        Commit {
            pending: journal.map(|j| j.barrier()),
            then: Then::Created(stream.clone()),
        }
    }

    /// Waits until the operation is on disk, then lets its data leave
    /// memory and readers see it.
    pub async fn durable(self) -> Result<(), StoreError> {
        let Some(pending) = self.pending else {
            return Ok(());
        };
        let locs = pending.await.map_err(|e| {
            tracing::error!("data directory write failed: {e}");
            StoreError::Storage
        })?;
        match self.then {
            Then::Nothing => {}
            Then::Spill {
                journal,
                stream,
                starts,
                tail,
                closed,
            } => {
                let placed: Vec<_> = starts
                    .into_iter()
                    .zip(locs)
                    .filter_map(|(start, loc)| start.map(|s| (s, loc)))
                    .collect();
                let mut st = stream.lock();
                st.data.spill(journal.reader(), &placed);
                st.data.mark_durable(tail, closed);
                drop(st);
                // Readers wait for durable data, so wake them now.
                stream.notify();
            }
            Then::Created(stream) => stream.lock().data.mark_created(),
        }
        Ok(())
    }
}

/// An event's data parts as in-memory bodies (the live path).
pub fn in_memory(event: &Event) -> Vec<Body> {
    event.parts().cloned().map(Body::Mem).collect()
}
