//! §5.3 close-only (`Stream-Closed: true`, empty body) and §5.2
//! append-and-close.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create_with};
use crate::client::Ctx;
use crate::{check, check_eq, fail};

/// Close-only: 204 with Stream-Closed: true and the unchanged tail; HEAD
/// then reports closed and the data is still readable.
#[case("CLOSE-ONLY-204", "CLOSE-OBSERVABLE", "CLOSE-DATA-READABLE")]
pub async fn is_204_with_closed_and_tail(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "kept", "CREATE-NEW-201")
        .await?
        .next_offset("CREATE-NEW-201")?;
    let r = ctx.post("s").closed().send().await?;
    r.expect(204, "CLOSE-ONLY-204")?;
    check!(
        r.closed(),
        "CLOSE-ONLY-204",
        "close response lacks Stream-Closed: true"
    );
    check_eq!(
        r.next_offset("CLOSE-ONLY-204")?,
        tail,
        "CLOSE-ONLY-204",
        "Stream-Next-Offset of the close (no data was appended)"
    );
    let h = ctx.head("s").send().await?;
    check!(
        h.closed(),
        "CLOSE-OBSERVABLE",
        "HEAD after close lacks Stream-Closed: true"
    );
    let all = ctx.read_all("s", "-1", "CLOSE-DATA-READABLE").await?;
    check_eq!(
        all.text(),
        "kept",
        "CLOSE-DATA-READABLE",
        "content after close"
    );
    check!(
        all.closed,
        "CLOSE-OBSERVABLE",
        "final read after close lacks Stream-Closed: true"
    );
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "CLOSE-ONLY-204",
        "read tail after close vs the tail before it (no data was appended)"
    );
    Ok(())
}

/// A close-only request is not rejected because of its Content-Type, be it
/// another type or the stream's.
#[case("CLOSE-ONLY-IGNORES-CT")]
pub async fn ignores_content_type(ctx: Ctx) -> CaseResult {
    for (name, ct) in [("a", "application/json"), ("b", "text/plain")] {
        create_with(&ctx, name, "text/plain", "x", "CREATE-NEW-201").await?;
        let r = ctx.post(name).ct(ct).closed().send().await?;
        r.expect(204, "CLOSE-ONLY-IGNORES-CT")?;
        check!(
            ctx.head(name).send().await?.closed(),
            "CLOSE-ONLY-IGNORES-CT",
            "close-only with Content-Type {ct} did not close"
        );
    }
    Ok(())
}

/// Closing a closed stream succeeds or gives a stable "already closed"
/// answer (MUST); SHOULD: 204 with Stream-Closed: true and the same tail.
#[case("CLOSE-IDEMPOTENT", "CLOSE-ONLY-IDEMPOTENT-204")]
pub async fn again_is_idempotent(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    let first = ctx.post("s").closed().send().await?;
    first.expect(204, "CLOSE-ONLY-204")?;
    let tail = first.next_offset("CLOSE-ONLY-204")?;
    let second = ctx.post("s").closed().send().await?;
    let third = ctx.post("s").closed().send().await?;
    if second.status >= 500 || !(second.status < 300 || second.closed()) {
        fail!(
            "CLOSE-IDEMPOTENT",
            "closing again answered {} without Stream-Closed: true",
            second.status
        );
    }
    check_eq!(
        third.status,
        second.status,
        "CLOSE-IDEMPOTENT",
        "repeated close-only answers are not stable"
    );
    let h = ctx.head("s").send().await?;
    check!(h.closed(), "CLOSE-IDEMPOTENT", "stream no longer closed");
    // Closing again appends nothing: the final offset stays where the first
    // close put it (§5.3 "unchanged, since no data was appended"), whatever
    // status the repeat got.
    check_eq!(
        h.next_offset("HEAD-200")?,
        tail,
        "CLOSE-IDEMPOTENT",
        "HEAD tail after closing again vs the first close's final offset"
    );
    for (what, r) in [("second", &second), ("third", &third)] {
        if let Some(o) = r.header("stream-next-offset") {
            check_eq!(
                o,
                tail,
                "CLOSE-IDEMPOTENT",
                "Stream-Next-Offset of the {what} close-only request (the final offset moved)"
            );
        }
    }
    second.expect(204, "CLOSE-ONLY-IDEMPOTENT-204")?;
    check!(
        second.closed(),
        "CLOSE-ONLY-IDEMPOTENT-204",
        "repeated close lacks Stream-Closed: true"
    );
    check_eq!(
        second.header("stream-next-offset"),
        Some(tail),
        "CLOSE-ONLY-IDEMPOTENT-204",
        "Stream-Next-Offset of the repeated close"
    );
    Ok(())
}

/// Closing a URL with no stream is 404 and creates nothing.
#[case("CLOSE-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    ctx.post("nothing")
        .closed()
        .send()
        .await?
        .expect(404, "CLOSE-404")?;
    ctx.head("nothing").send().await?.expect(404, "CLOSE-404")?;
    Ok(())
}

/// Append-and-close: the body is appended as the final data and the stream
/// is closed at the new tail in one step.
#[case("CLOSE-APPEND-AND-CLOSE", "CLOSE-DATA-READABLE")]
pub async fn append_and_close(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "a", "CREATE-NEW-201").await?;
    append(&ctx, "s", "text/plain", "b", "APPEND-204").await?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .closed()
        .body("final")
        .send()
        .await?;
    r.expect(204, "CLOSE-APPEND-AND-CLOSE")?;
    check!(
        r.closed(),
        "CLOSE-APPEND-AND-CLOSE",
        "append-and-close response lacks Stream-Closed: true"
    );
    let tail = r.next_offset("CLOSE-APPEND-AND-CLOSE")?;
    let all = ctx.read_all("s", "-1", "CLOSE-DATA-READABLE").await?;
    check_eq!(
        all.text(),
        "abfinal",
        "CLOSE-APPEND-AND-CLOSE",
        "content after append-and-close"
    );
    check!(
        all.closed,
        "CLOSE-APPEND-AND-CLOSE",
        "final read lacks Stream-Closed: true"
    );
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "CLOSE-APPEND-AND-CLOSE",
        "read tail vs the append-and-close Stream-Next-Offset"
    );
    Ok(())
}

register![
    is_204_with_closed_and_tail,
    ignores_content_type,
    again_is_idempotent,
    missing_stream_is_404,
    append_and_close,
];
