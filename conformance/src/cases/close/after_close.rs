//! §4.1 / §5.2: what a closed stream refuses (appends, reopening) and what
//! it still serves (reads with Stream-Closed at the tail).

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::create_with;
use crate::client::Ctx;
use crate::{check, check_eq};

/// A stream holding "data", closed; returns the final tail.
async fn closed_stream(ctx: &Ctx) -> Result<String, Failure> {
    create_with(ctx, "s", "text/plain", "data", "CREATE-NEW-201").await?;
    let r = ctx.post("s").closed().send().await?;
    r.expect(204, "CLOSE-ONLY-204")?;
    r.next_offset("CLOSE-ONLY-204")
}

/// Append to a closed stream: 409 with Stream-Closed: true and
/// Stream-Next-Offset = the final tail; nothing is stored.
#[case("APPEND-CLOSED-409")]
pub async fn append_is_409_with_final_offset(ctx: Ctx) -> CaseResult {
    let tail = closed_stream(&ctx).await?;
    let r = ctx.post("s").ct("text/plain").body("more").send().await?;
    r.expect(409, "APPEND-CLOSED-409")?;
    check!(
        r.closed(),
        "APPEND-CLOSED-409",
        "409 lacks Stream-Closed: true"
    );
    check_eq!(
        r.header("stream-next-offset"),
        Some(tail),
        "APPEND-CLOSED-409",
        "Stream-Next-Offset of the 409 (final offset)"
    );
    let all = ctx.read_all("s", "-1", "APPEND-CLOSED-409").await?;
    check_eq!(
        all.text(),
        "data",
        "APPEND-CLOSED-409",
        "content after the refused append"
    );
    Ok(())
}

/// Append-and-close on a closed stream (no producer headers): 409 with
/// Stream-Closed: true; nothing is stored.
#[case("CLOSE-APPEND-CLOSED-409")]
pub async fn append_and_close_is_409(ctx: Ctx) -> CaseResult {
    closed_stream(&ctx).await?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .closed()
        .body("more")
        .send()
        .await?;
    r.expect(409, "CLOSE-APPEND-CLOSED-409")?;
    check!(
        r.closed(),
        "CLOSE-APPEND-CLOSED-409",
        "409 lacks Stream-Closed: true"
    );
    let all = ctx.read_all("s", "-1", "CLOSE-APPEND-CLOSED-409").await?;
    check_eq!(
        all.text(),
        "data",
        "CLOSE-APPEND-CLOSED-409",
        "content after the refused append-and-close"
    );
    Ok(())
}

/// Nothing reopens a closed stream: a PUT without Stream-Closed, an append
/// with Stream-Closed: false; HEAD keeps reporting closed.
#[case("STREAM-CLOSED-MONOTONIC")]
pub async fn cannot_reopen(ctx: Ctx) -> CaseResult {
    closed_stream(&ctx).await?;
    let put = ctx.put("s").ct("text/plain").send().await?;
    check!(
        (400..500).contains(&put.status),
        "STREAM-CLOSED-MONOTONIC",
        "PUT without Stream-Closed on a closed stream answered {}",
        put.status
    );
    let r = ctx
        .post("s")
        .ct("text/plain")
        .header("Stream-Closed", "false")
        .body("x")
        .send()
        .await?;
    r.expect(409, "STREAM-CLOSED-MONOTONIC")?;
    check!(
        ctx.head("s").send().await?.closed(),
        "STREAM-CLOSED-MONOTONIC",
        "HEAD no longer reports the stream closed"
    );
    Ok(())
}

/// After close, reads from the start return all data with Stream-Closed
/// on the final chunk, and a read at the tail is an empty 200 with
/// Stream-Closed: true (EOF).
#[case("CLOSE-OBSERVABLE", "CLOSE-DATA-READABLE")]
pub async fn reads_report_closed_at_tail(ctx: Ctx) -> CaseResult {
    let tail = closed_stream(&ctx).await?;
    let all = ctx.read_all("s", "-1", "CLOSE-DATA-READABLE").await?;
    check_eq!(
        all.text(),
        "data",
        "CLOSE-DATA-READABLE",
        "content of the closed stream"
    );
    check!(
        all.closed,
        "CLOSE-OBSERVABLE",
        "final chunk lacks Stream-Closed: true"
    );
    let r = ctx.get("s").offset(&tail).send().await?;
    r.expect(200, "CLOSE-OBSERVABLE")?;
    check!(
        r.body.is_empty(),
        "CLOSE-OBSERVABLE",
        "read at the final offset returned data"
    );
    check!(
        r.closed(),
        "CLOSE-OBSERVABLE",
        "read at the final offset lacks Stream-Closed: true"
    );
    Ok(())
}

register![
    append_is_409_with_final_offset,
    append_and_close_is_409,
    cannot_reopen,
    reads_report_closed_at_tail,
];
