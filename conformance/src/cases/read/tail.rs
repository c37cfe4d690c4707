//! §5.6 (and §10.1 "Caching and Stream Closure"): reads at the tail, the
//! empty up-to-date response, and the EOF signal of closed streams.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create, create_with};
use crate::client::Ctx;
use crate::{check, check_eq};

/// A read at the tail: 200, empty body, `Stream-Next-Offset` equal to the
/// requested offset, `Stream-Up-To-Date: true`.
#[case("READ-TAIL-EMPTY", "READ-UP-TO-DATE")]
pub async fn empty_with_same_offset(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "abc", "READ-TAIL-EMPTY").await?;
    let tail = append(&ctx, "s", "text/plain", "def", "READ-TAIL-EMPTY").await?;
    let r = ctx.get("s").offset(&tail).send().await?;
    check!(
        r.body.is_empty(),
        "READ-FROM-OFFSET",
        "a read at the tail returned data: {:?}",
        r.text()
    );
    check!(
        r.up_to_date(),
        "READ-UP-TO-DATE",
        "the read at the tail (status {}) lacks Stream-Up-To-Date: true",
        r.status
    );
    r.expect(200, "READ-TAIL-EMPTY")?;
    check_eq!(
        r.next_offset("READ-TAIL-EMPTY")?,
        tail,
        "READ-TAIL-EMPTY",
        "Stream-Next-Offset of the empty read at the tail"
    );
    Ok(())
}

/// A new empty stream read from `-1`: empty, up to date, and the next
/// offset is the one the create returned.
#[case("READ-UP-TO-DATE", "READ-NEXT-OFFSET")]
pub async fn empty_stream_from_start(ctx: Ctx) -> CaseResult {
    let tail = create(&ctx, "s", "application/octet-stream", "READ-UP-TO-DATE")
        .await?
        .next_offset("READ-NEXT-OFFSET")?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "READ-UP-TO-DATE")?;
    check!(
        r.body.is_empty(),
        "READ-FROM-OFFSET",
        "an empty stream returned {} bytes",
        r.body.len()
    );
    check!(
        r.up_to_date(),
        "READ-UP-TO-DATE",
        "reading an empty stream lacks Stream-Up-To-Date: true"
    );
    check_eq!(
        r.next_offset("READ-NEXT-OFFSET")?,
        tail,
        "READ-NEXT-OFFSET",
        "Stream-Next-Offset of an empty stream vs the create's"
    );
    Ok(())
}

/// An open stream's tail is not EOF: no `Stream-Closed` on any read.
#[case("READ-CLOSED-TAIL-EOF")]
pub async fn open_tail_not_closed(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "abc", "READ-CLOSED-TAIL-EOF")
        .await?
        .next_offset("READ-NEXT-OFFSET")?;
    for at in ["-1", tail.as_str()] {
        let r = ctx.get("s").offset(at).send().await?;
        r.expect(200, "READ-CLOSED-TAIL-EOF")?;
        check!(
            r.header("stream-closed").is_none(),
            "READ-CLOSED-TAIL-EOF",
            "a read at {at:?} of an open stream says Stream-Closed: {:?} (a false EOF)",
            r.header("stream-closed")
        );
    }
    Ok(())
}

/// The canonical EOF: at the tail of a closed stream, 200 with an empty
/// body, `Stream-Closed: true` and `Stream-Up-To-Date: true`.
#[case("READ-CLOSED-TAIL-EOF", "READ-UP-TO-DATE")]
pub async fn closed_tail_is_eof(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "abc", "READ-CLOSED-TAIL-EOF").await?;
    let r = ctx.post("s").closed().send().await?;
    r.expect_any(&[200, 204], "READ-CLOSED-TAIL-EOF")?;
    let tail = r.next_offset("READ-CLOSED-TAIL-EOF")?;
    let r = ctx.get("s").offset(&tail).send().await?;
    r.expect(200, "READ-CLOSED-TAIL-EOF")?;
    check!(
        r.body.is_empty(),
        "READ-FROM-OFFSET",
        "the tail of a closed stream returned data: {:?}",
        r.text()
    );
    check!(
        r.closed(),
        "READ-CLOSED-TAIL-EOF",
        "the empty read at the tail of a closed stream lacks Stream-Closed: true (got {:?})",
        r.header("stream-closed")
    );
    check!(
        r.up_to_date(),
        "READ-UP-TO-DATE",
        "the EOF response lacks Stream-Up-To-Date: true"
    );
    Ok(())
}

/// Append-and-close, then read from the start: the response with the last
/// bytes already carries `Stream-Closed: true`.
#[case("READ-CLOSED-FINAL-CHUNK")]
pub async fn closed_final_data_chunk(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "body ", "READ-CLOSED-FINAL-CHUNK").await?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .closed()
        .body("end")
        .send()
        .await?;
    r.expect_any(&[200, 204], "READ-CLOSED-FINAL-CHUNK")?;
    let all = ctx.read_all("s", "-1", "READ-CLOSED-FINAL-CHUNK").await?;
    check_eq!(
        all.text(),
        "body end",
        "READ-FROM-OFFSET",
        "body of the closed stream"
    );
    check!(
        all.closed,
        "READ-CLOSED-FINAL-CHUNK",
        "the response with the final bytes of a closed stream lacks Stream-Closed: true"
    );
    Ok(())
}

/// A stream closed after a reader caught up: the reader learns of it by
/// reading at the `Stream-Next-Offset` it was given (§10.1 steps 1-3).
#[case("READ-CLOSED-TAIL-EOF")]
pub async fn closed_after_read_discovered_at_next_offset(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "data", "READ-CLOSED-TAIL-EOF").await?;
    let before = ctx.read_all("s", "-1", "READ-CLOSED-TAIL-EOF").await?;
    check!(
        !before.closed,
        "READ-CLOSED-TAIL-EOF",
        "an open stream's final chunk says Stream-Closed"
    );
    let next = before.tail().unwrap_or("-1").to_string();
    ctx.post("s")
        .closed()
        .send()
        .await?
        .expect_any(&[200, 204], "READ-CLOSED-TAIL-EOF")?;
    let r = ctx.get("s").offset(&next).send().await?;
    r.expect(200, "READ-CLOSED-TAIL-EOF")?;
    check!(
        r.body.is_empty(),
        "READ-FROM-OFFSET",
        "read at the old tail returned data: {:?}",
        r.text()
    );
    check!(
        r.closed(),
        "READ-CLOSED-TAIL-EOF",
        "read at the tail after the close lacks Stream-Closed: true"
    );
    Ok(())
}

/// A stream closed while empty: reading from `-1` is already the EOF
/// (200, empty, `Stream-Closed: true`, `Stream-Up-To-Date: true`).
#[case("READ-CLOSED-TAIL-EOF", "READ-UP-TO-DATE")]
pub async fn closed_empty_stream_from_start(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "READ-CLOSED-TAIL-EOF").await?;
    ctx.post("s")
        .closed()
        .send()
        .await?
        .expect_any(&[200, 204], "READ-CLOSED-TAIL-EOF")?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "READ-CLOSED-TAIL-EOF")?;
    check!(
        r.body.is_empty(),
        "READ-FROM-OFFSET",
        "an empty closed stream returned {} bytes",
        r.body.len()
    );
    check!(
        r.closed(),
        "READ-CLOSED-TAIL-EOF",
        "reading an empty closed stream lacks Stream-Closed: true"
    );
    check!(
        r.up_to_date(),
        "READ-UP-TO-DATE",
        "reading an empty closed stream lacks Stream-Up-To-Date: true"
    );
    Ok(())
}

register![
    empty_with_same_offset,
    empty_stream_from_start,
    open_tail_not_closed,
    closed_tail_is_eof,
    closed_final_data_chunk,
    closed_after_read_discovered_at_next_offset,
    closed_empty_stream_from_start,
];
