//! CORS for browser clients (§12.7, SHOULD level: the spec targets browser
//! clients but does not mandate CORS): preflights allow the protocol's
//! methods and request headers; responses expose its response headers.

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::create_with;
use crate::client::{Ctx, Resp};
use crate::{check, fail};

const ORIGIN: &str = "https://app.example";

/// True when the comma-separated header `name` lists `item` (or `*`).
fn lists(r: &Resp, name: &str, item: &str) -> bool {
    r.header(name).is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|x| x == "*" || x.eq_ignore_ascii_case(item))
    })
}

fn origin_allowed(r: &Resp) -> bool {
    r.header("access-control-allow-origin")
        .is_some_and(|v| v.trim() == "*" || v.trim() == ORIGIN)
}

async fn preflight(ctx: &Ctx, method: &str, headers: &str) -> Result<Resp, Failure> {
    let r = ctx
        .options("s")
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await?;
    Ok(r)
}

/// A preflight answers 2xx, allows the origin and each protocol method.
#[case("CORS-PREFLIGHT")]
pub async fn preflight_allows_origin_and_methods(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    for method in ["GET", "HEAD", "POST", "PUT", "DELETE"] {
        let r = preflight(&ctx, method, "content-type").await?;
        check!(
            (200..300).contains(&r.status),
            "CORS-PREFLIGHT",
            "preflight for {method} answered {}",
            r.status
        );
        check!(
            origin_allowed(&r),
            "CORS-PREFLIGHT",
            "preflight for {method}: Access-Control-Allow-Origin is {:?}",
            r.header("access-control-allow-origin")
        );
        let simple = matches!(method, "GET" | "HEAD" | "POST");
        check!(
            simple || lists(&r, "access-control-allow-methods", method),
            "CORS-PREFLIGHT",
            "Access-Control-Allow-Methods {:?} lacks {method}",
            r.header("access-control-allow-methods")
        );
    }
    Ok(())
}

/// The preflight allows every request header the protocol defines,
/// including If-None-Match and the producer headers.
#[case("CORS-ALLOW-HEADERS")]
pub async fn preflight_allows_protocol_headers(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    let wanted = [
        "content-type",
        "stream-seq",
        "stream-ttl",
        "stream-expires-at",
        "stream-closed",
        "if-none-match",
        "producer-id",
        "producer-epoch",
        "producer-seq",
        "stream-forked-from",
        "stream-fork-offset",
        "stream-fork-sub-offset",
    ];
    let r = preflight(&ctx, "POST", &wanted.join(", ")).await?;
    check!(
        (200..300).contains(&r.status),
        "CORS-ALLOW-HEADERS",
        "preflight answered {}",
        r.status
    );
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|h| !lists(&r, "access-control-allow-headers", h))
        .collect();
    if !missing.is_empty() {
        fail!(
            "CORS-ALLOW-HEADERS",
            "Access-Control-Allow-Headers {:?} lacks {missing:?}",
            r.header("access-control-allow-headers")
        );
    }
    Ok(())
}

/// Cross-origin requests get Access-Control-Allow-Origin on success and
/// error responses alike (else a browser cannot read the error).
#[case("CORS-ALLOW-ORIGIN")]
pub async fn responses_allow_origin(ctx: Ctx) -> CaseResult {
    let created = ctx
        .put("s")
        .ct("text/plain")
        .header("Origin", ORIGIN)
        .body("x")
        .send()
        .await?;
    created.expect(201, "CREATE-NEW-201")?;
    let rs = [
        ("PUT", created),
        (
            "POST",
            ctx.post("s")
                .ct("text/plain")
                .header("Origin", ORIGIN)
                .body("y")
                .send()
                .await?,
        ),
        (
            "GET",
            ctx.get("s")
                .offset("-1")
                .header("Origin", ORIGIN)
                .send()
                .await?,
        ),
        ("HEAD", ctx.head("s").header("Origin", ORIGIN).send().await?),
        (
            "POST conflict",
            ctx.post("s")
                .ct("application/json")
                .header("Origin", ORIGIN)
                .body("{}")
                .send()
                .await?,
        ),
        (
            "GET missing",
            ctx.get("missing").header("Origin", ORIGIN).send().await?,
        ),
    ];
    for (label, r) in rs {
        check!(
            origin_allowed(&r),
            "CORS-ALLOW-ORIGIN",
            "{label} → {}: Access-Control-Allow-Origin is {:?}",
            r.status,
            r.header("access-control-allow-origin")
        );
    }
    Ok(())
}

/// Fail unless `r` exposes every header in `wanted`.
fn exposes(r: &Resp, label: &str, wanted: &[&str], req: &str) -> CaseResult {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|h| !lists(r, "access-control-expose-headers", h))
        .collect();
    if !missing.is_empty() {
        fail!(
            req,
            "{label}: Access-Control-Expose-Headers {:?} lacks {missing:?}",
            r.header("access-control-expose-headers")
        );
    }
    Ok(())
}

/// Reads and appends expose the protocol headers a browser client must
/// read (offsets, up-to-date, closure, cursor, ETag, producer state).
#[case("CORS-EXPOSE-HEADERS")]
pub async fn responses_expose_protocol_headers(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    let r = ctx
        .get("s")
        .offset("-1")
        .header("Origin", ORIGIN)
        .send()
        .await?;
    r.expect(200, "CORS-EXPOSE-HEADERS")?;
    exposes(
        &r,
        "GET",
        &[
            "stream-next-offset",
            "stream-up-to-date",
            "stream-closed",
            "stream-cursor",
            "etag",
        ],
        "CORS-EXPOSE-HEADERS",
    )?;
    let p = ctx
        .post("s")
        .ct("text/plain")
        .header("Origin", ORIGIN)
        .producer("cors", 0, 0)
        .body("y")
        .send()
        .await?;
    check!(
        (200..300).contains(&p.status),
        "CORS-EXPOSE-HEADERS",
        "producer append answered {}",
        p.status
    );
    let producer = [
        "stream-next-offset",
        "producer-epoch",
        "producer-seq",
        "producer-expected-seq",
        "producer-received-seq",
    ];
    exposes(&p, "POST", &producer, "CORS-EXPOSE-HEADERS")
}

/// HEAD exposes the TTL and expiry headers (HEAD is the canonical way to
/// learn them, §5.5).
#[case("CORS-EXPOSE-HEADERS")]
pub async fn head_exposes_ttl_and_expiry(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .ttl(3600)
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    let h = ctx.head("s").header("Origin", ORIGIN).send().await?;
    h.expect(200, "HEAD-200")?;
    exposes(
        &h,
        "HEAD",
        &[
            "stream-next-offset",
            "stream-closed",
            "stream-ttl",
            "stream-expires-at",
        ],
        "CORS-EXPOSE-HEADERS",
    )
}

register![
    preflight_allows_origin_and_methods,
    preflight_allows_protocol_headers,
    responses_allow_origin,
    responses_expose_protocol_headers,
    head_exposes_ttl_and_expiry,
];
