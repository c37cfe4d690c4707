//! §5.5 HEAD metadata for §5.1 Stream-TTL / Stream-Expires-At: HEAD reports
//! the TTL window (not the time left) and the absolute expiry as an instant.

use super::util::{check_expiry_headers, expires_in, put_text, Exp};
use crate::case::{case, register, CaseResult};
use crate::client::{Ctx, Req};

const VALUE: &str = "TTL-HEAD-VALUE";

/// Create "s" configured by `conf`, then check HEAD reports `want` (a
/// missing header fails the SHOULD-level TTL-HEAD-REPORTS).
async fn created_reports(ctx: &Ctx, conf: impl FnOnce(Req) -> Req, want: Exp<'_>) -> CaseResult {
    put_text(ctx, "s", conf, VALUE).await?;
    check_expiry_headers(ctx, "s", want, VALUE, "TTL-HEAD-REPORTS").await
}

/// HEAD reports `Stream-TTL` equal to the window given at creation, also
/// after a read reset the countdown.
#[case("TTL-HEAD-VALUE", "TTL-HEAD-REPORTS")]
pub async fn head_reports_ttl(ctx: Ctx) -> CaseResult {
    created_reports(&ctx, |q| q.ttl(37).body("abc"), Exp::Ttl(37)).await?;
    ctx.get("s").offset("-1").send().await?.expect(200, VALUE)?;
    check_expiry_headers(&ctx, "s", Exp::Ttl(37), VALUE, "TTL-HEAD-REPORTS").await
}

/// HEAD reports `Stream-Expires-At` denoting the instant given at creation.
#[case("TTL-HEAD-VALUE", "TTL-HEAD-REPORTS")]
pub async fn head_reports_expires_at(ctx: Ctx) -> CaseResult {
    let (value, _) = expires_in(3600);
    created_reports(&ctx, |q| q.expires_at(&value), Exp::At(&value)).await
}

/// A stream created without TTL or expiry reports neither on HEAD.
#[case("TTL-HEAD-VALUE")]
pub async fn head_reports_no_expiry(ctx: Ctx) -> CaseResult {
    created_reports(&ctx, |q| q, Exp::None).await
}

register![
    head_reports_ttl,
    head_reports_expires_at,
    head_reports_no_expiry,
];
