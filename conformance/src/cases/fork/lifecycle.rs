//! §4.2 "Soft-delete and lifecycle", §5.4 soft-delete, §5.5 (410 on HEAD):
//! DELETE of a stream with forks soft-deletes it (every direct operation
//! 410, PUT 409), its forks keep reading its data, and deleting the last
//! fork cleans it up (possibly asynchronously), cascading up a chain.

use std::time::Duration;

use super::util::{
    all_answer, answers, append, delete_204, deleted_outright, fork, gone_within, reads, source,
    status, Src, CLEANUP_DEADLINE,
};
use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::binary_payload;
use crate::check;
use crate::client::Ctx;

const CT: &str = "text/plain";

/// Source `s` with fork `f`, then `DELETE s` (204: soft-deleted).
async fn soft_deleted(ctx: &Ctx) -> Result<Src, Failure> {
    let s = source(ctx, "s", CT, &[b"kept|", b"data|"], "FORK-CREATE").await?;
    fork(ctx, "f", "s", None, "FORK-CREATE").await?;
    answers(
        ctx.delete("s"),
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a stream that has a fork",
    )
    .await?;
    Ok(s)
}

/// Fork `f` still reads `expected` from -1 (SOFTDEL-FORK-READS).
async fn fork_still_reads(ctx: &Ctx, expected: &[u8], what: &str) -> CaseResult {
    reads(ctx, "f", "-1", expected, "SOFTDEL-FORK-READS", what).await?;
    Ok(())
}

/// Fork `f` of [`soft_deleted`] still reads the data it inherited.
async fn fork_keeps_data(ctx: &Ctx, what: &str) -> CaseResult {
    fork_still_reads(ctx, b"kept|data|", what).await
}

/// With one fork `last` (reading `data`) left of the soft-deleted source
/// `s`, the source stays soft-deleted (410) and the fork readable
/// (GC-REFCOUNT); deleting `last` then cleans the source up (GC-CASCADE).
async fn last_fork_holds_source(ctx: &Ctx, last: &str, data: &[u8]) -> CaseResult {
    ctx.sleep(Duration::from_millis(500)).await;
    answers(
        ctx.head("s"),
        410,
        "GC-REFCOUNT",
        &format!("HEAD on the source while only its fork {last} remains"),
    )
    .await?;
    reads(
        ctx,
        last,
        "-1",
        data,
        "GC-REFCOUNT",
        &format!("the remaining fork {last} after its siblings were deleted"),
    )
    .await?;
    delete_204(ctx, last, "FORK-INDEPENDENT", "DELETE of the last fork").await?;
    gone_within(ctx, "s", CLEANUP_DEADLINE, "SOFTDEL-GET-410", "GC-CASCADE").await
}

/// The live source `s` (holding `kept`) is intact `when` its forks went:
/// HEAD answers 200, it takes the append `more` and reads `kept` + `more`
/// (GC-LIVE-SOURCE-KEPT).
async fn live_source_kept(ctx: &Ctx, kept: &[u8], more: &[u8], when: &str) -> CaseResult {
    answers(
        ctx.head("s"),
        200,
        "GC-LIVE-SOURCE-KEPT",
        &format!("HEAD on the live source {when}"),
    )
    .await?;
    append(ctx, "s", CT, more, "GC-LIVE-SOURCE-KEPT").await?;
    let want = [kept, more].concat();
    reads(
        ctx,
        "s",
        "-1",
        &want,
        "GC-LIVE-SOURCE-KEPT",
        &format!("live source {when}"),
    )
    .await?;
    Ok(())
}

/// GET on a soft-deleted stream — catch-up from -1, from a minted offset,
/// and `offset=now` — answers 410.
#[case("SOFTDEL-DELETE-204", "SOFTDEL-GET-410")]
pub async fn get_is_410(ctx: Ctx) -> CaseResult {
    let s = soft_deleted(&ctx).await?;
    let offsets = ["-1", s.offsets[1].as_str(), "now"];
    let gets = offsets.map(|at| {
        let what = format!("GET soft-deleted stream at offset {at}");
        (ctx.get("s").offset(at), what)
    });
    all_answer(gets, 410, "SOFTDEL-GET-410").await?;
    let r = ctx.get("s").send().await?;
    status(
        &r,
        410,
        "SOFTDEL-GET-410",
        "GET soft-deleted stream without offset",
    )
}

/// Live reads on a soft-deleted stream answer 410 too (long-poll, SSE).
#[case("SOFTDEL-GET-410")]
pub async fn live_get_is_410(ctx: Ctx) -> CaseResult {
    let s = soft_deleted(&ctx).await?;
    answers(
        ctx.get("s").offset(s.tail()).long_poll(),
        410,
        "SOFTDEL-GET-410",
        "long-poll on a soft-deleted stream",
    )
    .await?;
    let sse = ctx.get("s").offset("-1").live("sse").sse().await?;
    check!(
        sse.status == 410,
        "SOFTDEL-GET-410",
        "SSE on a soft-deleted stream answered {}",
        sse.status
    );
    Ok(())
}

/// HEAD on a soft-deleted stream answers 410.
#[case("SOFTDEL-HEAD-410")]
pub async fn head_is_410(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let r = ctx.head("s").send().await?;
    status(&r, 410, "SOFTDEL-HEAD-410", "HEAD soft-deleted stream")
}

/// POST (append, append-and-close, close-only) on a soft-deleted stream answers 410.
#[case("SOFTDEL-POST-410")]
pub async fn post_is_410(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let posts = [
        (ctx.post("s").ct(CT).body("more"), "append to"),
        (
            ctx.post("s").ct(CT).body("last").closed(),
            "append-and-close on",
        ),
        (ctx.post("s").closed(), "close-only on"),
    ]
    .map(|(q, what)| (q, format!("{what} a soft-deleted stream")));
    all_answer(posts, 410, "SOFTDEL-POST-410").await?;
    fork_keeps_data(
        &ctx,
        "fork after rejected writes to its soft-deleted source",
    )
    .await
}

/// DELETE on an already soft-deleted stream answers 410 (repeatedly), and
/// the fork is unaffected.
#[case("SOFTDEL-DELETE-410")]
pub async fn delete_again_is_410(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let deletes = [2, 3].map(|n| {
        (
            ctx.delete("s"),
            format!("DELETE #{n} of a soft-deleted stream"),
        )
    });
    all_answer(deletes, 410, "SOFTDEL-DELETE-410").await?;
    fork_keeps_data(&ctx, "fork after repeated DELETEs of its source").await
}

/// PUT on a soft-deleted path is 409 whatever the config: same, different
/// content type, closed, or as a fork of its own fork.
#[case("SOFTDEL-PUT-409")]
pub async fn put_is_409(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let puts = [
        (ctx.put("s").ct(CT), "same config"),
        (ctx.put("s").ct("application/json"), "other content type"),
        (ctx.put("s").ct(CT).closed(), "created closed"),
        (ctx.put("s").ct(CT).body("fresh"), "with a body"),
        (ctx.put("s").fork_of("f"), "as a fork of its fork"),
    ]
    .map(|(q, label)| (q, format!("PUT on a soft-deleted path ({label})")));
    all_answer(puts, 409, "SOFTDEL-PUT-409").await?;
    answers(
        ctx.head("s"),
        410,
        "SOFTDEL-HEAD-410",
        "HEAD after the rejected PUTs",
    )
    .await?;
    fork_keeps_data(&ctx, "fork after rejected PUTs on its source's path").await
}

/// A fork keeps reading its soft-deleted source's data byte-exact (a few
/// hundred KiB, so a server cannot keep it in a response cache), from -1
/// and from source offsets, and still appends and forks.
#[case("SOFTDEL-FORK-READS", "FORK-CHAIN")]
pub async fn fork_reads_after_source_deleted(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    let parts: Vec<Vec<u8>> = (0..3)
        .map(|i| binary_payload(200_000 + i * 1000, i as u8))
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let s = source(&ctx, "s", ct, &refs, "FORK-CREATE").await?;
    fork(&ctx, "f", "s", Some(&s.offsets[2]), "FORK-CREATE").await?;
    answers(
        ctx.delete("s"),
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a stream that has a fork",
    )
    .await?;
    fork_still_reads(
        &ctx,
        &s.between(0, 2),
        "fork from -1 after its source was deleted",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &s.offsets[1],
        &s.between(1, 2),
        "SOFTDEL-FORK-READS",
        "fork from source offset #1 after its source was deleted",
    )
    .await?;
    answers(
        ctx.head("f"),
        200,
        "SOFTDEL-FORK-READS",
        "HEAD on the fork of a soft-deleted source",
    )
    .await?;
    append(&ctx, "f", ct, b"own", "FORK-INDEPENDENT").await?;
    let mut want = s.between(0, 2);
    want.extend_from_slice(b"own");
    fork_still_reads(&ctx, &want, "fork after its own append").await?;
    // Forking the live fork at an offset it inherited from the deleted source.
    answers(
        ctx.put("g").fork_of("f").fork_offset(&s.offsets[1]),
        201,
        "FORK-CHAIN",
        "fork of a live fork whose source is soft-deleted",
    )
    .await?;
    reads(
        &ctx,
        "g",
        "-1",
        &s.between(0, 1),
        "SOFTDEL-FORK-READS",
        "fork of the fork, through the soft-deleted source",
    )
    .await?;
    Ok(())
}

/// Deleting the last fork cleans the soft-deleted source up: it eventually
/// answers 404 (cleanup may be asynchronous; 410 meanwhile). The source is
/// first seen soft-deleted (410), so the final 404 is the cleanup and not
/// a source that a DELETE removed outright despite its fork.
#[case("GC-CASCADE", "SOFTDEL-HEAD-410")]
pub async fn last_fork_delete_cascades(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    answers(
        ctx.head("s"),
        410,
        "SOFTDEL-HEAD-410",
        "HEAD on the source while its fork still exists",
    )
    .await?;
    answers(
        ctx.delete("f"),
        204,
        "FORK-INDEPENDENT",
        "DELETE of the only fork",
    )
    .await?;
    gone_within(&ctx, "s", CLEANUP_DEADLINE, "SOFTDEL-GET-410", "GC-CASCADE").await
}

/// With two forks, deleting one keeps the source soft-deleted (410) and
/// readable through the other; deleting the second cleans it up.
#[case("GC-REFCOUNT", "GC-CASCADE")]
pub async fn refcount_counts_every_fork(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"shared|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    fork(&ctx, "f2", "s", Some(&s.offsets[0]), "FORK-CREATE").await?;
    fork(&ctx, "f3", "s", None, "FORK-CREATE").await?;
    delete_204(
        &ctx,
        "s",
        "SOFTDEL-DELETE-204",
        "DELETE of a stream with three forks",
    )
    .await?;
    delete_204(&ctx, "f1", "FORK-INDEPENDENT", "DELETE of fork 1 of 3").await?;
    delete_204(&ctx, "f2", "FORK-INDEPENDENT", "DELETE of fork 2 of 3").await?;
    last_fork_holds_source(&ctx, "f3", b"shared|").await
}

/// A chain of depth 3 (s ← f1 ← f2 ← f3) with s, f1 and f2 deleted: all
/// three are soft-deleted and f3 reads through them byte-exact; deleting
/// f3 cleans up f2, f1 and s in turn (possibly asynchronously).
#[case("GC-CASCADE-CHAIN", "SOFTDEL-FORK-READS")]
pub async fn cascade_through_chain(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"s|"], "FORK-CREATE").await?;
    let mut parent = "s".to_string();
    for name in ["f1", "f2", "f3"] {
        fork(&ctx, name, &parent, None, "FORK-CHAIN").await?;
        append(
            &ctx,
            name,
            CT,
            format!("{name}|").as_bytes(),
            "FORK-INDEPENDENT",
        )
        .await?;
        parent = name.to_string();
    }
    let chain = ["s", "f1", "f2"];
    let deletes = chain.map(|n| (ctx.delete(n), format!("DELETE of {n} (it has a fork)")));
    all_answer(deletes, 204, "SOFTDEL-DELETE-204").await?;
    let heads = chain.map(|n| (ctx.head(n), format!("HEAD on soft-deleted {n}")));
    all_answer(heads, 410, "SOFTDEL-HEAD-410").await?;
    reads(
        &ctx,
        "f3",
        "-1",
        b"s|f1|f2|f3|",
        "SOFTDEL-FORK-READS",
        "leaf read through three soft-deleted ancestors",
    )
    .await?;
    delete_204(&ctx, "f3", "FORK-INDEPENDENT", "DELETE of the leaf").await?;
    for name in ["f2", "f1", "s"] {
        gone_within(
            &ctx,
            name,
            CLEANUP_DEADLINE,
            "SOFTDEL-GET-410",
            "GC-CASCADE-CHAIN",
        )
        .await?;
    }
    Ok(())
}

/// Deleting every fork of a live source leaves it live and intact; then it
/// deletes outright (no reference left behind).
#[case("GC-LIVE-SOURCE-KEPT")]
pub async fn live_source_survives_fork_deletes(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"mine|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    fork(&ctx, "f2", "f1", None, "FORK-CREATE").await?;
    // Only real forks make this case about reference counting.
    reads(
        &ctx,
        "f2",
        "-1",
        b"mine|",
        "FORK-READ-STITCH",
        "fork of a fork",
    )
    .await?;
    delete_204(&ctx, "f2", "FORK-INDEPENDENT", "DELETE of the leaf fork").await?;
    delete_204(
        &ctx,
        "f1",
        "FORK-INDEPENDENT",
        "DELETE of the fork (its own fork is gone)",
    )
    .await?;
    live_source_kept(
        &ctx,
        b"mine|",
        b"still|",
        "after all its forks were deleted",
    )
    .await?;
    // f1 had no fork left when deleted, so it is gone; a server releasing
    // f2's reference asynchronously may show it soft-deleted (410) briefly.
    gone_within(
        &ctx,
        "f1",
        Duration::from_secs(5),
        "GC-LIVE-SOURCE-KEPT",
        "GC-LIVE-SOURCE-KEPT",
    )
    .await?;
    deleted_outright(&ctx, "s", "GC-LIVE-SOURCE-KEPT").await
}

/// Cascading cleanup stops at a live ancestor: in s ← f1 ← f2 with only f1
/// deleted (soft: it has f2), deleting f2 cleans f1 up, while s stays live
/// and intact — and f1's cleanup released its reference on s, which then
/// deletes outright.
#[case(
    "GC-LIVE-SOURCE-KEPT",
    "GC-CASCADE",
    "SOFTDEL-HEAD-410",
    "SOFTDEL-FORK-READS"
)]
pub async fn cascade_stops_at_live_source(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"s|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    append(&ctx, "f1", CT, b"f1|", "FORK-INDEPENDENT").await?;
    fork(&ctx, "f2", "f1", None, "FORK-CHAIN").await?;
    delete_204(
        &ctx,
        "f1",
        "SOFTDEL-DELETE-204",
        "DELETE of the middle fork (it has a fork)",
    )
    .await?;
    answers(
        ctx.head("f1"),
        410,
        "SOFTDEL-HEAD-410",
        "HEAD on the soft-deleted middle fork",
    )
    .await?;
    reads(
        &ctx,
        "f2",
        "-1",
        b"s|f1|",
        "SOFTDEL-FORK-READS",
        "leaf read through its soft-deleted parent",
    )
    .await?;
    delete_204(&ctx, "f2", "FORK-INDEPENDENT", "DELETE of the leaf").await?;
    gone_within(
        &ctx,
        "f1",
        CLEANUP_DEADLINE,
        "SOFTDEL-GET-410",
        "GC-CASCADE",
    )
    .await?;
    live_source_kept(
        &ctx,
        b"s|",
        b"more|",
        "after its soft-deleted fork was cleaned up",
    )
    .await?;
    deleted_outright(&ctx, "s", "GC-LIVE-SOURCE-KEPT").await
}

/// Fork and source are independent: closing either leaves the other open;
/// deleting the fork leaves the source untouched.
#[case("FORK-INDEPENDENT")]
pub async fn close_is_independent(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"base|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    fork(&ctx, "g", "s", None, "FORK-CREATE").await?;
    ctx.post("f")
        .closed()
        .send()
        .await?
        .expect_any(&[200, 204], "FORK-INDEPENDENT")?;
    append(&ctx, "s", CT, b"s-open|", "FORK-INDEPENDENT").await?;
    ctx.post("s")
        .closed()
        .send()
        .await?
        .expect_any(&[200, 204], "FORK-INDEPENDENT")?;
    let h = ctx.head("g").send().await?;
    check!(
        h.status == 200 && !h.closed(),
        "FORK-INDEPENDENT",
        "closing the source closed its fork g (HEAD {} closed {})",
        h.status,
        h.closed()
    );
    append(&ctx, "g", CT, b"g-open|", "FORK-INDEPENDENT").await?;
    reads(
        &ctx,
        "g",
        "-1",
        b"base|g-open|",
        "FORK-INDEPENDENT",
        "fork g after its source was closed",
    )
    .await?;
    let all = reads(
        &ctx,
        "f",
        "-1",
        b"base|",
        "FORK-INDEPENDENT",
        "closed fork f",
    )
    .await?;
    check!(
        all.closed,
        "FORK-INDEPENDENT",
        "fork f was closed but its read does not say Stream-Closed"
    );
    delete_204(&ctx, "f", "FORK-INDEPENDENT", "DELETE of fork f").await?;
    let all = reads(
        &ctx,
        "s",
        "-1",
        b"base|s-open|",
        "FORK-INDEPENDENT",
        "source after its fork was deleted",
    )
    .await?;
    check!(
        all.closed,
        "FORK-INDEPENDENT",
        "the closed source's read does not say Stream-Closed"
    );
    Ok(())
}

/// A closed source soft-deleted by DELETE answers 410 to everything, even
/// to requests that would be idempotent successes on the closed stream
/// (close-only POST, PUT matching its closed config — 409 there).
#[case(
    "SOFTDEL-POST-410",
    "SOFTDEL-GET-410",
    "SOFTDEL-HEAD-410",
    "SOFTDEL-PUT-409"
)]
pub async fn closed_source_soft_deleted(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct(CT).body("final").closed().send().await?;
    r.expect(201, "FORK-CREATE")?;
    fork(&ctx, "f", "s", None, "FORK-CLOSED-SOURCE").await?;
    delete_204(
        &ctx,
        "s",
        "SOFTDEL-DELETE-204",
        "DELETE of a closed stream that has a fork",
    )
    .await?;
    let tries = [
        (
            ctx.post("s").closed(),
            410,
            "SOFTDEL-POST-410",
            "close-only POST on",
        ),
        (ctx.get("s").offset("-1"), 410, "SOFTDEL-GET-410", "GET on"),
        (
            ctx.get("s").offset("now").long_poll(),
            410,
            "SOFTDEL-GET-410",
            "long-poll at offset=now on",
        ),
        (ctx.head("s"), 410, "SOFTDEL-HEAD-410", "HEAD on"),
    ];
    for (q, code, req, what) in tries {
        answers(
            q,
            code,
            req,
            &format!("{what} a soft-deleted closed stream"),
        )
        .await?;
    }
    answers(
        ctx.put("s").ct(CT).body("final").closed(),
        409,
        "SOFTDEL-PUT-409",
        "PUT matching the soft-deleted stream's closed config",
    )
    .await?;
    fork_still_reads(&ctx, b"final", "fork of the soft-deleted closed stream").await?;
    Ok(())
}

/// Ten forks created and deleted concurrently: the source stays
/// soft-deleted while any remains and is cleaned up after the last.
#[case("GC-REFCOUNT", "GC-CASCADE")]
pub async fn concurrent_forks_refcount(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"base|"], "FORK-CREATE").await?;
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let puts = names.iter().map(|n| ctx.put(n).fork_of("s").send());
    for (n, r) in names.iter().zip(futures::future::join_all(puts).await) {
        status(&r?, 201, "FORK-CREATE", &format!("concurrent fork {n}"))?;
    }
    delete_204(
        &ctx,
        "s",
        "SOFTDEL-DELETE-204",
        "DELETE of a stream with ten forks",
    )
    .await?;
    let dels = names[..9].iter().map(|n| ctx.delete(n).send());
    for (n, r) in names.iter().zip(futures::future::join_all(dels).await) {
        status(
            &r?,
            204,
            "FORK-INDEPENDENT",
            &format!("concurrent DELETE of fork {n}"),
        )?;
    }
    last_fork_holds_source(&ctx, "f9", b"base|").await
}

register![
    get_is_410,
    live_get_is_410,
    head_is_410,
    post_is_410,
    delete_again_is_410,
    put_is_409,
    fork_reads_after_source_deleted,
    last_fork_delete_cascades,
    refcount_counts_every_fork,
    cascade_through_chain,
    live_source_survives_fork_deletes,
    cascade_stops_at_live_source,
    close_is_independent,
    closed_source_soft_deleted,
    concurrent_forks_refcount,
];
