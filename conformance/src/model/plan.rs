//! Planning: the request each operation becomes, given what the model knows
//! (which offset to read from, which producer tuple to send), and the final
//! sweep of reads.

use super::writes::nonempty;
use super::*;

impl Model {
    /// Resolve a pick to a token and the position it names.
    pub fn pick(&self, p: Path, pick: Pick) -> (String, usize) {
        let Some(s) = self.live(p) else {
            return ("-1".into(), 0);
        };
        match pick {
            Pick::Start => ("-1".into(), 0),
            Pick::Now => ("now".into(), s.tail()),
            Pick::Minted(i) => {
                let toks = s.tokens();
                if toks.is_empty() {
                    ("-1".into(), 0)
                } else {
                    let (pos, t) = &toks[i as usize % toks.len()];
                    (t.clone(), *pos)
                }
            }
        }
    }

    pub(super) fn producer_tuple(&self, p: Path, producer: u8, act: ProdAct) -> (String, u64, u64) {
        let id = format!("w{producer}");
        let st = self.live(p).and_then(|s| s.producers.get(&id)).copied();
        let (e, q) = match (st, act) {
            (None, _) => (0, 0),
            (Some(s), ProdAct::Next) => (s.epoch, s.last_seq + 1),
            (Some(s), ProdAct::Dup) => (s.epoch, s.last_seq),
            (Some(s), ProdAct::Gap) => (s.epoch, s.last_seq + 2),
            (Some(s), ProdAct::Stale) if s.epoch > 0 => (s.epoch - 1, 0),
            // No epoch below 0: bump, so a later Stale has one to fence.
            (Some(s), ProdAct::Stale) => (s.epoch + 1, 0),
            (Some(s), ProdAct::Bump) => (s.epoch + 1, 0),
            (Some(s), ProdAct::BadBump) => (s.epoch + 1, 1),
        };
        (id, e, q)
    }

    /// The request for `op` given what the model knows now.
    pub fn plan(&self, op: &Op) -> Plan {
        let mut plan = Plan {
            method: "GET",
            path: op.path(),
            headers: Vec::new(),
            fork_of: None,
            body: Vec::new(),
            producer: None,
            fork_at: None,
            read: None,
        };
        let h = |plan: &mut Plan, k: &str, v: String| plan.headers.push((k.to_string(), v));
        match op {
            Op::Create {
                kind,
                init,
                closed,
                ttl,
                ..
            } => {
                plan.method = "PUT";
                h(&mut plan, "Content-Type", kind.media().into());
                if *closed {
                    h(&mut plan, "Stream-Closed", "true".into());
                }
                if *ttl {
                    h(&mut plan, "Stream-TTL", op::TTL_SECS.to_string());
                }
                if let Some(d) = init {
                    plan.body = d.render(*kind);
                }
            }
            Op::Append { path, data, seq } => {
                plan.method = "POST";
                let kind = self.kind_of(*path);
                h(&mut plan, "Content-Type", kind.media().into());
                if let Some(s) = seq {
                    h(&mut plan, "Stream-Seq", format!("{s:03}"));
                }
                plan.body = nonempty(data, kind);
            }
            Op::Produce {
                path,
                producer,
                act,
                data,
                close,
            } => {
                plan.method = "POST";
                let kind = self.kind_of(*path);
                let (id, e, q) = self.producer_tuple(*path, *producer, *act);
                h(&mut plan, "Content-Type", kind.media().into());
                h(&mut plan, "Producer-Id", id.clone());
                h(&mut plan, "Producer-Epoch", e.to_string());
                h(&mut plan, "Producer-Seq", q.to_string());
                if *close && self.accepts(*path, &id, e, q) {
                    h(&mut plan, "Stream-Closed", "true".into());
                }
                plan.body = nonempty(data, kind);
                plan.producer = Some((id, e, q));
            }
            Op::Close { path, data } => {
                plan.method = "POST";
                h(&mut plan, "Stream-Closed", "true".into());
                if let Some(d) = data {
                    let kind = self.kind_of(*path);
                    h(&mut plan, "Content-Type", kind.media().into());
                    plan.body = nonempty(d, kind);
                }
            }
            Op::Fork {
                source,
                at,
                sub,
                ct,
                ..
            } => {
                plan.method = "PUT";
                plan.fork_of = Some(*source);
                let kind = self.kind_of(*source);
                match ct {
                    ForkCt::Omit => {}
                    ForkCt::Same => h(&mut plan, "Content-Type", kind.media().into()),
                    ForkCt::Different => h(&mut plan, "Content-Type", kind.other().media().into()),
                }
                if let (Some(i), Some(s)) = (at, self.live(*source)) {
                    let mut toks = s.tokens();
                    // A sub-offset needs room past its anchor: prefer the
                    // offsets before the tail (else it is always a 400).
                    if *sub > 0 && toks.iter().any(|(p, _)| *p < s.tail()) {
                        toks.retain(|(p, _)| *p < s.tail());
                    }
                    if !toks.is_empty() {
                        let (pos, t) = &toks[*i as usize % toks.len()];
                        h(&mut plan, "Stream-Fork-Offset", t.clone());
                        plan.fork_at = Some((t.clone(), *pos));
                    }
                }
                if *sub > 0 {
                    h(&mut plan, "Stream-Fork-Sub-Offset", sub.to_string());
                }
            }
            Op::Delete { .. } => plan.method = "DELETE",
            Op::Head { .. } => plan.method = "HEAD",
            Op::Read { path, from, mode } => {
                let (token, start) = self.pick(*path, *from);
                let mode = match (self.live(*path), mode) {
                    (Some(s), Mode::LongPoll) if start < s.tail() || s.closed => Mode::LongPoll,
                    (_, Mode::Sse) => Mode::Sse,
                    _ => Mode::CatchUp,
                };
                plan.read = Some(ReadPlan { token, start, mode });
            }
        }
        plan
    }

    /// The reads of the final sweep: every live stream from `-1` and from
    /// every offset minted for it.
    pub fn sweep(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        for (p, slot) in &self.slots {
            match slot {
                Slot::Live(s) => {
                    ops.push(Op::Read {
                        path: *p,
                        from: Pick::Start,
                        mode: Mode::CatchUp,
                    });
                    for i in 0..s.offsets.len() {
                        ops.push(Op::Read {
                            path: *p,
                            from: Pick::Minted(i as u8),
                            mode: Mode::CatchUp,
                        });
                    }
                }
                _ => ops.push(Op::Head { path: *p }),
            }
        }
        ops
    }
}
