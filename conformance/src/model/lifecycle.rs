//! Checking create (§5.1), close (§4.1, §5.3), delete with soft-delete and
//! cascade (§4.2, §5.4) and HEAD (§5.5) answers against the model.

use super::writes::{appended, closed_conflict, initial};
use super::*;

impl Model {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_create(
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

    pub(super) fn check_close(
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

    pub(super) fn check_delete(
        &mut self,
        path: Path,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-DELETE-OUTCOME";
        let Some(s) = self.live_or_gone(path, obs.status, req, what)? else {
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
    pub(super) fn cascade(&mut self, mut next: Option<Path>) {
        while let Some(p) = next.take() {
            if let Slot::SoftDeleted(s) = self.slot(p).clone() {
                if self.refcount(p) == 0 {
                    self.slots.insert(p, Slot::Collecting);
                    next = s.fork.map(|f| f.source);
                }
            }
        }
    }

    pub(super) fn check_head(
        &mut self,
        path: Path,
        obs: &Obs,
        what: &str,
    ) -> Result<(), Violation> {
        let req = "PROP-HEAD-OUTCOME";
        let Some(s) = self.live_or_gone(path, obs.status, req, what)? else {
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
}
