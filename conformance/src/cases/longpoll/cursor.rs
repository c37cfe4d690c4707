//! §10.1 "Server-Generated Cursors" on long-poll responses: decimal
//! interval numbers that never go backwards and strictly advance past an
//! echoed cursor that is not in the past.

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::create_with;
use crate::check;
use crate::client::{Ctx, Resp};

/// A long-poll that answers at once (data available), echoing `cursor`.
async fn poll(ctx: &Ctx, cursor: Option<&str>) -> Result<Resp, Failure> {
    let mut req = ctx.get("s").offset("-1").long_poll();
    if let Some(c) = cursor {
        req = req.cursor(c);
    }
    let r = req.send().await?;
    r.expect(200, "LP-DATA-IMMEDIATE")?;
    Ok(r)
}

async fn setup(ctx: &Ctx) -> CaseResult {
    create_with(ctx, "s", "text/plain", "x", "CURSOR-ADVANCE").await?;
    Ok(())
}

/// `Stream-Cursor` on a live 200 is a decimal interval number.
#[case("CURSOR-DECIMAL", "LP-200-CURSOR")]
pub async fn decimal_interval_number(ctx: Ctx) -> CaseResult {
    setup(&ctx).await?;
    let r = poll(&ctx, None).await?;
    super::cursor_of(&r, "LP-200-CURSOR")?;
    Ok(())
}

/// Echoing the cursor just received (the current interval) yields a
/// strictly greater one, and so on along a chain of polls.
#[case("CURSOR-ADVANCE", "CURSOR-MONOTONIC")]
pub async fn echoed_cursor_advances(ctx: Ctx) -> CaseResult {
    setup(&ctx).await?;
    let mut prev = super::cursor_of(&poll(&ctx, None).await?, "LP-200-CURSOR")?;
    for _ in 0..3 {
        let r = poll(&ctx, Some(&prev.to_string())).await?;
        let next = super::cursor_of(&r, "LP-200-CURSOR")?;
        check!(
            next > prev,
            "CURSOR-ADVANCE",
            "echoing cursor {prev} returned cursor {next}, not strictly greater"
        );
        prev = next;
    }
    Ok(())
}

/// A cursor far ahead of the current interval (as a client holding a
/// jittered cursor sends) still gets a strictly greater cursor back.
#[case("CURSOR-ADVANCE")]
pub async fn future_cursor_advances(ctx: Ctx) -> CaseResult {
    setup(&ctx).await?;
    let now = super::cursor_of(&poll(&ctx, None).await?, "LP-200-CURSOR")?;
    let ahead = now + 1000;
    let r = poll(&ctx, Some(&ahead.to_string())).await?;
    let got = super::cursor_of(&r, "LP-200-CURSOR")?;
    check!(
        got > ahead,
        "CURSOR-ADVANCE",
        "echoing cursor {ahead} (current interval {now} + 1000) returned {got}, not strictly greater"
    );
    Ok(())
}

/// A stale cursor (before the current interval) never pulls the cursor
/// back behind the interval already handed out.
#[case("CURSOR-MONOTONIC")]
pub async fn old_cursor_not_backwards(ctx: Ctx) -> CaseResult {
    setup(&ctx).await?;
    let now = super::cursor_of(&poll(&ctx, None).await?, "LP-200-CURSOR")?;
    let stale = now.saturating_sub(5);
    let r = poll(&ctx, Some(&stale.to_string())).await?;
    let got = super::cursor_of(&r, "LP-200-CURSOR")?;
    check!(
        got >= now,
        "CURSOR-MONOTONIC",
        "after handing out cursor {now}, echoing the stale cursor {stale} returned {got}: the cursor went backwards"
    );
    Ok(())
}

/// The 204 of a timed-out long-poll that echoed the current cursor carries
/// a strictly greater cursor.
#[case("CURSOR-ADVANCE", "LP-204-CURSOR")]
pub async fn timeout_advances_echoed_cursor(ctx: Ctx) -> CaseResult {
    setup(&ctx).await?;
    let first = poll(&ctx, None).await?;
    let now = super::cursor_of(&first, "LP-200-CURSOR")?;
    let tail = first.next_offset("LP-DATA-IMMEDIATE")?;
    let r = ctx
        .get("s")
        .offset(&tail)
        .long_poll()
        .cursor(now.to_string())
        .send()
        .await?;
    r.expect(204, "LP-204-TIMEOUT")?;
    let got = super::cursor_of(&r, "LP-204-CURSOR")?;
    check!(
        got > now,
        "CURSOR-ADVANCE",
        "timeout 204 for a long-poll echoing cursor {now} returned cursor {got}, not strictly greater"
    );
    Ok(())
}

register![
    decimal_interval_number,
    echoed_cursor_advances,
    future_cursor_advances,
    old_cursor_not_backwards,
    timeout_advances_echoed_cursor,
];
