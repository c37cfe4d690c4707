//! Shared steps for the §5.2.1 producer cases: a text/plain stream "s",
//! producer appends, and the success/conflict response headers.

use crate::case::{CaseResult, Failure};
use crate::check_eq;
use crate::client::{Ctx, Resp};

/// Create the case's text/plain stream `name`, empty.
pub async fn stream(ctx: &Ctx, name: &str) -> CaseResult {
    ctx.put(name)
        .ct("text/plain")
        .send()
        .await?
        .expect(201, "PROD-NEW-PRODUCER")?;
    Ok(())
}

/// POST `body` to `name` as producer `(id, epoch, seq)`.
pub async fn send(
    ctx: &Ctx,
    name: &str,
    id: &str,
    epoch: u64,
    seq: u64,
    body: &str,
) -> Result<Resp, Failure> {
    ctx.post(name)
        .ct("text/plain")
        .producer(id, epoch, seq)
        .body(body)
        .send()
        .await
}

/// Producer "p" appends `body` to "s" at (`epoch`, `seq`); require 200 under `req`.
pub async fn appends(ctx: &Ctx, (epoch, seq): (u64, u64), body: &str, req: &str) -> CaseResult {
    send(ctx, "s", "p", epoch, seq, body)
        .await?
        .expect(200, req)?;
    Ok(())
}

/// Producer "p" appends `body` to "s" at (`epoch`, `seq`); require `status`
/// echoing `Producer-Epoch: epoch` and `Producer-Seq: highest` (see [`accepted`]).
pub async fn accepts(
    ctx: &Ctx,
    (epoch, seq): (u64, u64),
    body: &str,
    status: u16,
    highest: u64,
    req: &str,
) -> CaseResult {
    let r = send(ctx, "s", "p", epoch, seq, body).await?;
    accepted(&r, status, epoch, highest, req)
}

/// Require `status` with `Producer-Epoch: epoch` and `Producer-Seq: highest`.
pub fn accepted(r: &Resp, status: u16, epoch: u64, highest: u64, req: &str) -> CaseResult {
    r.expect(status, req)?;
    let e = r.require("producer-epoch", "PROD-RESP-EPOCH")?;
    check_eq!(
        e.trim(),
        epoch.to_string(),
        "PROD-RESP-EPOCH",
        "Producer-Epoch on {status}"
    );
    let s = r.require("producer-seq", "PROD-RESP-SEQ")?;
    check_eq!(
        s.trim(),
        highest.to_string(),
        "PROD-RESP-SEQ",
        "Producer-Seq on {status} (the highest accepted seq of this epoch)"
    );
    Ok(())
}

/// Require 409 with `Producer-Expected-Seq` / `Producer-Received-Seq`.
pub fn gap(r: &Resp, expected: u64, received: u64) -> CaseResult {
    r.expect(409, "PROD-SEQ-GAP")?;
    let e = r.require("producer-expected-seq", "PROD-SEQ-GAP")?;
    check_eq!(
        e.trim(),
        expected.to_string(),
        "PROD-SEQ-GAP",
        "Producer-Expected-Seq"
    );
    let g = r.require("producer-received-seq", "PROD-SEQ-GAP")?;
    check_eq!(
        g.trim(),
        received.to_string(),
        "PROD-SEQ-GAP",
        "Producer-Received-Seq"
    );
    Ok(())
}

/// Require 403 with `Producer-Epoch: current`.
pub fn stale(r: &Resp, current: u64) -> CaseResult {
    r.expect(403, "PROD-STALE-EPOCH")?;
    let e = r.require("producer-epoch", "PROD-STALE-EPOCH")?;
    check_eq!(
        e.trim(),
        current.to_string(),
        "PROD-STALE-EPOCH",
        "Producer-Epoch on 403 (the current epoch)"
    );
    Ok(())
}

/// The whole content of `name` must be exactly `want`.
pub async fn content(ctx: &Ctx, name: &str, want: &str, req: &str) -> CaseResult {
    let all = ctx.read_all(name, "-1", req).await?;
    check_eq!(all.text(), want, req, "content of {name}");
    Ok(())
}
