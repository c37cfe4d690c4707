//! Helpers shared by the subscription cases: claims, ack bodies, tails.

use serde_json::{json, Value};

use crate::case::Failure;
use crate::client::{Ctx, Resp};
use crate::subs::Subs;
use crate::{check, fail};

/// A granted claim (§7.2) or webhook wake (§7.1): what fences a request.
#[derive(Clone, Debug)]
pub struct Wake {
    pub wake_id: String,
    pub generation: i64,
    pub token: String,
    pub body: Value,
}

impl Wake {
    /// The `{wake_id, generation, acks, done}` body of ack/callback.
    pub fn ack(&self, acks: &[(&str, &str)], done: bool) -> Value {
        let acks: Vec<Value> = acks
            .iter()
            .map(|(s, o)| json!({"stream": s, "offset": o}))
            .collect();
        json!({"wake_id": self.wake_id, "generation": self.generation, "acks": acks, "done": done})
    }
    /// The `{wake_id, generation}` body of release.
    pub fn release(&self) -> Value {
        json!({"wake_id": self.wake_id, "generation": self.generation})
    }
    /// The stream entry for `path` in the wake's `streams`.
    pub fn stream(&self, path: &str) -> Option<&Value> {
        self.body["streams"]
            .as_array()?
            .iter()
            .find(|s| s["path"].as_str() == Some(path))
    }

    /// Parse a claim answer or a webhook body (`token` under `token_key`).
    pub fn parse(v: &Value, token_key: &str, req: &str) -> Result<Wake, Failure> {
        let wake_id = v["wake_id"].as_str().unwrap_or_default();
        let generation = v["generation"].as_i64();
        let token = v[token_key].as_str().unwrap_or_default();
        check!(
            !wake_id.is_empty() && generation.is_some() && !token.is_empty(),
            req,
            "expected wake_id, a numeric generation and {token_key}: {v}"
        );
        let streams = v["streams"].as_array();
        check!(streams.is_some(), req, "no streams array: {v}");
        for s in streams.into_iter().flatten() {
            for f in ["path", "link_type", "acked_offset", "tail_offset"] {
                check!(s[f].is_string(), req, "stream entry lacks {f}: {s}");
            }
            check!(
                s["has_pending"].is_boolean(),
                req,
                "stream entry lacks has_pending: {s}"
            );
        }
        Ok(Wake {
            wake_id: wake_id.to_string(),
            generation: generation.unwrap_or_default(),
            token: token.to_string(),
            body: v.clone(),
        })
    }
}

/// Whether any stream entry of a claim or wake body reports `has_pending`.
pub fn any_pending(v: &Value) -> bool {
    v["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x["has_pending"] == json!(true))
}

/// Claim as `worker`; require 200 and the claim fields (SUB-CLAIM).
pub async fn claim(s: &Subs, id: &str, worker: &str) -> Result<Wake, Failure> {
    let r = s.claim(id, worker).await?;
    r.expect(200, "SUB-CLAIM")?;
    let v = r.json("SUB-CLAIM")?;
    let w = Wake::parse(&v, "token", "SUB-CLAIM")?;
    check!(
        v["lease_ttl_ms"].is_u64(),
        "SUB-CLAIM",
        "claim lacks lease_ttl_ms: {v}"
    );
    Ok(w)
}

/// Require `{ok: true, next_wake: <bool>}` and return next_wake.
pub fn ok_next_wake(r: &Resp, req: &str) -> Result<bool, Failure> {
    r.expect(200, req)?;
    let v = r.json(req)?;
    check!(
        v["ok"] == json!(true),
        req,
        "expected {{ok: true, next_wake}}, got {v}"
    );
    match v["next_wake"].as_bool() {
        Some(b) => Ok(b),
        None => fail!(req, "next_wake is not a boolean: {v}"),
    }
}

/// The stream's tail (`Stream-Next-Offset` of a HEAD).
pub async fn tail(ctx: &Ctx, name: &str) -> Result<String, Failure> {
    let r = ctx.head(name).send().await?;
    r.expect(200, "SUB-LINK-FIELDS")?;
    r.next_offset("SUB-LINK-FIELDS")
}

/// A stream with some data; returns its tail.
pub async fn stream_with(ctx: &Ctx, name: &str, data: &str) -> Result<String, Failure> {
    crate::cases::support::create_with(ctx, name, "text/plain", data, "SUB-LINK-FIELDS").await?;
    tail(ctx, name).await
}

/// Append and return the new tail.
pub async fn append(ctx: &Ctx, name: &str, data: &str) -> Result<String, Failure> {
    crate::cases::support::append(ctx, name, "text/plain", data, "SUB-WAKE-ON-PENDING").await
}

/// acked_offset of the link `path` in the subscription's GET body.
pub async fn acked(s: &Subs, id: &str, path: &str, req: &str) -> Result<String, Failure> {
    let st = s.state(id, req).await?;
    match Subs::link(&st, path).and_then(|l| l["acked_offset"].as_str()) {
        Some(o) => Ok(o.to_string()),
        None => fail!(req, "no link with an acked_offset for {path}: {st}"),
    }
}

/// Sorted paths of the links in a GET body.
pub fn link_paths(st: &Value) -> Vec<String> {
    let mut v: Vec<String> = st["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["path"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

/// Wait for the wake event above `gen`, failing with `req` if none comes.
pub async fn expect_wake(
    s: &Subs,
    wake: &str,
    id: &str,
    gen: i64,
    req: &str,
) -> Result<Value, Failure> {
    match s.wait_wake(wake, id, gen, s.soon()).await? {
        Some(e) => Ok(e),
        None => fail!(
            req,
            "no wake event with a generation above {gen} reached the wake stream within {} ms",
            s.soon().as_millis()
        ),
    }
}
