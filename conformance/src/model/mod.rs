//! Reference model of what a client must observe (§4.1, §4.2, §5.1–§5.8,
//! §8, §9.1): pure and IO-free. `plan` (plan.rs) turns an operation into a
//! request; `check` compares what the server answered with every answer the
//! spec permits, then updates the model — per area: lifecycle.rs (create,
//! close, delete, HEAD), writes.rs (appends, Stream-Seq, producers),
//! fork.rs, read.rs (catch-up, long-poll, SSE). Offsets are opaque tokens
//! mapped to the positions the model learned from responses.

mod fork;
mod lifecycle;
pub mod op;
mod plan;
mod read;
pub mod stream;
mod writes;

use std::collections::BTreeMap;

pub use op::{ForkCt, Kind, Mode, Op, Path, Payload, Pick, ProdAct};
pub use stream::{Data, ForkInfo, Producer, Stream};

/// A disagreement between the server and the model.
pub use crate::failure::Violation;

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

    /// The live stream at `p`, or `None` once `status` is checked as the
    /// answer to direct access to a path without one (under `req`, or
    /// PROP-SOFT-DELETE); a collected path that answered 404 is then
    /// known to be gone.
    fn live_or_gone(
        &mut self,
        p: Path,
        status: u16,
        req: &'static str,
        what: &str,
    ) -> Result<Option<Stream>, Violation> {
        let slot = self.slot(p).clone();
        if let Slot::Live(s) = slot {
            return Ok(Some(s));
        }
        status_in(status, gone_statuses(&slot), gone_req(&slot, req), what)?;
        if matches!(slot, Slot::Collecting) && status == 404 {
            self.slots.insert(
                p,
                Slot::Absent {
                    deleted_before: true,
                },
            );
        }
        Ok(None)
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
}

/// Requirement for direct access to a path without a live stream.
fn gone_req(slot: &Slot, default: &'static str) -> &'static str {
    match slot {
        Slot::SoftDeleted(_) | Slot::Collecting => "PROP-SOFT-DELETE",
        _ => default,
    }
}

#[cfg(test)]
mod tests;
