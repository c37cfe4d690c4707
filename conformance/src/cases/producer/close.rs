//! §5.2.1 "Stream Closure with Idempotent Producers" (and §5.2 error
//! precedence): closing with producer headers, duplicate closes, other
//! tuples and zombies on a closed stream.

use super::util::{accepted, appends, content, send, stream};
use crate::case::{case, register, CaseResult, Failure};
use crate::check;
use crate::client::{Ctx, Resp};

/// POST `body` + `Stream-Closed: true` as producer `(id, epoch, seq)`.
async fn send_close(
    ctx: &Ctx,
    id: &str,
    epoch: u64,
    seq: u64,
    body: &str,
) -> Result<Resp, Failure> {
    let mut r = ctx.post("s").producer(id, epoch, seq).closed();
    if !body.is_empty() {
        r = r.ct("text/plain").body(body);
    }
    r.send().await
}

/// "ab" where "b" was appended-and-closed by (p, 0, 1).
async fn closed_by_p01(ctx: &Ctx) -> CaseResult {
    stream(ctx, "s").await?;
    send(ctx, "s", "p", 0, 0, "a")
        .await?
        .expect(200, "PROD-SEQ-NEXT")?;
    let r = send_close(ctx, "p", 0, 1, "b").await?;
    accepted(&r, 200, 0, 1, "PROD-CLOSE-WITH-APPEND")?;
    check!(
        r.closed(),
        "PROD-CLOSE-WITH-APPEND",
        "the closing producer append lacks Stream-Closed: true"
    );
    Ok(())
}

/// What must hold after any request on the closed stream, whatever it was
/// answered: the stream reads exactly `want` and is still closed (MUST).
async fn still_closed(ctx: &Ctx, want: &str, after: &str) -> CaseResult {
    let all = ctx.read_all("s", "-1", "STREAM-CLOSED-MONOTONIC").await?;
    check!(
        all.text() == want,
        "PROD-SEQ-DUP",
        "after {after}, the stream reads {:?}, expected {want:?}",
        all.text()
    );
    check!(
        all.closed,
        "STREAM-CLOSED-MONOTONIC",
        "after {after}, reads no longer report the stream closed"
    );
    Ok(())
}

/// The final append with producer headers is appended and closes the stream.
#[case("PROD-CLOSE-WITH-APPEND")]
pub async fn close_with_final_append(ctx: Ctx) -> CaseResult {
    closed_by_p01(&ctx).await?;
    let all = ctx.read_all("s", "-1", "PROD-CLOSE-WITH-APPEND").await?;
    check!(
        all.text() == "ab" && all.closed,
        "PROD-CLOSE-WITH-APPEND",
        "stream reads {:?} (closed: {}), expected \"ab\", closed",
        all.text(),
        all.closed
    );
    Ok(())
}

/// Retrying the closing request (with or without Stream-Closed) appends
/// nothing and leaves the stream closed (MUST, checked first); it SHOULD
/// be answered 204 with Stream-Closed: true.
#[case("PROD-CLOSE-DUP", "PROD-SEQ-DUP", "STREAM-CLOSED-MONOTONIC")]
pub async fn duplicate_close_is_204(ctx: Ctx) -> CaseResult {
    closed_by_p01(&ctx).await?;
    let again = send_close(&ctx, "p", 0, 1, "b").await?;
    let plain = send(&ctx, "s", "p", 0, 1, "b").await?;
    still_closed(&ctx, "ab", "retrying the closing request twice").await?;
    for (what, r) in [
        ("retried close", &again),
        ("retried append of the closing tuple", &plain),
    ] {
        check!(
            r.status == 204 && r.closed(),
            "PROD-CLOSE-DUP",
            "{what} answered {} (Stream-Closed: {}), expected 204 with Stream-Closed: true",
            r.status,
            r.closed()
        );
    }
    Ok(())
}

/// A close-only request (empty body) with producer headers closes the
/// stream; retrying it SHOULD be 204 with Stream-Closed: true, and
/// whatever it is answered leaves the data and the closure as they were
/// (MUST, checked first).
#[case(
    "PROD-CLOSE-WITH-APPEND",
    "PROD-CLOSE-DUP",
    "PROD-SEQ-DUP",
    "STREAM-CLOSED-MONOTONIC"
)]
pub async fn close_only_with_producer_headers(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    appends(&ctx, (0, 0), "a", "PROD-SEQ-NEXT").await?;
    let r = send_close(&ctx, "p", 0, 1, "").await?;
    r.expect_any(&[200, 204], "PROD-CLOSE-WITH-APPEND")?;
    check!(
        r.closed(),
        "PROD-CLOSE-WITH-APPEND",
        "close-only with producer headers lacks Stream-Closed: true"
    );
    let all = ctx.read_all("s", "-1", "PROD-CLOSE-WITH-APPEND").await?;
    check!(
        all.text() == "a" && all.closed,
        "PROD-CLOSE-WITH-APPEND",
        "stream reads {:?} (closed: {})",
        all.text(),
        all.closed
    );
    let again = send_close(&ctx, "p", 0, 1, "").await?;
    still_closed(&ctx, "a", "retrying the close-only request").await?;
    check!(
        again.status == 204 && again.closed(),
        "PROD-CLOSE-DUP",
        "retried close-only answered {} (Stream-Closed: {})",
        again.status,
        again.closed()
    );
    Ok(())
}

/// Any other tuple on the closed stream — next seq, another producer, a
/// new epoch — is 409 with Stream-Closed: true and appends nothing.
#[case("PROD-CLOSED-OTHER-409")]
pub async fn other_tuple_on_closed_is_409(ctx: Ctx) -> CaseResult {
    const R: &str = "PROD-CLOSED-OTHER-409";
    closed_by_p01(&ctx).await?;
    for (what, id, epoch, seq) in [
        ("next seq", "p", 0, 2),
        ("other producer", "q", 0, 0),
        ("new epoch", "p", 1, 0),
    ] {
        let r = send(&ctx, "s", id, epoch, seq, "z").await?;
        check!(r.status == 409 && r.closed(), R, "{what} ({id}, {epoch}, {seq}) on the closed stream answered {} (Stream-Closed: {}), expected 409 with Stream-Closed: true", r.status, r.closed());
    }
    content(&ctx, "s", "ab", R).await
}

/// A zombie (stale epoch) writing after the new epoch closed the stream
/// is rejected, appends nothing and leaves the stream closed (MUST,
/// checked first); closed status SHOULD take precedence (409 +
/// Stream-Closed rather than 403).
#[case(
    "PROD-CLOSED-ZOMBIE",
    "PROD-CLOSED-PRECEDENCE",
    "PROD-STALE-EPOCH",
    "STREAM-CLOSED-MONOTONIC"
)]
pub async fn zombie_after_close_rejected(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    appends(&ctx, (0, 0), "a", "PROD-SEQ-NEXT").await?;
    let r = send_close(&ctx, "p", 1, 0, "b").await?;
    accepted(&r, 200, 1, 0, "PROD-CLOSE-WITH-APPEND")?;
    let z = send(&ctx, "s", "p", 0, 1, "z").await?;
    match z.status {
        409 => check!(
            z.closed(),
            "PROD-CLOSED-ZOMBIE",
            "409 for the zombie lacks Stream-Closed: true"
        ),
        403 => {
            let e = z.header("producer-epoch");
            check!(
                e.as_deref().map(str::trim) == Some("1"),
                "PROD-STALE-EPOCH",
                "403 for the zombie has Producer-Epoch {e:?}, expected \"1\""
            );
        }
        s => crate::fail!(
            "PROD-CLOSED-ZOMBIE",
            "zombie (p, 0, 1) on the closed stream answered {s}, expected 409 or 403"
        ),
    }
    content(&ctx, "s", "ab", "PROD-CLOSED-ZOMBIE").await?;
    still_closed(&ctx, "ab", "the zombie's append").await?;
    check!(z.status == 409, "PROD-CLOSED-PRECEDENCE", "zombie on a closed stream answered {} rather than 409 + Stream-Closed (closed status first)", z.status);
    Ok(())
}

register![
    close_with_final_append,
    duplicate_close_is_204,
    close_only_with_producer_headers,
    other_tuple_on_closed_is_409,
    zombie_after_close_rejected,
];
