//! A pure model of pull-wake delivery (§7, §7.2, §7.3) for one
//! subscription: which streams are linked, their tails and acked offsets
//! (opaque tokens the server minted, compared only for equality), the
//! lease holder and the last claimed generation. The executor
//! (`cases::subscriptions::props`) asks it what each answer must be.

use std::collections::BTreeMap;

use proptest::prelude::*;

/// Streams: 0 and 1 are linked from the start, 2 only by `Link`.
pub const STREAMS: usize = 3;
pub const WORKERS: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Append {
        stream: usize,
    },
    Claim {
        worker: usize,
    },
    /// Ack without done (heartbeat), with the claim's snapshot offsets.
    Heartbeat {
        worker: usize,
    },
    /// Ack with done: the claim's snapshot offsets, or the current tails.
    Done {
        worker: usize,
        current_tails: bool,
    },
    Release {
        worker: usize,
    },
    /// Replay the worker's previous (fenced) claim as a done ack.
    StaleDone {
        worker: usize,
    },
    Link,
    Unlink,
    /// Wait for the lease to run out.
    Expire,
}

/// A claim as the model remembers it.
#[derive(Clone, Debug)]
pub struct ClaimRec {
    pub wake_id: String,
    pub generation: i64,
    pub token: String,
    /// stream index -> tail offset in the claim's snapshot.
    pub snapshot: BTreeMap<usize, String>,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub tails: [String; STREAMS],
    /// Linked streams and their acked offsets.
    pub acked: BTreeMap<usize, String>,
    pub holder: Option<usize>,
    /// Each worker's latest claim and the one before it.
    pub current: [Option<ClaimRec>; WORKERS],
    pub previous: [Option<ClaimRec>; WORKERS],
    pub last_generation: i64,
}

impl Model {
    pub fn new(tails: [String; STREAMS]) -> Model {
        let acked = (0..2).map(|i| (i, tails[i].clone())).collect();
        Model {
            tails,
            acked,
            ..Default::default()
        }
    }

    pub fn pending(&self) -> bool {
        self.acked.iter().any(|(s, a)| self.tails[*s] != *a)
    }

    pub fn is_holder(&self, w: usize) -> bool {
        self.holder == Some(w)
    }

    /// A granted claim: the worker holds the lease.
    pub fn claimed(&mut self, w: usize, c: ClaimRec) {
        self.last_generation = c.generation;
        self.previous[w] = self.current[w].take();
        self.current[w] = Some(c);
        self.holder = Some(w);
    }

    /// Acks from the holder's claim applied (only linked streams).
    pub fn apply_acks(&mut self, acks: &[(usize, String)]) {
        for (s, o) in acks {
            if let Some(a) = self.acked.get_mut(s) {
                *a = o.clone();
            }
        }
    }

    /// The holder let go (done, release or expiry).
    pub fn released(&mut self) {
        self.holder = None;
    }
}

/// One operation; simpler ones first so shrinking moves towards them.
pub fn op() -> BoxedStrategy<Op> {
    let w = 0..WORKERS;
    prop_oneof![
        5 => (0..STREAMS).prop_map(|stream| Op::Append { stream }),
        5 => w.clone().prop_map(|worker| Op::Claim { worker }),
        2 => w.clone().prop_map(|worker| Op::Heartbeat { worker }),
        4 => (w.clone(), any::<bool>()).prop_map(|(worker, current_tails)| Op::Done { worker, current_tails }),
        2 => w.clone().prop_map(|worker| Op::Release { worker }),
        2 => w.prop_map(|worker| Op::StaleDone { worker }),
        1 => Just(Op::Link),
        1 => Just(Op::Unlink),
        1 => Just(Op::Expire),
    ]
    .boxed()
}

pub fn sequence(max: usize) -> BoxedStrategy<Vec<Op>> {
    proptest::collection::vec(op(), 1..=max.max(1)).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_follows_tails_and_acks() {
        let mut m = Model::new(["a".into(), "b".into(), "c".into()]);
        assert!(!m.pending());
        m.tails[2] = "c2".into();
        assert!(!m.pending(), "stream 2 is not linked");
        m.tails[0] = "a2".into();
        assert!(m.pending());
        m.apply_acks(&[(0, "a2".into()), (2, "c2".into())]);
        assert!(!m.pending());
        assert!(!m.acked.contains_key(&2), "acks do not link streams");
    }
}
