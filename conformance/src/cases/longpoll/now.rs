//! §8 `offset=now` in long-poll mode: wait for the next append (no initial
//! empty response), return only new data; EOF at once on closed streams.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create_with};

use super::Event;
use crate::client::Ctx;
use crate::{check, check_eq};

/// `offset=now&live=long-poll` on a stream with history waits, then
/// returns exactly the append made while it waited.
#[case("LP-NOW-NEW-DATA", "LP-WAKE-ON-APPEND")]
pub async fn waits_for_next_append_only(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    // Woken by the append, not answered only when the timeout runs out.
    // Judged only where timing makes the order certain (an append that
    // reached the server before the long-poll is rightly not delivered);
    // a fresh stream retries.
    super::until_woken(&ctx, "LP-WAKE-ON-APPEND", |i| {
        let ctx = ctx.clone();
        async move {
            let name = super::attempt_name("s", i);
            create_with(&ctx, &name, "text/plain", "history", "LP-NOW-NEW-DATA").await?;
            let (r, tail, at) = super::while_waiting(
                &ctx,
                t / 3,
                ctx.get(&name).offset("now").long_poll().send(),
                append(&ctx, &name, "text/plain", "fresh", "LP-NOW-NEW-DATA"),
            )
            .await;
            let (r, tail) = (r?, tail?);
            if r.status == 200
                && super::check_chunk(
                    &r,
                    "fresh",
                    "LP-NOW-NEW-DATA",
                    "offset=now long-poll body (new data only)",
                )?
            {
                check_eq!(
                    r.next_offset("LP-NOW-NEW-DATA")?,
                    tail,
                    "LP-NOW-NEW-DATA",
                    "Stream-Next-Offset"
                );
            }
            super::judge_wake(
                &r,
                Event::AppendAfterNow { sent: at.started },
                at.acked,
                t,
                "LP-NOW-NEW-DATA",
            )
        }
    })
    .await
}

/// With no append, `offset=now` long-poll times out with 204, the tail
/// offset and `Stream-Up-To-Date: true`.
#[case("LP-NOW-NEW-DATA", "LP-204-NEXT-OFFSET", "LP-204-UP-TO-DATE")]
pub async fn timeout_reports_tail(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "history", "LP-NOW-NEW-DATA")
        .await?
        .next_offset("LP-NOW-NEW-DATA")?;
    let r = ctx.get("s").offset("now").long_poll().send().await?;
    r.expect(204, "LP-NOW-NEW-DATA")?;
    check_eq!(
        r.next_offset("LP-204-NEXT-OFFSET")?,
        tail,
        "LP-204-NEXT-OFFSET",
        "Stream-Next-Offset of the offset=now timeout"
    );
    check!(
        r.up_to_date(),
        "LP-204-UP-TO-DATE",
        "offset=now timeout 204 lacks Stream-Up-To-Date: true"
    );
    Ok(())
}

/// `offset=now` long-poll on a closed stream: 204 EOF at once.
#[case("LP-CLOSED-NO-WAIT", "LP-CLOSED-204")]
pub async fn closed_stream_returns_at_once(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    create_with(&ctx, "s", "text/plain", "all", "LP-CLOSED-204").await?;
    let r = ctx.post("s").closed().send().await?;
    r.expect_any(&[200, 204], "LP-CLOSED-204")?;
    let tail = r.next_offset("LP-CLOSED-204")?;
    let mut r = ctx.get("s").offset("now").long_poll().send().await?;
    if !super::prompt(&r, t) {
        r = ctx.get("s").offset("now").long_poll().send().await?;
    }
    check!(
        super::prompt(&r, t),
        "LP-CLOSED-NO-WAIT",
        "offset=now long-poll on a closed stream took {} ms twice (timeout hint {} ms)",
        r.elapsed.as_millis(),
        t.as_millis()
    );
    super::closure::check_eof_204(&r, &tail, "LP-CLOSED-204")
}

register![
    waits_for_next_append_only,
    timeout_reports_tail,
    closed_stream_returns_at_once,
];
