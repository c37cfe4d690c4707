//! §5.7: long-poll parameters, immediate answers when data exists, waking
//! on an append, and the 204 timeout response.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create_with};

use super::{Event, Wake};
use crate::client::Ctx;
use crate::{check, check_eq};

/// `live=long-poll` without `offset` is 400 (offset MUST be provided).
#[case("LP-OFFSET-REQUIRED")]
pub async fn missing_offset_is_400(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "abc", "LP-OFFSET-REQUIRED").await?;
    let r = ctx.get("s").long_poll().send().await?;
    r.expect(400, "LP-OFFSET-REQUIRED")?;
    Ok(())
}

/// Long-poll on a stream that does not exist is 404 (also with
/// `offset=now`, which must not start waiting).
#[case("LP-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    for offset in ["-1", "now"] {
        let r = ctx
            .get("never-created")
            .offset(offset)
            .long_poll()
            .send()
            .await?;
        r.expect(404, "LP-404")?;
    }
    Ok(())
}

/// With data beyond the offset, long-poll answers at once: 200 with that
/// data (from `-1` and from a minted offset), plus `Stream-Cursor`.
#[case("LP-DATA-IMMEDIATE", "LP-200-CURSOR")]
pub async fn available_data_returns_at_once(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    let mid = create_with(&ctx, "s", "text/plain", "old ", "LP-DATA-IMMEDIATE")
        .await?
        .next_offset("LP-DATA-IMMEDIATE")?;
    let tail = append(&ctx, "s", "text/plain", "new", "LP-DATA-IMMEDIATE").await?;
    for (from, expected) in [("-1", "old new"), (mid.as_str(), "new")] {
        let mut r = ctx.get("s").offset(from).long_poll().send().await?;
        if !super::prompt(&r, t) {
            r = ctx.get("s").offset(from).long_poll().send().await?;
        }
        r.expect(200, "LP-DATA-IMMEDIATE")?;
        let whole = super::check_chunk(
            &r,
            expected,
            "LP-DATA-IMMEDIATE",
            &format!("long-poll body from {from:?}"),
        )?;
        check!(
            super::prompt(&r, t),
            "LP-DATA-IMMEDIATE",
            "long-poll with data available took {} ms (timeout {} ms): it waited",
            r.elapsed.as_millis(),
            t.as_millis()
        );
        if whole {
            check!(
                r.up_to_date(),
                "READ-UP-TO-DATE",
                "long-poll 200 with all the data from {from:?} lacks Stream-Up-To-Date: true"
            );
            check_eq!(
                r.next_offset("LP-DATA-IMMEDIATE")?,
                tail,
                "LP-DATA-IMMEDIATE",
                "Stream-Next-Offset"
            );
        }
        r.require("stream-cursor", "LP-200-CURSOR")?;
    }
    Ok(())
}

/// A long-poll waiting at the tail returns 200 with exactly the bytes of
/// an append made while it waits (a third of the timeout in), woken by the
/// append rather than answering only when its timeout runs out.
#[case("LP-WAKE-ON-APPEND", "LP-200-CURSOR")]
pub async fn append_wakes_waiter(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    // §5.7: the server "waits up to a timeout for new data to arrive"; a
    // server that holds the request for the whole timeout and only then
    // looks for data answers 200 too, so the answer must also come before
    // the timeout could have run out. Only an order of events that timing
    // makes certain is judged (see `judge_wake`); a fresh stream retries.
    super::until_woken(&ctx, "LP-WAKE-ON-APPEND", |i| {
        let ctx = ctx.clone();
        async move {
            let (name, tail) =
                super::fresh_stream(&ctx, "s", i, "before", "LP-WAKE-ON-APPEND").await?;
            let (r, new_tail, at) = super::while_waiting(
                &ctx,
                t / 3,
                ctx.get(&name).offset(&tail).long_poll().send(),
                append(&ctx, &name, "text/plain", "during", "LP-WAKE-ON-APPEND"),
            )
            .await;
            let (r, new_tail) = (r?, new_tail?);
            if r.status == 200 {
                let whole = super::check_chunk(
                    &r,
                    "during",
                    "LP-WAKE-ON-APPEND",
                    "long-poll body (only the new bytes)",
                )?;
                r.require("stream-cursor", "LP-200-CURSOR")?;
                if whole {
                    check!(
                        r.up_to_date(),
                        "READ-UP-TO-DATE",
                        "long-poll 200 with all the new data lacks Stream-Up-To-Date: true"
                    );
                    check_eq!(
                        r.next_offset("LP-WAKE-ON-APPEND")?,
                        new_tail,
                        "LP-WAKE-ON-APPEND",
                        "Stream-Next-Offset"
                    );
                }
            }
            super::judge_wake(&r, Event::Append, at.acked, t, "LP-WAKE-ON-APPEND")
        }
    })
    .await
}

/// With no append, long-poll at the tail ends in 204 with the tail offset,
/// `Stream-Up-To-Date: true` and a `Stream-Cursor`, and no `Stream-Closed`.
#[case(
    "LP-204-TIMEOUT",
    "LP-204-NEXT-OFFSET",
    "LP-204-UP-TO-DATE",
    "LP-204-CURSOR"
)]
pub async fn timeout_is_204_with_headers(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "quiet", "LP-204-TIMEOUT")
        .await?
        .next_offset("LP-204-TIMEOUT")?;
    let r = ctx.get("s").offset(&tail).long_poll().send().await?;
    r.expect(204, "LP-204-TIMEOUT")?;
    check!(
        r.body.is_empty(),
        "LP-204-TIMEOUT",
        "204 with a body: {:?}",
        r.text()
    );
    check_eq!(
        r.next_offset("LP-204-NEXT-OFFSET")?,
        tail,
        "LP-204-NEXT-OFFSET",
        "Stream-Next-Offset on the timeout 204"
    );
    check!(
        r.up_to_date(),
        "LP-204-UP-TO-DATE",
        "timeout 204 lacks Stream-Up-To-Date: true (got {:?})",
        r.header("stream-up-to-date")
    );
    super::cursor_of(&r, "LP-204-CURSOR")?;
    check!(
        r.header("stream-closed").is_none(),
        "LP-204-TIMEOUT",
        "timeout 204 on an open stream says Stream-Closed: {:?}",
        r.header("stream-closed")
    );
    Ok(())
}

/// Several long-polls waiting at the same tail are all woken by one
/// append, each with exactly the new bytes.
#[case("LP-WAKE-ON-APPEND")]
pub async fn append_wakes_every_waiter(ctx: Ctx) -> CaseResult {
    let t = ctx.long_poll_timeout();
    // Every waiter must be woken by the append, not answer only when its
    // own timeout runs out (a server waking one waiter would pass on bodies
    // alone). Judged as in `append_wakes_waiter`: an attempt shows a wake
    // only if every waiter does; a 204 is a violation only where the append
    // was certainly stored before that waiter could time out.
    super::until_woken(&ctx, "LP-WAKE-ON-APPEND", |i| {
        let ctx = ctx.clone();
        async move {
            let (name, tail) =
                super::fresh_stream(&ctx, "s", i, "before", "LP-WAKE-ON-APPEND").await?;
            let (results, written, at) = super::while_waiting(
                &ctx,
                t / 3,
                futures::future::join_all(
                    (0..4).map(|_| ctx.get(&name).offset(&tail).long_poll().send()),
                ),
                append(&ctx, &name, "text/plain", "for all", "LP-WAKE-ON-APPEND"),
            )
            .await;
            written?;
            let mut worst = Wake::Woken;
            for (k, r) in results.into_iter().enumerate() {
                let r = r?;
                if r.status == 200 {
                    check!(
                        !r.body.is_empty() && b"for all".starts_with(&r.body),
                        "LP-WAKE-ON-APPEND",
                        "waiter #{k} of 4 got 200 {:?} after {} ms; every waiter should get the append",
                        r.text(),
                        r.elapsed.as_millis()
                    );
                }
                let what = |s: String| format!("waiter #{k} of 4: {s}");
                worst = match (worst, super::judge_wake(&r, Event::Append, at.acked, t, "LP-WAKE-ON-APPEND")?) {
                    (Wake::Raced(s), _) => Wake::Raced(s),
                    (_, Wake::Raced(s)) => Wake::Raced(what(s)),
                    (Wake::Suspect(s), _) => Wake::Suspect(s),
                    (_, Wake::Suspect(s)) => Wake::Suspect(what(s)),
                    (Wake::Woken, Wake::Woken) => Wake::Woken,
                };
            }
            Ok(worst)
        }
    })
    .await
}

register![
    missing_offset_is_400,
    missing_stream_is_404,
    available_data_returns_at_once,
    append_wakes_waiter,
    append_wakes_every_waiter,
    timeout_is_204_with_headers,
];
