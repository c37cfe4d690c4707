//! §4.2 "Soft-delete and lifecycle", §5.4 soft-delete, §5.5 (410 on HEAD):
//! DELETE of a stream with forks soft-deletes it (every direct operation
//! 410, PUT 409), its forks keep reading its data, and deleting the last
//! fork cleans it up (possibly asynchronously), cascading up a chain.

use std::time::Duration;

use super::util::{
    append, deleted_outright, fork, gone_within, reads, source, status, Src, CLEANUP_DEADLINE,
};
use crate::case::{CaseResult, Failure};
use crate::cases::support::binary_payload;
use crate::check;
use crate::client::Ctx;

const CT: &str = "text/plain";

/// Source `s` with fork `f`, then `DELETE s` (204: soft-deleted).
async fn soft_deleted(ctx: &Ctx) -> Result<Src, Failure> {
    let s = source(ctx, "s", CT, &[b"kept|", b"data|"], "FORK-CREATE").await?;
    fork(ctx, "f", "s", None, "FORK-CREATE").await?;
    let r = ctx.delete("s").send().await?;
    status(
        &r,
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a stream that has a fork",
    )?;
    Ok(s)
}

/// GET on a soft-deleted stream — catch-up from -1, from a minted offset,
/// and `offset=now` — answers 410.
pub async fn get_is_410(ctx: Ctx) -> CaseResult {
    let s = soft_deleted(&ctx).await?;
    for at in ["-1", s.offsets[1].as_str(), "now"] {
        let r = ctx.get("s").offset(at).send().await?;
        status(
            &r,
            410,
            "SOFTDEL-GET-410",
            &format!("GET soft-deleted stream at offset {at}"),
        )?;
    }
    let r = ctx.get("s").send().await?;
    status(
        &r,
        410,
        "SOFTDEL-GET-410",
        "GET soft-deleted stream without offset",
    )
}

/// Live reads on a soft-deleted stream answer 410 too (long-poll, SSE).
pub async fn live_get_is_410(ctx: Ctx) -> CaseResult {
    let s = soft_deleted(&ctx).await?;
    let r = ctx.get("s").offset(s.tail()).long_poll().send().await?;
    status(
        &r,
        410,
        "SOFTDEL-GET-410",
        "long-poll on a soft-deleted stream",
    )?;
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
pub async fn head_is_410(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let r = ctx.head("s").send().await?;
    status(&r, 410, "SOFTDEL-HEAD-410", "HEAD soft-deleted stream")
}

/// POST (append, append-and-close, close-only) on a soft-deleted stream answers 410.
pub async fn post_is_410(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let r = ctx.post("s").ct(CT).body("more").send().await?;
    status(
        &r,
        410,
        "SOFTDEL-POST-410",
        "append to a soft-deleted stream",
    )?;
    let r = ctx.post("s").ct(CT).body("last").closed().send().await?;
    status(
        &r,
        410,
        "SOFTDEL-POST-410",
        "append-and-close on a soft-deleted stream",
    )?;
    let r = ctx.post("s").closed().send().await?;
    status(
        &r,
        410,
        "SOFTDEL-POST-410",
        "close-only on a soft-deleted stream",
    )?;
    reads(
        &ctx,
        "f",
        "-1",
        b"kept|data|",
        "SOFTDEL-FORK-READS",
        "fork after rejected writes to its soft-deleted source",
    )
    .await?;
    Ok(())
}

/// DELETE on an already soft-deleted stream answers 410 (repeatedly), and
/// the fork is unaffected.
pub async fn delete_again_is_410(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    for n in 1..=2 {
        let r = ctx.delete("s").send().await?;
        status(
            &r,
            410,
            "SOFTDEL-DELETE-410",
            &format!("DELETE #{} of a soft-deleted stream", n + 1),
        )?;
    }
    reads(
        &ctx,
        "f",
        "-1",
        b"kept|data|",
        "SOFTDEL-FORK-READS",
        "fork after repeated DELETEs of its source",
    )
    .await?;
    Ok(())
}

/// PUT on a soft-deleted path is 409 whatever the config: same, different
/// content type, closed, or as a fork of its own fork.
pub async fn put_is_409(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let tries = [
        ctx.put("s").ct(CT),
        ctx.put("s").ct("application/json"),
        ctx.put("s").ct(CT).closed(),
        ctx.put("s").ct(CT).body("fresh"),
        ctx.put("s").fork_of("f"),
    ];
    let labels = [
        "same config",
        "other content type",
        "created closed",
        "with a body",
        "as a fork of its fork",
    ];
    for (q, label) in tries.into_iter().zip(labels) {
        let r = q.send().await?;
        status(
            &r,
            409,
            "SOFTDEL-PUT-409",
            &format!("PUT on a soft-deleted path ({label})"),
        )?;
    }
    let r = ctx.head("s").send().await?;
    status(&r, 410, "SOFTDEL-HEAD-410", "HEAD after the rejected PUTs")?;
    reads(
        &ctx,
        "f",
        "-1",
        b"kept|data|",
        "SOFTDEL-FORK-READS",
        "fork after rejected PUTs on its source's path",
    )
    .await?;
    Ok(())
}

/// A fork keeps reading its soft-deleted source's data byte-exact (a few
/// hundred KiB, so a server cannot keep it in a response cache), from -1
/// and from source offsets, and still appends and forks.
pub async fn fork_reads_after_source_deleted(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    let parts: Vec<Vec<u8>> = (0..3)
        .map(|i| binary_payload(200_000 + i * 1000, i as u8))
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let s = source(&ctx, "s", ct, &refs, "FORK-CREATE").await?;
    fork(&ctx, "f", "s", Some(&s.offsets[2]), "FORK-CREATE").await?;
    let r = ctx.delete("s").send().await?;
    status(
        &r,
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a stream that has a fork",
    )?;
    reads(
        &ctx,
        "f",
        "-1",
        &s.between(0, 2),
        "SOFTDEL-FORK-READS",
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
    let h = ctx.head("f").send().await?;
    status(
        &h,
        200,
        "SOFTDEL-FORK-READS",
        "HEAD on the fork of a soft-deleted source",
    )?;
    append(&ctx, "f", ct, b"own", "FORK-INDEPENDENT").await?;
    let mut want = s.between(0, 2);
    want.extend_from_slice(b"own");
    reads(
        &ctx,
        "f",
        "-1",
        &want,
        "SOFTDEL-FORK-READS",
        "fork after its own append",
    )
    .await?;
    // Forking the live fork at an offset it inherited from the deleted source.
    let r = ctx
        .put("g")
        .fork_of("f")
        .fork_offset(&s.offsets[1])
        .send()
        .await?;
    status(
        &r,
        201,
        "FORK-CHAIN",
        "fork of a live fork whose source is soft-deleted",
    )?;
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
/// answers 404 (cleanup may be asynchronous; 410 meanwhile).
pub async fn last_fork_delete_cascades(ctx: Ctx) -> CaseResult {
    soft_deleted(&ctx).await?;
    let r = ctx.delete("f").send().await?;
    status(&r, 204, "FORK-INDEPENDENT", "DELETE of the only fork")?;
    gone_within(&ctx, "s", CLEANUP_DEADLINE, "SOFTDEL-GET-410", "GC-CASCADE").await
}

/// With two forks, deleting one keeps the source soft-deleted (410) and
/// readable through the other; deleting the second cleans it up.
pub async fn refcount_counts_every_fork(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"shared|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    fork(&ctx, "f2", "s", Some(&s.offsets[0]), "FORK-CREATE").await?;
    fork(&ctx, "f3", "s", None, "FORK-CREATE").await?;
    status(
        &ctx.delete("s").send().await?,
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a stream with three forks",
    )?;
    status(
        &ctx.delete("f1").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of fork 1 of 3",
    )?;
    status(
        &ctx.delete("f2").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of fork 2 of 3",
    )?;
    ctx.sleep(Duration::from_millis(500)).await;
    status(
        &ctx.head("s").send().await?,
        410,
        "GC-REFCOUNT",
        "HEAD on the source while one fork remains",
    )?;
    reads(
        &ctx,
        "f3",
        "-1",
        b"shared|",
        "GC-REFCOUNT",
        "the remaining fork after its siblings were deleted",
    )
    .await?;
    status(
        &ctx.delete("f3").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of the last fork",
    )?;
    gone_within(&ctx, "s", CLEANUP_DEADLINE, "SOFTDEL-GET-410", "GC-CASCADE").await
}

/// A chain of depth 3 (s ← f1 ← f2 ← f3) with s, f1 and f2 deleted: all
/// three are soft-deleted and f3 reads through them byte-exact; deleting
/// f3 cleans up f2, f1 and s in turn (possibly asynchronously).
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
    for name in ["s", "f1", "f2"] {
        let r = ctx.delete(name).send().await?;
        status(
            &r,
            204,
            "SOFTDEL-DELETE-204",
            &format!("DELETE of {name} (it has a fork)"),
        )?;
    }
    for name in ["s", "f1", "f2"] {
        status(
            &ctx.head(name).send().await?,
            410,
            "SOFTDEL-HEAD-410",
            &format!("HEAD on soft-deleted {name}"),
        )?;
    }
    reads(
        &ctx,
        "f3",
        "-1",
        b"s|f1|f2|f3|",
        "SOFTDEL-FORK-READS",
        "leaf read through three soft-deleted ancestors",
    )
    .await?;
    status(
        &ctx.delete("f3").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of the leaf",
    )?;
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
pub async fn live_source_survives_fork_deletes(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"mine|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    fork(&ctx, "f2", "f1", None, "FORK-CREATE").await?;
    status(
        &ctx.delete("f2").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of the leaf fork",
    )?;
    status(
        &ctx.delete("f1").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of the fork (its own fork is gone)",
    )?;
    let h = ctx.head("s").send().await?;
    status(
        &h,
        200,
        "GC-LIVE-SOURCE-KEPT",
        "HEAD on the source after all its forks were deleted",
    )?;
    append(&ctx, "s", CT, b"still|", "GC-LIVE-SOURCE-KEPT").await?;
    reads(
        &ctx,
        "s",
        "-1",
        b"mine|still|",
        "GC-LIVE-SOURCE-KEPT",
        "source after its forks were deleted",
    )
    .await?;
    status(
        &ctx.head("f1").send().await?,
        404,
        "GC-LIVE-SOURCE-KEPT",
        "HEAD on the deleted fork (it had no forks left)",
    )?;
    deleted_outright(&ctx, "s", "GC-LIVE-SOURCE-KEPT").await
}

/// Fork and source are independent: closing either leaves the other open;
/// deleting the fork leaves the source untouched.
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
    status(
        &ctx.delete("f").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of fork f",
    )?;
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
pub async fn closed_source_soft_deleted(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct(CT).body("final").closed().send().await?;
    r.expect(201, "FORK-CREATE")?;
    fork(&ctx, "f", "s", None, "FORK-CLOSED-SOURCE").await?;
    status(
        &ctx.delete("s").send().await?,
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a closed stream that has a fork",
    )?;
    let r = ctx.post("s").closed().send().await?;
    status(
        &r,
        410,
        "SOFTDEL-POST-410",
        "close-only POST on a soft-deleted closed stream",
    )?;
    let r = ctx.get("s").offset("-1").send().await?;
    status(
        &r,
        410,
        "SOFTDEL-GET-410",
        "GET on a soft-deleted closed stream",
    )?;
    let r = ctx.get("s").offset("now").long_poll().send().await?;
    status(
        &r,
        410,
        "SOFTDEL-GET-410",
        "long-poll at offset=now on a soft-deleted closed stream",
    )?;
    let r = ctx.head("s").send().await?;
    status(
        &r,
        410,
        "SOFTDEL-HEAD-410",
        "HEAD on a soft-deleted closed stream",
    )?;
    let r = ctx.put("s").ct(CT).body("final").closed().send().await?;
    status(
        &r,
        409,
        "SOFTDEL-PUT-409",
        "PUT matching the soft-deleted stream's closed config",
    )?;
    reads(
        &ctx,
        "f",
        "-1",
        b"final",
        "SOFTDEL-FORK-READS",
        "fork of the soft-deleted closed stream",
    )
    .await?;
    Ok(())
}

/// Ten forks created and deleted concurrently: the source stays
/// soft-deleted while any remains and is cleaned up after the last.
pub async fn concurrent_forks_refcount(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"base|"], "FORK-CREATE").await?;
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let puts = names.iter().map(|n| ctx.put(n).fork_of("s").send());
    for (n, r) in names.iter().zip(futures::future::join_all(puts).await) {
        status(&r?, 201, "FORK-CREATE", &format!("concurrent fork {n}"))?;
    }
    status(
        &ctx.delete("s").send().await?,
        204,
        "SOFTDEL-DELETE-204",
        "DELETE of a stream with ten forks",
    )?;
    let dels = names[..9].iter().map(|n| ctx.delete(n).send());
    for (n, r) in names.iter().zip(futures::future::join_all(dels).await) {
        status(
            &r?,
            204,
            "FORK-INDEPENDENT",
            &format!("concurrent DELETE of fork {n}"),
        )?;
    }
    ctx.sleep(Duration::from_millis(500)).await;
    status(
        &ctx.head("s").send().await?,
        410,
        "GC-REFCOUNT",
        "HEAD on the source while one of ten forks remains",
    )?;
    reads(
        &ctx,
        "f9",
        "-1",
        b"base|",
        "GC-REFCOUNT",
        "the last remaining fork",
    )
    .await?;
    status(
        &ctx.delete("f9").send().await?,
        204,
        "FORK-INDEPENDENT",
        "DELETE of the last fork",
    )?;
    gone_within(&ctx, "s", CLEANUP_DEADLINE, "SOFTDEL-GET-410", "GC-CASCADE").await
}
