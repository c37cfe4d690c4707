//! §4.1, §4.2, §5.2.1: replay folds records into the store's state; the
//! producer state and data of one append land together or not at all.

use bytes::Bytes;

use crate::durable::record::{Append, Create, Expiry, ForkPoint, Producer, Record};
use crate::durable::replay::{replay, Logged, ProducerState, Status};
use crate::durable::segment::Loc;

/// Fake locations: each part gets a distinct offset and its own length.
struct Log {
    out: Vec<Logged>,
    next: u64,
}

impl Log {
    fn new() -> Log {
        Log {
            out: Vec::new(),
            next: 0,
        }
    }

    fn push(&mut self, record: Record) -> &mut Self {
        let lens: Vec<usize> = match &record {
            Record::Create(c) => {
                let prefix = c.fork.iter().flat_map(|f| f.prefix.iter());
                prefix.chain(c.initial.iter()).map(Bytes::len).collect()
            }
            Record::Append(a) => a.parts.iter().map(Bytes::len).collect(),
            _ => vec![],
        };
        let parts = lens
            .into_iter()
            .map(|len| {
                self.next += 1000;
                Loc {
                    segment: 1,
                    offset: self.next,
                    len: len as u32,
                }
            })
            .collect();
        self.out.push(Logged { record, parts });
        self
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn create(path: &str, json: bool, initial: Vec<Bytes>) -> Record {
    Record::Create(Create {
        path: path.into(),
        content_type: if json {
            "application/json"
        } else {
            "text/plain"
        }
        .into(),
        json,
        requested_expiry: Expiry::Ttl(30),
        expiry: Expiry::Ttl(30),
        at_ms: 100,
        closed: false,
        fork: None,
        initial,
    })
}

fn fork(path: &str, source: &str, offset: u64, prefix: Vec<Bytes>) -> Record {
    Record::Create(Create {
        path: path.into(),
        content_type: "text/plain".into(),
        json: false,
        requested_expiry: Expiry::Never,
        expiry: Expiry::Never,
        at_ms: 200,
        closed: false,
        fork: Some(ForkPoint {
            source: source.into(),
            offset,
            sub_offset: prefix.iter().map(|p| p.len() as u64).sum(),
            prefix,
        }),
        initial: vec![],
    })
}

fn append(path: &str, parts: Vec<Bytes>, tail: u64, producer: Option<(u64, u64)>) -> Append {
    Append {
        path: path.into(),
        parts,
        tail,
        producer: producer.map(|(epoch, seq)| Producer {
            id: "p".into(),
            epoch,
            seq,
        }),
        stream_seq: None,
        close: false,
        at_ms: 300,
    }
}

#[test]
fn appends_build_the_index_with_producer_state_and_closure() {
    let mut log = Log::new();
    log.push(create("/s", false, vec![b("hello")]))
        .push(Record::Append(append(
            "/s",
            vec![b(" big")],
            9,
            Some((0, 0)),
        )))
        .push(Record::Append(Append {
            stream_seq: Some("b".into()),
            close: true,
            ..append("/s", vec![b(" world")], 15, Some((0, 1)))
        }));
    let state = replay(log.out);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    let s = &state.streams["/s"];
    assert_eq!((s.base, s.tail), (0, 15));
    let starts: Vec<u64> = s.chunks.iter().map(|c| c.start).collect();
    assert_eq!(starts, vec![0, 5, 9]);
    assert!(s.chunks.iter().all(|c| c.batch_end));
    assert_eq!(
        s.producers["p"],
        ProducerState {
            epoch: 0,
            last_seq: 1
        }
    );
    assert_eq!(s.last_seq.as_deref(), Some("b"));
    assert!(s.closed);
    assert_eq!(s.closed_by.as_ref().map(|p| p.seq), Some(1));
    assert_eq!(s.last_access_ms, 300);
}

#[test]
fn json_positions_count_messages_and_keep_batch_boundaries() {
    let mut log = Log::new();
    log.push(create("/j", true, vec![b("1"), b("22")]))
        .push(Record::Append(append(
            "/j",
            vec![b("3"), b("4"), b("5")],
            5,
            None,
        )));
    let s = &replay(log.out).streams["/j"];
    assert_eq!(s.tail, 5);
    let ends: Vec<bool> = s.chunks.iter().map(|c| c.batch_end).collect();
    assert_eq!(ends, vec![false, true, false, false, true]);
}

#[test]
fn a_lost_append_loses_its_producer_state_too() {
    // The record is the unit of atomicity: a torn tail removes a whole
    // record, so the data and the producer state that dedups its retry
    // are recovered together or not at all.
    let mut log = Log::new();
    log.push(create("/s", false, vec![]))
        .push(Record::Append(append("/s", vec![b("a")], 1, Some((0, 0)))))
        .push(Record::Append(append("/s", vec![b("b")], 2, Some((0, 1)))));
    let mut records = log.out;
    records.pop();
    let s = &replay(records).streams["/s"];
    assert_eq!(s.tail, 1);
    assert_eq!(
        s.producers["p"],
        ProducerState {
            epoch: 0,
            last_seq: 0
        }
    );
}

#[test]
fn forks_count_references_and_deletes_cascade_up_the_chain() {
    let mut log = Log::new();
    log.push(create("/a", false, vec![b("0123456789")]))
        .push(fork("/b", "/a", 4, vec![b("45")]))
        .push(fork("/c", "/b", 6, vec![]))
        .push(Record::SoftDelete { path: "/a".into() })
        .push(Record::SoftDelete { path: "/b".into() });
    let state = replay(log.out.clone());
    let (a, b_, c) = (
        &state.streams["/a"],
        &state.streams["/b"],
        &state.streams["/c"],
    );
    assert_eq!((a.refcount, b_.refcount, c.refcount), (1, 1, 0));
    assert_eq!(
        (a.status, b_.status),
        (Status::SoftDeleted, Status::SoftDeleted)
    );
    assert_eq!((b_.base, b_.tail, b_.chunks.len()), (4, 6, 1));
    assert_eq!(c.fork.as_ref().unwrap().source, "/b");
    assert!(c.producers.is_empty() && c.last_seq.is_none());
    let order: Vec<&str> = state
        .in_creation_order()
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(order, vec!["/a", "/b", "/c"]);

    // Deleting the last fork cleans up both soft-deleted ancestors; an
    // explicit purge afterwards is a no-op.
    log.push(Record::Delete { path: "/c".into() })
        .push(Record::Purge { path: "/b".into() });
    let state = replay(log.out);
    assert!(state.streams.is_empty(), "{:?}", state.streams.keys());
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.dead_bytes, 12);
}

#[test]
fn a_path_can_be_recreated_after_delete() {
    let mut log = Log::new();
    log.push(create("/s", false, vec![b("old")]))
        .push(Record::Delete { path: "/s".into() })
        .push(create("/s", false, vec![b("new!")]));
    let state = replay(log.out);
    assert_eq!(state.streams["/s"].tail, 4);
    assert_eq!(state.streams["/s"].created, 1);
}

#[test]
fn touch_only_moves_last_access_forward() {
    let mut log = Log::new();
    log.push(create("/s", false, vec![]))
        .push(Record::Touch {
            path: "/s".into(),
            at_ms: 500,
        })
        .push(Record::Touch {
            path: "/s".into(),
            at_ms: 400,
        });
    assert_eq!(replay(log.out).streams["/s"].last_access_ms, 500);
}

#[test]
fn impossible_records_are_skipped_and_reported() {
    let mut log = Log::new();
    log.push(create("/s", false, vec![]))
        .push(Record::Close {
            path: "/s".into(),
            producer: None,
            stream_seq: None,
            at_ms: 1,
        })
        .push(Record::Append(append("/s", vec![b("x")], 1, None)))
        .push(Record::Append(append("/nope", vec![b("x")], 1, None)))
        .push(create("/s", false, vec![]))
        .push(fork("/f", "/missing", 0, vec![]))
        .push(Record::Delete {
            path: "/gone".into(),
        });
    let state = replay(log.out);
    assert_eq!(state.anomalies.len(), 5, "{:?}", state.anomalies);
    assert_eq!(state.streams["/s"].tail, 0);
    assert!(state.streams["/s"].closed);
    assert!(!state.streams.contains_key("/f"));
}
