//! §5.2 / §12.4: an append's Content-Type must match the stream's.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create};
use crate::check_eq;
use crate::client::Ctx;

async fn content(ctx: &Ctx, req: &str) -> Result<String, crate::case::Failure> {
    Ok(ctx.read_all("s", "-1", req).await?.text())
}

/// A body with another valid content type is 409 and stores nothing.
#[case("APPEND-CT-MISMATCH-409")]
pub async fn mismatch_is_409(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    append(&ctx, "s", "text/plain", "ok", "APPEND-204").await?;
    for (ct, body) in [
        ("application/json", "{\"a\":1}"),
        ("application/octet-stream", "xx"),
        ("text/html", "<b>"),
    ] {
        ctx.post("s")
            .ct(ct)
            .body(body)
            .send()
            .await?
            .expect(409, "APPEND-CT-MISMATCH-409")?;
    }
    check_eq!(
        content(&ctx, "APPEND-CT-MISMATCH-409").await?,
        "ok",
        "APPEND-CT-MISMATCH-409",
        "content after rejected appends"
    );
    Ok(())
}

/// An append with a body but no Content-Type is 400 and stores nothing.
#[case("APPEND-CT-REQUIRED-400")]
pub async fn missing_is_400(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    ctx.post("s")
        .body("x")
        .send()
        .await?
        .expect(400, "APPEND-CT-REQUIRED-400")?;
    check_eq!(
        content(&ctx, "APPEND-CT-REQUIRED-400").await?,
        "",
        "APPEND-CT-REQUIRED-400",
        "content after the rejected append"
    );
    Ok(())
}

/// The stream's exact content type (with parameters) is accepted.
#[case("APPEND-204")]
pub async fn same_with_parameters_is_accepted(ctx: Ctx) -> CaseResult {
    let ct = "text/plain; charset=utf-8";
    create(&ctx, "s", ct, "CREATE-NEW-201").await?;
    ctx.post("s")
        .ct(ct)
        .body("héllo")
        .send()
        .await?
        .expect(204, "APPEND-204")?;
    check_eq!(
        content(&ctx, "APPEND-204").await?,
        "héllo",
        "APPEND-204",
        "content"
    );
    Ok(())
}

/// SHOULD: media types compare case-insensitively (RFC 9110 §8.3.1):
/// appending with TEXT/PLAIN to a text/plain stream is accepted.
#[case("CT-MEDIA-TYPE-CASE")]
pub async fn media_type_case_is_ignored(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    for ct in ["TEXT/PLAIN", "Text/Plain"] {
        let r = ctx.post("s").ct(ct).body("x").send().await?;
        check_eq!(
            r.status,
            204,
            "CT-MEDIA-TYPE-CASE",
            "append with Content-Type {ct} to a text/plain stream"
        );
    }
    Ok(())
}

register![
    mismatch_is_409,
    missing_is_400,
    same_with_parameters_is_accepted,
    media_type_case_is_ignored,
];
