//! §9.1.5 reads of JSON streams: one JSON array per response, later
//! messages only from a middle offset, `[]` for empty ranges.

use serde_json::json;

use super::{json_stream, post};
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::{check, check_eq};

/// A read answers Content-Type: application/json and one JSON array
/// holding the initial message and the appended ones.
#[case("JSON-READ-ARRAY", "CREATE-INITIAL-BODY")]
pub async fn read_is_one_json_array(ctx: Ctx) -> CaseResult {
    ctx.put("s")
        .ct("application/json")
        .body(r#"{"init": 0}"#)
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    post(&ctx, r#"{"n": 1}"#, "APPEND-204").await?;
    post(&ctx, r#"[{"n": 2}, {"n": 3}]"#, "APPEND-204").await?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "JSON-READ-ARRAY")?;
    check_eq!(
        r.media_type(),
        Some("application/json".to_string()),
        "JSON-READ-ARRAY",
        "Content-Type of the read"
    );
    let v = r.json("JSON-READ-ARRAY")?;
    check!(
        v.is_array(),
        "JSON-READ-ARRAY",
        "read body is not a JSON array: {v}"
    );
    let all = ctx.read_all("s", "-1", "JSON-READ-ARRAY").await?;
    check_eq!(
        all.messages,
        vec![
            json!({"init": 0}),
            json!({"n": 1}),
            json!({"n": 2}),
            json!({"n": 3})
        ],
        "CREATE-INITIAL-BODY",
        "messages"
    );
    Ok(())
}

/// Reading from the offset returned by an append gives exactly the
/// messages appended after it.
#[case("JSON-BOUNDARIES")]
pub async fn middle_offset_returns_later_messages(ctx: Ctx) -> CaseResult {
    json_stream(&ctx).await?;
    post(&ctx, r#"{"m": 1}"#, "APPEND-204").await?;
    let mid = post(&ctx, r#"[{"m": 2}, {"m": 3}]"#, "APPEND-204").await?;
    post(&ctx, r#"{"m": 4}"#, "APPEND-204").await?;
    post(&ctx, r#"[{"m": 5}]"#, "APPEND-204").await?;
    let rest = ctx.read_all("s", &mid, "JSON-BOUNDARIES").await?;
    check_eq!(
        rest.messages,
        vec![json!({"m": 4}), json!({"m": 5})],
        "JSON-BOUNDARIES",
        "messages after the middle offset"
    );
    Ok(())
}

/// Empty ranges are `[]`: a new stream, a read at the tail, offset=now,
/// and offset=now and a tail read once the stream is closed.
#[case("JSON-EMPTY-RANGE", "OFFSET-NOW-CATCHUP")]
pub async fn empty_ranges_are_empty_arrays(ctx: Ctx) -> CaseResult {
    json_stream(&ctx).await?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "JSON-EMPTY-RANGE")?;
    check_eq!(
        r.json("JSON-EMPTY-RANGE")?,
        json!([]),
        "JSON-EMPTY-RANGE",
        "read of an empty stream"
    );
    let tail = post(&ctx, r#"{"x": 1}"#, "APPEND-204").await?;
    let r = ctx.get("s").offset(&tail).send().await?;
    r.expect(200, "JSON-EMPTY-RANGE")?;
    check_eq!(
        r.json("JSON-EMPTY-RANGE")?,
        json!([]),
        "JSON-EMPTY-RANGE",
        "read at the tail"
    );
    let r = ctx.get("s").offset("now").send().await?;
    r.expect(200, "OFFSET-NOW-CATCHUP")?;
    check_eq!(
        r.json("OFFSET-NOW-CATCHUP")?,
        json!([]),
        "OFFSET-NOW-CATCHUP",
        "offset=now read"
    );
    let end = crate::cases::support::close(&ctx, "s", "CLOSE-ONLY-204").await?;
    for (offset, what) in [
        ("now", "offset=now read of the closed stream"),
        (end.as_str(), "read at the closed tail"),
    ] {
        let r = ctx.get("s").offset(offset).send().await?;
        r.expect(200, "JSON-EMPTY-RANGE")?;
        check_eq!(
            r.json("JSON-EMPTY-RANGE")?,
            json!([]),
            "JSON-EMPTY-RANGE",
            "{what}"
        );
    }
    Ok(())
}

/// A stream created as `application/json; charset=utf-8` is in JSON mode:
/// arrays are flattened and reads return one JSON array.
#[case("JSON-MODE-PARAMS")]
pub async fn charset_parameter_keeps_json_mode(ctx: Ctx) -> CaseResult {
    let ct = "application/json; charset=utf-8";
    ctx.put("s")
        .ct(ct)
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    for body in [r#"{"m": "héllo"}"#, r#"[1, 2]"#] {
        ctx.post("s")
            .ct(ct)
            .body(body)
            .send()
            .await?
            .expect(204, "APPEND-204")?;
    }
    let all = ctx.read_all("s", "-1", "JSON-MODE-PARAMS").await?;
    check_eq!(
        all.messages,
        vec![json!({"m": "héllo"}), json!(1), json!(2)],
        "JSON-MODE-PARAMS",
        "messages of a JSON stream with a charset parameter"
    );
    Ok(())
}

register![
    read_is_one_json_array,
    middle_offset_returns_later_messages,
    empty_ranges_are_empty_arrays,
    charset_parameter_keeps_json_mode,
];
