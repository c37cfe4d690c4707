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
