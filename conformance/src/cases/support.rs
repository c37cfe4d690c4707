//! Small helpers shared by cases: creating streams, timestamps, byte
//! payloads. Nothing here assumes an offset format or URL layout.

use crate::case::Failure;
use crate::client::{Ctx, Resp};

/// PUT `name` with content type `ct`; require 201 (requirement `req`).
pub async fn create(ctx: &Ctx, name: &str, ct: &str, req: &str) -> Result<Resp, Failure> {
    let r = ctx.put(name).ct(ct).send().await?;
    r.expect(201, req)?;
    Ok(r)
}

/// PUT `name` with an initial body; require 201.
pub async fn create_with(
    ctx: &Ctx,
    name: &str,
    ct: &str,
    body: impl Into<Vec<u8>>,
    req: &str,
) -> Result<Resp, Failure> {
    let r = ctx.put(name).ct(ct).body(body).send().await?;
    r.expect(201, req)?;
    Ok(r)
}

/// POST `body` to `name`; require a 2xx and return `Stream-Next-Offset`.
pub async fn append(
    ctx: &Ctx,
    name: &str,
    ct: &str,
    body: impl AsRef<[u8]>,
    req: &str,
) -> Result<String, Failure> {
    let r = ctx.post(name).ct(ct).body(body.as_ref()).send().await?;
    r.expect_any(&[200, 204], req)?;
    r.next_offset(req)
}

/// Close-only POST (`Stream-Closed: true`, empty body); require 200/204 and
/// return the final `Stream-Next-Offset`.
pub async fn close(ctx: &Ctx, name: &str, req: &str) -> Result<String, Failure> {
    let r = ctx.post(name).closed().send().await?;
    r.expect_any(&[200, 204], req)?;
    r.next_offset(req)
}

/// RFC 3339 timestamp `secs` seconds from now (UTC, second precision).
pub fn rfc3339_in(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Deterministic pseudo-random bytes (all 256 values occur).
pub fn binary_payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2654435761) >> 13) as u8 ^ salt)
        .collect()
}
