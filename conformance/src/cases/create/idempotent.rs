//! §5.1: idempotent re-creation. Same configuration (content type,
//! TTL/expiry, closure status) → 200; any difference → 409.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, rfc3339_in};
use crate::client::Ctx;
use crate::{check, check_eq};

/// A PUT repeating the configuration of a stream that holds data answers
/// 200 with the content type and the current tail, and keeps the data.
#[case("CREATE-IDEMPOTENT-200", "CREATE-RESP-HEADERS")]
pub async fn same_config_is_200(ctx: Ctx) -> CaseResult {
    let ct = "text/plain; charset=utf-8";
    ctx.put("s")
        .ct(ct)
        .body("abc")
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    let tail = append(&ctx, "s", ct, "def", "APPEND-204").await?;
    let r = ctx.put("s").ct(ct).send().await?;
    r.expect(200, "CREATE-IDEMPOTENT-200")?;
    check_eq!(
        r.media_type(),
        Some("text/plain".to_string()),
        "CREATE-RESP-HEADERS",
        "Content-Type of the 200"
    );
    check_eq!(
        r.next_offset("CREATE-RESP-HEADERS")?,
        tail,
        "CREATE-RESP-HEADERS",
        "Stream-Next-Offset of the idempotent 200 vs the current tail"
    );
    let all = ctx.read_all("s", "-1", "CREATE-IDEMPOTENT-200").await?;
    check_eq!(
        all.text(),
        "abcdef",
        "CREATE-IDEMPOTENT-200",
        "content after an idempotent PUT"
    );
    Ok(())
}

/// Re-creating with another content type is 409 and changes nothing.
#[case("CREATE-CONFLICT-409")]
pub async fn content_type_mismatch_is_409(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    for other in ["application/json", "application/octet-stream"] {
        let r = ctx.put("s").ct(other).send().await?;
        r.expect(409, "CREATE-CONFLICT-409")?;
    }
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.media_type(),
        Some("text/plain".to_string()),
        "CREATE-CONFLICT-409",
        "content type after conflicting PUTs"
    );
    Ok(())
}

/// Stream-TTL is part of the configuration: same TTL → 200; another TTL or
/// none, or an Expires-At instead → 409.
#[case("CREATE-CONFLICT-409", "CREATE-IDEMPOTENT-200")]
pub async fn ttl_mismatch_is_409(ctx: Ctx) -> CaseResult {
    let put = |ttl: Option<u32>| {
        let r = ctx.put("s").ct("text/plain");
        match ttl {
            Some(t) => r.ttl(t),
            None => r,
        }
    };
    put(Some(3600))
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    put(Some(3600))
        .send()
        .await?
        .expect(200, "CREATE-IDEMPOTENT-200")?;
    put(Some(7200))
        .send()
        .await?
        .expect(409, "CREATE-CONFLICT-409")?;
    put(None).send().await?.expect(409, "CREATE-CONFLICT-409")?;
    put(None)
        .expires_at(&rfc3339_in(3600))
        .send()
        .await?
        .expect(409, "CREATE-CONFLICT-409")?;
    Ok(())
}

/// Stream-Expires-At is part of the configuration: the same instant → 200,
/// another instant or none → 409.
#[case("CREATE-CONFLICT-409", "CREATE-IDEMPOTENT-200")]
pub async fn expires_at_mismatch_is_409(ctx: Ctx) -> CaseResult {
    let at = rfc3339_in(7200);
    let put = || ctx.put("s").ct("text/plain");
    put()
        .expires_at(&at)
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    put()
        .expires_at(&at)
        .send()
        .await?
        .expect(200, "CREATE-IDEMPOTENT-200")?;
    put()
        .expires_at(&rfc3339_in(9000))
        .send()
        .await?
        .expect(409, "CREATE-CONFLICT-409")?;
    put().send().await?.expect(409, "CREATE-CONFLICT-409")?;
    Ok(())
}

/// On a closed stream: PUT without Stream-Closed → 409 (closure mismatch),
/// PUT with Stream-Closed: true → 200 carrying Stream-Closed: true.
#[case("CREATE-CLOSURE-MATCH")]
pub async fn reput_closed_stream(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .body("data")
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    let tail = crate::cases::support::close(&ctx, "s", "CLOSE-ONLY-204").await?;
    ctx.put("s")
        .ct("text/plain")
        .send()
        .await?
        .expect(409, "CREATE-CLOSURE-MATCH")?;
    let r = ctx.put("s").ct("text/plain").closed().send().await?;
    r.expect(200, "CREATE-CLOSURE-MATCH")?;
    check!(
        r.closed(),
        "CREATE-CLOSURE-MATCH",
        "200 for a closed stream lacks Stream-Closed: true"
    );
    // The idempotent 200 confirms the stream, it does not re-create it: the
    // closed stream keeps its content and final offset.
    check_eq!(
        r.next_offset("CREATE-RESP-HEADERS")?,
        tail,
        "CREATE-RESP-HEADERS",
        "Stream-Next-Offset of the idempotent 200 vs the final offset"
    );
    let all = ctx.read_all("s", "-1", "CREATE-IDEMPOTENT-200").await?;
    check_eq!(
        all.text(),
        "data",
        "CREATE-IDEMPOTENT-200",
        "content of the closed stream after an idempotent PUT"
    );
    check!(
        all.closed && all.tail() == Some(tail.as_str()),
        "CREATE-IDEMPOTENT-200",
        "after the idempotent PUT the read ends at {:?} (closed: {}), not at the final offset {tail:?} (closed)",
        all.tail(),
        all.closed
    );
    Ok(())
}

/// On an open stream, PUT with Stream-Closed: true → 409 and the stream
/// stays open (an append still succeeds).
#[case("CREATE-CLOSURE-MATCH")]
pub async fn reput_closed_on_open_stream_is_409(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("text/plain")
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    ctx.put("s")
        .ct("text/plain")
        .closed()
        .send()
        .await?
        .expect(409, "CREATE-CLOSURE-MATCH")?;
    let h = ctx.head("s").send().await?;
    check!(
        !h.closed(),
        "CREATE-CLOSURE-MATCH",
        "the rejected PUT closed the stream"
    );
    append(&ctx, "s", "text/plain", "x", "CREATE-CLOSURE-MATCH").await?;
    Ok(())
}

/// SHOULD: media types compare case-insensitively, so re-creating with
/// APPLICATION/JSON matches a stream created as application/json.
#[case("CT-MEDIA-TYPE-CASE")]
pub async fn content_type_case_is_ignored(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("application/json")
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    let r = ctx.put("s").ct("APPLICATION/JSON").send().await?;
    check_eq!(
        r.status,
        200,
        "CT-MEDIA-TYPE-CASE",
        "re-create with APPLICATION/JSON"
    );
    Ok(())
}

register![
    same_config_is_200,
    content_type_mismatch_is_409,
    ttl_mismatch_is_409,
    expires_at_mismatch_is_409,
    content_type_case_is_ignored,
    reput_closed_stream,
    reput_closed_on_open_stream_is_409,
];
