//! proptest strategies for operation sequences over a small universe of
//! stream names, weighted per property so operations collide: forks of
//! forks, deletes of sources, producer retries and zombie epochs.

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use crate::model::{ForkCt, Kind, Mode, Op, Path, Payload, Pick, ProdAct};

/// Which family of operations a property draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Create, append (bytes/JSON, Stream-Seq), close, HEAD, reads, delete.
    SingleStream,
    /// Plus forks at minted offsets, soft-delete and cascades.
    ForksAndDeletes,
    /// Idempotent producers: next, retry, gap, zombie, epoch bump, close.
    Producers,
}

impl Family {
    /// The first requirement of the property's case: the one an
    /// inconclusive (too small) search is reported on.
    pub fn requirement(self) -> &'static str {
        match self {
            Family::SingleStream => "PROP-CREATE-OUTCOME",
            Family::ForksAndDeletes => "PROP-FORK-CREATE",
            Family::Producers => "PROP-PRODUCER-OUTCOME",
        }
    }
}

/// Earlier names are likelier, so operations meet the streams that exist.
fn path(n: u8) -> BoxedStrategy<Path> {
    weighted_path(n, [5, 3, 2, 1])
}

/// Fork targets prefer later names (sources prefer earlier ones).
fn fork_target(n: u8) -> BoxedStrategy<Path> {
    weighted_path(n, [1, 3, 3, 3])
}

fn weighted_path(n: u8, w: [u32; 4]) -> BoxedStrategy<Path> {
    let choices: Vec<(u32, BoxedStrategy<Path>)> = (0..n)
        .map(|i| (w[i as usize % 4], Just(Path(i)).boxed()))
        .collect();
    proptest::strategy::Union::new_weighted(choices).boxed()
}

fn payload() -> BoxedStrategy<Payload> {
    (0u8..16, 0u8..4, any::<bool>())
        .prop_map(|(seed, items, array)| Payload { seed, items, array })
        .boxed()
}

fn kind() -> BoxedStrategy<Kind> {
    prop_oneof![Just(Kind::Bytes), Just(Kind::Text), Just(Kind::Json)].boxed()
}

fn create(n: u8) -> BoxedStrategy<Op> {
    (
        path(n),
        kind(),
        proptest::option::weighted(0.5, payload()),
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(path, kind, init, closed, ttl)| Op::Create {
            path,
            kind,
            init,
            closed,
            ttl,
        })
        .boxed()
}

fn append(n: u8) -> BoxedStrategy<Op> {
    (path(n), payload(), proptest::option::weighted(0.3, 0u8..12))
        .prop_map(|(path, data, seq)| Op::Append { path, data, seq })
        .boxed()
}

fn produce(n: u8) -> BoxedStrategy<Op> {
    let act = prop_oneof![
        4 => Just(ProdAct::Next),
        2 => Just(ProdAct::Dup),
        1 => Just(ProdAct::Gap),
        2 => Just(ProdAct::Stale),
        2 => Just(ProdAct::Bump),
        1 => Just(ProdAct::BadBump),
    ];
    (
        path(n),
        // Mostly one producer, so bumps and zombie retries meet.
        prop_oneof![3 => Just(0u8), 1 => Just(1u8)],
        act,
        payload(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(path, producer, act, data, close)| Op::Produce {
            path,
            producer,
            act,
            data,
            close,
        })
        .boxed()
}

fn close(n: u8) -> BoxedStrategy<Op> {
    (path(n), proptest::option::of(payload()))
        .prop_map(|(path, data)| Op::Close { path, data })
        .boxed()
}

fn fork(n: u8) -> BoxedStrategy<Op> {
    let sub = prop_oneof![2 => Just(0u8), 1 => 1u8..4];
    let ct =
        prop_oneof![3 => Just(ForkCt::Omit), 2 => Just(ForkCt::Same), 1 => Just(ForkCt::Different)];
    (
        fork_target(n),
        path(n),
        proptest::option::weighted(0.7, 0u8..16),
        sub,
        ct,
    )
        .prop_map(|(path, source, at, sub, ct)| Op::Fork {
            path,
            source,
            at,
            sub,
            ct,
        })
        .boxed()
}

fn read(n: u8) -> BoxedStrategy<Op> {
    let from = prop_oneof![
        2 => Just(Pick::Start),
        1 => Just(Pick::Now),
        4 => (0u8..16).prop_map(Pick::Minted),
    ];
    let mode =
        prop_oneof![4 => Just(Mode::CatchUp), 1 => Just(Mode::LongPoll), 1 => Just(Mode::Sse)];
    (path(n), from, mode)
        .prop_map(|(path, from, mode)| Op::Read { path, from, mode })
        .boxed()
}

fn head(n: u8) -> BoxedStrategy<Op> {
    path(n).prop_map(|path| Op::Head { path }).boxed()
}

fn delete(n: u8) -> BoxedStrategy<Op> {
    path(n).prop_map(|path| Op::Delete { path }).boxed()
}

/// One operation of `family`. Simpler operations come first so that
/// shrinking moves towards them.
pub fn op(family: Family) -> BoxedStrategy<Op> {
    match family {
        Family::SingleStream => prop_oneof![
            2 => head(2),
            3 => read(2),
            3 => create(2),
            5 => append(2),
            1 => close(2),
            1 => delete(2),
        ]
        .boxed(),
        Family::ForksAndDeletes => prop_oneof![
            1 => head(4),
            3 => read(4),
            3 => create(4),
            5 => append(4),
            1 => close(4),
            5 => fork(4),
            2 => delete(4),
        ]
        .boxed(),
        Family::Producers => prop_oneof![
            1 => head(2),
            2 => read(2),
            2 => create(2),
            1 => append(2),
            7 => produce(2),
            1 => close(2),
            1 => fork(2),
            1 => delete(2),
        ]
        .boxed(),
    }
}

/// Sequences of at most `max_steps` operations that start with one or two
/// creates (both parts shrink: a create can disappear like any step).
pub fn sequence(family: Family, max_steps: usize) -> BoxedStrategy<Vec<Op>> {
    let n = match family {
        Family::ForksAndDeletes => 4,
        _ => 2,
    };
    let max = max_steps.max(1);
    let head = proptest::collection::vec(create(n), 1..=2.min(max));
    let tail = proptest::collection::vec(op(family), 1..=max);
    (head, tail)
        .prop_map(move |(mut h, t)| {
            h.extend(t);
            h.truncate(max);
            h
        })
        .boxed()
}
