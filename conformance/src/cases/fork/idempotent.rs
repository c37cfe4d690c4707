//! §4.2 "Idempotent fork creation", §5.1: re-PUT of an existing fork. The
//! decision table: same source/offset/sub-offset (with the content type
//! given or omitted, before or after own appends) → 200; a different
//! source, offset or sub-offset, or no fork headers at all → 409. Every
//! re-PUT names the inherited content type except the one case about
//! omitting it, and leaves the fork's data unchanged.

use super::util::{
    answers, append, close, delete_204, deleted_outright, fork, reads, source, status, Src,
};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::{Ctx, Req};

const CT: &str = "text/plain";

/// Source `s` ("ab|", "cd|", "ef|") and fork `f` at the offset after "ab|".
async fn setup(ctx: &Ctx) -> Result<Src, Failure> {
    let s = source(ctx, "s", CT, &[b"ab|", b"cd|", b"ef|"], "FORK-CREATE").await?;
    fork(ctx, "f", "s", Some(&s.offsets[1]), "FORK-CREATE").await?;
    Ok(s)
}

/// The fork still holds `expected`; then, with the fork deleted, the
/// source deletes outright: no re-PUT (accepted or rejected) took another
/// reference on it.
async fn unchanged(ctx: &Ctx, expected: &[u8]) -> CaseResult {
    reads(
        ctx,
        "f",
        "-1",
        expected,
        "FORK-IDEMPOTENT-200",
        "the fork after a re-PUT",
    )
    .await?;
    delete_204(ctx, "f", "FORK-INDEPENDENT", "DELETE of the fork").await?;
    deleted_outright(ctx, "s", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// A re-PUT of fork `name` naming the inherited content type, `src` and `offset`.
fn reput(ctx: &Ctx, name: &str, src: &str, offset: &str) -> Req {
    ctx.put(name).ct(CT).fork_of(src).fork_offset(offset)
}

/// Re-PUT `f` as (`s`, `offset`) and require `expected`.
async fn reput_answers(
    ctx: &Ctx,
    offset: &str,
    expected: u16,
    req: &str,
    what: &str,
) -> CaseResult {
    answers(reput(ctx, "f", "s", offset), expected, req, what).await?;
    Ok(())
}

/// Same source and offset (with the inherited content type named): 200.
#[case("FORK-IDEMPOTENT-200")]
pub async fn same_config_is_200(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    let what = "re-PUT of the fork with the same source and offset";
    reput_answers(&ctx, &s.offsets[1], 200, "FORK-IDEMPOTENT-200", what).await?;
    unchanged(&ctx, b"ab|").await
}

/// Same config with the content type omitted, as at creation: an omitted
/// type on a fork means the source's type, so it matches: 200.
#[case("FORK-IDEMPOTENT-200", "FORK-CT-INHERIT")]
pub async fn content_type_omitted_on_reput_is_200(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    let q = ctx.put("f").fork_of("s").fork_offset(&s.offsets[1]);
    let what = "re-PUT without Content-Type (so: the inherited type), same source and offset";
    answers(q, 200, "FORK-IDEMPOTENT-200", what).await?;
    unchanged(&ctx, b"ab|").await
}

/// `Stream-Fork-Sub-Offset: 0` is the same as no sub-offset: 200.
#[case("FORK-SUB-ZERO-EQUIV")]
pub async fn sub_offset_zero_equals_omitted(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    let q = reput(&ctx, "f", "s", &s.offsets[1]).fork_sub_offset(0);
    let what = "re-PUT adding Stream-Fork-Sub-Offset: 0";
    answers(q, 200, "FORK-SUB-ZERO-EQUIV", what).await?;
    unchanged(&ctx, b"ab|").await
}

/// The fork's own appends do not change its configuration: 200, and the
/// own data stays.
#[case("FORK-IDEMPOTENT-200")]
pub async fn after_own_appends_is_200(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    append(&ctx, "f", CT, b"own", "FORK-INDEPENDENT").await?;
    let what = "re-PUT of a fork that has its own data";
    reput_answers(&ctx, &s.offsets[1], 200, "FORK-IDEMPOTENT-200", what).await?;
    unchanged(&ctx, b"ab|own").await
}

/// A fork made at the default offset: a re-PUT without an offset (tail
/// unchanged) and one naming that tail explicitly are both 200. Another
/// answer to the second is a SHOULD-level finding, after which the case
/// carries on: whatever the server made of that re-PUT, the fork keeps its
/// data and the source took no reference (MUST).
#[case("FORK-IDEMPOTENT-200", "FORK-IDEMPOTENT-RESOLVED-OFFSET")]
pub async fn default_offset_reput_is_200(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"ab|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let q = ctx.put("f").ct(CT).fork_of("s");
    let what = "re-PUT without a fork offset, source tail unchanged";
    answers(q, 200, "FORK-IDEMPOTENT-200", what).await?;
    let what = "re-PUT naming the resolved default offset (the source tail)";
    // Whether the resolved default "matches" an explicit offset is a
    // reading of §4.2, so this half is SHOULD-level.
    let resolved = "FORK-IDEMPOTENT-RESOLVED-OFFSET";
    let r = reput(&ctx, "f", "s", s.tail()).send().await?;
    if let Err(f) = status(&r, 200, resolved, what) {
        ctx.finding(f);
    }
    unchanged(&ctx, b"ab|").await
}

/// A different fork offset on the same source: 409.
#[case("FORK-IDEMPOTENT-DIFF-409")]
pub async fn other_offset_is_409(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    for i in [0, 2, 3] {
        let what = format!("re-PUT with the offset after append #{i} instead of #1");
        reput_answers(&ctx, &s.offsets[i], 409, "FORK-IDEMPOTENT-DIFF-409", &what).await?;
    }
    unchanged(&ctx, b"ab|").await
}

/// A different source (same content type, same data): 409.
#[case("FORK-IDEMPOTENT-DIFF-409", "FORK-REJECT-NO-SIDE-EFFECT")]
pub async fn other_source_is_409(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    let s2 = source(&ctx, "s2", CT, &[b"ab|"], "FORK-CREATE").await?;
    for (offset, what) in [
        (s2.tail(), "re-PUT naming another source"),
        (
            s.offsets[1].as_str(),
            "re-PUT naming another source with the original offset",
        ),
    ] {
        let q = reput(&ctx, "f", "s2", offset);
        answers(q, 409, "FORK-IDEMPOTENT-DIFF-409", what).await?;
    }
    unchanged(&ctx, b"ab|").await?;
    // The rejected re-PUTs took no reference on s2.
    deleted_outright(&ctx, "s2", "FORK-REJECT-NO-SIDE-EFFECT").await
}

/// A different sub-offset at the same offset: 409.
#[case("FORK-IDEMPOTENT-DIFF-409", "FORK-IDEMPOTENT-200")]
pub async fn other_sub_offset_is_409(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    let at = s.offsets[1].as_str();
    let q = reput(&ctx, "f", "s", at).fork_sub_offset(1);
    let what = "re-PUT with sub-offset 1 (fork was made without one)";
    answers(q, 409, "FORK-IDEMPOTENT-DIFF-409", what).await?;
    // And the other way round: a fork made with a sub-offset.
    let q = reput(&ctx, "g", "s", at).fork_sub_offset(2);
    answers(q, 201, "FORK-SUB-BYTES", "fork with sub-offset 2").await?;
    let q = reput(&ctx, "g", "s", at).fork_sub_offset(2);
    let what = "re-PUT with the same sub-offset 2";
    answers(q, 200, "FORK-IDEMPOTENT-200", what).await?;
    for other in ["1", "3", "0"] {
        let q = reput(&ctx, "g", "s", at).fork_sub_offset(other);
        let what = format!("re-PUT with sub-offset {other} (fork was made with 2)");
        answers(q, 409, "FORK-IDEMPOTENT-DIFF-409", &what).await?;
    }
    let what = "re-PUT without a sub-offset (fork was made with 2)";
    answers(
        reput(&ctx, "g", "s", at),
        409,
        "FORK-IDEMPOTENT-DIFF-409",
        what,
    )
    .await?;
    let what = "fork at (offset after \"ab|\", sub-offset 2)";
    reads(&ctx, "g", "-1", b"ab|cd", "FORK-SUB-BYTES", what).await?;
    delete_204(&ctx, "g", "FORK-INDEPENDENT", "DELETE of fork g").await?;
    unchanged(&ctx, b"ab|").await
}

/// A plain PUT (no `Stream-Forked-From`) on an existing fork differs in
/// configuration: 409.
#[case("FORK-IDEMPOTENT-DIFF-409")]
pub async fn plain_put_on_fork_is_409(ctx: Ctx) -> CaseResult {
    setup(&ctx).await?;
    let what = "PUT without fork headers on an existing fork";
    answers(ctx.put("f").ct(CT), 409, "FORK-IDEMPOTENT-DIFF-409", what).await?;
    unchanged(&ctx, b"ab|").await
}

/// A closed fork re-PUT without `Stream-Closed` mismatches its closure
/// status (409); with `Stream-Closed: true` it matches (200).
#[case("FORK-IDEMPOTENT-DIFF-409", "FORK-IDEMPOTENT-200")]
pub async fn closed_fork_reput(ctx: Ctx) -> CaseResult {
    let s = setup(&ctx).await?;
    close(&ctx, "f", "FORK-INDEPENDENT").await?;
    let what = "re-PUT of a closed fork without Stream-Closed";
    reput_answers(&ctx, &s.offsets[1], 409, "FORK-IDEMPOTENT-DIFF-409", what).await?;
    let q = reput(&ctx, "f", "s", &s.offsets[1]).closed();
    let what = "re-PUT of a closed fork with Stream-Closed: true";
    answers(q, 200, "FORK-IDEMPOTENT-200", what).await?;
    unchanged(&ctx, b"ab|").await
}

/// The fork of a closed source is open: its re-PUT without
/// `Stream-Closed` matches (200) — the source's closure is not its config.
#[case("FORK-IDEMPOTENT-200", "FORK-CLOSED-SOURCE")]
pub async fn fork_of_closed_source_reput(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct(CT).body("done").closed().send().await?;
    r.expect(201, "FORK-CREATE")?;
    let tail = r.next_offset("FORK-CREATE")?;
    fork(&ctx, "f", "s", Some(&tail), "FORK-CLOSED-SOURCE").await?;
    let what = "re-PUT (open) of the open fork of a closed source";
    reput_answers(&ctx, &tail, 200, "FORK-IDEMPOTENT-200", what).await?;
    let q = reput(&ctx, "f", "s", &tail).closed();
    let what = "re-PUT with Stream-Closed: true of the open fork of a closed source";
    answers(q, 409, "FORK-IDEMPOTENT-DIFF-409", what).await?;
    unchanged(&ctx, b"done").await
}

register![
    same_config_is_200,
    content_type_omitted_on_reput_is_200,
    sub_offset_zero_equals_omitted,
    after_own_appends_is_200,
    default_offset_reput_is_200,
    other_offset_is_409,
    other_source_is_409,
    other_sub_offset_is_409,
    plain_put_on_fork_is_409,
    closed_fork_reput,
    fork_of_closed_source_reput,
];
