//! §4.2 `Stream-Fork-Sub-Offset`, §8 "Sub-offset addressing": the decision
//! table over content kind (bytes: decoded body bytes; JSON: flattened
//! messages) × anchor (first offset, mid-stream, tail, defaulted) × value
//! (inside the next append, exactly at its end, past it, past the tail).

use serde_json::json;

use super::util::{
    answers, append, deleted_outright, reads, rejected_cleanly, same_bytes, source, target_absent,
    Src,
};
use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::binary_payload;
use crate::check_eq;
use crate::client::{Ctx, Req};

/// Fork `name` of `src` at (`offset`, `sub`).
fn sub_fork(ctx: &Ctx, name: &str, src: &str, offset: &str, sub: u64) -> Req {
    ctx.put(name)
        .fork_of(src)
        .fork_offset(offset)
        .fork_sub_offset(sub)
}

/// Text source `s` with the appends "first|", "second|", "third".
async fn first_second_third(ctx: &Ctx) -> Result<Src, Failure> {
    let parts: [&[u8]; 3] = [b"first|", b"second|", b"third"];
    source(ctx, "s", "text/plain", &parts, "FORK-CREATE").await
}

/// Binary source: the sub-offset counts bytes of the append at the anchor;
/// the fork inherits exactly that prefix and appends after it.
#[case("FORK-SUB-BYTES")]
pub async fn bytes_inside_append(ctx: Ctx) -> CaseResult {
    let body = binary_payload(10, 7);
    let s = source(
        &ctx,
        "s",
        "application/octet-stream",
        &[&body, b"tail"],
        "FORK-CREATE",
    )
    .await?;
    let r = answers(
        sub_fork(&ctx, "f", "s", &s.offsets[0], 4),
        201,
        "FORK-SUB-BYTES",
        "fork at (first offset, 4 bytes)",
    )
    .await?;
    let tail = r.next_offset("FORK-SUB-BYTES")?;
    reads(
        &ctx,
        "f",
        "-1",
        &body[..4],
        "FORK-SUB-BYTES",
        "fork at sub-offset 4 bytes",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &tail,
        b"",
        "FORK-SUB-BYTES",
        "fork read from the Stream-Next-Offset its PUT returned",
    )
    .await?;
    append(
        &ctx,
        "f",
        "application/octet-stream",
        b"XY",
        "FORK-INDEPENDENT",
    )
    .await?;
    let mut want = body[..4].to_vec();
    want.extend_from_slice(b"XY");
    reads(
        &ctx,
        "f",
        "-1",
        &want,
        "FORK-SUB-BYTES",
        "fork after its own append",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &tail,
        b"XY",
        "FORK-SUB-BYTES",
        "fork read from its creation tail",
    )
    .await?;
    reads(
        &ctx,
        "s",
        "-1",
        &s.between(0, 2),
        "FORK-INDEPENDENT",
        "source after forking inside its append",
    )
    .await?;
    Ok(())
}

/// Text source: the unit is bytes, not characters ("hé" is 3 bytes).
#[case("FORK-SUB-BYTES")]
pub async fn bytes_not_characters(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        "text/plain",
        &["héllo wörld".as_bytes()],
        "FORK-CREATE",
    )
    .await?;
    answers(
        sub_fork(&ctx, "f", "s", &s.offsets[0], 3),
        201,
        "FORK-SUB-BYTES",
        "fork at (first offset, 3 bytes)",
    )
    .await?;
    reads(
        &ctx,
        "f",
        "-1",
        "hé".as_bytes(),
        "FORK-SUB-BYTES",
        "text fork at sub-offset 3 (bytes, so \"hé\", not \"hél\")",
    )
    .await?;
    Ok(())
}

/// Anchor in mid-stream: inherit everything before it plus the sub-offset.
#[case("FORK-SUB-BYTES", "FORK-OFFSETS-SHARED")]
pub async fn bytes_mid_stream_anchor(ctx: Ctx) -> CaseResult {
    let s = first_second_third(&ctx).await?;
    answers(
        sub_fork(&ctx, "f", "s", &s.offsets[1], 3),
        201,
        "FORK-SUB-BYTES",
        "fork at (offset after \"first|\", 3 bytes)",
    )
    .await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"first|sec",
        "FORK-SUB-BYTES",
        "fork at mid-stream anchor + 3 bytes",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &s.offsets[1],
        b"sec",
        "FORK-OFFSETS-SHARED",
        "fork read from its anchor (a source offset)",
    )
    .await?;
    Ok(())
}

/// A sub-offset exactly at the end of the append at the anchor is not past
/// the boundary: accepted, same data as forking at the next offset.
#[case("FORK-SUB-AT-BOUNDARY")]
pub async fn bytes_at_boundary_is_accepted(ctx: Ctx) -> CaseResult {
    let s = first_second_third(&ctx).await?;
    answers(
        sub_fork(&ctx, "f", "s", &s.offsets[1], 7),
        201,
        "FORK-SUB-AT-BOUNDARY",
        "fork at (offset after \"first|\", 7 = length of \"second|\")",
    )
    .await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"first|second|",
        "FORK-SUB-AT-BOUNDARY",
        "fork at the append's end via sub-offset",
    )
    .await?;
    Ok(())
}

/// One byte past the end of the append at the anchor is past the next data
/// boundary: 400 (even though the source has more data), no side effect.
#[case("FORK-SUB-OVERSHOOT-400", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn bytes_past_boundary_is_400(ctx: Ctx) -> CaseResult {
    let s = first_second_third(&ctx).await?;
    answers(
        sub_fork(&ctx, "f", "s", &s.offsets[1], 8),
        400,
        "FORK-SUB-OVERSHOOT-400",
        "fork at (offset after \"first|\", 8 > length of \"second|\")",
    )
    .await?;
    rejected_cleanly(&ctx, "s", "f", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// Past the tail: explicit tail anchor, defaulted anchor, empty source.
/// Sub-offset 0 at the tail is fine.
#[case(
    "FORK-SUB-OVERSHOOT-400",
    "FORK-SUB-ZERO-EQUIV",
    "FORK-REJECT-NO-SIDE-EFFECT"
)]
pub async fn past_tail_is_400(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"data"], "FORK-CREATE").await?;
    answers(
        sub_fork(&ctx, "f", "s", s.tail(), 1),
        400,
        "FORK-SUB-OVERSHOOT-400",
        "fork at (tail, 1)",
    )
    .await?;
    answers(
        ctx.put("f").fork_of("s").fork_sub_offset(1),
        400,
        "FORK-SUB-OVERSHOOT-400",
        "fork at (default offset = tail, 1)",
    )
    .await?;
    source(&ctx, "e", "text/plain", &[], "FORK-CREATE").await?;
    answers(
        ctx.put("g").fork_of("e").fork_sub_offset(1),
        400,
        "FORK-SUB-OVERSHOOT-400",
        "fork of an empty source at sub-offset 1",
    )
    .await?;
    rejected_cleanly(&ctx, "s", "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    rejected_cleanly(&ctx, "e", "g", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    // Sub-offset 0 with a defaulted anchor is a plain fork at the tail.
    source(&ctx, "s2", "text/plain", &[b"data"], "FORK-CREATE").await?;
    answers(
        ctx.put("h").fork_of("s2").fork_sub_offset(0),
        201,
        "FORK-SUB-ZERO-EQUIV",
        "fork at (default offset, 0)",
    )
    .await?;
    reads(
        &ctx,
        "h",
        "-1",
        b"data",
        "FORK-SUB-ZERO-EQUIV",
        "fork at sub-offset 0",
    )
    .await?;
    Ok(())
}

fn msgs(r: &crate::client::ReadAll) -> Vec<serde_json::Value> {
    r.messages.clone()
}

/// JSON source: the sub-offset counts flattened messages of the batch at
/// the anchor; reads of the fork are one array of the inherited prefix and
/// the fork's own messages.
#[case("FORK-SUB-JSON", "FORK-JSON-ONE-ARRAY")]
pub async fn json_inside_batch(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        "application/json",
        &[
            br#"{"i":0}"#,
            br#"[{"i":1},{"i":2},{"i":3}]"#,
            br#"{"i":4}"#,
        ],
        "FORK-CREATE",
    )
    .await?;
    answers(
        sub_fork(&ctx, "f", "s", &s.offsets[1], 2),
        201,
        "FORK-SUB-JSON",
        "JSON fork at (offset after {\"i\":0}, 2 messages)",
    )
    .await?;
    let all = ctx.read_all("f", "-1", "FORK-SUB-JSON").await?;
    check_eq!(
        msgs(&all),
        vec![json!({"i":0}), json!({"i":1}), json!({"i":2})],
        "FORK-SUB-JSON",
        "JSON fork at sub-offset 2 messages"
    );
    append(
        &ctx,
        "f",
        "application/json",
        br#"{"own":true}"#,
        "FORK-INDEPENDENT",
    )
    .await?;
    let all = ctx.read_all("f", "-1", "FORK-JSON-ONE-ARRAY").await?;
    check_eq!(
        msgs(&all),
        vec![
            json!({"i":0}),
            json!({"i":1}),
            json!({"i":2}),
            json!({"own":true})
        ],
        "FORK-SUB-JSON",
        "JSON fork after its own append"
    );
    Ok(())
}

/// JSON: exactly the batch's message count is accepted; one more is past
/// the next boundary (400) even though the source has more messages.
#[case("FORK-SUB-AT-BOUNDARY", "FORK-SUB-OVERSHOOT-400")]
pub async fn json_boundary_and_past(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        "application/json",
        &[br#"[{"i":1},{"i":2},{"i":3}]"#, br#"{"i":4}"#],
        "FORK-CREATE",
    )
    .await?;
    answers(
        sub_fork(&ctx, "f", "s", &s.offsets[0], 3),
        201,
        "FORK-SUB-AT-BOUNDARY",
        "JSON fork at (first offset, 3 = the batch's message count)",
    )
    .await?;
    let all = ctx.read_all("f", "-1", "FORK-SUB-JSON").await?;
    check_eq!(
        msgs(&all),
        vec![json!({"i":1}), json!({"i":2}), json!({"i":3})],
        "FORK-SUB-AT-BOUNDARY",
        "JSON fork at the batch's end"
    );
    answers(
        sub_fork(&ctx, "g", "s", &s.offsets[0], 4),
        400,
        "FORK-SUB-OVERSHOOT-400",
        "JSON fork at (first offset, 4 > the batch's 3 messages)",
    )
    .await?;
    target_absent(&ctx, "g", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    answers(
        ctx.delete("f"),
        204,
        "FORK-INDEPENDENT",
        "DELETE of the accepted fork",
    )
    .await?;
    deleted_outright(&ctx, "s", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// Sub-offsets compose through a chain: a fork of a sub-offset fork, taken
/// at an inherited anchor with a smaller sub-offset, sees that prefix.
#[case("FORK-SUB-BYTES", "FORK-CHAIN")]
pub async fn chained_sub_offsets(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"abcdef"], "FORK-CREATE").await?;
    answers(
        sub_fork(&ctx, "f1", "s", &s.offsets[0], 4),
        201,
        "FORK-SUB-BYTES",
        "fork f1 at (first offset, 4)",
    )
    .await?;
    append(&ctx, "f1", "text/plain", b"XY", "FORK-INDEPENDENT").await?;
    answers(
        sub_fork(&ctx, "f2", "f1", &s.offsets[0], 2),
        201,
        "FORK-CHAIN",
        "fork f2 of f1 at (first offset, 2)",
    )
    .await?;
    let all = ctx.read_all("f2", "-1", "FORK-CHAIN").await?;
    same_bytes(
        &all.bytes,
        b"ab",
        "FORK-CHAIN",
        "fork of a sub-offset fork at (first offset, 2)",
    )?;
    reads(
        &ctx,
        "f1",
        "-1",
        b"abcdXY",
        "FORK-SUB-BYTES",
        "f1 after f2 was forked from it",
    )
    .await?;
    Ok(())
}

/// JSON sub-offsets count messages, not commas: inside a batch whose
/// messages themselves contain commas (objects with several keys, arrays,
/// strings with ","), sub-offset 1 inherits exactly the first message and
/// the fork reads back as valid JSON.
#[case("FORK-SUB-JSON")]
pub async fn json_messages_with_commas(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        "application/json",
        &[br#"[{"a":1,"b":[2,3]},"x,y",[4,5]]"#],
        "FORK-CREATE",
    )
    .await?;
    for (sub, want) in [
        (1, vec![json!({"a":1,"b":[2,3]})]),
        (2, vec![json!({"a":1,"b":[2,3]}), json!("x,y")]),
    ] {
        let name = format!("f{sub}");
        answers(
            sub_fork(&ctx, &name, "s", &s.offsets[0], sub),
            201,
            "FORK-SUB-JSON",
            "JSON fork inside a batch of comma-bearing messages",
        )
        .await?;
        let all = ctx.read_all(&name, "-1", "FORK-SUB-JSON").await?;
        check_eq!(
            msgs(&all),
            want,
            "FORK-SUB-JSON",
            "JSON fork at sub-offset {sub}"
        );
    }
    Ok(())
}

register![
    bytes_inside_append,
    bytes_not_characters,
    bytes_mid_stream_anchor,
    bytes_at_boundary_is_accepted,
    bytes_past_boundary_is_400,
    past_tail_is_400,
    json_inside_batch,
    json_messages_with_commas,
    json_boundary_and_past,
    chained_sub_offsets,
];
