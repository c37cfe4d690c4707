//! §5.2.1 Idempotent producers: the validation table.
//!
//! A producer with no recorded state expects `seq = 0` in whatever epoch it
//! first names: a later seq arriving first is a sequence gap (409 with
//! `Producer-Expected-Seq: 0`), as §5.2.1's concurrency note describes
//! ("seq=1 arriving before seq=0"): a pipelining client retries a 409 gap
//! once its earlier requests are answered, while a 400 would end it. The
//! 400 is for an epoch *increase* with `seq != 0`, and a new producer has
//! no epoch to increase.

/// Largest epoch / seq a client may send (2^53 - 1, JavaScript-safe).
pub const MAX_VALUE: u64 = (1 << 53) - 1;

/// The three producer headers of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRef {
    pub id: String,
    pub epoch: u64,
    pub seq: u64,
}

/// What the server remembers per `(stream, producer id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerState {
    pub epoch: u64,
    pub last_seq: u64,
}

/// Outcome of checking a request against the table, before anything changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// New data (200): applying it makes `(epoch, seq)` the producer's
    /// state.
    Accept,
    /// Already applied: nothing changes (204); carries the highest accepted seq.
    Duplicate { epoch: u64, last_seq: u64 },
    /// Zombie fencing (403) with the current epoch.
    StaleEpoch { current: u64 },
    /// A new epoch must start at seq 0 (400).
    EpochSeqNotZero,
    /// Sequence gap (409).
    Gap { expected: u64, received: u64 },
}

/// The §5.2.1 validation table, without mutating anything: the accepted
/// request's event sets the new state when it is applied.
pub fn check(state: Option<ProducerState>, req: &ProducerRef) -> Verdict {
    let Some(state) = state else {
        return if req.seq == 0 {
            Verdict::Accept
        } else {
            Verdict::Gap {
                expected: 0,
                received: req.seq,
            }
        };
    };
    if req.epoch < state.epoch {
        return Verdict::StaleEpoch {
            current: state.epoch,
        };
    }
    if req.epoch > state.epoch {
        return if req.seq == 0 {
            Verdict::Accept
        } else {
            Verdict::EpochSeqNotZero
        };
    }
    if req.seq <= state.last_seq {
        Verdict::Duplicate {
            epoch: state.epoch,
            last_seq: state.last_seq,
        }
    } else if req.seq == state.last_seq + 1 {
        Verdict::Accept
    } else {
        Verdict::Gap {
            expected: state.last_seq + 1,
            received: req.seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(epoch: u64, seq: u64) -> ProducerRef {
        ProducerRef {
            id: "p".into(),
            epoch,
            seq,
        }
    }
    fn st(epoch: u64, last_seq: u64) -> Option<ProducerState> {
        Some(ProducerState { epoch, last_seq })
    }

    #[test]
    fn first_request_must_start_at_zero() {
        assert_eq!(check(None, &req(0, 0)), Verdict::Accept);
        assert_eq!(check(None, &req(3, 0)), Verdict::Accept);
        // seq 1 overtaking seq 0 of a new producer: a gap, retried later.
        assert_eq!(
            check(None, &req(0, 1)),
            Verdict::Gap {
                expected: 0,
                received: 1
            }
        );
        assert_eq!(
            check(None, &req(3, 2)),
            Verdict::Gap {
                expected: 0,
                received: 2
            }
        );
    }

    #[test]
    fn the_validation_table() {
        let dup = Verdict::Duplicate {
            epoch: 2,
            last_seq: 5,
        };
        let rows = [
            ((1, 0), Verdict::StaleEpoch { current: 2 }),
            ((3, 0), Verdict::Accept),
            ((3, 1), Verdict::EpochSeqNotZero),
            ((2, 5), dup),
            ((2, 0), dup),
            ((2, 6), Verdict::Accept),
            (
                (2, 8),
                Verdict::Gap {
                    expected: 6,
                    received: 8,
                },
            ),
        ];
        for ((epoch, seq), want) in rows {
            assert_eq!(check(st(2, 5), &req(epoch, seq)), want, "({epoch}, {seq})");
        }
    }
}
