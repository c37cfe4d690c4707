//! §9.1.3–9.1.4: empty arrays and invalid JSON; a rejected write stores
//! nothing.

use serde_json::json;

use super::{json_stream, post};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::{Ctx, Req, Resp};
use crate::{check, check_eq};

/// Send `q` with an application/json body.
async fn send_json(q: Req, body: impl Into<Vec<u8>>) -> Result<Resp, Failure> {
    q.ct("application/json").body(body).send().await
}

/// POST `[]` is 400 and stores nothing.
#[case("JSON-EMPTY-ARRAY-POST-400")]
pub async fn empty_array_post_is_400(ctx: Ctx) -> CaseResult {
    json_stream(&ctx).await?;
    post(&ctx, r#"{"before": true}"#, "APPEND-204").await?;
    for body in ["[]", "[ ]", " [\n] "] {
        let r = send_json(ctx.post("s"), body).await?;
        r.expect(400, "JSON-EMPTY-ARRAY-POST-400")?;
    }
    let all = ctx.read_all("s", "-1", "JSON-EMPTY-ARRAY-POST-400").await?;
    check_eq!(
        all.messages,
        vec![json!({"before": true})],
        "JSON-EMPTY-ARRAY-POST-400",
        "messages after rejected []"
    );
    Ok(())
}

/// PUT with body `[]` creates an empty stream that accepts appends.
#[case("JSON-EMPTY-ARRAY-PUT")]
pub async fn empty_array_put_creates_empty_stream(ctx: Ctx) -> CaseResult {
    let r = send_json(ctx.put("s"), "[]").await?;
    r.expect(201, "JSON-EMPTY-ARRAY-PUT")?;
    let all = ctx.read_all("s", "-1", "JSON-EMPTY-ARRAY-PUT").await?;
    check!(
        all.messages.is_empty(),
        "JSON-EMPTY-ARRAY-PUT",
        "stream created with [] holds messages: {:?}",
        all.messages
    );
    post(&ctx, "{\"a\":1}", "JSON-EMPTY-ARRAY-PUT").await?;
    let all = ctx.read_all("s", "-1", "JSON-EMPTY-ARRAY-PUT").await?;
    check_eq!(
        all.messages,
        vec![json!({"a": 1})],
        "JSON-EMPTY-ARRAY-PUT",
        "messages after one append"
    );
    Ok(())
}

const INVALID: [&str; 7] = [
    r#"{"a":"#,
    "not json",
    "[1,]",
    r#"{"a":1}{"b":2}"#,
    "[1] x",
    "{'a': 1}",
    "\u{0}",
];

/// Invalid JSON on POST is 400 and stores nothing.
#[case("JSON-INVALID-400")]
pub async fn invalid_post_is_400(ctx: Ctx) -> CaseResult {
    json_stream(&ctx).await?;
    post(&ctx, "1", "APPEND-204").await?;
    for body in INVALID {
        let r = send_json(ctx.post("s"), body).await?;
        check_eq!(
            r.status,
            400,
            "JSON-INVALID-400",
            "status of a POST with invalid JSON {body:?}"
        );
    }
    let all = ctx.read_all("s", "-1", "JSON-INVALID-400").await?;
    check_eq!(
        all.messages,
        vec![json!(1)],
        "JSON-INVALID-400",
        "messages after rejected POSTs"
    );
    Ok(())
}

/// Invalid JSON as a PUT's initial body is 400 and creates no stream.
#[case("JSON-INVALID-400")]
pub async fn invalid_put_is_400(ctx: Ctx) -> CaseResult {
    for (i, body) in INVALID.iter().enumerate() {
        let name = format!("s{i}");
        let r = send_json(ctx.put(&name), *body).await?;
        check_eq!(
            r.status,
            400,
            "JSON-INVALID-400",
            "status of a PUT with invalid JSON {body:?}"
        );
        check_eq!(
            ctx.head(&name).send().await?.status,
            404,
            "JSON-INVALID-400",
            "HEAD after the rejected PUT {body:?}"
        );
    }
    Ok(())
}

/// JSON text must be UTF-8 (RFC 8259 §8.1): a string holding invalid
/// UTF-8 bytes is invalid JSON → 400, and nothing is stored.
#[case("JSON-INVALID-400")]
pub async fn non_utf8_is_400(ctx: Ctx) -> CaseResult {
    json_stream(&ctx).await?;
    for body in [&b"\"\xff\xfe\""[..], &b"{\"k\": \"\xc3\x28\"}"[..]] {
        let r = send_json(ctx.post("s"), body.to_vec()).await?;
        check_eq!(
            r.status,
            400,
            "JSON-INVALID-400",
            "status of a POST with invalid UTF-8 inside a JSON string"
        );
    }
    let all = ctx.read_all("s", "-1", "JSON-INVALID-400").await?;
    check!(
        all.messages.is_empty(),
        "JSON-INVALID-400",
        "messages stored from rejected POSTs: {:?}",
        all.messages
    );
    Ok(())
}

register![
    empty_array_post_is_400,
    empty_array_put_creates_empty_stream,
    invalid_post_is_400,
    non_utf8_is_400,
    invalid_put_is_400,
];
