//! §5.1 Stream-TTL, §4 "TTL/Expiry": every read and write resets the sliding
//! window (live reads when the server begins processing them); HEAD never does.
//!
//! Shape of every case, with a TTL of `TTL` = 5 s: create, do the operation
//! under test at TTL − `EARLY` (3.25 s), then at TTL + `LATE` (6.5 s, and
//! never less than TTL − `EARLY` after the operation was sent) HEAD must
//! still answer 200 — without a reset the stream expired at 5 s, 1.5 s
//! before; with one it expires at ≥ 8.25 s, 1.75 s after — and the stream
//! must still expire within a bounded time afterwards, so the reset
//! restarted the window instead of cancelling expiry.
//!
//! `EARLY` (1.75 s) is the slack before every moment the stream must still
//! exist: a server whose expiry clock has whole-second resolution may expire
//! a stream up to 1 s early, and 0.75 s more absorbs a loaded machine (a late
//! timer, a slow request). `LATE` (1.5 s) only matters for catching a
//! non-renewing server: it may still show the stream that long after its
//! unrenewed expiry (a whole-second clock rounding the other way). A correct
//! server may expire a stream up to `GRACE` late (an expiry sweeper running
//! every 2 s). The three together fix the shortest TTL: TTL ≥ 2 × EARLY +
//! LATE; the case then lasts about 2 × TTL − EARLY (8.25 s).

use std::future::Future;
use std::time::{Duration, Instant};

use super::util::{put_text, sleep_until, wait_status};
use crate::case::{case, register, CaseResult, Failure};
use crate::check;
use crate::client::Ctx;

/// The sliding window of every renewal case, in seconds.
const TTL: u64 = 5;
/// Slack before every moment the stream must still exist, in milliseconds.
const EARLY: u64 = 1750;
/// How long after its unrenewed expiry a stream may still be seen, in
/// milliseconds (bounds what a non-renewing server can get away with).
const LATE: u64 = 1500;
/// How late a correct server may expire a stream, in milliseconds.
const GRACE: u64 = 2000;
// The check after the unrenewed expiry must come before the renewed one.
const _: () = assert!(TTL * 1000 >= 2 * EARLY + LATE);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Create "s" (text/plain, body "abc", TTL 5 s); returns when the 201
/// arrived and the tail offset.
async fn create_ttl(ctx: &Ctx) -> Result<(Instant, String), Failure> {
    let (r, t0) = put_text(ctx, "s", |q| q.ttl(TTL).body("abc"), "TTL-RENEW-READ").await?;
    Ok((t0, r.next_offset("TTL-RENEW-READ")?))
}

/// Run `op` at TTL − EARLY into the window and require that it reset it.
async fn renews<F, Fut>(ctx: Ctx, req: &'static str, what: &str, op: F) -> CaseResult
where
    F: FnOnce(Ctx, String) -> Fut,
    Fut: Future<Output = CaseResult>,
{
    let (t0, tail) = create_ttl(&ctx).await?;
    sleep_until(&ctx, t0 + ms(TTL * 1000 - EARLY)).await;
    let op_at = Instant::now();
    ctx.note(format!("{what} at {:.2} s", (op_at - t0).as_secs_f64()));
    op(ctx.clone(), tail).await?;
    // A non-renewing server expired the stream at TTL; a renewed window
    // ends at op_at + TTL at the earliest. Check EARLY before that end and
    // at least LATE after the unrenewed one.
    let check_at = (op_at + ms(TTL * 1000 - EARLY)).max(t0 + ms(TTL * 1000 + LATE));
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
        op_at + ms(TTL * 1000 + GRACE + 1000),
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
        Err(f) if !f.is_no_answer() => Ok(()),
        Err(f) => Err(f),
    }
}

/// A catch-up GET resets the TTL.
#[case("TTL-RENEW-READ", "TTL-EXPIRES-IDLE", secs = 8)]
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
#[case("TTL-RENEW-READ", "TTL-EXPIRES-IDLE", secs = 8)]
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
#[case("TTL-RENEW-LIVE", "TTL-EXPIRES-IDLE", secs = 8)]
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
#[case("TTL-RENEW-LIVE", "TTL-EXPIRES-IDLE", secs = 8)]
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
#[case("TTL-RENEW-WRITE", "TTL-EXPIRES-IDLE", secs = 8)]
pub async fn append_renews(ctx: Ctx) -> CaseResult {
    renews(ctx, "TTL-RENEW-WRITE", "append POST", |ctx, _| async move {
        let r = ctx.post("s").ct("text/plain").body("def").send().await?;
        r.expect_any(&[200, 204], "TTL-RENEW-WRITE")?;
        Ok(())
    })
    .await
}

/// A close-only POST (empty body, `Stream-Closed: true`) resets the TTL.
#[case("TTL-RENEW-WRITE", "TTL-EXPIRES-IDLE", secs = 8)]
pub async fn close_only_renews(ctx: Ctx) -> CaseResult {
    renews(
        ctx,
        "TTL-RENEW-WRITE",
        "close-only POST",
        |ctx, _| async move {
            crate::cases::support::close(&ctx, "s", "TTL-RENEW-WRITE").await?;
            Ok(())
        },
    )
    .await
}

/// An idempotent-producer append resets the TTL.
#[case("TTL-RENEW-WRITE", "TTL-EXPIRES-IDLE", secs = 8)]
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

/// HEAD does not reset the TTL: a stream polled only with HEAD (every
/// 150 ms from TTL − EARLY on, so a HEAD-renewing server never lets it
/// expire) is gone within GRACE after its TTL.
#[case("TTL-HEAD-NO-RENEW", "TTL-EXPIRES-IDLE", secs = 5)]
pub async fn head_does_not_renew(ctx: Ctx) -> CaseResult {
    let (t0, _) = create_ttl(&ctx).await?;
    sleep_until(&ctx, t0 + ms(TTL * 1000 - EARLY)).await;
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
        t0 + ms(TTL * 1000 + GRACE),
        "TTL-HEAD-NO-RENEW",
        "only HEADs touched it since creation, so it expires 5 s after the PUT",
    )
    .await?;
    Ok(())
}

register![
    catch_up_get_renews,
    offset_now_get_renews,
    long_poll_renews,
    sse_renews,
    append_renews,
    close_only_renews,
    producer_append_renews,
    head_does_not_renew,
];
