//! Checking fork creation (§4.2) against the model.

use super::*;

impl Model {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_fork(
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
}
