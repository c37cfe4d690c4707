//! §4 Durability end to end: events written through the journal come back
//! on reopen, in order, with data parts that read the exact bytes from disk.

use bytes::Bytes;
use time::macros::datetime;

use crate::durable::testdir::TestDir;
use crate::durable::LogOptions;
use crate::store::data::Body;
use crate::store::event::{Append, Create, Event, ForkPoint};
use crate::store::journal::Journal;
use crate::store::producer::ProducerRef;
use crate::store::ttl::{parse_expires_at, Expiry};

#[test]
fn events_survive_reopen_and_parts_read_back_from_disk() {
    let dir = TestDir::new("journal");
    let b = |s: &'static str| Bytes::from_static(s.as_bytes());
    let at = datetime!(2030-01-01 0:00 UTC);
    let deadline = Expiry::At(parse_expires_at("2099-01-01T00:00:00Z").unwrap());
    let events = vec![
        Event::Create(Create {
            path: "/s".into(),
            content_type: "application/octet-stream".into(),
            json: false,
            requested_expiry: deadline.clone(),
            expiry: deadline.clone(),
            at,
            closed: false,
            fork: None,
            initial: vec![b("abc")],
        }),
        Event::Append(Append {
            path: "/s".into(),
            parts: vec![b("defg")],
            tail: 7,
            producer: Some(ProducerRef {
                id: "w".into(),
                epoch: 2,
                seq: 0,
            }),
            stream_seq: None,
            close: false,
            at,
        }),
        Event::Create(Create {
            path: "/f".into(),
            content_type: "application/octet-stream".into(),
            json: false,
            requested_expiry: Expiry::Never,
            expiry: deadline,
            at,
            closed: false,
            fork: Some(ForkPoint {
                source: "/s".into(),
                offset: 3,
                sub_offset: 2,
                prefix: vec![b("de")],
            }),
            initial: vec![b("XY")],
        }),
    ];
    let touch = Event::Touch {
        path: "/f".into(),
        at: at + time::Duration::seconds(9),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    {
        let mut seen = 0;
        let (j, _) = Journal::open(dir.path(), LogOptions::default(), |_, _| seen += 1).unwrap();
        assert_eq!(seen, 0);
        let pending: Vec<_> = events.iter().map(|e| j.submit(e)).collect();
        let locs = rt.block_on(futures::future::try_join_all(pending)).unwrap();
        assert_eq!(locs.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 2]);
        assert_eq!(&j.reader().read(locs[2][1]).unwrap()[..], b"XY");
        j.submit_detached(&touch);
    }
    let mut back = Vec::new();
    Journal::open(dir.path(), LogOptions::default(), |event, bodies| {
        let data: Vec<Bytes> = bodies
            .iter()
            .map(|body| {
                assert!(matches!(body, Body::Disk(..)), "{body:?}");
                body.slice(0, body.len()).unwrap()
            })
            .collect();
        back.push((event, data));
    })
    .unwrap();
    let mut want: Vec<(Event, Vec<Bytes>)> = events
        .into_iter()
        .map(|e| {
            let data = e.parts().cloned().collect();
            (e, data)
        })
        .collect();
    want.push((touch, vec![]));
    assert_eq!(back, want);
}
