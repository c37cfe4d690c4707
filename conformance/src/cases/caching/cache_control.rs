//! §10.1 Cache-Control of catch-up reads, §8 `offset=now` (no-store) and
//! §5.5 HEAD (non-cacheable). All SHOULD-level.

use crate::case::{case, register, CaseResult};
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
#[case("CACHE-CATCHUP")]
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

/// §10.1 "Catch-up and Long-poll Reads": a long-poll 200 carrying data is
/// as cacheable as a catch-up chunk ("Long-poll 200 OK responses are safe
/// to cache"); a server marking every live answer no-store misses it.
#[case("CACHE-LONG-POLL")]
pub async fn long_poll_200_is_cacheable(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "first", "CACHE-LONG-POLL")
        .await?
        .next_offset("CACHE-LONG-POLL")?;
    crate::cases::support::append(&ctx, "s", "text/plain", "second", "CACHE-LONG-POLL").await?;
    let r = ctx.get("s").offset(&tail).long_poll().send().await?;
    r.expect(200, "CACHE-LONG-POLL")?;
    let ds = directives(&r);
    let ok = (has(&ds, "public") || has(&ds, "private"))
        && max_age(&ds).is_some_and(|a| a > 0)
        && !has(&ds, "no-store")
        && !has(&ds, "no-cache");
    check!(
        ok,
        "CACHE-LONG-POLL",
        "long-poll 200 Cache-Control is {:?}; expected e.g. \"public, max-age=60, stale-while-revalidate=300\"",
        r.header("cache-control")
    );
    Ok(())
}

/// `offset=now` reads answer `Cache-Control: no-store`.
#[case("CACHE-NOW-NO-STORE")]
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

/// §5.5 "effectively non-cacheable": `no-store` (recommended), the named
/// alternative `private, max-age=0, must-revalidate`, or what makes every
/// cache revalidate before reuse (`no-cache`; `max-age=0` with `private`
/// or `must-revalidate`). Shared by metadata::head::not_cacheable so the two
/// HEAD checks judge one response alike.
pub(crate) fn effectively_uncacheable(r: &Resp) -> bool {
    let ds = directives(r);
    has(&ds, "no-store")
        || has(&ds, "no-cache")
        || (max_age(&ds) == Some(0) && (has(&ds, "private") || has(&ds, "must-revalidate")))
}

/// HEAD is not cacheable: `no-store`, or the permitted alternative
/// `private, max-age=0, must-revalidate` (or another spelling that makes
/// caches revalidate every time).
#[case("CACHE-HEAD-NO-STORE")]
pub async fn head_is_not_cacheable(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "meta", "CACHE-HEAD-NO-STORE").await?;
    let r = ctx.head("s").send().await?;
    r.expect(200, "CACHE-HEAD-NO-STORE")?;
    check!(
        effectively_uncacheable(&r),
        "CACHE-HEAD-NO-STORE",
        "HEAD Cache-Control is {:?}, expected no-store (or private, max-age=0, must-revalidate)",
        r.header("cache-control")
    );
    Ok(())
}

register![
    catch_up_is_cacheable,
    long_poll_200_is_cacheable,
    offset_now_is_no_store,
    head_is_not_cacheable,
];
