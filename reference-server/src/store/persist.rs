//! §4 Durability, §4.1, §5.2.1: the file store (`--data-dir`). The memory
//! store with a journal: every mutation is submitted to the journal under
//! the same lock that applies it (so the log's order is the store's order)
//! and acknowledged only once the journal says it is on disk. On start the
//! store is rebuilt from the replayed journal, its data left on disk.
//!
//! Readers see a stream only up to its durable tail (`Data::durable`), so
//! nothing they read can vanish in a crash; the writer's answer waits for
//! the sync too. Every other answer that reveals state — a stream that
//! exists before its Create record is synced, a 404/410 after a DELETE still
//! syncing, a 409 for a close or a 403/409 for producer state still syncing
//! — waits for a journal barrier first (`Store::settle`), so a client is
//! never told something a crash could undo.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use time::OffsetDateTime;

use super::producer::{ProducerRef, ProducerState};
use super::stream::{Body, Config, Data, Entry, ForkLink, State, Status, Stream};
use super::ttl::{parse_expires_at, Clock, Expiry};
use super::{content_type, Registry, Store, StoreError};
use crate::durable::{self, Journal, LogOptions, Pending, Producer, Record};

/// A sliding TTL's access is journaled at most this often per stream; a
/// crash can make the stream expire up to this much early.
pub const TOUCH_EVERY_MS: i64 = 100;

/// A stream whose new entries move to disk once durable (by start), and
/// the `(tail, closed)` that is then durable.
type Spill = (Arc<Stream>, Vec<u64>, (u64, bool));

/// The durability of one store operation: await `durable()` before
/// answering the client.
#[must_use = "await durable() before acknowledging the request"]
pub struct Commit {
    pending: Option<Pending>,
    /// The stream whose new entries move to disk once durable, by start.
    spill: Option<Spill>,
}

impl Commit {
    /// Nothing to wait for (memory store, or a refused request).
    pub fn none() -> Commit {
        Commit {
            pending: None,
            spill: None,
        }
    }

    fn barrier(journal: Option<&Arc<Journal>>) -> Commit {
        Commit {
            pending: journal.map(|j| j.barrier()),
            spill: None,
        }
    }

    fn record(journal: Option<&Arc<Journal>>, record: &Record, spill: Option<Spill>) -> Commit {
        match journal {
            None => Commit::none(),
            Some(j) => Commit {
                pending: Some(j.submit(record)),
                spill,
            },
        }
    }

    /// Waits until the operation is on disk, then lets its data leave memory.
    pub async fn durable(self) -> Result<(), StoreError> {
        let Some(pending) = self.pending else {
            return Ok(());
        };
        let locs = pending.await.map_err(|e| {
            tracing::error!("data directory write failed: {e}");
            StoreError::Storage
        })?;
        if let Some((stream, starts, (tail, closed))) = self.spill {
            if let Some(j) = &stream.journal {
                let placed: Vec<_> = starts.into_iter().zip(locs).collect();
                let mut st = stream.lock();
                st.data.spill(j, &placed);
                st.data.mark_durable(tail, closed);
            }
            // Readers wait for durable data, so wake them now.
            stream.notify();
        }
        Ok(())
    }
}

pub fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn expiry_record(e: &Expiry) -> durable::Expiry {
    match e {
        Expiry::Never => durable::Expiry::Never,
        Expiry::Ttl(s) => durable::Expiry::Ttl(*s),
        Expiry::At(d) => durable::Expiry::At(d.text.clone()),
    }
}

fn expiry_from(e: &durable::Expiry) -> Expiry {
    match e {
        durable::Expiry::Never => Expiry::Never,
        durable::Expiry::Ttl(s) => Expiry::Ttl(*s),
        durable::Expiry::At(text) => match parse_expires_at(text) {
            Some(d) => Expiry::At(d),
            None => {
                tracing::warn!("unparsable Expires-At {text:?} in the data directory");
                Expiry::Never
            }
        },
    }
}

pub fn producer_record(p: &ProducerRef) -> Producer {
    Producer {
        id: p.id.clone(),
        epoch: p.epoch,
        seq: p.seq,
    }
}

/// The in-memory bytes of freshly pushed entries (the record's parts).
pub fn mem_parts(entries: &[Entry]) -> Vec<Bytes> {
    entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Mem(b) => Some(b.clone()),
            Body::Disk(..) => None,
        })
        .collect()
}

impl Store {
    /// Opens the file store in `dir`: recovers the journal and rebuilds
    /// every stream (data stays on disk; only its index is in memory).
    pub fn open(clock: Clock, dir: &Path) -> io::Result<Store> {
        Store::open_with(clock, dir, LogOptions::default())
    }

    pub fn open_with(clock: Clock, dir: &Path, options: LogOptions) -> io::Result<Store> {
        let opened = Journal::open(dir, options)?;
        let rec = &opened.recovery;
        tracing::info!(
            "data directory {}: {} records in {} segments, {} streams",
            dir.display(),
            rec.records,
            rec.segments,
            opened.state.streams.len()
        );
        if let Some(t) = &rec.truncated {
            tracing::warn!(
                "cut a torn tail: {} bytes of segment {} ({})",
                t.dropped_bytes,
                t.segment,
                t.reason
            );
        }
        for a in &opened.state.anomalies {
            tracing::warn!("skipped an inconsistent record: {a}");
        }
        let journal = Arc::new(opened.journal);
        let mut reg = Registry::new();
        // ETags carry the id: ids of this run start past any of an earlier run.
        let mut next_id = (ms(OffsetDateTime::now_utc()).max(0) as u64) << 8;
        for rs in opened.state.in_creation_order() {
            let mut data = Data::new(rs.base, rs.json);
            data.entries = rs
                .chunks
                .iter()
                .map(|c| Entry {
                    start: c.start,
                    body: Body::Disk(journal.clone(), c.loc),
                    batch_end: c.batch_end,
                })
                .collect();
            data.tail = rs.tail;
            data.durable = Some(super::stream::Durable {
                tail: rs.tail,
                closed: rs.closed,
                created: true,
            });
            let fork = match &rs.fork {
                None => None,
                Some(f) => Some(ForkLink {
                    source: reg.get(&f.source).cloned().ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("fork source {} missing", f.source),
                        )
                    })?,
                    source_path: f.source.clone(),
                    offset: f.offset,
                    sub_offset: f.sub_offset,
                }),
            };
            let essence = content_type::essence(&rs.content_type)
                .unwrap_or_else(|| content_type::DEFAULT.into());
            let state = State {
                config: Config {
                    content_type: rs.content_type.clone(),
                    essence,
                    requested_expiry: expiry_from(&rs.requested_expiry),
                },
                expiry: expiry_from(&rs.expiry),
                last_access: from_ms(rs.last_access_ms),
                data,
                fork,
                closed: rs.closed,
                closed_by: rs.closed_by.as_ref().map(|p| ProducerRef {
                    id: p.id.clone(),
                    epoch: p.epoch,
                    seq: p.seq,
                }),
                producers: rs
                    .producers
                    .iter()
                    .map(|(id, p)| {
                        (
                            id.clone(),
                            ProducerState {
                                epoch: p.epoch,
                                last_seq: p.last_seq,
                            },
                        )
                    })
                    .collect::<HashMap<_, _>>(),
                last_seq: rs.last_seq.clone(),
                refcount: rs.refcount,
                status: match rs.status {
                    durable::replay::Status::Live => Status::Live,
                    durable::replay::Status::SoftDeleted => Status::SoftDeleted,
                },
            };
            let stream = Stream::new(next_id, rs.path.clone(), state)
                .journaled(Some(journal.clone()), rs.last_access_ms);
            next_id += 1;
            reg.insert(rs.path.clone(), Arc::new(stream));
        }
        Ok(Store {
            registry: Mutex::new(reg),
            clock,
            next_id: AtomicU64::new(next_id),
            journal: Some(journal),
        })
    }

    pub(super) fn journal(&self) -> Option<&Arc<Journal>> {
        self.journal.as_ref()
    }

    pub(super) fn commit_barrier(&self) -> Commit {
        Commit::barrier(self.journal())
    }

    /// File store: waits until everything journaled so far is on disk (a
    /// barrier), so that state observed before the call is durable. The
    /// memory store returns at once.
    pub async fn settle(&self) -> Result<(), StoreError> {
        self.commit_barrier().durable().await
    }

    /// The refusal `e`, once what it reveals is durable: a 404 after a
    /// DELETE, a 409 for a close, a producer's 403... may rest on records
    /// still being synced.
    pub(super) async fn refused<T>(&self, e: StoreError) -> Result<T, StoreError> {
        self.settle().await?;
        Err(e)
    }

    pub(super) fn commit_record(&self, record: &Record, spill: Option<Spill>) -> Commit {
        Commit::record(self.journal(), record, spill)
    }
}

/// Journals a status change nobody waits for (expiry, §4.2): replay
/// derives the cascade up a fork chain itself.
pub fn log_detached(stream: &Stream, record: Record) {
    if let Some(j) = &stream.journal {
        j.submit_detached(&record);
    }
}

#[cfg(test)]
mod tests {
    //! The file store rebuilds what the memory store held (§4, §4.1,
    //! §4.2, §5.2.1), with its data read back from disk.

    use bytes::Bytes;
    use time::macros::datetime;

    use super::super::fork::{self, ForkRequest};
    use super::super::offsets::{Offset, ReadFrom};
    use super::super::{json, AppendRequest, Appended, CreateRequest, Payload};
    use super::*;
    use crate::durable::testdir::TestDir;

    fn clock() -> Clock {
        Clock::manual(datetime!(2030-01-01 0:00 UTC))
    }

    fn read_all(s: &Store, path: &str) -> Result<String, StoreError> {
        let stream = s.open_for_read(path)?;
        let r = fork::read(&stream, ReadFrom::Start, usize::MAX)?;
        let bytes = if r.json {
            json::frame(&r.pieces)
        } else {
            r.pieces.concat()
        };
        Ok(String::from_utf8(bytes).unwrap())
    }

    fn text(body: &str, producer: Option<(u64, u64)>, close: bool) -> AppendRequest {
        AppendRequest {
            essence: Some("text/plain".into()),
            payload: Payload::Bytes(Bytes::from(body.to_string())),
            close,
            stream_seq: None,
            producer: producer.map(|(epoch, seq)| ProducerRef {
                id: "p".into(),
                epoch,
                seq,
            }),
        }
    }

    #[tokio::test]
    async fn a_reopened_store_has_the_same_streams_with_data_on_disk() {
        let dir = TestDir::new("store");
        {
            let s = Store::open(clock(), dir.path()).unwrap();
            let put = |path: &str, ct: &str, body: &str| CreateRequest {
                path: path.into(),
                content_type: Some(ct.into()),
                expiry: Expiry::Ttl(3600),
                body: Bytes::from(body.to_string()),
                ..Default::default()
            };
            s.create_durable(put("/t", "text/plain", "hello"))
                .await
                .unwrap();
            s.append_durable("/t", text(" big", Some((0, 0)), false))
                .await
                .unwrap();
            s.append_durable("/t", text(" world", Some((0, 1)), true))
                .await
                .unwrap();
            s.create_durable(put("/j", "application/json", "[1,[2],{\"a\":3}]"))
                .await
                .unwrap();
            s.create_durable(CreateRequest {
                path: "/f".into(),
                fork: Some(ForkRequest {
                    source_path: "/t".into(),
                    offset: Some(3),
                    sub_offset: 2,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
            s.append_durable("/f", text("!", None, false))
                .await
                .unwrap();
            s.delete_durable("/t").await.unwrap();
            let entries = s.registry().get("/f").unwrap().lock().data.entries.clone();
            assert!(
                entries.iter().all(|e| matches!(e.body, Body::Disk(..))),
                "{entries:?}"
            );
        }
        let s = Store::open(clock(), dir.path()).unwrap();
        assert_eq!(read_all(&s, "/f").unwrap(), "hello!");
        assert_eq!(read_all(&s, "/j").unwrap(), "[1,[2],{\"a\":3}]");
        assert_eq!(s.head("/t").unwrap_err(), StoreError::Gone, "soft-deleted");
        {
            let t = s.registry().get("/t").unwrap().clone();
            let st = t.lock();
            assert_eq!((st.data.tail, st.closed, st.refcount), (15, true, 1));
            assert_eq!(
                st.producers["p"],
                ProducerState {
                    epoch: 0,
                    last_seq: 1
                }
            );
            assert_eq!(st.expiry, Expiry::Ttl(3600));
        }
        s.delete_durable("/f").await.unwrap();
        assert_eq!(s.head("/t").unwrap_err(), StoreError::NotFound, "cascade");
        s.create_durable(CreateRequest {
            path: "/t".into(),
            content_type: Some("text/plain".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        drop(s);
        let s = Store::open(clock(), dir.path()).unwrap();
        assert_eq!(s.head("/f").unwrap_err(), StoreError::NotFound);
        assert_eq!(read_all(&s, "/t").unwrap(), "", "a new, empty incarnation");
        assert_eq!(s.len(), 2);
    }

    #[tokio::test]
    async fn data_the_disk_lost_is_a_storage_error_not_an_empty_read() {
        let dir = TestDir::new("lost");
        let options = LogOptions {
            prealloc_bytes: 0,
            ..LogOptions::default()
        };
        let s = Store::open_with(clock(), dir.path(), options).unwrap();
        s.create_durable(CreateRequest {
            path: "/t".into(),
            content_type: Some("text/plain".into()),
            body: Bytes::from_static(b"hello"),
            ..Default::default()
        })
        .await
        .unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "seg") {
                let file = std::fs::OpenOptions::new().write(true).open(&path);
                file.unwrap().set_len(0).unwrap();
            }
        }
        let stream = s.open_for_read("/t").unwrap();
        // An empty read here would tell a long-poll it is caught up at the
        // tail, skipping "hello".
        for from in [ReadFrom::Start, ReadFrom::At(Offset(2))] {
            assert_eq!(
                fork::read(&stream, from, 1024).unwrap_err(),
                StoreError::Storage
            );
        }
        let at_tail = fork::read(&stream, ReadFrom::Now, 1024).unwrap();
        assert!(at_tail.is_empty() && at_tail.up_to_date());
    }

    #[tokio::test]
    async fn producer_retries_after_restart_are_duplicates() {
        let dir = TestDir::new("dedup");
        {
            let s = Store::open(clock(), dir.path()).unwrap();
            s.create_durable(CreateRequest {
                path: "/s".into(),
                content_type: Some("text/plain".into()),
                ..Default::default()
            })
            .await
            .unwrap();
            s.append_durable("/s", text("a", Some((1, 0)), false))
                .await
                .unwrap();
            s.append_durable("/s", text("b", Some((1, 1)), true))
                .await
                .unwrap();
        }
        let s = Store::open(clock(), dir.path()).unwrap();
        let again = s
            .append_durable("/s", text("b", Some((1, 1)), true))
            .await
            .unwrap();
        assert!(
            matches!(
                again,
                Appended::Duplicate {
                    tail: 2,
                    closed: true,
                    ..
                }
            ),
            "{again:?}"
        );
        assert_eq!(read_all(&s, "/s").unwrap(), "ab");
    }

    #[tokio::test]
    async fn readers_see_only_what_is_durable() {
        let dir = TestDir::new("visible");
        let s = Store::open(clock(), dir.path()).unwrap();
        s.create_durable(CreateRequest {
            path: "/s".into(),
            content_type: Some("text/plain".into()),
            body: Bytes::from_static(b"a"),
            ..Default::default()
        })
        .await
        .unwrap();
        let (_, commit) = s.append_logged("/s", text("b", None, true)).unwrap();
        // Applied in memory, not yet acknowledged: invisible to readers.
        assert_eq!(read_all(&s, "/s").unwrap(), "a");
        assert_eq!(
            (s.head("/s").unwrap().tail, s.head("/s").unwrap().closed),
            (1, false)
        );
        commit.durable().await.unwrap();
        assert_eq!(read_all(&s, "/s").unwrap(), "ab");
        assert_eq!(
            (s.head("/s").unwrap().tail, s.head("/s").unwrap().closed),
            (2, true)
        );
    }
    /// A store whose every sync takes 300 ms, and a check that `answer`
    /// is not given before the record it depends on is durable.
    fn slow_store(dir: &TestDir) -> Arc<Store> {
        let options = LogOptions {
            slow_sync: std::time::Duration::from_millis(300),
            ..LogOptions::default()
        };
        Arc::new(Store::open_with(clock(), dir.path(), options).unwrap())
    }

    async fn waits_for_sync<T: std::fmt::Debug>(
        what: &str,
        answer: impl std::future::Future<Output = T>,
    ) -> T {
        let started = std::time::Instant::now();
        let out = answer.await;
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(150),
            "{what} was answered ({out:?}) after {:?}, before the record it reveals was synced",
            started.elapsed()
        );
        out
    }

    fn plain(path: &str) -> CreateRequest {
        CreateRequest {
            path: path.into(),
            content_type: Some("text/plain".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_new_stream_is_not_revealed_before_its_create_is_durable() {
        let dir = TestDir::new("settle-create");
        let s = slow_store(&dir);
        let (created, _, commit) = s.create_logged(plain("/s")).unwrap();
        assert!(created);
        waits_for_sync("HEAD", s.head_durable("/s")).await.unwrap();
        commit.durable().await.unwrap();
        let (_, _, commit) = s.create_logged(plain("/t")).unwrap();
        waits_for_sync("GET", s.open_for_read_durable("/t"))
            .await
            .unwrap();
        commit.durable().await.unwrap();
        // Once durable, reads are answered without waiting for a sync.
        let started = std::time::Instant::now();
        s.head_durable("/t").await.unwrap();
        s.open_for_read_durable("/t").await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_millis(150));
    }

    #[tokio::test]
    async fn refusals_wait_for_the_state_they_rest_on() {
        let dir = TestDir::new("settle-refusals");
        let s = slow_store(&dir);
        s.create_durable(plain("/s")).await.unwrap();
        s.create_durable(plain("/p")).await.unwrap();
        s.create_durable(plain("/gone")).await.unwrap();

        // A close still syncing: another writer's 409 waits for it.
        let (_, close) = s.append_logged("/s", text("x", None, true)).unwrap();
        let refused =
            waits_for_sync("409 closed", s.append_durable("/s", text("y", None, false))).await;
        assert!(
            matches!(refused, Err(StoreError::Closed { .. })),
            "{refused:?}"
        );
        close.durable().await.unwrap();

        // A producer's new epoch still syncing: the old epoch's 403 waits.
        let (_, bump) = s
            .append_logged("/p", text("a", Some((1, 0)), false))
            .unwrap();
        let stale = waits_for_sync(
            "403 stale epoch",
            s.append_durable("/p", text("b", Some((0, 0)), false)),
        )
        .await;
        assert!(
            matches!(stale, Err(StoreError::StaleEpoch { current: 1 })),
            "{stale:?}"
        );
        bump.durable().await.unwrap();

        // A DELETE still syncing: HEAD, GET and PUT-conflict answers wait.
        let delete = s.delete_logged("/gone").unwrap();
        let head = waits_for_sync("404 after DELETE", s.head_durable("/gone")).await;
        assert_eq!(head.err(), Some(StoreError::NotFound));
        delete.durable().await.unwrap();
        let delete = s.delete_logged("/s").unwrap();
        let read = waits_for_sync("GET 404 after DELETE", s.open_for_read_durable("/s")).await;
        assert_eq!(read.err(), Some(StoreError::NotFound));
        delete.durable().await.unwrap();
    }
}
