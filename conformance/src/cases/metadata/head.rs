//! §5.5 HEAD: content type, tail offset, closure, TTL/expiry, caching.

use std::time::Duration;

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::{append, create, create_with, rfc3339_in};
use crate::client::Ctx;
use crate::{check, check_eq, fail};

/// HEAD answers 200 with the stream's Content-Type and Stream-Next-Offset
/// equal to the tail, before and after an append.
#[case("HEAD-200")]
pub async fn reports_type_and_tail(ctx: Ctx) -> CaseResult {
    let created = create(&ctx, "s", "application/x-ndjson", "CREATE-NEW-201").await?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.media_type(),
        Some("application/x-ndjson".to_string()),
        "HEAD-200",
        "Content-Type"
    );
    check_eq!(
        h.next_offset("HEAD-200")?,
        created.next_offset("CREATE-NEW-201")?,
        "HEAD-200",
        "tail of the empty stream"
    );
    let tail = append(&ctx, "s", "application/x-ndjson", "{}\n", "APPEND-204").await?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.next_offset("HEAD-200")?,
        tail,
        "HEAD-200",
        "tail after an append"
    );
    let all = ctx.read_all("s", "-1", "HEAD-200").await?;
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "HEAD-200",
        "HEAD tail vs read tail"
    );
    Ok(())
}

/// No Stream-Closed: true while open; Stream-Closed: true once closed.
#[case("HEAD-CLOSED")]
pub async fn reports_closure(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    check!(
        !ctx.head("s").send().await?.closed(),
        "HEAD-CLOSED",
        "open stream reported closed"
    );
    let c = ctx.post("s").closed().send().await?;
    c.expect(204, "CLOSE-ONLY-204")?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.header("stream-closed").map(|v| v.to_ascii_lowercase()),
        Some("true".to_string()),
        "HEAD-CLOSED",
        "Stream-Closed of a closed stream"
    );
    // HEAD of a closed stream still reports its tail: the final offset, as
    // the close and a read from the start report it.
    let final_offset = c.next_offset("CLOSE-ONLY-204")?;
    let all = ctx.read_all("s", "-1", "HEAD-200").await?;
    check_eq!(
        h.next_offset("HEAD-200")?,
        final_offset,
        "HEAD-200",
        "HEAD tail of a closed stream vs the close's Stream-Next-Offset"
    );
    check_eq!(
        all.tail(),
        Some(final_offset.as_str()),
        "HEAD-200",
        "read tail of a closed stream vs the close's Stream-Next-Offset"
    );
    Ok(())
}

/// SHOULD: a stream created with Stream-TTL reports it on HEAD.
#[case("HEAD-TTL-EXPIRES")]
pub async fn reports_ttl(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .ttl(3600)
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.header("stream-ttl"),
        Some("3600".to_string()),
        "HEAD-TTL-EXPIRES",
        "Stream-TTL on HEAD"
    );
    Ok(())
}

/// SHOULD: a stream created with Stream-Expires-At reports the same
/// instant on HEAD (any RFC 3339 spelling).
#[case("HEAD-TTL-EXPIRES")]
pub async fn reports_expires_at(ctx: Ctx) -> CaseResult {
    let at = rfc3339_in(3600);
    ctx.put("s")
        .ct("text/plain")
        .expires_at(&at)
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    let got = h.require("stream-expires-at", "HEAD-TTL-EXPIRES")?;
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
    };
    match (parse(&got), parse(&at)) {
        (Some(g), Some(a)) => check!(
            g == a,
            "HEAD-TTL-EXPIRES",
            "Stream-Expires-At {got:?} is not the instant set at creation {at:?}"
        ),
        _ => fail!(
            "HEAD-TTL-EXPIRES",
            "Stream-Expires-At {got:?} is not an RFC 3339 timestamp"
        ),
    }
    Ok(())
}

/// SHOULD: HEAD is effectively non-cacheable (no-store, or private with
/// max-age=0 / no-cache).
#[case("HEAD-NO-STORE")]
pub async fn not_cacheable(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    let cc = h.require("cache-control", "HEAD-NO-STORE")?;
    check!(
        crate::cases::caching::cache_control::effectively_uncacheable(&h),
        "HEAD-NO-STORE",
        "HEAD Cache-Control {cc:?} lets caches keep a stale tail"
    );
    Ok(())
}

/// HEAD on a URL with no stream is 404.
#[case("HEAD-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    ctx.head("nothing").send().await?.expect(404, "HEAD-404")?;
    Ok(())
}

/// HEAD transfers no body. HTTP clients discard a HEAD body unseen, so
/// this sends the HEAD over a raw TCP connection (http targets only) and
/// checks that nothing follows the header block.
#[case("HEAD-NO-BODY")]
pub async fn sends_no_body(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "some data", "CREATE-NEW-201").await?;
    let url = reqwest::Url::parse(&ctx.url("s")).map_err(|e| Failure::no_answer(e.to_string()))?;
    if url.scheme() != "http" {
        ctx.note("raw HEAD check needs a plain http target: skipped");
        return Ok(());
    }
    let raw = raw_head(&ctx, &url).await?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let Some(end) = split else {
        fail!(
            "HEAD-200",
            "raw HEAD got no complete response header block: {:?}",
            String::from_utf8_lossy(&raw)
        );
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    check!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "HEAD-200",
        "raw HEAD status line: {:?}",
        head.lines().next()
    );
    let rest = &raw[end + 4..];
    check!(
        rest.is_empty(),
        "HEAD-NO-BODY",
        "HEAD response carried {} body bytes: {:?}",
        rest.len(),
        String::from_utf8_lossy(rest)
    );
    Ok(())
}

/// Send `HEAD` for `url` on a fresh connection and read until the server
/// closes it (or 5 s pass); returns the raw bytes.
async fn raw_head(ctx: &Ctx, url: &reqwest::Url) -> Result<Vec<u8>, Failure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port_or_known_default().unwrap_or(80);
    let mut req = format!(
        "HEAD {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n",
        url.path()
    );
    for (k, v) in &ctx.target().headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    ctx.note(format!("raw TCP to {host}:{port}: {:?}", req));
    let mut sock = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| Failure::no_answer(format!("connect {host}:{port}: {e}")))?;
    sock.write_all(req.as_bytes())
        .await
        .map_err(|e| Failure::no_answer(e.to_string()))?;
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 8192];
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(Failure::no_answer(format!("raw HEAD read: {e}"))),
        }
    }
    ctx.note(format!("  -> {:?}", String::from_utf8_lossy(&buf)));
    Ok(buf)
}

register![
    reports_type_and_tail,
    reports_closure,
    reports_ttl,
    reports_expires_at,
    not_cacheable,
    sends_no_body,
    missing_stream_is_404,
];
