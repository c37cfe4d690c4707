//! §5.7 "Stream Closure Behavior in Long-poll Mode": a closed stream never
//! makes a long-poll wait, and closing wakes the waiters.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{close, create_with};
use crate::client::{Ctx, Resp};
use crate::{check, check_eq};

/// The EOF answer of long-poll: 204, `Stream-Closed: true`,
/// `Stream-Up-To-Date: true`, the final offset.
pub(super) fn check_eof_204(r: &Resp, tail: &str, req: &str) -> CaseResult {
    r.expect(204, req)?;
    check!(
        r.closed(),
        req,
        "long-poll at the tail of a closed stream lacks Stream-Closed: true (got {:?})",
        r.header("stream-closed")
    );
    check!(
        r.up_to_date(),
        req,
        "long-poll EOF lacks Stream-Up-To-Date: true (got {:?})",
        r.header("stream-up-to-date")
    );
    check_eq!(
        r.next_offset(req)?,
        tail,
        req,
        "Stream-Next-Offset of the long-poll EOF"
    );
    Ok(())
}

/// Long-poll at the tail of a closed stream returns 204 EOF at once,
/// well before the long-poll timeout.
#[case("LP-CLOSED-NO-WAIT", "LP-CLOSED-204")]
pub async fn closed_at_tail_returns_at_once(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    create_with(&ctx, "s", "text/plain", "done", "LP-CLOSED-204").await?;
    let tail = close(&ctx, "s", "LP-CLOSED-204").await?;
    let mut r = ctx.get("s").offset(&tail).long_poll().send().await?;
    if !super::prompt(&r, t) {
        r = ctx.get("s").offset(&tail).long_poll().send().await?;
    }
    check!(
        super::prompt(&r, t),
        "LP-CLOSED-NO-WAIT",
        "long-poll at the tail of a closed stream took {} ms twice (timeout hint {} ms)",
        r.elapsed.as_millis(),
        t.as_millis()
    );
    check_eof_204(&r, &tail, "LP-CLOSED-204")
}

/// A close while a long-poll waits at the tail wakes it at once with the
/// 204 EOF, instead of letting it run into the timeout.
#[case("LP-CLOSE-WAKES", "LP-CLOSED-204")]
pub async fn close_wakes_waiter(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    // A 204 comes either way: only an answer sooner than the timeout could
    // run out shows the wake; see `judge_wake`. A fresh stream retries.
    super::until_woken(&ctx, "LP-CLOSE-WAKES", |i| {
        let ctx = ctx.clone();
        async move {
            let (name, tail) = super::fresh_stream(&ctx, "s", i, "open", "LP-CLOSE-WAKES").await?;
            let (r, closed_at, at) = super::while_waiting(
                &ctx,
                t / 4,
                ctx.get(&name).offset(&tail).long_poll().send(),
                close(&ctx, &name, "LP-CLOSE-WAKES"),
            )
            .await;
            let (r, closed_at) = (r?, closed_at?);
            check_eq!(
                closed_at,
                tail,
                "LP-CLOSE-WAKES",
                "close-only changed the tail offset"
            );
            let wake = super::judge_wake(&r, super::Event::Close, at.acked, t, "LP-CLOSE-WAKES")?;
            if matches!(wake, super::Wake::Woken) {
                check_eof_204(&r, &tail, "LP-CLOSE-WAKES")?;
            }
            Ok(wake)
        }
    })
    .await
}

/// Long-poll from before the end of a closed stream returns the remaining
/// data at once, and that final chunk carries `Stream-Closed: true`.
#[case("LP-DATA-IMMEDIATE", "READ-CLOSED-FINAL-CHUNK")]
pub async fn final_data_carries_closed(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    let mid = create_with(&ctx, "s", "text/plain", "a", "LP-DATA-IMMEDIATE")
        .await?
        .next_offset("LP-DATA-IMMEDIATE")?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .closed()
        .body("z")
        .send()
        .await?;
    r.expect_any(&[200, 204], "LP-DATA-IMMEDIATE")?;
    let r = ctx.get("s").offset(&mid).long_poll().send().await?;
    r.expect(200, "LP-DATA-IMMEDIATE")?;
    check_eq!(
        r.text(),
        "z",
        "LP-DATA-IMMEDIATE",
        "long-poll body from the middle of a closed stream"
    );
    check!(
        super::prompt(&r, t),
        "LP-DATA-IMMEDIATE",
        "long-poll with data available took {} ms",
        r.elapsed.as_millis()
    );
    check!(
        r.closed(),
        "READ-CLOSED-FINAL-CHUNK",
        "the long-poll response with the final bytes of a closed stream lacks Stream-Closed: true"
    );
    Ok(())
}

register![
    closed_at_tail_returns_at_once,
    close_wakes_waiter,
    final_data_carries_closed,
];
