//! §5.5 HEAD metadata for §5.1 Stream-TTL / Stream-Expires-At: HEAD reports
//! the TTL window (not the time left) and the absolute expiry as an instant.

use super::util::{check_expiry_headers, expires_in, Exp};
use crate::case::CaseResult;
use crate::client::Ctx;

/// HEAD reports `Stream-TTL` equal to the window given at creation, also
/// after a read reset the countdown.
pub async fn head_reports_ttl(ctx: Ctx) -> CaseResult {
    let r = ctx
        .put("s")
        .ct("text/plain")
        .ttl(37)
        .body("abc")
        .send()
        .await?;
    r.expect(201, "TTL-HEAD-VALUE")?;
    check_expiry_headers(
        &ctx,
        "s",
        Exp::Ttl(37),
        "TTL-HEAD-VALUE",
        "TTL-HEAD-REPORTS",
    )
    .await?;
    ctx.get("s")
        .offset("-1")
        .send()
        .await?
        .expect(200, "TTL-HEAD-VALUE")?;
    check_expiry_headers(
        &ctx,
        "s",
        Exp::Ttl(37),
        "TTL-HEAD-VALUE",
        "TTL-HEAD-REPORTS",
    )
    .await
}

/// HEAD reports `Stream-Expires-At` denoting the instant given at creation.
pub async fn head_reports_expires_at(ctx: Ctx) -> CaseResult {
    let (value, _) = expires_in(3600);
    let r = ctx
        .put("s")
        .ct("text/plain")
        .expires_at(&value)
        .send()
        .await?;
    r.expect(201, "TTL-HEAD-VALUE")?;
    check_expiry_headers(
        &ctx,
        "s",
        Exp::At(&value),
        "TTL-HEAD-VALUE",
        "TTL-HEAD-REPORTS",
    )
    .await
}

/// A stream created without TTL or expiry reports neither on HEAD.
pub async fn head_reports_no_expiry(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .send()
        .await?
        .expect(201, "TTL-HEAD-VALUE")?;
    check_expiry_headers(&ctx, "s", Exp::None, "TTL-HEAD-VALUE", "TTL-HEAD-REPORTS").await
}
