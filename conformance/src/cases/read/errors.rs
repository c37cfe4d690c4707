//! §5.6 response codes: 404 for streams that do not exist, 400 for
//! offsets that cannot be valid (§8 forbids `,` `&` `=` `?` `/` in offsets).

use crate::case::{case, register, CaseResult};
use crate::cases::support::create_with;
use crate::check;
use crate::client::Ctx;

/// Reading a stream that was never created is 404, with or without offset.
#[case("READ-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    ctx.get("never-created")
        .offset("-1")
        .send()
        .await?
        .expect(404, "READ-404")?;
    ctx.get("never-created")
        .send()
        .await?
        .expect(404, "READ-404")?;
    Ok(())
}

/// Reading a deleted stream is 404 (§5.4: reads after deletion get 404).
#[case("READ-404")]
pub async fn deleted_stream_is_404(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "gone soon", "READ-404").await?;
    ctx.delete("s")
        .send()
        .await?
        .expect_any(&[200, 204], "READ-404")?;
    ctx.get("s")
        .offset("-1")
        .send()
        .await?
        .expect(404, "READ-404")?;
    Ok(())
}

/// An offset containing a character §8 forbids in offsets is malformed:
/// 400, not data and not a server error.
#[case("READ-400-OFFSET")]
pub async fn malformed_offset_is_400(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "abc", "READ-400-OFFSET").await?;
    for bad in ["abc,def", "a&b", "a=b", "a?b", "a/b", "-1,now"] {
        let r = ctx.get("s").offset(bad).send().await?;
        check!(
            r.status == 400,
            "READ-400-OFFSET",
            "GET offset={bad:?} (percent-encoded in the query) returned {}, expected 400",
            r.status
        );
    }
    Ok(())
}

register![
    missing_stream_is_404,
    deleted_stream_is_404,
    malformed_offset_is_400,
];
