//! §5.4 DELETE: 204, then the stream is gone for every operation; §4 a
//! re-created stream (if the server allows it) never shows old data.

use crate::case::{case, register, CaseResult};
use crate::cases::support::create_with;
use crate::client::Ctx;
use crate::{check, check_eq, fail};

/// Every operation on `name` answers 404.
async fn gone_everywhere(ctx: &Ctx, name: &str) -> CaseResult {
    ctx.get(name).send().await?.expect(404, "DELETE-GONE")?;
    ctx.get(name)
        .offset("-1")
        .send()
        .await?
        .expect(404, "DELETE-GONE")?;
    ctx.head(name).send().await?.expect(404, "DELETE-GONE")?;
    ctx.post(name)
        .ct("text/plain")
        .body("x")
        .send()
        .await?
        .expect(404, "DELETE-GONE")?;
    ctx.post(name)
        .closed()
        .send()
        .await?
        .expect(404, "DELETE-GONE")?;
    ctx.delete(name).send().await?.expect(404, "DELETE-GONE")?;
    Ok(())
}

/// DELETE answers 204; afterwards GET, HEAD, POST and DELETE answer 404.
#[case("DELETE-204", "DELETE-GONE")]
pub async fn is_204_then_404_everywhere(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "doomed", "CREATE-NEW-201").await?;
    ctx.delete("s").send().await?.expect(204, "DELETE-204")?;
    gone_everywhere(&ctx, "s").await
}

/// DELETE of a URL with no stream is 404.
#[case("DELETE-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    ctx.delete("nothing")
        .send()
        .await?
        .expect(404, "DELETE-404")?;
    Ok(())
}

/// A closed stream is deleted like any other.
#[case("DELETE-204", "DELETE-GONE")]
pub async fn closed_stream_can_be_deleted(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .closed()
        .body("x")
        .send()
        .await?
        .expect(201, "CREATE-CLOSED")?;
    ctx.delete("s").send().await?.expect(204, "DELETE-204")?;
    gone_everywhere(&ctx, "s").await
}

/// PUT after DELETE: the server may refuse (§4 SHOULD NOT reuse the URL),
/// but a 201 must give a new, empty stream with the new configuration.
#[case("DELETE-RECREATE-FRESH")]
pub async fn recreated_stream_starts_empty(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "old data", "CREATE-NEW-201").await?;
    ctx.delete("s").send().await?.expect(204, "DELETE-204")?;
    let r = ctx.put("s").ct("application/octet-stream").send().await?;
    match r.status {
        201 => {}
        400..=499 => {
            ctx.note(format!(
                "re-creation after delete refused with {} (allowed by §4)",
                r.status
            ));
            return Ok(());
        }
        s => fail!(
            "DELETE-RECREATE-FRESH",
            "PUT after DELETE answered {s} (expected 201 or a refusal)"
        ),
    }
    let all = ctx.read_all("s", "-1", "DELETE-RECREATE-FRESH").await?;
    check!(
        all.bytes.is_empty(),
        "DELETE-RECREATE-FRESH",
        "re-created stream shows old data: {:?}",
        all.text()
    );
    check!(
        !all.closed,
        "DELETE-RECREATE-FRESH",
        "re-created stream is closed"
    );
    let h = ctx.head("s").send().await?;
    check_eq!(
        h.media_type(),
        Some("application/octet-stream".to_string()),
        "DELETE-RECREATE-FRESH",
        "content type of the re-created stream"
    );
    Ok(())
}

register![
    is_204_then_404_everywhere,
    missing_stream_is_404,
    recreated_stream_starts_empty,
    closed_stream_can_be_deleted,
];
