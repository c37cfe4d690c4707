//! §5.2.1 "Two-layer sequence design" and "Atomicity": producer headers
//! together with `Stream-Seq` (§5.2).

use super::util::{accepted, content, stream};
use crate::case::{case, register, CaseResult, Failure};
use crate::check;
use crate::client::{Ctx, Resp};

async fn send(ctx: &Ctx, seq: u64, stream_seq: &str, body: &str) -> Result<Resp, Failure> {
    ctx.post("s")
        .ct("text/plain")
        .producer("p", 0, seq)
        .seq(stream_seq)
        .body(body)
        .send()
        .await
}

/// A producer request rejected for Stream-Seq regression (409) is not
/// recorded: the same producer seq with a valid Stream-Seq is then
/// accepted (200, not a 204 duplicate) and its data appended.
#[case("PROD-STREAM-SEQ-ATOMIC")]
pub async fn stream_seq_rejection_does_not_advance_producer(ctx: Ctx) -> CaseResult {
    const R: &str = "PROD-STREAM-SEQ-ATOMIC";
    stream(&ctx, "s").await?;
    accepted(&send(&ctx, 0, "b", "A").await?, 200, 0, 0, R)?;
    let r = send(&ctx, 1, "a", "X").await?;
    check!(
        r.status == 409,
        R,
        "Stream-Seq \"a\" after \"b\" answered {}, expected 409",
        r.status
    );
    accepted(&send(&ctx, 1, "c", "B").await?, 200, 0, 1, R)?;
    content(&ctx, "s", "AB", R).await
}

/// Retrying a producer request that carried a Stream-Seq appends nothing,
/// whichever layer answers (204 duplicate or 409 Stream-Seq regression).
#[case("PROD-SEQ-DUP")]
pub async fn retry_with_stream_seq_appends_once(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    send(&ctx, 0, "a", "A")
        .await?
        .expect(200, "PROD-SEQ-NEXT")?;
    let r = send(&ctx, 0, "a", "A").await?;
    r.expect_any(&[204, 409], "PROD-SEQ-DUP")?;
    accepted(&send(&ctx, 1, "b", "B").await?, 200, 0, 1, "PROD-SEQ-NEXT")?;
    content(&ctx, "s", "AB", "PROD-SEQ-DUP").await
}

register![
    stream_seq_rejection_does_not_advance_producer,
    retry_with_stream_seq_appends_once,
];
