//! A model-based property of pull-wake delivery (§7, §7.2, §7.3): random
//! interleavings of appends to linked and unlinked streams, link changes,
//! claims by three workers, heartbeats, done acks (snapshot or current
//! tails), releases, replays of fenced claims and lease expiries, each
//! answer checked against `crate::subs::model`. Fixed printed seed
//! (`--seed`), proptest shrinking, and the minimal run replayed on the
//! case's own transcript and written as a curl script.

use std::time::{Duration, Instant};

use proptest::test_runner::Config;
use serde_json::{json, Value};

use super::util::{stream_with, tail, Wake};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::Ctx;
use crate::subs::model::{sequence, ClaimRec, Model, Op, STREAMS};
use crate::subs::{error_code, is_fenced, require, Need, Subs};

/// Lease of the subscription under test; answers within `SURE` of the
/// last extension must show the lease held.
const LEASE_MS: u64 = 2000;
const SURE: Duration = Duration::from_millis(1200);

struct Exec {
    s: Subs,
    id: String,
    wake: String,
    names: [String; STREAMS],
    m: Model,
    extended: Option<Instant>,
}

fn violation(req: &str, msg: String) -> Failure {
    Failure::new(Some(req), msg)
}

impl Exec {
    async fn setup(ctx: &Ctx, prefix: &str) -> Result<Exec, Failure> {
        let s = Subs::new(ctx);
        let names: [String; STREAMS] = std::array::from_fn(|i| format!("{prefix}/s{i}"));
        let mut tails: [String; STREAMS] = Default::default();
        for (i, n) in names.iter().enumerate() {
            stream_with(ctx, n, "x").await?;
            tails[i] = tail(ctx, n).await?;
        }
        let sub = s
            .pull(prefix, &[&names[0], &names[1]], None, Some(LEASE_MS))
            .await?;
        Ok(Exec {
            s,
            id: sub.id,
            wake: sub.wake,
            names,
            m: Model::new(tails),
            extended: None,
        })
    }

    fn path(&self, i: usize) -> String {
        self.s.ctx.rel(&self.names[i])
    }

    /// Is the lease certainly still held (last extension recent enough)?
    fn sure(&self) -> bool {
        self.extended.is_some_and(|t| t.elapsed() < SURE)
    }

    fn ack_body(&self, c: &ClaimRec, current: bool, done: bool) -> (Value, Vec<(usize, String)>) {
        let acks: Vec<(usize, String)> = c
            .snapshot
            .iter()
            .filter(|(s, _)| self.m.acked.contains_key(s))
            .map(|(s, o)| {
                (
                    *s,
                    if current {
                        self.m.tails[*s].clone()
                    } else {
                        o.clone()
                    },
                )
            })
            .collect();
        let list: Vec<Value> = acks
            .iter()
            .map(|(s, o)| json!({"stream": self.path(*s), "offset": o}))
            .collect();
        let body =
            json!({"wake_id": c.wake_id, "generation": c.generation, "acks": list, "done": done});
        (body, acks)
    }

    async fn expect_wake_above(&self, gen: i64, req: &str, why: &str) -> Result<(), Failure> {
        match self
            .s
            .wait_wake(&self.wake, &self.id, gen, self.s.soon())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(violation(
                req,
                format!("{why}: no wake event above generation {gen} reached the wake stream"),
            )),
        }
    }

    async fn step(&mut self, op: &Op) -> Result<(), Failure> {
        let s = self.s.clone();
        match *op {
            Op::Append { stream } => {
                let t = crate::cases::support::append(
                    &s.ctx,
                    &self.names[stream],
                    "text/plain",
                    "d",
                    "SUB-WAKE-ON-PENDING",
                )
                .await?;
                self.m.tails[stream] = t;
            }
            Op::Link => {
                s.add_streams(&self.id, &[self.path(2)])
                    .await?
                    .expect(204, "SUB-STREAMS-ADD")?;
                let t = self.m.tails[2].clone();
                self.m.acked.entry(2).or_insert(t);
            }
            Op::Unlink => {
                s.remove_stream(&self.id, &self.path(2))
                    .await?
                    .expect(204, "SUB-STREAMS-REMOVE")?;
                self.m.acked.remove(&2);
            }
            Op::Expire => {
                // Only a held lease can expire: without a holder the wait
                // would check nothing and cost the case seconds.
                if self.m.holder.is_none() {
                    return Ok(());
                }
                s.ctx
                    .sleep(Duration::from_millis(LEASE_MS + 300) + s.slack())
                    .await;
                self.m.released();
                self.extended = None;
                if self.m.pending() {
                    let g = self.m.last_generation;
                    self.expect_wake_above(
                        g,
                        "SUB-LEASE-EXPIRY",
                        "the lease expired with work pending",
                    )
                    .await?;
                }
            }
            Op::Claim { worker } => self.claim(worker).await?,
            Op::Heartbeat { worker } => {
                let Some(c) = self.m.current[worker].clone() else {
                    return Ok(());
                };
                let (body, acks) = self.ack_body(&c, false, false);
                let r = s.post_token(&self.id, "ack", &c.token, &body).await?;
                if self.m.is_holder(worker) {
                    if (200..300).contains(&r.status) {
                        self.m.apply_acks(&acks);
                        self.extended = Some(Instant::now());
                    } else if is_fenced(&r) && !self.sure() {
                        self.m.released();
                    } else {
                        return Err(violation(
                            "SUB-ACK-HEARTBEAT",
                            format!("the holder's heartbeat got {} ({})", r.status, r.text()),
                        ));
                    }
                } else if !is_fenced(&r) {
                    return Err(violation("SUB-STALE-FENCED", format!("heartbeat of w{worker}'s ended claim (generation {}): expected 409 FENCED, got {} ({})", c.generation, r.status, r.text())));
                }
            }
            Op::Done {
                worker,
                current_tails,
            } => {
                let Some(c) = self.m.current[worker].clone() else {
                    return Ok(());
                };
                let (body, acks) = self.ack_body(&c, current_tails, true);
                let r = s.post_token(&self.id, "ack", &c.token, &body).await?;
                if self.m.is_holder(worker) {
                    if r.status == 200 {
                        let next = super::util::ok_next_wake(&r, "SUB-ACK-DONE")?;
                        self.m.apply_acks(&acks);
                        self.m.released();
                        self.extended = None;
                        let pending = self.m.pending();
                        if next != pending {
                            return Err(violation("SUB-ACK-DONE", format!("done ack answered next_wake {next}, but work pending is {pending}")));
                        }
                        if pending {
                            self.expect_wake_above(
                                c.generation,
                                "SUB-WAKE-ON-PENDING",
                                "a done ack left work pending",
                            )
                            .await?;
                        }
                    } else if is_fenced(&r) && !self.sure() {
                        self.m.released();
                    } else {
                        return Err(violation(
                            "SUB-ACK-DONE",
                            format!("the holder's done ack got {} ({})", r.status, r.text()),
                        ));
                    }
                } else if !is_fenced(&r) {
                    return Err(violation("SUB-STALE-FENCED", format!("done ack of w{worker}'s ended claim (generation {}): expected 409 FENCED, got {} ({})", c.generation, r.status, r.text())));
                }
            }
            Op::Release { worker } => {
                let Some(c) = self.m.current[worker].clone() else {
                    return Ok(());
                };
                let body = json!({"wake_id": c.wake_id, "generation": c.generation});
                let r = s.post_token(&self.id, "release", &c.token, &body).await?;
                if self.m.is_holder(worker) {
                    if r.status == 204 {
                        self.m.released();
                        self.extended = None;
                        if self.m.pending() {
                            self.expect_wake_above(
                                c.generation,
                                "SUB-RELEASE",
                                "released with work pending",
                            )
                            .await?;
                        }
                    } else if is_fenced(&r) && !self.sure() {
                        self.m.released();
                    } else {
                        return Err(violation(
                            "SUB-RELEASE",
                            format!("the holder's release got {} ({})", r.status, r.text()),
                        ));
                    }
                } else if !is_fenced(&r) {
                    return Err(violation(
                        "SUB-STALE-FENCED",
                        format!(
                            "release of w{worker}'s ended claim: expected 409 FENCED, got {} ({})",
                            r.status,
                            r.text()
                        ),
                    ));
                }
            }
            Op::StaleDone { worker } => {
                let Some(p) = self.m.previous[worker].clone() else {
                    return Ok(());
                };
                let (body, _) = self.ack_body(&p, true, true);
                let r = s.post_token(&self.id, "ack", &p.token, &body).await?;
                if !is_fenced(&r) {
                    return Err(violation("SUB-STALE-FENCED", format!("a replayed done ack of w{worker}'s earlier claim (generation {}): expected 409 FENCED, got {} ({})", p.generation, r.status, r.text())));
                }
            }
        }
        Ok(())
    }

    async fn claim(&mut self, worker: usize) -> Result<(), Failure> {
        let r = self.s.claim(&self.id, &format!("w{worker}")).await?;
        let held = self.m.holder;
        if let (Some(h), true) = (held, self.sure()) {
            let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let ok = r.status == 409
                && v["error"]["code"] == json!("ALREADY_CLAIMED")
                && v["error"]["current_holder"] == json!(format!("w{h}"))
                && v["error"]["generation"] == json!(self.m.last_generation);
            if !ok {
                return Err(violation(
                    "SUB-CLAIM-EXCLUSIVE",
                    format!(
                        "w{h} holds generation {}; w{worker}'s claim got {} ({})",
                        self.m.last_generation,
                        r.status,
                        r.text()
                    ),
                ));
            }
            return Ok(());
        }
        if r.status == 200 {
            let v = r.json("SUB-CLAIM")?;
            let w = Wake::parse(&v, "token", "SUB-CLAIM")?;
            if w.generation <= self.m.last_generation {
                return Err(violation(
                    "SUB-GENERATION",
                    format!(
                        "claim generation {} after {}: not increasing",
                        w.generation, self.m.last_generation
                    ),
                ));
            }
            let mut snapshot = std::collections::BTreeMap::new();
            for (s, acked) in self.m.acked.clone() {
                let path = self.path(s);
                let Some(e) = w.stream(&path) else {
                    return Err(violation(
                        "SUB-CLAIM",
                        format!("linked stream {path} is missing from the claim: {v}"),
                    ));
                };
                if e["acked_offset"] != json!(acked) {
                    return Err(violation("SUB-FENCE-CHECKS", format!("{path}: acked_offset {} in the claim, {acked} expected (an ack was lost, moved back, or a fenced one applied)", e["acked_offset"])));
                }
                if e["tail_offset"] != json!(self.m.tails[s])
                    || e["has_pending"] != json!(self.m.tails[s] != acked)
                {
                    return Err(violation(
                        "SUB-CLAIM",
                        format!("{path}: claim reports {e}, tail is {}", self.m.tails[s]),
                    ));
                }
                snapshot.insert(s, self.m.tails[s].clone());
            }
            self.m.claimed(
                worker,
                ClaimRec {
                    wake_id: w.wake_id,
                    generation: w.generation,
                    token: w.token,
                    snapshot,
                },
            );
            self.extended = Some(Instant::now());
            return Ok(());
        }
        if held.is_some() && r.status == 409 && error_code(&r).as_deref() == Some("ALREADY_CLAIMED")
        {
            return Ok(()); // lease near expiry: still held
        }
        if held.is_none() && self.m.pending() {
            return Err(violation(
                "SUB-WAKE-ON-PENDING",
                format!(
                    "work is pending and nobody holds the lease, yet w{worker}'s claim got {} ({})",
                    r.status,
                    r.text()
                ),
            ));
        }
        if held.is_some() {
            self.m.released();
        }
        Ok(())
    }

    /// After the last step: the cursor reads back as the model has it, and
    /// pending work with no holder has a wake.
    async fn finish(&mut self) -> Result<(), Failure> {
        let st = self.s.state(&self.id, "SUB-GET-FIELDS").await?;
        for (s, acked) in &self.m.acked {
            let path = self.path(*s);
            let got = Subs::link(&st, &path).map(|l| l["acked_offset"].clone());
            if got != Some(json!(acked)) {
                return Err(violation(
                    "SUB-FENCE-CHECKS",
                    format!("final GET: {path} acked_offset {got:?}, {acked} expected"),
                ));
            }
        }
        if self.m.holder.is_none() && self.m.pending() {
            let g = self.m.last_generation;
            self.expect_wake_above(g, "SUB-WAKE-ON-PENDING", "work is pending at the end")
                .await?;
        }
        Ok(())
    }

    async fn run(&mut self, ops: &[Op]) -> Result<(), Failure> {
        for (i, op) in ops.iter().enumerate() {
            self.s.ctx.note(format!("step {}: {op:?}", i + 1));
            self.step(op).await.map_err(|mut f| {
                f.message = format!("step {} ({op:?}): {}", i + 1, f.message);
                f
            })?;
        }
        self.finish().await.map_err(|mut f| {
            f.message = format!("after the last step: {}", f.message);
            f
        })
    }
}

async fn run_one(ctx: &Ctx, prefix: &str, ops: &[Op]) -> Result<(), Failure> {
    let mut ex = Exec::setup(ctx, prefix).await?;
    ex.run(ops).await
}

/// Random pull-wake interleavings by three workers agree with the §7
/// model: generations strictly increase, at most one holder, fenced acks
/// are refused and never applied, acked offsets never move back, pending
/// work always gets a wake, a done ack with nothing pending wakes nobody.
#[case(
    "SUB-GENERATION",
    "SUB-CLAIM-EXCLUSIVE",
    "SUB-STALE-FENCED",
    "SUB-FENCE-CHECKS",
    "SUB-ACK-DONE",
    "SUB-WAKE-ON-PENDING",
    "SUB-LEASE-EXPIRY",
    secs = 5
)]
pub async fn pull_wake_model(ctx: Ctx) -> CaseResult {
    require(&ctx, Need::PullWake).await?;
    let session = ctx.session();
    let case_id = ctx.case_id().to_string();
    let budget = crate::props::Budget::of_case(session.run.case_timeout, Duration::from_secs(20));
    let config = Config {
        cases: (session.run.prop_cases / 16).max(1),
        max_shrink_iters: 256,
        // Shrinking stops at `budget.shrink` (see `props::search`).
        max_shrink_time: 0,
        failure_persistence: None,
        fork: false,
        timeout: 0,
        ..Config::default()
    };
    let steps = session.run.prop_max_steps.min(16);
    let strategy = move || sequence(steps);
    let searched = crate::props::search(&ctx, config, budget, strategy, |ctx, n, ops| async move {
        run_one(&ctx, &format!("p{n}"), &ops).await
    })
    .await
    .map_err(Failure::setup_error)?;
    ctx.note(searched.summary(budget));
    if let Some(f) = searched.too_small("SUB-GENERATION", budget, session.run.seed, "the §7 model")
    {
        return Err(f);
    }
    let Some(found) = searched.found else {
        ctx.note(format!(
            "{} of up to {} agreed with the §7 model (seed {})",
            crate::runner::count(searched.ran as usize, "sequence", "sequences"),
            crate::runner::count(steps, "step", "steps"),
            session.run.seed
        ));
        return Ok(());
    };
    if found.ops.is_empty() {
        return Err(Failure::no_answer(found.first));
    }
    let listing = crate::props::listing(&found.ops);
    // Replay the minimal sequence on the case's own transcript.
    let replay = run_one(&ctx, "min", &found.ops).await;
    let (requirement, verdict) = match &replay {
        Err(f) => (f.requirement.clone(), f.message.clone()),
        Ok(()) => (
            None,
            format!("{} (did not reproduce on the final replay)", found.first),
        ),
    };
    let header = format!(
        "Replay of {case_id} (seed {}), minimal sequence:\n{listing}\n{verdict}",
        session.run.seed
    );
    let script = crate::replay::Replay {
        root: session.target.root.as_str(),
        run_id: &session.run.run_id,
        header: &header,
        broke: requirement.as_deref(),
    }
    .render(&ctx.transcript());
    let note = crate::props::save_script(&ctx, &script);
    let message = found.message(&session.run, &case_id, &verdict, &note);
    let mut f = Failure::new(requirement.as_deref(), message);
    if let Err(e) = &replay {
        f.kind = e.kind.clone();
    }
    Err(f)
}

register![pull_wake_model];
