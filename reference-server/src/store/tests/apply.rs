//! §4.1, §4.2, §5.2.1: `apply` folds events into the store's state the way
//! recovery feeds it (data as disk locations); the producer state and data
//! of one append land together or not at all, and impossible events are
//! skipped and reported.

use std::sync::Arc;

use bytes::Bytes;
use time::macros::datetime;
use time::OffsetDateTime;

use crate::durable::reader::SegmentReader;
use crate::durable::Loc;
use crate::store::apply::Registry;
use crate::store::data::Body;
use crate::store::event::{Append, Close, Create, Event, ForkPoint};
use crate::store::producer::{ProducerRef, ProducerState};
use crate::store::stream::{State, Status};
use crate::store::ttl::Expiry;

/// Applies events as recovery does, each data part at a fake location of
/// its own length.
struct Replay {
    reg: Registry,
    reader: Arc<SegmentReader>,
    next: u64,
    anomalies: Vec<String>,
}

impl Replay {
    fn new() -> Replay {
        Replay {
            reg: Registry::new(true, 0),
            reader: Arc::new(SegmentReader::new(std::path::Path::new("/nonexistent"), 1)),
            next: 0,
            anomalies: Vec::new(),
        }
    }

    fn push(&mut self, event: Event) -> &mut Self {
        let bodies = event
            .parts()
            .map(|p| {
                self.next += 1000;
                let loc = Loc {
                    segment: 1,
                    offset: self.next,
                    len: p.len() as u32,
                };
                Body::Disk(self.reader.clone(), loc)
            })
            .collect();
        if let Err(a) = self.reg.apply(&event, bodies) {
            self.anomalies.push(a);
        }
        self
    }

    fn with<T>(&self, path: &str, f: impl FnOnce(&State) -> T) -> T {
        f(&self.reg.get(path).expect(path).lock())
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn t(ms: i64) -> OffsetDateTime {
    datetime!(2030-01-01 0:00 UTC) + time::Duration::milliseconds(ms)
}

fn create(path: &str, json: bool, initial: Vec<Bytes>) -> Event {
    Event::Create(Create {
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
        at: t(100),
        closed: false,
        fork: None,
        initial,
    })
}

fn fork(path: &str, source: &str, offset: u64, prefix: Vec<Bytes>) -> Event {
    Event::Create(Create {
        path: path.into(),
        content_type: "text/plain".into(),
        json: false,
        requested_expiry: Expiry::Never,
        expiry: Expiry::Never,
        at: t(200),
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
        producer: producer.map(|(epoch, seq)| ProducerRef {
            id: "p".into(),
            epoch,
            seq,
        }),
        stream_seq: None,
        close: false,
        at: t(300),
    }
}

fn delete(path: &str) -> Event {
    Event::Delete { path: path.into() }
}

#[test]
fn appends_build_the_index_with_producer_state_and_closure() {
    let mut r = Replay::new();
    r.push(create("/s", false, vec![b("hello")]))
        .push(Event::Append(append(
            "/s",
            vec![b(" big")],
            9,
            Some((0, 0)),
        )))
        .push(Event::Append(Append {
            stream_seq: Some("b".into()),
            close: true,
            ..append("/s", vec![b(" world")], 15, Some((0, 1)))
        }));
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    r.with("/s", |s| {
        assert_eq!((s.data.base, s.data.tail), (0, 15));
        let starts: Vec<u64> = s.data.entries.iter().map(|e| e.start).collect();
        assert_eq!(starts, vec![0, 5, 9]);
        assert_eq!(s.data.batch_ends, vec![5, 9, 15]);
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
        assert_eq!(s.last_access, t(300));
    });
}

#[test]
fn a_new_epoch_replaces_the_producer_state() {
    let mut r = Replay::new();
    r.push(create("/s", false, vec![]))
        .push(Event::Append(append("/s", vec![b("a")], 1, Some((2, 0)))))
        .push(Event::Append(append("/s", vec![b("b")], 2, Some((2, 1)))))
        .push(Event::Append(append("/s", vec![b("c")], 3, Some((5, 0)))));
    r.with("/s", |s| {
        assert_eq!(
            s.producers["p"],
            ProducerState {
                epoch: 5,
                last_seq: 0
            }
        );
    });
}

#[test]
fn json_positions_count_messages_and_keep_batch_boundaries() {
    let mut r = Replay::new();
    r.push(create("/j", true, vec![b("1"), b("22")]))
        .push(Event::Append(append(
            "/j",
            vec![b("3"), b("4"), b("5")],
            5,
            None,
        )));
    r.with("/j", |s| {
        assert_eq!(s.data.tail, 5);
        assert_eq!(s.data.entries.len(), 5, "one entry per message");
        assert_eq!(s.data.batch_ends, vec![2, 5]);
    });
}

#[test]
fn a_lost_append_loses_its_producer_state_too() {
    // The record is the unit of atomicity: a torn tail removes a whole
    // event, so the data and the producer state that dedups its retry
    // are recovered together or not at all.
    let mut r = Replay::new();
    r.push(create("/s", false, vec![]))
        .push(Event::Append(append("/s", vec![b("a")], 1, Some((0, 0)))));
    r.with("/s", |s| {
        assert_eq!(s.data.tail, 1);
        assert_eq!(
            s.producers["p"],
            ProducerState {
                epoch: 0,
                last_seq: 0
            }
        );
    });
}

#[test]
fn forks_count_references_and_deletes_cascade_up_the_chain() {
    let mut r = Replay::new();
    r.push(create("/a", false, vec![b("0123456789")]))
        .push(fork("/b", "/a", 4, vec![b("45")]))
        .push(fork("/c", "/b", 6, vec![]))
        .push(delete("/a"))
        .push(delete("/b"));
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    let refs: Vec<(u64, Status)> = ["/a", "/b", "/c"]
        .iter()
        .map(|p| r.with(p, |s| (s.refcount, s.status)))
        .collect();
    assert_eq!(
        refs,
        vec![
            (1, Status::SoftDeleted),
            (1, Status::SoftDeleted),
            (0, Status::Live)
        ]
    );
    r.with("/b", |s| {
        assert_eq!((s.data.base, s.data.tail, s.data.entries.len()), (4, 6, 1));
    });
    r.with("/c", |s| {
        assert_eq!(s.fork.as_ref().unwrap().source_path, "/b");
        assert!(s.producers.is_empty() && s.last_seq.is_none());
    });
    // Deleting the last fork cleans up both soft-deleted ancestors.
    r.push(delete("/c"));
    assert_eq!(r.reg.len(), 0);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn a_path_can_be_recreated_after_delete() {
    let mut r = Replay::new();
    r.push(create("/s", false, vec![b("old")]))
        .push(delete("/s"))
        .push(create("/s", false, vec![b("new!")]));
    assert_eq!(r.with("/s", |s| s.data.tail), 4);
    assert_eq!(r.reg.get("/s").unwrap().id, 1, "a new incarnation");
}

#[test]
fn touch_only_moves_last_access_forward() {
    let mut r = Replay::new();
    r.push(create("/s", false, vec![]))
        .push(Event::Touch {
            path: "/s".into(),
            at: t(500),
        })
        .push(Event::Touch {
            path: "/s".into(),
            at: t(400),
        })
        .push(Event::Touch {
            path: "/gone".into(),
            at: t(600),
        });
    assert_eq!(r.with("/s", |s| s.last_access), t(500));
    assert!(r.anomalies.is_empty(), "a late touch is no anomaly");
}

#[test]
fn impossible_events_are_skipped_and_reported() {
    let mut r = Replay::new();
    r.push(create("/s", false, vec![]))
        .push(Event::Close(Close {
            path: "/s".into(),
            producer: None,
            stream_seq: None,
            at: t(1),
        }))
        .push(Event::Append(append("/s", vec![b("x")], 1, None)))
        .push(Event::Append(append("/nope", vec![b("x")], 1, None)))
        .push(create("/s", false, vec![]))
        .push(fork("/f", "/missing", 0, vec![]))
        .push(fork("/g", "/s", 1, vec![]))
        .push(delete("/gone"));
    assert_eq!(r.anomalies.len(), 6, "{:?}", r.anomalies);
    r.with("/s", |s| {
        assert_eq!(s.data.tail, 0);
        assert!(s.closed);
        assert_eq!(s.refcount, 0, "a refused fork takes no reference");
    });
    assert!(r.reg.get("/f").is_none() && r.reg.get("/g").is_none());
}
