//! Private helpers for the fork area (§4.2): building a source from known
//! appends and remembering every offset the server minted for it, creating
//! forks, byte-exact comparison, and bounded polling for deletion effects.
//! Nothing here builds, parses or orders offsets: they are opaque tokens.

use std::time::{Duration, Instant};

use crate::case::Failure;
use crate::client::{Ctx, Req, Resp};
use crate::{check, fail};

pub use crate::cases::support::{append, close};

/// A source stream built from known appends: `offsets[0]` is the tail the
/// create returned, `offsets[i]` the tail after `parts[i-1]` was appended.
pub struct Src {
    pub parts: Vec<Vec<u8>>,
    pub offsets: Vec<String>,
}

impl Src {
    /// The tail offset (after the last append).
    pub fn tail(&self) -> &str {
        self.offsets.last().map(String::as_str).unwrap_or("")
    }
    /// Bytes the source holds between `offsets[from]` and `offsets[to]`.
    pub fn between(&self, from: usize, to: usize) -> Vec<u8> {
        self.parts[from..to].concat()
    }
}

/// Create `name` (empty) with content type `ct`, then append each part,
/// recording every `Stream-Next-Offset`. Setup steps name `req`.
pub async fn source(
    ctx: &Ctx,
    name: &str,
    ct: &str,
    parts: &[&[u8]],
    req: &str,
) -> Result<Src, Failure> {
    let r = ctx.put(name).ct(ct).send().await?;
    r.expect(201, req)?;
    let mut offsets = vec![r.next_offset(req)?];
    for p in parts {
        let r = ctx.post(name).ct(ct).body(p.to_vec()).send().await?;
        r.expect_any(&[200, 204], req)?;
        offsets.push(r.next_offset(req)?);
    }
    Ok(Src {
        parts: parts.iter().map(|p| p.to_vec()).collect(),
        offsets,
    })
}

/// PUT `fork` as a fork of `src` (at `offset` if given); require 201.
pub async fn fork(
    ctx: &Ctx,
    fork: &str,
    src: &str,
    offset: Option<&str>,
    req: &str,
) -> Result<Resp, Failure> {
    let mut q = ctx.put(fork).fork_of(src);
    if let Some(o) = offset {
        q = q.fork_offset(o);
    }
    let r = q.send().await?;
    r.expect(201, req)?;
    Ok(r)
}

/// Compare bytes exactly; on mismatch report lengths, the first differing
/// index and short previews (payloads may be MiBs).
pub fn same_bytes(actual: &[u8], expected: &[u8], req: &str, what: &str) -> Result<(), Failure> {
    if actual == expected {
        return Ok(());
    }
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let show = |b: &[u8]| {
        let s = &b[at.min(b.len())..b.len().min(at + 48)];
        String::from_utf8_lossy(s).escape_debug().to_string()
    };
    fail!(
        req,
        "{what}: {} bytes read, {} expected; first difference at byte {at}\n  expected from there: {:?}\n  actual from there:   {:?}",
        actual.len(),
        expected.len(),
        show(expected),
        show(actual)
    )
}

/// Read `name` from `offset` to its tail and compare the bytes exactly.
pub async fn reads(
    ctx: &Ctx,
    name: &str,
    offset: &str,
    expected: &[u8],
    req: &str,
    what: &str,
) -> Result<crate::client::ReadAll, Failure> {
    let all = ctx.read_all(name, offset, req).await?;
    same_bytes(&all.bytes, expected, req, what)?;
    Ok(all)
}

/// Poll GET `name` until it answers 404, for at most `within`. Meanwhile
/// only 410 (not yet cleaned up) is acceptable; anything else fails
/// `must`. If the deadline passes, fail `eventually` (which decides the
/// level: cleanup the spec lets happen asynchronously is SHOULD-level).
pub async fn gone_within(
    ctx: &Ctx,
    name: &str,
    within: Duration,
    must: &str,
    eventually: &str,
) -> Result<(), Failure> {
    let start = Instant::now();
    loop {
        let r = ctx.get(name).offset("-1").send().await?;
        match r.status {
            404 => return Ok(()),
            410 => {}
            s => fail!(must, "GET {name} answered {s}; only 410 (soft-deleted, awaiting cleanup) or 404 (cleaned up) are possible"),
        }
        if start.elapsed() >= within {
            fail!(eventually, "{name} still answers 410 Gone {} ms after its last fork was deleted: the soft-deleted stream was never cleaned up (a reference leaked?)", within.as_millis());
        }
        ctx.sleep(Duration::from_millis(200)).await;
    }
}

/// How long cleanup that may be asynchronous is given.
pub const CLEANUP_DEADLINE: Duration = Duration::from_secs(10);

/// DELETE `name` (a stream with no live forks) and require it to be gone
/// outright: 204, then 404 — never 410, which would mean something still
/// holds a reference to it. A short grace period tolerates a server that
/// releases references asynchronously.
pub async fn deleted_outright(ctx: &Ctx, name: &str, req: &str) -> Result<(), Failure> {
    let r = ctx.delete(name).send().await?;
    check!(
        r.status == 204,
        req,
        "DELETE {name} (no live forks) answered {} instead of 204{}",
        r.status,
        if r.status == 410 {
            ": it is treated as already soft-deleted"
        } else {
            ""
        }
    );
    gone_within(ctx, name, Duration::from_secs(5), req, req).await
}

/// After a rejected fork: the target was not created (404) and the source
/// took no reference (it still deletes outright).
pub async fn rejected_cleanly(
    ctx: &Ctx,
    src: &str,
    target: &str,
    req: &str,
) -> Result<(), Failure> {
    target_absent(ctx, target, req).await?;
    deleted_outright(ctx, src, req).await
}

/// After a rejected fork: nothing exists at the target (HEAD answers 404).
pub async fn target_absent(ctx: &Ctx, target: &str, req: &str) -> Result<(), Failure> {
    let h = ctx.head(target).send().await?;
    check!(
        h.status == 404,
        req,
        "rejected fork created its target: HEAD {target} answered {}",
        h.status
    );
    Ok(())
}

/// Require a status, reporting what the fork request was.
pub fn status(r: &Resp, expected: u16, req: &str, what: &str) -> Result<(), Failure> {
    check!(
        r.status == expected,
        req,
        "{what}: expected {expected}, got {} (body: {})",
        r.status,
        String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
    );
    Ok(())
}

/// Send `q` and require `expected` (see [`status`]); return the response.
pub async fn answers(q: Req, expected: u16, req: &str, what: &str) -> Result<Resp, Failure> {
    let r = q.send().await?;
    status(&r, expected, req, what)?;
    Ok(r)
}

/// Send each `(request, what)` in turn and require `expected` of each.
pub async fn all_answer(
    requests: impl IntoIterator<Item = (Req, String)>,
    expected: u16,
    req: &str,
) -> crate::case::CaseResult {
    for (q, what) in requests {
        answers(q, expected, req, &what).await?;
    }
    Ok(())
}

/// DELETE `name` and require 204.
pub async fn delete_204(ctx: &Ctx, name: &str, req: &str, what: &str) -> Result<Resp, Failure> {
    answers(ctx.delete(name), 204, req, what).await
}
