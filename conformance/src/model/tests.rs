//! The model on its own: offsets learned as opaque tokens, fork/soft-delete
//! lifecycle with cascades, producer outcomes.

use super::*;

fn obs(status: u16, headers: &[(&str, &str)]) -> Outcome {
    Outcome::One(Obs {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Vec::new(),
    })
}

fn step(m: &mut Model, op: Op, out: Outcome) -> Result<(), Violation> {
    let plan = m.plan(&op);
    m.check(&op, &plan, &out)
}

const A: Path = Path(0);
const B: Path = Path(1);

fn create(m: &mut Model, p: Path, tok: &str) {
    let op = Op::Create {
        path: p,
        kind: Kind::Text,
        init: None,
        closed: false,
        ttl: false,
    };
    step(
        m,
        op,
        obs(
            201,
            &[("stream-next-offset", tok), ("content-type", "text/plain")],
        ),
    )
    .unwrap();
}

fn append(m: &mut Model, p: Path, tok: &str) -> Result<(), Violation> {
    let op = Op::Append {
        path: p,
        data: Payload {
            seed: 1,
            items: 1,
            array: false,
        },
        seq: None,
    };
    step(m, op, obs(204, &[("stream-next-offset", tok)]))
}

#[test]
fn offsets_must_sort_like_positions() {
    let mut m = Model::default();
    create(&mut m, A, "o0");
    append(&mut m, A, "o5").unwrap();
    let err = append(&mut m, A, "o1").unwrap_err();
    assert_eq!(err.requirement, "PROP-OFFSET-ORDER");
    let mut m = Model::default();
    create(&mut m, A, "o0");
    assert_eq!(
        append(&mut m, A, "-1").unwrap_err().requirement,
        "PROP-OFFSET-ORDER"
    );
}

#[test]
fn soft_delete_then_cascade_after_fork_delete() {
    let mut m = Model::default();
    create(&mut m, A, "o0");
    append(&mut m, A, "o4").unwrap();
    let fork = Op::Fork {
        path: B,
        source: A,
        at: Some(0),
        sub: 0,
        ct: ForkCt::Omit,
    };
    step(
        &mut m,
        fork,
        obs(
            201,
            &[("stream-next-offset", "o0"), ("content-type", "text/plain")],
        ),
    )
    .unwrap();
    assert_eq!(m.live(B).unwrap().data, Data::Bytes(Vec::new()));
    step(&mut m, Op::Delete { path: A }, obs(204, &[])).unwrap();
    assert!(matches!(m.slot(A), Slot::SoftDeleted(_)));
    // Direct access to a soft-deleted stream is 410, never 404.
    let e = step(&mut m, Op::Head { path: A }, obs(404, &[])).unwrap_err();
    assert_eq!(e.requirement, "PROP-SOFT-DELETE");
    step(&mut m, Op::Delete { path: B }, obs(204, &[])).unwrap();
    // Cleanup may be asynchronous: 410 and 404 are both fine, then gone.
    assert!(matches!(m.slot(A), Slot::Collecting));
    step(&mut m, Op::Head { path: A }, obs(410, &[])).unwrap();
    step(&mut m, Op::Head { path: A }, obs(404, &[])).unwrap();
    assert!(step(&mut m, Op::Head { path: A }, obs(410, &[])).is_err());
}

#[test]
fn producer_duplicate_must_not_append() {
    let mut m = Model::default();
    create(&mut m, A, "o0");
    let p = |act| Op::Produce {
        path: A,
        producer: 0,
        act,
        data: Payload {
            seed: 2,
            items: 2,
            array: false,
        },
        close: false,
    };
    let ok = [
        ("stream-next-offset", "o6"),
        ("producer-epoch", "0"),
        ("producer-seq", "0"),
    ];
    step(&mut m, p(ProdAct::Next), obs(200, &ok)).unwrap();
    // A retry answered as new data (200) is a duplicate append.
    let e = step(&mut m, p(ProdAct::Dup), obs(200, &ok)).unwrap_err();
    assert_eq!(e.requirement, "PROP-PRODUCER-OUTCOME");
    step(
        &mut m,
        p(ProdAct::Dup),
        obs(204, &[("producer-epoch", "0"), ("producer-seq", "0")]),
    )
    .unwrap();
    assert_eq!(m.live(A).unwrap().data, Data::Bytes(b"2.0|2.1|".to_vec()));
}

fn json_stream_with(m: &mut Model, data: Payload) {
    let op = Op::Create {
        path: A,
        kind: Kind::Json,
        init: Some(data),
        closed: false,
        ttl: false,
    };
    step(
        m,
        op,
        obs(
            201,
            &[
                ("stream-next-offset", "o2"),
                ("content-type", "application/json"),
            ],
        ),
    )
    .unwrap();
}

fn sse(events: &[(&str, &str)]) -> Outcome {
    Outcome::Sse(SseObs {
        status: 200,
        headers: [("content-type".to_string(), "text/event-stream".to_string())]
            .into_iter()
            .collect(),
        events: events
            .iter()
            .map(|(e, d)| (e.to_string(), d.to_string()))
            .collect(),
        ended: false,
    })
}

#[test]
fn sse_json_event_may_be_one_array_message_or_a_batch() {
    // Two messages that are themselves arrays: [0,0] and [0,1] (§9.1.2).
    let data = Payload {
        seed: 0,
        items: 2,
        array: true,
    };
    let read = Op::Read {
        path: A,
        from: Pick::Start,
        mode: Mode::Sse,
    };
    let ctl = r#"{"streamNextOffset":"o2","streamCursor":"c","upToDate":true}"#;
    // Batched: one event holding an array of the messages.
    let mut m = Model::default();
    json_stream_with(&mut m, data);
    step(
        &mut m,
        read.clone(),
        sse(&[("data", "[[0,0],[0,1]]"), ("control", ctl)]),
    )
    .unwrap();
    // Not batched (§5.8 batching is a MAY): one event per message.
    let mut m = Model::default();
    json_stream_with(&mut m, data);
    step(
        &mut m,
        read.clone(),
        sse(&[("data", "[0,0]"), ("data", "[0,1]"), ("control", ctl)]),
    )
    .unwrap();
    // Wrong content is still wrong under either reading.
    let mut m = Model::default();
    json_stream_with(&mut m, data);
    let e = step(&mut m, read, sse(&[("data", "[0,1]"), ("control", ctl)])).unwrap_err();
    assert_eq!(e.requirement, "PROP-READ-CONTENT");
}

#[test]
fn long_poll_may_omit_cursor_with_stream_closed() {
    let mut m = Model::default();
    create(&mut m, A, "o0");
    append(&mut m, A, "o4").unwrap();
    step(
        &mut m,
        Op::Close {
            path: A,
            data: None,
        },
        obs(
            204,
            &[("stream-next-offset", "o4"), ("stream-closed", "true")],
        ),
    )
    .unwrap();
    let read = Op::Read {
        path: A,
        from: Pick::Start,
        mode: Mode::LongPoll,
    };
    let resp = |cursor: bool, closed: bool| {
        let mut h = vec![
            ("stream-next-offset", "o4"),
            ("content-type", "text/plain"),
            ("stream-up-to-date", "true"),
        ];
        if closed {
            h.push(("stream-closed", "true"));
        }
        if cursor {
            h.push(("stream-cursor", "c1"));
        }
        Outcome::Chunks(vec![Obs {
            status: 200,
            headers: h
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"1.0|".to_vec(),
        }])
    };
    // §5.6/§5.7: the cursor MAY be omitted when Stream-Closed is present.
    step(&mut m, read.clone(), resp(false, true)).unwrap();
    step(&mut m, read.clone(), resp(true, true)).unwrap();
    // The tail of a closed stream without Stream-Closed still fails.
    assert!(step(&mut m, read, resp(false, false)).is_err());
}

#[test]
fn long_poll_on_open_stream_requires_cursor() {
    let mut m = Model::default();
    create(&mut m, A, "o0");
    append(&mut m, A, "o4").unwrap();
    let read = Op::Read {
        path: A,
        from: Pick::Start,
        mode: Mode::LongPoll,
    };
    let out = Outcome::Chunks(vec![Obs {
        status: 200,
        headers: [
            ("stream-next-offset", "o4"),
            ("content-type", "text/plain"),
            ("stream-up-to-date", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        body: b"1.0|".to_vec(),
    }]);
    let e = step(&mut m, read, out).unwrap_err();
    assert_eq!(e.requirement, "PROP-LIVE-IMMEDIATE");
}
