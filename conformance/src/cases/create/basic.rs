//! §5.1: creating a new stream, initial content and response headers.

use crate::case::{case, register, CaseResult};
use crate::cases::support::binary_payload;
use crate::client::Ctx;
use crate::{check, check_eq};

/// A PUT on a fresh URL creates the stream: 201 with a tail offset that
/// reads back as an empty, up-to-date stream.
#[case("CREATE-NEW-201")]
pub async fn new_stream_is_201(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct("text/plain").send().await?;
    r.expect(201, "CREATE-NEW-201")?;
    let tail = r.next_offset("CREATE-NEW-201")?;
    let all = ctx.read_all("s", "-1", "CREATE-NEW-201").await?;
    check!(
        all.bytes.is_empty(),
        "CREATE-NEW-201",
        "new stream is not empty: {:?}",
        all.text()
    );
    check!(
        all.tail() == Some(tail.as_str()),
        "CREATE-NEW-201",
        "read tail {:?} differs from the create's Stream-Next-Offset {tail:?}",
        all.tail()
    );
    Ok(())
}

/// A PUT body becomes the stream's first bytes, byte-exact (binary, NUL,
/// CR/LF), and the 201's Stream-Next-Offset is the tail after it.
#[case("CREATE-INITIAL-BODY", "CREATE-NEW-201")]
pub async fn initial_body_is_first_content(ctx: Ctx) -> CaseResult {
    let mut body = b"first\r\n\0line\n".to_vec();
    body.extend(binary_payload(3000, 7));
    let r = ctx
        .put("s")
        .ct("application/octet-stream")
        .body(body.clone())
        .send()
        .await?;
    r.expect(201, "CREATE-NEW-201")?;
    let tail = r.next_offset("CREATE-NEW-201")?;
    let all = ctx.read_all("s", "-1", "CREATE-INITIAL-BODY").await?;
    check!(
        all.bytes == body,
        "CREATE-INITIAL-BODY",
        "stream content differs from the PUT body ({} bytes read, {} sent)",
        all.bytes.len(),
        body.len()
    );
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "CREATE-NEW-201",
        "read tail vs the 201's Stream-Next-Offset"
    );
    Ok(())
}

/// 201 carries the stream's Content-Type and a Stream-Next-Offset.
#[case("CREATE-RESP-HEADERS")]
pub async fn response_headers(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct("text/plain").body("x").send().await?;
    r.expect(201, "CREATE-NEW-201")?;
    check_eq!(
        r.media_type(),
        Some("text/plain".to_string()),
        "CREATE-RESP-HEADERS",
        "Content-Type of the 201"
    );
    let tail = r.next_offset("CREATE-RESP-HEADERS")?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.next_offset("HEAD-200")?,
        tail,
        "CREATE-RESP-HEADERS",
        "HEAD tail vs the 201's Stream-Next-Offset"
    );
    Ok(())
}

/// SHOULD: a 201 names the stream's URL in Location (absolute, possibly
/// with another host spelling behind a proxy, or the path when relative).
#[case("CREATE-LOCATION")]
pub async fn location_on_201(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct("text/plain").send().await?;
    r.expect(201, "CREATE-NEW-201")?;
    let loc = r.require("location", "CREATE-LOCATION")?;
    let path = reqwest::Url::parse(&loc).map(|u| u.path().to_string());
    check!(
        loc == ctx.url("s")
            || loc == ctx.path("s")
            || path.as_deref() == Ok(ctx.path("s").as_str()),
        "CREATE-LOCATION",
        "Location {loc:?} is not the stream URL {:?}",
        ctx.url("s")
    );
    Ok(())
}

/// MAY: a PUT without Content-Type defaults to application/octet-stream
/// (a server that requires the header and answers 400 is also accepted).
#[case("CREATE-DEFAULT-CT")]
pub async fn default_content_type(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").send().await?;
    if r.status == 400 {
        ctx.note("server requires Content-Type on create (400): allowed");
        return Ok(());
    }
    r.expect(201, "CREATE-NEW-201")?;
    let h = ctx.head("s").send().await?;
    h.expect(200, "HEAD-200")?;
    check_eq!(
        h.media_type(),
        Some("application/octet-stream".to_string()),
        "CREATE-DEFAULT-CT",
        "content type of a stream created without Content-Type"
    );
    Ok(())
}

register![
    new_stream_is_201,
    initial_body_is_first_content,
    response_headers,
    location_on_201,
    default_content_type,
];
