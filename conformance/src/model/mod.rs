//! Reference model of what a client must observe (§4.1, §4.2, §5.1–§5.8,
//! §8, §9.1): pure and IO-free. `plan` turns an operation into a request;
//! `check` compares what the server answered with every answer the spec
//! permits, then updates the model. Offsets are opaque tokens mapped to the
//! positions the model learned from responses.

pub mod op;
mod read;
pub mod stream;

use std::collections::BTreeMap;

pub use op::{ForkCt, Kind, Mode, Op, Path, Payload, Pick, ProdAct};
pub use stream::{Data, ForkInfo, Producer, Stream};

/// A disagreement between the server and the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub requirement: &'static str,
    pub message: String,
}

impl Violation {
    pub fn new(requirement: &'static str, message: impl Into<String>) -> Violation {
        Violation {
            requirement,
            message: message.into(),
        }
    }
}

/// One HTTP response as the model sees it (header names lower-case).
#[derive(Clone, Debug, Default)]
pub struct Obs {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Obs {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    pub fn flag(&self, name: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
    pub fn media(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// An SSE response: status, headers and the events a browser would see.
#[derive(Clone, Debug, Default)]
pub struct SseObs {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub events: Vec<(String, String)>,
    /// The server ended the response.
    pub ended: bool,
}

/// What the server answered to one step.
#[derive(Clone, Debug)]
pub enum Outcome {
    One(Obs),
    /// A read: the first response, then the catch-up chunks that followed
    /// `Stream-Next-Offset` to `Stream-Up-To-Date`.
    Chunks(Vec<Obs>),
    Sse(SseObs),
}

/// A request derived from an operation and the model's current state.
#[derive(Clone, Debug)]
pub struct Plan {
    pub method: &'static str,
    pub path: Path,
    pub headers: Vec<(String, String)>,
    /// `Stream-Forked-From` naming this stream of the sequence.
    pub fork_of: Option<Path>,
    pub body: Vec<u8>,
    /// Resolved producer tuple (id, epoch, seq).
    pub producer: Option<(String, u64, u64)>,
    /// Resolved fork offset: token and position (None: header omitted).
    pub fork_at: Option<(String, usize)>,
    pub read: Option<ReadPlan>,
}

#[derive(Clone, Debug)]
pub struct ReadPlan {
    pub token: String,
    /// Position the token names in the model (0 for `-1`, tail for `now`).
    pub start: usize,
    /// Mode actually used: live modes only where the outcome is immediate.
    pub mode: Mode,
}

/// Lifecycle of a path.
#[derive(Clone, Debug)]
pub enum Slot {
    Absent {
        deleted_before: bool,
    },
    Live(Stream),
    /// Deleted while forks reference it (§4.2): 410 for direct access.
    SoftDeleted(Stream),
    /// Soft-deleted and unreferenced: cleanup may be asynchronous, so the
    /// path answers as soft-deleted or as gone until it is seen gone.
    Collecting,
    /// The server refused to re-create a deleted path (§4 SHOULD NOT).
    Retired,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub slots: BTreeMap<Path, Slot>,
}

/// Statuses of direct access to a path that holds no live stream.
fn gone_statuses(slot: &Slot) -> &'static [u16] {
    match slot {
        Slot::Absent { .. } => &[404],
        Slot::SoftDeleted(_) => &[410],
        Slot::Collecting | Slot::Retired => &[404, 410],
        Slot::Live(_) => &[],
    }
}

pub(crate) fn status_in(
    obs_status: u16,
    allowed: &[u16],
    req: &'static str,
    what: &str,
) -> Result<(), Violation> {
    if allowed.contains(&obs_status) {
        Ok(())
    } else {
        Err(Violation::new(
            req,
            format!("{what}: expected status {allowed:?}, got {obs_status}"),
        ))
    }
}

fn expect_flag(
    obs: &Obs,
    name: &str,
    want: bool,
    req: &'static str,
    what: &str,
) -> Result<(), Violation> {
    let got = obs.flag(name);
    if got != want {
        return Err(Violation::new(
            req,
            format!(
                "{what}: {name}: true {} (header value {:?})",
                if want {
                    "missing"
                } else {
                    "present but must not be"
                },
                obs.header(name)
            ),
        ));
    }
    Ok(())
}

fn require<'a>(
    obs: &'a Obs,
    name: &str,
    req: &'static str,
    what: &str,
) -> Result<&'a str, Violation> {
    obs.header(name)
        .ok_or_else(|| Violation::new(req, format!("{what}: response {} lacks {name}", obs.status)))
}

fn expect_header(
    obs: &Obs,
    name: &str,
    want: &str,
    req: &'static str,
    what: &str,
) -> Result<(), Violation> {
    let got = require(obs, name, req, what)?;
    if got.trim() != want {
        return Err(Violation::new(
            req,
            format!("{what}: {name} is {got:?}, expected {want:?}"),
        ));
    }
    Ok(())
}

fn expect_media(obs: &Obs, kind: Kind, req: &'static str, what: &str) -> Result<(), Violation> {
    if obs.media().as_deref() != Some(kind.media()) {
        return Err(Violation::new(
            req,
            format!(
                "{what}: Content-Type {:?}, the stream's type is {}",
                obs.header("content-type"),
                kind.media()
            ),
        ));
    }
    Ok(())
}

fn one(outcome: &Outcome) -> &Obs {
    match outcome {
        Outcome::One(o) => o,
        Outcome::Chunks(v) => &v[0],
        Outcome::Sse(_) => unreachable!("SSE outcome for a non-read step"),
    }
}

impl Model {
    pub fn slot(&self, p: Path) -> &Slot {
        self.slots.get(&p).unwrap_or(&Slot::Absent {
            deleted_before: false,
        })
    }

    pub fn live(&self, p: Path) -> Option<&Stream> {
        match self.slot(p) {
            Slot::Live(s) => Some(s),
            _ => None,
        }
    }

    fn live_mut(&mut self, p: Path) -> Option<&mut Stream> {
        match self.slots.get_mut(&p) {
            Some(Slot::Live(s)) => Some(s),
            _ => None,
        }
    }

    /// Live or soft-deleted forks that reference `p` (its reference count).
    pub fn refcount(&self, p: Path) -> usize {
        self.slots
            .values()
            .filter(|s| match s {
                Slot::Live(st) | Slot::SoftDeleted(st) => {
                    st.fork.as_ref().is_some_and(|f| f.source == p)
                }
                _ => false,
            })
            .count()
    }

    /// Paths holding a stream the sequence can still read or that may
    /// still answer (for the final sweep).
    pub fn paths(&self) -> Vec<Path> {
        self.slots.keys().copied().collect()
    }

    /// A stream's kind if it is live or soft-deleted (else octet-stream).
    fn kind_of(&self, p: Path) -> Kind {
        match self.slot(p) {
            Slot::Live(s) | Slot::SoftDeleted(s) => s.kind,
            _ => Kind::Bytes,
        }
    }

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

    fn producer_tuple(&self, p: Path, producer: u8, act: ProdAct) -> (String, u64, u64) {
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

    /// Would the producer tuple be accepted as new data right now?
    fn accepts(&self, p: Path, id: &str, e: u64, q: u64) -> bool {
        let Some(s) = self.live(p) else { return false };
        if s.closed {
            return false;
        }
        match s.producers.get(id) {
            None => q == 0,
            Some(st) => (e == st.epoch && q == st.last_seq + 1) || (e > st.epoch && q == 0),
        }
    }

    /// Compare the server's answer to `op` (sent as `plan`) with the model,
    /// then apply its effect.
    pub fn check(&mut self, op: &Op, plan: &Plan, outcome: &Outcome) -> Result<(), Violation> {
        let what = format!("{op:?}");
        match op {
            Op::Create {
                path,
                kind,
                init,
                closed,
                ttl,
            } => self.check_create(*path, *kind, init, *closed, *ttl, one(outcome), &what),
            Op::Append { path, data, seq } => {
                self.check_append(*path, data, *seq, one(outcome), &what)
            }
            Op::Produce { path, data, .. } => {
                self.check_produce(*path, data, plan, one(outcome), &what)
            }
            Op::Close { path, data } => self.check_close(*path, data, one(outcome), &what),
            Op::Fork {
                path,
                source,
                sub,
                ct,
                ..
            } => self.check_fork(
                *path,
                *source,
                *sub as usize,
                *ct,
                plan,
                one(outcome),
                &what,
            ),
            Op::Delete { path } => self.check_delete(*path, one(outcome), &what),
            Op::Head { path } => self.check_head(*path, one(outcome), &what),
            Op::Read { path, .. } => {
                let rp = plan.read.as_ref().expect("read plan");
                self.check_read(*path, rp, outcome, &what)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_create(
        &mut self,
        path: Path,
        kind: Kind,
        init: &Option<Payload>,
        closed: bool,
        ttl: bool,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-CREATE-OUTCOME";
        let ttl = ttl.then_some(op::TTL_SECS);
        let init_data = init.map_or(Data::empty(kind), |d| initial(&d, kind));
        let has_body = init.is_some_and(|d| !d.render(kind).is_empty());
        match self.slot(path).clone() {
            Slot::Live(s) => {
                let same = s.kind == kind && s.closed == closed && s.ttl == ttl;
                let allowed: &[u16] = if !same {
                    &[409]
                } else if s.fork.is_some() || has_body {
                    &[200, 409]
                } else {
                    &[200]
                };
                status_in(obs.status, allowed, req, what)?;
                if obs.status == 200 {
                    let tok = require(obs, "stream-next-offset", req, what)?.to_string();
                    expect_flag(obs, "stream-closed", s.closed, req, what)?;
                    let s = self.live_mut(path).expect("live");
                    s.learn(s.tail(), &tok, what)?;
                }
                Ok(())
            }
            Slot::SoftDeleted(_) => status_in(obs.status, &[409], "PROP-SOFT-DELETE", what),
            slot @ (Slot::Absent { .. } | Slot::Collecting | Slot::Retired) => {
                let allowed: &[u16] = match slot {
                    Slot::Absent {
                        deleted_before: false,
                    } => &[201],
                    Slot::Collecting => &[201, 409],
                    _ => &[201, 409, 410],
                };
                let req = if matches!(slot, Slot::Collecting) {
                    "PROP-SOFT-DELETE"
                } else {
                    req
                };
                status_in(obs.status, allowed, req, what)?;
                if obs.status != 201 {
                    if !matches!(slot, Slot::Collecting) {
                        self.slots.insert(path, Slot::Retired);
                    }
                    return Ok(());
                }
                let tok = require(obs, "stream-next-offset", req, what)?.to_string();
                expect_media(obs, kind, req, what)?;
                expect_flag(obs, "stream-closed", closed, req, what)?;
                let mut s = Stream::new(kind, init_data, closed, ttl);
                s.learn(s.tail(), &tok, what)?;
                self.slots.insert(path, Slot::Live(s));
                Ok(())
            }
        }
    }

    fn check_append(
        &mut self,
        path: Path,
        data: &Payload,
        seq: Option<u8>,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-APPEND-OUTCOME";
        let slot = self.slot(path).clone();
        let Slot::Live(s) = slot else {
            return status_in(obs.status, gone_statuses(&slot), gone_req(&slot, req), what);
        };
        if s.closed {
            status_in(obs.status, &[409], "PROP-CLOSED-REJECTS", what)?;
            return closed_conflict(&s, obs, seq.is_some(), what);
        }
        let seq_s = seq.map(|v| format!("{v:03}"));
        if let (Some(new), Some(last)) = (&seq_s, &s.stream_seq) {
            if new <= last {
                let req = writer_req(&s, false, "PROP-STREAM-SEQ");
                return status_in(obs.status, &[409], req, what);
            }
        }
        let req = if seq.is_some() {
            writer_req(&s, s.stream_seq.is_none(), "PROP-STREAM-SEQ")
        } else {
            req
        };
        status_in(obs.status, &[204], req, what)?;
        let tok = require(obs, "stream-next-offset", req, what)?.to_string();
        expect_flag(obs, "stream-closed", false, req, what)?;
        let s = self.live_mut(path).expect("live");
        s.append(&appended(data, s.kind));
        s.learn(s.tail(), &tok, what)?;
        if seq_s.is_some() {
            s.stream_seq = seq_s;
        }
        Ok(())
    }

    fn check_produce(
        &mut self,
        path: Path,
        data: &Payload,
        plan: &Plan,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-PRODUCER-OUTCOME";
        let slot = self.slot(path).clone();
        let Slot::Live(s) = slot else {
            return status_in(obs.status, gone_statuses(&slot), gone_req(&slot, req), what);
        };
        let (id, e, q) = plan.producer.clone().expect("producer tuple");
        let closing = plan.headers.iter().any(|(k, _)| k == "Stream-Closed");
        let st = s.producers.get(&id).copied();
        let req = writer_req(&s, st.is_none(), req);
        if s.closed {
            if s.closed_by.as_ref() == Some(&(id.clone(), e, q)) {
                // §5.2.1 "Duplicate close": 204 is a SHOULD; a 409 with
                // Stream-Closed is the other permitted answer.
                status_in(obs.status, &[204, 409], req, what)?;
                return expect_flag(obs, "stream-closed", true, req, what);
            }
            // Closed check first (§5.2 precedence, SHOULD), or producer
            // validation first: both orders are permitted.
            let mut allowed = vec![409];
            let stale = st.is_some_and(|st| e < st.epoch);
            let dup = st.is_some_and(|st| e == st.epoch && q <= st.last_seq);
            if stale {
                allowed.push(403);
            }
            if dup {
                allowed.push(204);
            }
            if st.is_some_and(|st| e > st.epoch && q != 0) {
                // Producer validation first: a new epoch must start at 0.
                allowed.push(400);
            }
            status_in(obs.status, &allowed, "PROP-CLOSED-REJECTS", what)?;
            if obs.status == 409 && self.accepts_if_open(&s, &id, e, q) {
                closed_conflict(&s, obs, false, what)?;
            }
            return Ok(());
        }
        match st {
            Some(st) if e < st.epoch => {
                status_in(obs.status, &[403], req, what)?;
                expect_header(obs, "producer-epoch", &st.epoch.to_string(), req, what)
            }
            Some(st) if e > st.epoch && q != 0 => status_in(obs.status, &[400], req, what),
            Some(st) if e == st.epoch && q <= st.last_seq => {
                status_in(obs.status, &[204], req, what)?;
                expect_header(obs, "producer-epoch", &e.to_string(), req, what)?;
                expect_header(obs, "producer-seq", &st.last_seq.to_string(), req, what)
            }
            Some(st) if e == st.epoch && q > st.last_seq + 1 => {
                status_in(obs.status, &[409], req, what)?;
                expect_header(
                    obs,
                    "producer-expected-seq",
                    &(st.last_seq + 1).to_string(),
                    req,
                    what,
                )?;
                expect_header(obs, "producer-received-seq", &q.to_string(), req, what)
            }
            _ => {
                status_in(obs.status, &[200], req, what)?;
                expect_header(obs, "producer-epoch", &e.to_string(), req, what)?;
                expect_header(obs, "producer-seq", &q.to_string(), req, what)?;
                let tok = require(obs, "stream-next-offset", req, what)?.to_string();
                expect_flag(obs, "stream-closed", closing, req, what)?;
                let s = self.live_mut(path).expect("live");
                s.append(&appended(data, s.kind));
                s.learn(s.tail(), &tok, what)?;
                s.producers.insert(
                    id.clone(),
                    Producer {
                        epoch: e,
                        last_seq: q,
                    },
                );
                if closing {
                    s.closed = true;
                    s.closed_by = Some((id, e, q));
                }
                Ok(())
            }
        }
    }

    fn accepts_if_open(&self, s: &Stream, id: &str, e: u64, q: u64) -> bool {
        match s.producers.get(id) {
            None => q == 0,
            Some(st) => (e == st.epoch && q == st.last_seq + 1) || (e > st.epoch && q == 0),
        }
    }

    fn check_close(
        &mut self,
        path: Path,
        data: &Option<Payload>,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-CLOSE-OUTCOME";
        let slot = self.slot(path).clone();
        let Slot::Live(s) = slot else {
            return status_in(obs.status, gone_statuses(&slot), gone_req(&slot, req), what);
        };
        if s.closed {
            if data.is_some() {
                status_in(obs.status, &[409], "PROP-CLOSED-REJECTS", what)?;
                return closed_conflict(&s, obs, false, what);
            }
            // Close-only is idempotent: 204, or a stable "already closed" answer.
            status_in(obs.status, &[204, 409], req, what)?;
            expect_flag(obs, "stream-closed", true, req, what)?;
            if let Some(tok) = obs.header("stream-next-offset") {
                let tok = tok.to_string();
                let s = self.live_mut(path).expect("live");
                s.learn(s.tail(), &tok, what)?;
            }
            return Ok(());
        }
        status_in(obs.status, &[204], req, what)?;
        expect_flag(obs, "stream-closed", true, req, what)?;
        let tok = require(obs, "stream-next-offset", req, what)?.to_string();
        let s = self.live_mut(path).expect("live");
        if let Some(d) = data {
            s.append(&appended(d, s.kind));
        }
        s.closed = true;
        s.learn(s.tail(), &tok, what)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_fork(
        &mut self,
        path: Path,
        source: Path,
        sub: usize,
        ct: ForkCt,
        plan: &Plan,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-FORK-CREATE";
        // What the source side allows (None: a fork can be created).
        let mut allowed: Vec<u16> = Vec::new();
        let mut fork: Option<(Stream, usize, usize)> = None;
        match self.slot(source) {
            Slot::Absent { .. } => allowed.push(404),
            Slot::Retired => allowed.extend([404, 409, 410]),
            Slot::SoftDeleted(_) => allowed.push(409),
            Slot::Collecting => allowed.extend([404, 409]),
            Slot::Live(s) => {
                let anchor = plan.fork_at.as_ref().map_or(s.tail(), |(_, p)| *p);
                let point = anchor + sub;
                let mut ok = true;
                if ct == ForkCt::Different {
                    allowed.push(409);
                    ok = false;
                }
                if point > s.tail() {
                    allowed.push(400);
                    ok = false;
                } else if sub > 0 && point > s.boundary_after(anchor) {
                    // Past the data unit after the anchor: servers may refuse.
                    allowed.push(400);
                }
                if ok {
                    allowed.push(201);
                    fork = Some((s.clone(), anchor, point));
                }
            }
        }
        if sub > 0 && plan.fork_at.is_none() && !allowed.contains(&400) {
            // A sub-offset past the default (tail) anchor is invalid whatever
            // the source: servers may check it before the source or target.
            allowed.push(400);
        }
        let target = self.slot(path).clone();
        match &target {
            Slot::Live(_) | Slot::SoftDeleted(_) => {
                // Path taken: 409 (or 200 for an identical fork request).
                allowed.retain(|c| *c != 201);
                allowed.push(409);
                // An identical fork request is idempotent (200), whatever
                // became of the source since (precedence is unspecified).
                if let Slot::Live(t) = &target {
                    // An omitted Stream-Fork-Offset on the repeat may be
                    // compared as "not specified": 200 or 409 both plausible.
                    let same_point = plan.fork_at.is_none()
                        || fork.as_ref().is_none_or(|(_, _, point)| {
                            t.fork.as_ref().is_some_and(|f| f.point == *point)
                        });
                    if t.fork.as_ref().is_some_and(|f| f.source == source)
                        && same_point
                        && ct != ForkCt::Different
                    {
                        allowed.push(200);
                    }
                }
            }
            Slot::Collecting => allowed.push(409),
            Slot::Retired
            | Slot::Absent {
                deleted_before: true,
            } => allowed.extend([409, 410]),
            Slot::Absent { .. } => {}
        }
        let req = if matches!(target, Slot::SoftDeleted(_))
            || matches!(self.slot(source), Slot::SoftDeleted(_))
        {
            "PROP-SOFT-DELETE"
        } else {
            req
        };
        allowed.sort_unstable();
        allowed.dedup();
        status_in(obs.status, &allowed, req, what)?;
        if obs.status != 201 {
            if matches!(
                target,
                Slot::Absent {
                    deleted_before: true
                }
            ) && fork.is_some()
            {
                self.slots.insert(path, Slot::Retired);
            }
            return Ok(());
        }
        let (src, anchor, point) = fork.expect("201 only allowed with a fork");
        let tok = require(obs, "stream-next-offset", req, what)?.to_string();
        expect_media(obs, src.kind, req, what)?;
        expect_flag(obs, "stream-closed", false, req, what)?;
        let mut f = Stream::new(src.kind, src.data.prefix(point), false, src.ttl);
        f.fork = Some(ForkInfo { source, point });
        f.offsets = src
            .offsets
            .range(..=anchor)
            .map(|(p, t)| (*p, t.clone()))
            .collect();
        f.boundaries = src.boundaries.range(..=anchor).copied().collect();
        f.boundaries.insert(point);
        f.learn(point, &tok, what)?;
        self.slots.insert(path, Slot::Live(f));
        Ok(())
    }

    fn check_delete(&mut self, path: Path, obs: &Obs, what: &str) -> Result<(), Violation> {
        let req = "PROP-DELETE-OUTCOME";
        let slot = self.slot(path).clone();
        let Slot::Live(s) = slot else {
            status_in(obs.status, gone_statuses(&slot), gone_req(&slot, req), what)?;
            if matches!(slot, Slot::Collecting) && obs.status == 404 {
                self.slots.insert(
                    path,
                    Slot::Absent {
                        deleted_before: true,
                    },
                );
            }
            return Ok(());
        };
        status_in(obs.status, &[204], req, what)?;
        if self.refcount(path) > 0 {
            self.slots.insert(path, Slot::SoftDeleted(s));
        } else {
            self.slots.insert(
                path,
                Slot::Absent {
                    deleted_before: true,
                },
            );
            self.cascade(s.fork.map(|f| f.source));
        }
        Ok(())
    }

    /// Garbage collection up the fork chain (§4.2): an unreferenced
    /// soft-deleted source is cleaned up, possibly asynchronously.
    fn cascade(&mut self, mut next: Option<Path>) {
        while let Some(p) = next.take() {
            if let Slot::SoftDeleted(s) = self.slot(p).clone() {
                if self.refcount(p) == 0 {
                    self.slots.insert(p, Slot::Collecting);
                    next = s.fork.map(|f| f.source);
                }
            }
        }
    }

    fn check_head(&mut self, path: Path, obs: &Obs, what: &str) -> Result<(), Violation> {
        let req = "PROP-HEAD-OUTCOME";
        let slot = self.slot(path).clone();
        let Slot::Live(s) = slot else {
            status_in(obs.status, gone_statuses(&slot), gone_req(&slot, req), what)?;
            if matches!(slot, Slot::Collecting) && obs.status == 404 {
                self.slots.insert(
                    path,
                    Slot::Absent {
                        deleted_before: true,
                    },
                );
            }
            return Ok(());
        };
        status_in(obs.status, &[200], req, what)?;
        expect_media(obs, s.kind, req, what)?;
        expect_flag(obs, "stream-closed", s.closed, req, what)?;
        if let Some(t) = obs.header("stream-ttl") {
            if s.ttl.map(|v| v.to_string()).as_deref() != Some(t.trim()) {
                return Err(Violation::new(
                    req,
                    format!("{what}: Stream-TTL {t:?}, the stream's TTL is {:?}", s.ttl),
                ));
            }
        }
        let tok = require(obs, "stream-next-offset", req, what)?.to_string();
        let s = self.live_mut(path).expect("live");
        s.learn(s.tail(), &tok, what)
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

/// Requirement for direct access to a path without a live stream.
fn gone_req(slot: &Slot, default: &'static str) -> &'static str {
    match slot {
        Slot::SoftDeleted(_) | Slot::Collecting => "PROP-SOFT-DELETE",
        _ => default,
    }
}

/// Writer-state checks on a fork whose writer has no state there yet name
/// the fork rule (§4.2: forks start with fresh producer and Stream-Seq
/// state); once the writer has state on the fork, its own rule applies.
fn writer_req(s: &Stream, fresh: bool, default: &'static str) -> &'static str {
    if s.fork.is_some() && fresh {
        "PROP-FORK-WRITER-STATE"
    } else {
        default
    }
}

/// §5.2: 409 on a closed stream carries Stream-Closed and the final offset.
/// (With a Stream-Seq regression as well, the closed check only SHOULD win.)
fn closed_conflict(s: &Stream, obs: &Obs, ambiguous: bool, what: &str) -> Result<(), Violation> {
    let req = "PROP-CLOSED-REJECTS";
    if ambiguous && !obs.flag("stream-closed") {
        return Ok(());
    }
    expect_flag(obs, "stream-closed", true, req, what)?;
    let tok = require(obs, "stream-next-offset", req, what)?;
    if let Some(known) = s.tail_token() {
        if known != tok {
            return Err(Violation::new(
                req,
                format!("{what}: 409 names final offset {tok:?}, the tail is {known:?}"),
            ));
        }
    }
    Ok(())
}

/// A POST body is never empty (an empty payload gets one record).
fn nonempty(d: &Payload, kind: Kind) -> Vec<u8> {
    if d.is_empty(kind) || d.render(kind).is_empty() {
        Payload {
            items: d.items.max(1),
            ..*d
        }
        .render(kind)
    } else {
        d.render(kind)
    }
}

/// What an accepted POST of `d` stores.
fn appended(d: &Payload, kind: Kind) -> Data {
    let d = if d.is_empty(kind) || d.render(kind).is_empty() {
        Payload {
            items: d.items.max(1),
            ..*d
        }
    } else {
        *d
    };
    initial(&d, kind)
}

/// What a PUT with body `d` stores (JSON arrays are flattened one level).
fn initial(d: &Payload, kind: Kind) -> Data {
    match kind {
        Kind::Json => Data::Json(d.messages()),
        k => Data::Bytes(d.bytes(k)),
    }
}

#[cfg(test)]
mod tests;
