//! §4 Durability end to end: typed records written through the journal
//! come back as replayed state whose chunk locations read the exact data.

use bytes::Bytes;

use crate::durable::journal::Journal;
use crate::durable::log::LogOptions;
use crate::durable::record::{Append, Create, Expiry, ForkPoint, Producer, Record};
use crate::durable::testdir::TestDir;

#[test]
fn records_survive_reopen_and_chunks_read_back_from_disk() {
    let dir = TestDir::new("journal");
    let b = |s: &'static str| Bytes::from_static(s.as_bytes());
    let records = [
        Record::Create(Create {
            path: "/s".into(),
            content_type: "application/octet-stream".into(),
            json: false,
            requested_expiry: Expiry::At("2099-01-01T00:00:00Z".into()),
            expiry: Expiry::At("2099-01-01T00:00:00Z".into()),
            at_ms: 1,
            closed: false,
            fork: None,
            initial: vec![b("abc")],
        }),
        Record::Append(Append {
            path: "/s".into(),
            parts: vec![b("defg")],
            tail: 7,
            producer: Some(Producer {
                id: "w".into(),
                epoch: 2,
                seq: 0,
            }),
            stream_seq: None,
            close: false,
            at_ms: 2,
        }),
        Record::Create(Create {
            path: "/f".into(),
            content_type: "application/octet-stream".into(),
            json: false,
            requested_expiry: Expiry::Never,
            expiry: Expiry::At("2099-01-01T00:00:00Z".into()),
            at_ms: 3,
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    {
        let opened = Journal::open(dir.path(), LogOptions::default()).unwrap();
        assert!(opened.state.streams.is_empty());
        let j = opened.journal;
        let pending: Vec<_> = records.iter().map(|r| j.submit(r)).collect();
        let locs = rt.block_on(futures::future::try_join_all(pending)).unwrap();
        assert_eq!(locs.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 2]);
        assert_eq!(&j.read_range(locs[2][1]).unwrap()[..], b"XY");
        j.submit_detached(&Record::Touch {
            path: "/f".into(),
            at_ms: 99,
        });
    }
    let opened = Journal::open(dir.path(), LogOptions::default()).unwrap();
    let state = &opened.state;
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    let read = |path: &str| -> Vec<u8> {
        state.streams[path]
            .chunks
            .iter()
            .flat_map(|c| opened.journal.read_range(c.loc).unwrap().to_vec())
            .collect()
    };
    assert_eq!(read("/s"), b"abcdefg");
    assert_eq!(read("/f"), b"deXY");
    let f = &state.streams["/f"];
    assert_eq!((f.base, f.tail, f.last_access_ms), (3, 7, 99));
    assert_eq!(state.streams["/s"].refcount, 1);
    assert_eq!(state.streams["/s"].producers["w"].epoch, 2);
}
