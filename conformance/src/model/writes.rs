//! Checking appends (§5.2), `Stream-Seq` and idempotent producers (§5.2.1)
//! against the model.

use super::*;

impl Model {
    /// Would the producer tuple be accepted as new data right now?
    pub(super) fn accepts(&self, p: Path, id: &str, e: u64, q: u64) -> bool {
        let Some(s) = self.live(p) else { return false };
        if s.closed {
            return false;
        }
        match s.producers.get(id) {
            None => q == 0,
            Some(st) => (e == st.epoch && q == st.last_seq + 1) || (e > st.epoch && q == 0),
        }
    }

    pub(super) fn check_append(
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

    pub(super) fn check_produce(
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

    pub(super) fn accepts_if_open(&self, s: &Stream, id: &str, e: u64, q: u64) -> bool {
        match s.producers.get(id) {
            None => q == 0,
            Some(st) => (e == st.epoch && q == st.last_seq + 1) || (e > st.epoch && q == 0),
        }
    }
}

/// Writer-state checks on a fork whose writer has no state there yet name
/// the fork rule (§4.2: forks start with fresh producer and Stream-Seq
/// state); once the writer has state on the fork, its own rule applies.
pub(super) fn writer_req(s: &Stream, fresh: bool, default: &'static str) -> &'static str {
    if s.fork.is_some() && fresh {
        "PROP-FORK-WRITER-STATE"
    } else {
        default
    }
}

/// §5.2: 409 on a closed stream carries Stream-Closed and the final offset.
/// (With a Stream-Seq regression as well, the closed check only SHOULD win.)
pub(super) fn closed_conflict(
    s: &Stream,
    obs: &Obs,
    ambiguous: bool,
    what: &str,
) -> Result<(), Violation> {
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
pub(super) fn nonempty(d: &Payload, kind: Kind) -> Vec<u8> {
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
pub(super) fn appended(d: &Payload, kind: Kind) -> Data {
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
pub(super) fn initial(d: &Payload, kind: Kind) -> Data {
    match kind {
        Kind::Json => Data::Json(d.messages()),
        k => Data::Bytes(d.bytes(k)),
    }
}
