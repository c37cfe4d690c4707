//! §5.1 header validation: Stream-TTL syntax, Stream-Expires-At syntax,
//! both at once. A rejected PUT creates nothing.

use crate::case::{case, register, CaseResult};
use crate::cases::support::rfc3339_in;
use crate::client::Ctx;
use crate::fail;

/// Fail with `req` unless the PUT was 400 and no stream exists afterwards.
async fn rejected(ctx: &Ctx, name: &str, status: u16, what: &str, req: &str) -> CaseResult {
    if status != 400 {
        fail!(req, "{what}: expected 400, got {status}");
    }
    let h = ctx.head(name).send().await?;
    if h.status != 404 {
        fail!(
            req,
            "{what} was rejected but HEAD answers {} (expected 404)",
            h.status
        );
    }
    Ok(())
}

/// A PUT of a fresh stream per value, with `header: value`: each is
/// rejected (see [`rejected`]).
async fn each_rejected(ctx: &Ctx, header: &str, values: &[&str], req: &str) -> CaseResult {
    for (i, v) in values.iter().enumerate() {
        let name = format!("s{i}");
        let r = ctx
            .put(&name)
            .ct("text/plain")
            .header(header, v)
            .send()
            .await?;
        rejected(ctx, &name, r.status, &format!("{header} {v:?}"), req).await?;
    }
    Ok(())
}

/// Stream-TTL must be a plain non-negative decimal integer: `+3600`,
/// `03600`, `3600.0`, `3.6e3`, negatives, hex and words → 400.
#[case("CREATE-TTL-SYNTAX")]
pub async fn ttl_syntax_is_400(ctx: Ctx) -> CaseResult {
    let bad = [
        "+3600", "03600", "3600.0", "3.6e3", "-1", "-0", "abc", "0x10", "3600s", "1 2",
    ];
    each_rejected(&ctx, "Stream-TTL", &bad, "CREATE-TTL-SYNTAX").await?;
    Ok(())
}

/// Control for the syntax case: a plain integer TTL is accepted.
#[case("CREATE-TTL-SYNTAX")]
pub async fn valid_ttl_is_201(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .ttl(3600)
        .send()
        .await?
        .expect(201, "CREATE-TTL-SYNTAX")?;
    Ok(())
}

/// Stream-Expires-At must be an RFC 3339 timestamp: anything else → 400.
#[case("CREATE-EXPIRES-SYNTAX")]
pub async fn expires_at_syntax_is_400(ctx: Ctx) -> CaseResult {
    let bad = [
        "tomorrow",
        "2030-13-01T00:00:00Z",
        "2030-01-01",
        "1900000000",
        "2030-01-01T25:00:00Z",
    ];
    each_rejected(&ctx, "Stream-Expires-At", &bad, "CREATE-EXPIRES-SYNTAX").await?;
    // Control: a well-formed timestamp is accepted.
    ctx.put("ok")
        .ct("text/plain")
        .expires_at(&rfc3339_in(3600))
        .send()
        .await?
        .expect(201, "CREATE-EXPIRES-SYNTAX")?;
    Ok(())
}

/// SHOULD: Stream-TTL together with Stream-Expires-At → 400.
#[case("CREATE-TTL-AND-EXPIRES-400")]
pub async fn ttl_and_expires_at_is_400(ctx: Ctx) -> CaseResult {
    let r = ctx
        .put("s")
        .ct("text/plain")
        .ttl(3600)
        .expires_at(&rfc3339_in(3600))
        .send()
        .await?;
    rejected(
        &ctx,
        "s",
        r.status,
        "Stream-TTL with Stream-Expires-At",
        "CREATE-TTL-AND-EXPIRES-400",
    )
    .await
}

register![
    ttl_syntax_is_400,
    valid_ttl_is_201,
    expires_at_syntax_is_400,
    ttl_and_expires_at_is_400,
];
