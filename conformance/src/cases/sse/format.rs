//! §5.8 response format: Content-Type, which content types are sent as
//! UTF-8 text and which as base64, JSON arrays, and request errors.

use super::{catch_up, decode_events, json_events_match, json_messages, Encoding};
use crate::case::{case, register, CaseResult};
use crate::cases::support::create_with;
use crate::client::Ctx;
use crate::{check, check_eq};

/// An SSE response is `Content-Type: text/event-stream`.
#[case("SSE-CONTENT-TYPE")]
pub async fn content_type_is_event_stream(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "hi", "SSE-CONTENT-TYPE").await?;
    let s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-CONTENT-TYPE")?;
    let ct = s.header("content-type").unwrap_or_default();
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    check_eq!(
        media,
        "text/event-stream",
        "SSE-CONTENT-TYPE",
        "Content-Type of the SSE response ({ct:?})"
    );
    Ok(())
}

/// `text/*` and `application/json` streams are sent as text: no
/// `stream-sse-data-encoding` header, the data readable as is.
#[case("SSE-TEXT-UTF8")]
pub async fn text_types_are_not_base64(ctx: Ctx) -> CaseResult {
    let cases = [
        ("t1", "text/plain", "plain text"),
        ("t2", "text/csv; charset=utf-8", "a,b\n1,2"),
        ("t3", "text/markdown", "# title"),
        ("t4", "application/json", r#"{"k":"v"}"#),
    ];
    for (name, ct, body) in cases {
        create_with(&ctx, name, ct, body, "SSE-TEXT-UTF8").await?;
        let mut s = ctx.get(name).offset("-1").live("sse").sse().await?;
        s.expect(200, "SSE-TEXT-UTF8")?;
        check!(
            s.header("stream-sse-data-encoding").is_none(),
            "SSE-TEXT-UTF8",
            "a {ct} stream's SSE response says stream-sse-data-encoding: {:?}",
            s.header("stream-sse-data-encoding")
        );
        catch_up(&mut s, "SSE-TEXT-UTF8").await?;
        if ct == "application/json" {
            let msgs = json_messages(&s.events)?;
            check_eq!(
                msgs,
                vec![serde_json::json!({"k": "v"})],
                "SSE-TEXT-UTF8",
                "messages of the {ct} stream"
            );
        } else {
            let got = decode_events(&s.events, Encoding::Text)?;
            check_eq!(
                String::from_utf8_lossy(&got),
                body,
                "SSE-TEXT-UTF8",
                "text of the {ct} stream"
            );
        }
    }
    Ok(())
}

/// Any other content type (including `application/ndjson` and
/// `application/x-protobuf`) gets `stream-sse-data-encoding: base64` and
/// valid base64 data.
#[case("SSE-BASE64-HEADER", "SSE-BASE64-VALID")]
pub async fn other_types_are_base64(ctx: Ctx) -> CaseResult {
    let cases = [
        ("b1", "application/octet-stream"),
        ("b2", "application/ndjson"),
        ("b3", "application/x-protobuf"),
        ("b4", "image/png"),
    ];
    let body = b"{\"n\":1}\n\x00\xff\xfe";
    for (name, ct) in cases {
        create_with(&ctx, name, ct, body.to_vec(), "SSE-BASE64-HEADER").await?;
        let mut s = ctx.get(name).offset("-1").live("sse").sse().await?;
        s.expect(200, "SSE-BASE64-HEADER")?;
        let enc = s.header("stream-sse-data-encoding");
        check!(
            enc.as_deref()
                .map(|v| v.trim().eq_ignore_ascii_case("base64"))
                == Some(true),
            "SSE-BASE64-HEADER",
            "a {ct} stream's SSE response has stream-sse-data-encoding: {enc:?}, expected base64"
        );
        catch_up(&mut s, "SSE-BASE64-VALID").await?;
        let got = decode_events(&s.events, Encoding::Base64)?;
        check!(
            got == body,
            "SSE-BINARY-EXACT",
            "{ct} stream: base64 data decodes to {got:?}, expected {body:?}"
        );
    }
    Ok(())
}

/// JSON streams: the data events hold the stream's messages in order
/// (POSTed batches flattened one level, §9.1), each event either a JSON
/// array batching messages or one message (§5.8: batching is a MAY; the
/// array-valued message `[3,4]` may arrive either way).
#[case("SSE-JSON-ARRAY")]
pub async fn json_data_is_array(ctx: Ctx) -> CaseResult {
    let ct = "application/json";
    create_with(&ctx, "s", ct, r#"{"a":1}"#, "SSE-JSON-ARRAY").await?;
    crate::cases::support::append(&ctx, "s", ct, r#"[{"b":2},[3,4],"five"]"#, "SSE-JSON-ARRAY")
        .await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-JSON-ARRAY")?;
    catch_up(&mut s, "SSE-JSON-ARRAY").await?;
    let expected = serde_json::json!([{"a":1},{"b":2},[3,4],"five"]);
    let serde_json::Value::Array(expected) = expected else {
        unreachable!("an array literal")
    };
    check!(
        json_events_match(&s.events, &expected)?,
        "SSE-JSON-ARRAY",
        "the data events {:?} do not carry the messages {expected:?} (as batches or one per event)",
        s.data_events()
    );
    Ok(())
}

/// `live=sse` without `offset` is 400.
#[case("SSE-OFFSET-REQUIRED")]
pub async fn missing_offset_is_400(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "abc", "SSE-OFFSET-REQUIRED").await?;
    let s = ctx.get("s").live("sse").sse().await?;
    s.expect(400, "SSE-OFFSET-REQUIRED")
}

/// SSE on a stream that does not exist is 404 (from `-1` and `now`).
#[case("SSE-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    for offset in ["-1", "now"] {
        let s = ctx
            .get("never-created")
            .offset(offset)
            .live("sse")
            .sse()
            .await?;
        s.expect(404, "SSE-404")?;
    }
    Ok(())
}

register![
    content_type_is_event_stream,
    text_types_are_not_base64,
    other_types_are_base64,
    json_data_is_array,
    missing_offset_is_400,
    missing_stream_is_404,
];
