//! §10.1 Cache-Control of catch-up reads, §8 `offset=now` (no-store) and
//! §5.5 HEAD (non-cacheable). All SHOULD-level.

use crate::case::CaseResult;
use crate::cases::support::create_with;
use crate::check;
use crate::client::{Ctx, Resp};

/// Cache-Control directives, lowercased, as (name, value).
fn directives(r: &Resp) -> Vec<(String, Option<String>)> {
    r.header("cache-control")
        .unwrap_or_default()
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            let d = d.trim().to_ascii_lowercase();
            match d.split_once('=') {
                Some((k, v)) => (
                    k.trim().to_string(),
                    Some(v.trim().trim_matches('"').to_string()),
                ),
                None => (d, None),
            }
        })
        .collect()
}

fn has(ds: &[(String, Option<String>)], name: &str) -> bool {
    ds.iter().any(|(k, _)| k == name)
}

fn max_age(ds: &[(String, Option<String>)]) -> Option<u64> {
    ds.iter()
        .find(|(k, _)| k == "max-age")
        .and_then(|(_, v)| v.as_deref()?.parse().ok())
}

/// A catch-up read of data is cacheable: `public` or `private` with a
/// positive `max-age` (§10.1 recommends max-age=60,
/// stale-while-revalidate=300), and no `no-store`/`no-cache`.
pub async fn catch_up_is_cacheable(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "cacheable", "CACHE-CATCHUP").await?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "CACHE-CATCHUP")?;
    let ds = directives(&r);
    let ok = (has(&ds, "public") || has(&ds, "private"))
        && max_age(&ds).is_some_and(|a| a > 0)
        && !has(&ds, "no-store")
        && !has(&ds, "no-cache");
    check!(
        ok,
        "CACHE-CATCHUP",
        "catch-up Cache-Control is {:?}; expected e.g. \"public, max-age=60, stale-while-revalidate=300\"",
        r.header("cache-control")
    );
    Ok(())
}

/// `offset=now` reads answer `Cache-Control: no-store`.
pub async fn offset_now_is_no_store(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "history", "CACHE-NOW-NO-STORE").await?;
    let r = ctx.get("s").offset("now").send().await?;
    r.expect(200, "CACHE-NOW-NO-STORE")?;
    check!(
        has(&directives(&r), "no-store"),
        "CACHE-NOW-NO-STORE",
        "offset=now Cache-Control is {:?}, expected no-store",
        r.header("cache-control")
    );
    Ok(())
}

/// HEAD is not cacheable: `no-store`, or the permitted alternative
/// `private, max-age=0, must-revalidate`.
pub async fn head_is_not_cacheable(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "meta", "CACHE-HEAD-NO-STORE").await?;
    let r = ctx.head("s").send().await?;
    r.expect(200, "CACHE-HEAD-NO-STORE")?;
    let ds = directives(&r);
    let alternative = has(&ds, "private") && max_age(&ds) == Some(0) && has(&ds, "must-revalidate");
    check!(
        has(&ds, "no-store") || alternative,
        "CACHE-HEAD-NO-STORE",
        "HEAD Cache-Control is {:?}, expected no-store (or private, max-age=0, must-revalidate)",
        r.header("cache-control")
    );
    Ok(())
}
