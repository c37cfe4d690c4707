//! §9.1.1–9.1.2: a POSTed array is flattened exactly one level; every
//! message keeps its boundaries.

use serde_json::{json, Value};

use super::{json_stream, post};
use crate::case::{case, register, CaseResult};
use crate::check_eq;
use crate::client::Ctx;

/// Post each body in turn, then compare all messages read from -1.
async fn posts_store(ctx: &Ctx, bodies: &[&str], expected: Vec<Value>, req: &str) -> CaseResult {
    json_stream(ctx).await?;
    for b in bodies {
        post(ctx, b, req).await?;
    }
    let all = ctx.read_all("s", "-1", req).await?;
    check_eq!(
        all.messages,
        expected,
        req,
        "messages read back after POSTs {bodies:?}"
    );
    Ok(())
}

/// The four examples of §9.1.2, in one stream.
#[case("JSON-FLATTEN")]
pub async fn spec_examples(ctx: Ctx) -> CaseResult {
    let bodies = [
        r#"{"event": "created"}"#,
        r#"[{"event": "a"}, {"event": "b"}]"#,
        "[[1,2], [3,4]]",
        "[[[1,2,3]]]",
    ];
    let expected = vec![
        json!({"event": "created"}),
        json!({"event": "a"}),
        json!({"event": "b"}),
        json!([1, 2]),
        json!([3, 4]),
        json!([[1, 2, 3]]),
    ];
    posts_store(&ctx, &bodies, expected, "JSON-FLATTEN").await
}

/// Scalars are single messages; arrays mixing scalars, objects and empty
/// arrays flatten to their elements (an inner `[]` is a message); an array
/// behind leading JSON whitespace is still an array and is flattened.
#[case("JSON-FLATTEN")]
pub async fn scalars_and_nested(ctx: Ctx) -> CaseResult {
    let bodies = [
        "42",
        r#""text""#,
        "null",
        r#"[1, "two", {"three": [3]}, [], null]"#,
        "[[]]",
        " \n\t[\"ws\", 5]\r\n",
    ];
    let expected = vec![
        json!(42),
        json!("text"),
        json!(null),
        json!(1),
        json!("two"),
        json!({"three": [3]}),
        json!([]),
        json!(null),
        json!([]),
        json!("ws"),
        json!(5),
    ];
    posts_store(&ctx, &bodies, expected, "JSON-FLATTEN").await
}

/// Messages whose strings contain JSON punctuation and newlines stay
/// separate, whole messages.
#[case("JSON-BOUNDARIES")]
pub async fn boundaries_kept(ctx: Ctx) -> CaseResult {
    let bodies = [
        r#"{"s": "],[", "n": 1}"#,
        r#"{"s": "a\nb}{", "n": 2}"#,
        r#"["x,y", "]"]"#,
    ];
    let expected = vec![
        json!({"s": "],[", "n": 1}),
        json!({"s": "a\nb}{", "n": 2}),
        json!("x,y"),
        json!("]"),
    ];
    posts_store(&ctx, &bodies, expected, "JSON-BOUNDARIES").await
}

/// §9.1.3: a PUT array is the stream's initial messages, flattened one
/// level like a POST (an empty one means none), so `[{"a":1},[2]]` creates
/// two messages, not one array-valued message.
#[case("JSON-PUT-ARRAY-MESSAGES")]
pub async fn put_array_is_initial_messages(ctx: Ctx) -> CaseResult {
    const REQ: &str = "JSON-PUT-ARRAY-MESSAGES";
    let r = ctx
        .put("s")
        .ct("application/json")
        .body(r#"[{"a":1},[2]]"#)
        .send()
        .await?;
    r.expect(201, "CREATE-NEW-201")?;
    post(&ctx, r#"{"b":3}"#, REQ).await?;
    let all = ctx.read_all("s", "-1", REQ).await?;
    check_eq!(
        all.messages,
        vec![json!({"a": 1}), json!([2]), json!({"b": 3})],
        REQ,
        "messages after PUT [{{\"a\":1}},[2]] and POST {{\"b\":3}}"
    );
    Ok(())
}

register![
    spec_examples,
    scalars_and_nested,
    boundaries_kept,
    put_array_is_initial_messages,
];
