//! §5.1 create, idempotent create, and §4.2 fork creation.

use time::OffsetDateTime;

use crate::store::apply::Applied;
use crate::store::commit::{self, Commit, Outcome, Spill};
use crate::store::event::{Create, Event, ForkPoint};
use crate::store::stream::{Info, State, Status};
use crate::store::ttl::Expiry;
use crate::store::{content_type, fork, json, unapplied, CreateRequest, Store, StoreError};

impl Store {
    /// Creates a stream, or confirms an identical one (`false`).
    pub fn create(&self, req: CreateRequest) -> Outcome<(bool, Info)> {
        self.answer(self.try_create(req))
    }

    fn try_create(&self, req: CreateRequest) -> Result<((bool, Info), Commit), StoreError> {
        let now = self.clock().now();
        // A new JSON stream's initial body is parsed before taking the
        // registry lock (a large body would stall every other request);
        // a fork's type may be inherited, so its body is parsed under it.
        let requested_essence = req.content_type.as_deref().and_then(content_type::essence);
        let mut parsed = None;
        let is_json = requested_essence
            .as_deref()
            .is_some_and(content_type::is_json);
        if req.fork.is_none() && !req.body.is_empty() && is_json {
            parsed = Some(json::flatten(&req.body, true));
        }
        let mut reg = self.registry();
        if let Some(existing) = reg.get(&req.path).cloned() {
            self.expire_if_due(&mut reg, &existing, now);
            let st = existing.lock();
            match st.status {
                Status::SoftDeleted => return Err(StoreError::PathBlocked),
                Status::Live if same_config(&st, &req) => {
                    return Ok(((false, st.info()), self.barrier()))
                }
                Status::Live => return Err(StoreError::ConfigMismatch),
                Status::Removed => {}
            }
        }
        let event = match &req.fork {
            Some(f) => {
                if let Some(source) = reg.get(&f.source_path).cloned() {
                    self.expire_if_due(&mut reg, &source, now);
                }
                let p = fork::prepare(&reg, f, requested_essence.as_deref(), &req.expiry)?;
                let content_type = req.content_type.clone().unwrap_or(p.content_type);
                let initial = initial_body(&req, p.json, None)?;
                create_event(
                    &req,
                    content_type,
                    p.json,
                    p.expiry,
                    Some(p.point),
                    initial,
                    now,
                )
            }
            None => {
                let content_type = req
                    .content_type
                    .clone()
                    .unwrap_or_else(|| content_type::DEFAULT.into());
                let initial = initial_body(&req, is_json, parsed)?;
                create_event(
                    &req,
                    content_type,
                    is_json,
                    req.expiry.clone(),
                    None,
                    initial,
                    now,
                )
            }
        };
        let Applied::Created(stream, starts) = reg
            .apply(&event, commit::in_memory(&event))
            .map_err(unapplied)?
        else {
            return Err(unapplied("create did not create".into()));
        };
        let st = stream.lock();
        let info = st.info();
        let spill = Spill {
            stream: &stream,
            starts,
            tail: st.data.tail,
            closed: st.closed,
        };
        drop(st);
        // Journaled under the registry lock that applied it.
        let commit = Commit::event(self.journal.as_ref(), &event, Some(spill));
        Ok(((true, info), commit))
    }
}

/// The body of a PUT as the stream's first batch: one part, or the
/// flattened JSON messages (§9.1).
fn initial_body(
    req: &CreateRequest,
    json: bool,
    parsed: Option<Result<Vec<bytes::Bytes>, json::JsonError>>,
) -> Result<Vec<bytes::Bytes>, StoreError> {
    if req.body.is_empty() {
        Ok(Vec::new())
    } else if json {
        let parsed = parsed.unwrap_or_else(|| json::flatten(&req.body, true));
        parsed.map_err(StoreError::Json)
    } else {
        Ok(vec![req.body.clone()])
    }
}

fn create_event(
    req: &CreateRequest,
    content_type: String,
    json: bool,
    expiry: Expiry,
    fork: Option<ForkPoint>,
    initial: Vec<bytes::Bytes>,
    at: OffsetDateTime,
) -> Event {
    Event::Create(Create {
        path: req.path.clone(),
        content_type,
        json,
        requested_expiry: req.expiry.clone(),
        expiry,
        at,
        closed: req.closed,
        fork,
        initial,
    })
}

/// Whether a repeated PUT asks for the configuration the stream has.
fn same_config(st: &State, req: &CreateRequest) -> bool {
    let ct_matches = match req.content_type.as_deref() {
        Some(ct) => content_type::essence(ct).as_deref() == Some(st.config.essence.as_str()),
        None => req.fork.is_some() || st.config.essence == content_type::DEFAULT,
    };
    let fork_matches = match (&req.fork, &st.fork) {
        (None, None) => true,
        (Some(want), Some(have)) => {
            want.source_path == have.source_path
                && want.offset.is_none_or(|o| o == have.offset)
                && want.sub_offset == have.sub_offset
        }
        _ => false,
    };
    ct_matches
        && fork_matches
        && st.config.requested_expiry == req.expiry
        && st.closed == req.closed
}
