//! §4.2 "Fork creation errors" and §5.1: every row of the fork-error table,
//! fork headers without a source — and after each rejection, no side
//! effect: the target does not exist and the source took no reference
//! (it still deletes outright: 204 then 404, never 410).

use super::util::{
    answers, append, delete_204, deleted_outright, fork, gone_within, reads, rejected_cleanly,
    same_bytes, source, target_absent, CLEANUP_DEADLINE,
};
use crate::case::{case, register, CaseResult};
use crate::check;
use crate::client::Ctx;

/// A source path that never existed: 404, and nothing is created.
#[case("FORK-SOURCE-MISSING-404", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn source_missing_is_404(ctx: Ctx) -> CaseResult {
    answers(
        ctx.put("f").ct("text/plain").fork_of("never-created"),
        404,
        "FORK-SOURCE-MISSING-404",
        "fork of a path that never held a stream",
    )
    .await?;
    target_absent(&ctx, "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    // Content type omitted too: nothing to inherit from, still 404.
    answers(
        ctx.put("g").fork_of("never-created"),
        404,
        "FORK-SOURCE-MISSING-404",
        "fork (no Content-Type) of a missing source",
    )
    .await?;
    Ok(())
}

/// A source that was deleted (it had no forks, so it is gone): 404.
#[case("FORK-SOURCE-MISSING-404", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn source_deleted_is_404(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    delete_204(
        &ctx,
        "s",
        "FORK-SOURCE-MISSING-404",
        "DELETE of the source (no forks)",
    )
    .await?;
    answers(
        ctx.put("f").fork_of("s"),
        404,
        "FORK-SOURCE-MISSING-404",
        "fork of a deleted source",
    )
    .await?;
    target_absent(&ctx, "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    Ok(())
}

/// A fork naming its own (not yet existing) path as source: 404.
#[case("FORK-SOURCE-MISSING-404", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn self_as_source_is_404(ctx: Ctx) -> CaseResult {
    answers(
        ctx.put("f").ct("text/plain").fork_of("f"),
        404,
        "FORK-SOURCE-MISSING-404",
        "fork whose source is its own, non-existent path",
    )
    .await?;
    target_absent(&ctx, "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    Ok(())
}

/// An offset beyond the source's tail: 400. Format-free: forks share their
/// source's offset space (§8), so an offset the server minted for a fork's
/// own append lies past the (unchanged) source tail.
#[case("FORK-OFFSET-BEYOND-400", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn offset_beyond_tail_is_400(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let beyond = append(
        &ctx,
        "f",
        "text/plain",
        b"past the source tail",
        "FORK-INDEPENDENT",
    )
    .await?;
    answers(
        ctx.put("g")
            .ct("text/plain")
            .fork_of("s")
            .fork_offset(&beyond),
        400,
        "FORK-OFFSET-BEYOND-400",
        "fork of s at an offset past s's tail (minted by an append to s's fork)",
    )
    .await?;
    target_absent(&ctx, "g", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    // The legitimate fork goes first; then s must delete outright.
    delete_204(
        &ctx,
        "f",
        "FORK-INDEPENDENT",
        "DELETE of the legitimate fork",
    )
    .await?;
    deleted_outright(&ctx, "s", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// Fork offsets that no server can have minted (§8 forbids `, & = ? /` in
/// offsets) are malformed: 400 each, with no side effect.
#[case(
    "FORK-OFFSET-MALFORMED-400",
    "FORK-REJECT-NO-SIDE-EFFECT",
    "FORK-OFFSET-EXCLUSIVE"
)]
pub async fn offset_malformed_is_400(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    for bad in ["a/b", "1,2", "x?y", "k=v", "p&q"] {
        answers(
            ctx.put("f").ct("text/plain").fork_of("s").fork_offset(bad),
            400,
            "FORK-OFFSET-MALFORMED-400",
            &format!("fork with Stream-Fork-Offset {bad:?}"),
        )
        .await?;
    }
    rejected_cleanly(&ctx, "s", "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    // Control: the same request with a minted offset is accepted, so the
    // 400s above were for the values, not for Stream-Fork-Offset itself.
    let c = source(&ctx, "c", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    answers(
        ctx.put("g")
            .ct("text/plain")
            .fork_of("c")
            .fork_offset(&c.offsets[1]),
        201,
        "FORK-OFFSET-EXCLUSIVE",
        "control: the same fork request with an offset the server minted",
    )
    .await?;
    Ok(())
}

/// Malformed and negative sub-offsets: 400 each, with no side effect.
#[case(
    "FORK-SUB-INVALID-400",
    "FORK-SUB-OVERSHOOT-400",
    "FORK-REJECT-NO-SIDE-EFFECT",
    "FORK-SUB-BYTES"
)]
pub async fn sub_offset_invalid_is_400(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"abcdefghij"], "FORK-CREATE").await?;
    let cases = [
        ("-1", "FORK-SUB-INVALID-400"),
        ("abc", "FORK-SUB-INVALID-400"),
        ("1.5", "FORK-SUB-INVALID-400"),
        ("0x2", "FORK-SUB-INVALID-400"),
        ("2e0", "FORK-SUB-INVALID-400"),
        ("99999999999999999999999999", "FORK-SUB-OVERSHOOT-400"),
    ];
    for (bad, req) in cases {
        answers(
            ctx.put("f")
                .fork_of("s")
                .fork_offset(&s.offsets[0])
                .fork_sub_offset(bad),
            400,
            req,
            &format!("fork with Stream-Fork-Sub-Offset {bad:?}"),
        )
        .await?;
    }
    rejected_cleanly(&ctx, "s", "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    // Control: the same request with a valid sub-offset is accepted, so the
    // 400s above were for the values, not for Stream-Fork-Sub-Offset itself.
    let c = source(&ctx, "c", "text/plain", &[b"abcdefghij"], "FORK-CREATE").await?;
    answers(
        ctx.put("g")
            .fork_of("c")
            .fork_offset(&c.offsets[0])
            .fork_sub_offset(3),
        201,
        "FORK-SUB-BYTES",
        "control: the same fork request with Stream-Fork-Sub-Offset 3",
    )
    .await?;
    reads(
        &ctx,
        "g",
        "-1",
        b"abc",
        "FORK-SUB-BYTES",
        "control fork at sub-offset 3",
    )
    .await?;
    Ok(())
}

/// Content-Type differing from the source: 409 (both directions), with no
/// side effect.
#[case("FORK-CT-MISMATCH-409", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn content_type_mismatch_is_409(ctx: Ctx) -> CaseResult {
    source(&ctx, "t", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    source(&ctx, "j", "application/json", &[b"[1,2]"], "FORK-CREATE").await?;
    answers(
        ctx.put("f").ct("application/json").fork_of("t"),
        409,
        "FORK-CT-MISMATCH-409",
        "JSON fork of a text/plain source",
    )
    .await?;
    answers(
        ctx.put("g").ct("text/plain").fork_of("j"),
        409,
        "FORK-CT-MISMATCH-409",
        "text/plain fork of a JSON source",
    )
    .await?;
    answers(
        ctx.put("g").ct("application/octet-stream").fork_of("t"),
        409,
        "FORK-CT-MISMATCH-409",
        "octet-stream fork of a text/plain source",
    )
    .await?;
    rejected_cleanly(&ctx, "t", "f", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    rejected_cleanly(&ctx, "j", "g", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// The target path holds a plain stream: 409, and that stream is untouched.
#[case("FORK-TARGET-IN-USE-409", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn target_in_use_is_409(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", "text/plain", &[b"source"], "FORK-CREATE").await?;
    source(&ctx, "t", "text/plain", &[b"keep"], "FORK-CREATE").await?;
    answers(
        ctx.put("t").ct("text/plain").fork_of("s"),
        409,
        "FORK-TARGET-IN-USE-409",
        "fork onto a path holding a plain stream",
    )
    .await?;
    answers(
        ctx.put("t").fork_of("s"),
        409,
        "FORK-TARGET-IN-USE-409",
        "fork (no Content-Type) onto a path holding a plain stream",
    )
    .await?;
    reads(
        &ctx,
        "t",
        "-1",
        b"keep",
        "FORK-REJECT-NO-SIDE-EFFECT",
        "the existing stream after rejected forks onto it",
    )
    .await?;
    deleted_outright(&ctx, "s", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// A soft-deleted source cannot be forked: 409; the rejected fork takes no
/// reference, so deleting the live fork still lets the source be cleaned up.
#[case(
    "FORK-SOURCE-SOFTDELETED-409",
    "FORK-REJECT-NO-SIDE-EFFECT",
    "GC-CASCADE"
)]
pub async fn source_soft_deleted_is_409(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    delete_204(
        &ctx,
        "s",
        "SOFTDEL-DELETE-204",
        "DELETE of a stream that has a fork",
    )
    .await?;
    answers(
        ctx.put("g").ct("text/plain").fork_of("s"),
        409,
        "FORK-SOURCE-SOFTDELETED-409",
        "fork of a soft-deleted source",
    )
    .await?;
    target_absent(&ctx, "g", "FORK-REJECT-NO-SIDE-EFFECT").await?;
    delete_204(&ctx, "f", "FORK-INDEPENDENT", "DELETE of the live fork").await?;
    gone_within(&ctx, "s", CLEANUP_DEADLINE, "SOFTDEL-GET-410", "GC-CASCADE").await
}

/// `Stream-Fork-Offset` or `Stream-Fork-Sub-Offset` without
/// `Stream-Forked-From` is an invalid header set: 400. Another answer is a
/// SHOULD-level finding, after which the case carries on: a rejected
/// request created nothing, and whatever a server accepted, the stream
/// whose offset it named keeps its bytes, tail and openness and took no
/// reference (it still deletes outright) — MUST.
#[case("FORK-HEADERS-NEED-SOURCE", "FORK-INDEPENDENT")]
pub async fn fork_headers_without_source_are_400(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    let tries = [
        (
            "a",
            ctx.put("a").ct("text/plain").fork_offset(&s.offsets[0]),
            "Stream-Fork-Offset",
        ),
        (
            "b",
            ctx.put("b").ct("text/plain").fork_sub_offset(0),
            "Stream-Fork-Sub-Offset: 0",
        ),
        (
            "c",
            ctx.put("c")
                .ct("text/plain")
                .fork_offset(&s.offsets[0])
                .fork_sub_offset(1),
            "both fork offsets",
        ),
    ];
    let mut wrong = Vec::new();
    let mut accepted = Vec::new();
    for (name, q, what) in tries {
        let r = q.send().await?;
        if r.status != 400 {
            wrong.push(format!(
                "{what} without Stream-Forked-From on {name}: {}",
                r.status
            ));
        }
        if (200..300).contains(&r.status) {
            accepted.push(name);
        } else {
            target_absent(&ctx, name, "FORK-REJECT-NO-SIDE-EFFECT").await?;
        }
    }
    if !wrong.is_empty() {
        ctx.finding(crate::case::Failure::new(
            Some("FORK-HEADERS-NEED-SOURCE"),
            format!("expected 400 for each; got {}", wrong.join("; ")),
        ));
    }
    if accepted.is_empty() {
        return deleted_outright(&ctx, "s", "FORK-REJECT-NO-SIDE-EFFECT").await;
    }
    // Streams the server created anyway are not forks of "s" (no source
    // was named): "s" must read as before, and once they are deleted it
    // must delete outright.
    let after = format!(
        "PUTs naming its offset without a source were accepted ({})",
        accepted.join(", ")
    );
    let back = reads(
        &ctx,
        "s",
        "-1",
        b"abc",
        "FORK-INDEPENDENT",
        &format!("the stream after {after}"),
    )
    .await?;
    check!(
        back.tail() == Some(s.tail()) && !back.closed,
        "FORK-INDEPENDENT",
        "the stream's tail or closure changed after {after}: tail {:?} (was {}), closed {}",
        back.tail(),
        s.tail(),
        back.closed
    );
    for name in accepted {
        delete_204(
            &ctx,
            name,
            "FORK-INDEPENDENT",
            &format!("DELETE of {name}, created by an accepted PUT"),
        )
        .await?;
    }
    deleted_outright(&ctx, "s", "FORK-INDEPENDENT").await
}

/// The read sentinels `-1` and `now` are never minted offsets (§8), so as
/// a fork offset they are either rejected (400) or given their read
/// meaning (`-1`: inherit nothing; `now`: inherit everything) — never a
/// server error. Another meaning is a SHOULD-level finding, after which the
/// case carries on: a fork the server accepted must still be an independent
/// stream (its own append shows on it alone) and leave its source's bytes,
/// tail and openness as they were (MUST).
#[case("FORK-OFFSET-SENTINEL", "FORK-INDEPENDENT")]
pub async fn sentinel_fork_offsets(ctx: Ctx) -> CaseResult {
    let src = source(&ctx, "s", "text/plain", &[b"abc", b"def"], "FORK-CREATE").await?;
    for (name, sentinel, meaning) in [("m", "-1", &b""[..]), ("n", "now", &b"abcdef"[..])] {
        let r = ctx
            .put(name)
            .fork_of("s")
            .fork_offset(sentinel)
            .send()
            .await?;
        match r.status {
            400 => {}
            201 => {
                let all = ctx.read_all(name, "-1", "FORK-INDEPENDENT").await?;
                if let Err(f) = same_bytes(
                    &all.bytes,
                    meaning,
                    "FORK-OFFSET-SENTINEL",
                    &format!("fork created at Stream-Fork-Offset {sentinel:?}"),
                ) {
                    ctx.finding(f);
                }
                let after = format!("a fork at Stream-Fork-Offset {sentinel:?} was accepted");
                append(&ctx, name, "text/plain", b"+own", "FORK-INDEPENDENT").await?;
                let mut own = all.bytes.clone();
                own.extend_from_slice(b"+own");
                reads(&ctx, name, "-1", &own, "FORK-INDEPENDENT", &format!("fork {name} after its own append ({after})")).await?;
                let back = reads(&ctx, "s", "-1", b"abcdef", "FORK-INDEPENDENT", &format!("the source after {after}")).await?;
                check!(
                    back.tail() == Some(src.tail()) && !back.closed,
                    "FORK-INDEPENDENT",
                    "the source's tail or closure changed after {after}: tail {:?} (was {}), closed {}",
                    back.tail(),
                    src.tail(),
                    back.closed
                );
            }
            other => crate::fail!("FORK-OFFSET-SENTINEL", "fork at Stream-Fork-Offset {sentinel:?} answered {other}; expected 400, or 201 with the sentinel's read meaning"),
        }
    }
    Ok(())
}

register![
    source_missing_is_404,
    source_deleted_is_404,
    self_as_source_is_404,
    offset_beyond_tail_is_400,
    offset_malformed_is_400,
    sub_offset_invalid_is_400,
    content_type_mismatch_is_409,
    target_in_use_is_409,
    source_soft_deleted_is_409,
    fork_headers_without_source_are_400,
    sentinel_fork_offsets,
];
