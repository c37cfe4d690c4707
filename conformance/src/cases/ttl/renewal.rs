//! §5.1 Stream-TTL, §4 "TTL/Expiry": every read and write resets the sliding
//! window (live reads when the server begins processing them); HEAD never does.
//!
//! Shape of every case: create with `Stream-TTL: 2`, do the operation under
//! test at ~1.2 s, then at ~2.5 s (and ≥ 1.3 s after the operation was sent)
//! HEAD must still answer 200 — without a reset the stream expired at 2 s —
//! and the stream must still expire within a bounded time afterwards, so the
//! reset restarted the window instead of cancelling expiry.

use std::future::Future;
use std::time::{Duration, Instant};

use super::util::{put_text, sleep_until, wait_status};
use crate::case::{CaseResult, Failure};
use crate::check;
use crate::client::Ctx;

const TTL: u64 = 2;

/// Create "s" (text/plain, body "abc", TTL 2 s); returns when the 201
/// arrived and the tail offset.
async fn create_ttl2(ctx: &Ctx) -> Result<(Instant, String), Failure> {
    let (r, t0) = put_text(ctx, "s", |q| q.ttl(TTL).body("abc"), "TTL-RENEW-READ").await?;
    Ok((t0, r.next_offset("TTL-RENEW-READ")?))
}

/// Run `op` at ~1.2 s into a 2 s TTL and require that it reset the window.
async fn renews<F, Fut>(ctx: Ctx, req: &'static str, what: &str, op: F) -> CaseResult
where
    F: FnOnce(Ctx, String) -> Fut,
    Fut: Future<Output = CaseResult>,
{
    let (t0, tail) = create_ttl2(&ctx).await?;
    sleep_until(&ctx, t0 + Duration::from_millis(1200)).await;
    let op_at = Instant::now();
    ctx.note(format!("{what} at {:.2} s", (op_at - t0).as_secs_f64()));
    op(ctx.clone(), tail).await?;
    let check_at = (op_at + Duration::from_millis(1300)).max(t0 + Duration::from_millis(2500));
    sleep_until(&ctx, check_at).await;
    let h = ctx.head("s").send().await?;
    check!(
        h.status == 200,
        req,
        "HEAD answered {} {:.2} s after a {TTL} s TTL stream was created: the {what} sent at \
         {:.2} s did not reset the TTL countdown",
        h.status,
        (Instant::now() - t0).as_secs_f64(),
        (op_at - t0).as_secs_f64()
    );
    wait_status(
        &ctx,
        "s",
        &[404],
        op_at + Duration::from_millis(TTL * 1000 + 2500),
        "TTL-EXPIRES-IDLE",
        "after the reset the stream must still expire once idle for its TTL",
    )
    .await?;
    Ok(())
}

/// Ignore a client-side timeout (we only need the server to have started
/// processing), but not a transport failure or a wrong status.
fn started(r: Result<crate::client::Resp, Failure>, req: &str) -> CaseResult {
    match r {
        Ok(r) => {
            r.expect_any(&[200, 204], req)?;
            Ok(())
        }
        Err(f) if !f.setup => Ok(()),
        Err(f) => Err(f),
    }
}

/// A catch-up GET resets the TTL.
pub async fn catch_up_get_renews(ctx: Ctx) -> CaseResult {
    renews(ctx, "TTL-RENEW-READ", "catch-up GET", |ctx, _| async move {
        let g = ctx.get("s").offset("-1").send().await?;
        g.expect(200, "TTL-RENEW-READ")?;
        check!(
            g.text() == "abc",
            "TTL-RENEW-READ",
            "read {:?}, expected \"abc\"",
            g.text()
        );
        Ok(())
    })
    .await
}

/// A GET with `offset=now` resets the TTL (it is a read that reaches the server).
pub async fn offset_now_get_renews(ctx: Ctx) -> CaseResult {
    renews(
        ctx,
        "TTL-RENEW-READ",
        "GET offset=now",
        |ctx, _| async move {
            ctx.get("s")
                .offset("now")
                .send()
                .await?
                .expect(200, "TTL-RENEW-READ")?;
            Ok(())
        },
    )
    .await
}

/// A long-poll at the tail resets the TTL when the server begins processing
/// it (the client gives up after 400 ms or takes the server's 204).
pub async fn long_poll_renews(ctx: Ctx) -> CaseResult {
    renews(
        ctx,
        "TTL-RENEW-LIVE",
        "long-poll GET at the tail",
        |ctx, tail| async move {
            let r = ctx
                .get("s")
                .offset(tail)
                .long_poll()
                .timeout(Duration::from_millis(400))
                .send()
                .await;
            started(r, "TTL-RENEW-LIVE")
        },
    )
    .await
}

/// An SSE request resets the TTL when the server begins processing it.
pub async fn sse_renews(ctx: Ctx) -> CaseResult {
    renews(
        ctx,
        "TTL-RENEW-LIVE",
        "SSE GET at the tail",
        |ctx, tail| async move {
            let mut s = ctx.get("s").offset(tail).live("sse").sse().await?;
            s.expect(200, "TTL-RENEW-LIVE")?;
            s.next(Duration::from_millis(300)).await;
            Ok(())
        },
    )
    .await
}

/// An append resets the TTL.
pub async fn append_renews(ctx: Ctx) -> CaseResult {
    renews(ctx, "TTL-RENEW-WRITE", "append POST", |ctx, _| async move {
        let r = ctx.post("s").ct("text/plain").body("def").send().await?;
        r.expect_any(&[200, 204], "TTL-RENEW-WRITE")?;
        Ok(())
    })
    .await
}

/// A close-only POST (empty body, `Stream-Closed: true`) resets the TTL.
pub async fn close_only_renews(ctx: Ctx) -> CaseResult {
    renews(
        ctx,
        "TTL-RENEW-WRITE",
        "close-only POST",
        |ctx, _| async move {
            ctx.post("s")
                .closed()
                .send()
                .await?
                .expect(204, "TTL-RENEW-WRITE")?;
            Ok(())
        },
    )
    .await
}

/// An idempotent-producer append resets the TTL.
pub async fn producer_append_renews(ctx: Ctx) -> CaseResult {
    renews(
        ctx,
        "TTL-RENEW-WRITE",
        "producer POST",
        |ctx, _| async move {
            let r = ctx
                .post("s")
                .ct("text/plain")
                .producer("ttl-p", 0, 0)
                .body("def")
                .send()
                .await?;
            r.expect(200, "TTL-RENEW-WRITE")?;
            Ok(())
        },
    )
    .await
}

/// HEAD does not reset the TTL: a stream HEADed at ~1.2 s and polled with
/// HEAD afterwards is gone within a bounded time after 2 s.
pub async fn head_does_not_renew(ctx: Ctx) -> CaseResult {
    let (t0, _) = create_ttl2(&ctx).await?;
    sleep_until(&ctx, t0 + Duration::from_millis(1200)).await;
    let h = ctx.head("s").send().await?;
    check!(
        h.status == 200,
        "TTL-EXPIRES-IDLE",
        "HEAD at {:.2} s answered {}: a {TTL} s TTL stream expired early",
        super::util::secs_since(t0),
        h.status
    );
    wait_status(
        &ctx,
        "s",
        &[404],
        t0 + Duration::from_millis(4000),
        "TTL-HEAD-NO-RENEW",
        "only HEADs touched it since creation, so it expires 2 s after the PUT",
    )
    .await?;
    Ok(())
}
