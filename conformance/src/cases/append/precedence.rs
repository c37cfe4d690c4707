//! §5.2 error precedence (SHOULD): a closed stream is reported first
//! (409 with Stream-Closed: true), before content type or sequence errors.

use crate::case::{case, register, CaseResult};
use crate::cases::support::create;
use crate::client::{Ctx, Resp};
use crate::{check, check_eq};

/// Close `s`, returning its final tail.
async fn close(ctx: &Ctx) -> Result<String, crate::case::Failure> {
    let r = ctx.post("s").closed().send().await?;
    r.expect(204, "CLOSE-ONLY-204")?;
    r.next_offset("CLOSE-ONLY-204")
}

/// The rejection is the closed stream's: 409 with Stream-Closed: true and
/// the final offset `tail` (`what` names the competing errors).
fn closed_reported_first(r: &Resp, tail: String, what: &str) -> CaseResult {
    r.expect(409, "APPEND-ERROR-PRECEDENCE")?;
    check!(
        r.closed(),
        "APPEND-ERROR-PRECEDENCE",
        "409 for {what} lacks Stream-Closed: true"
    );
    check_eq!(
        r.header("stream-next-offset"),
        Some(tail),
        "APPEND-ERROR-PRECEDENCE",
        "Stream-Next-Offset of the 409"
    );
    Ok(())
}

/// Closed + wrong content type → the closed 409 (with Stream-Closed: true
/// and the final offset).
#[case("APPEND-ERROR-PRECEDENCE")]
pub async fn closed_before_content_type(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    let tail = close(&ctx).await?;
    let r = ctx
        .post("s")
        .ct("application/json")
        .body("{}")
        .send()
        .await?;
    closed_reported_first(&r, tail, "closed + content-type mismatch")
}

/// Closed + Stream-Seq regression → the closed 409.
#[case("APPEND-ERROR-PRECEDENCE")]
pub async fn closed_before_seq(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    ctx.post("s")
        .ct("text/plain")
        .seq("5")
        .body("x")
        .send()
        .await?
        .expect(204, "APPEND-204")?;
    let tail = close(&ctx).await?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .seq("1")
        .body("y")
        .send()
        .await?;
    closed_reported_first(&r, tail, "closed + Stream-Seq regression")
}

register![closed_before_content_type, closed_before_seq,];
