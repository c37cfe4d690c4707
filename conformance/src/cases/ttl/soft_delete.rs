//! §4.2 "Soft-delete and lifecycle" and §5.4 when the deletion is an expiry:
//! a source that expires while forks reference it is soft-deleted (410 for
//! GET/HEAD/POST/DELETE, 409 for PUT) and forks keep reading its data; when
//! the last fork goes (deleted or expired) the source is cleaned up — maybe
//! asynchronously, so cleanup is polled with a bounded deadline.

use std::time::Duration;

use super::util::{cleaned_up, put_text, wait_status};
use crate::case::{case, register, CaseResult};
use crate::check;
use crate::client::Ctx;

const SOFT: &str = "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The fork of the expired source reads exactly "hello world", open, at
/// tail `tail` if given (MUST: forks outlive their source); returns its tail.
async fn fork_intact(
    ctx: &Ctx,
    tail: Option<&str>,
    after: &str,
) -> Result<String, crate::case::Failure> {
    const OUTLIVE: &str = "FORKTTL-OUTLIVE-SOURCE";
    let all = ctx.read_all("fork", "-1", OUTLIVE).await?;
    check!(
        all.text() == "hello world",
        OUTLIVE,
        "fork reads {:?} after {after}, expected \"hello world\"",
        all.text()
    );
    check!(
        !all.closed,
        OUTLIVE,
        "the fork reads as closed after {after}"
    );
    let now = all.tail().unwrap_or_default().to_string();
    if let Some(t) = tail {
        check!(
            now == t,
            OUTLIVE,
            "the fork's tail offset moved from {t} to {now} after {after}"
        );
    }
    Ok(now)
}

/// Source (TTL 2) expires while its fork (TTL 60) lives: the fork reads
/// inherited + own data (MUST); every direct operation on the source
/// answers 410 and PUT 409 (SHOULD: soft-delete by expiry is §5.4 read by
/// analogy); deleting the fork cleans the source up (404, bounded poll).
/// A server that deviates from the SHOULDs (e.g. lets the name be created
/// again) gets those findings, and the case carries on: whatever it
/// accepted, the fork must still read its bytes exactly, open, at the same
/// tail (MUST).
#[case(
    "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED",
    "FORKTTL-EXPIRED-SOURCE-PUT-409",
    "FORKTTL-OUTLIVE-SOURCE",
    "FORKTTL-EXPIRED-SOURCE-CLEANUP",
    secs = 2
)]
pub async fn expired_source_with_fork_is_soft_deleted(ctx: Ctx) -> CaseResult {
    let (r, t0) = put_text(&ctx, "src", |q| q.ttl(2).body("hello"), SOFT).await?;
    let tail = r.next_offset(SOFT)?;
    put_text(&ctx, "fork", |q| q.ttl(60).fork_of("src"), SOFT).await?;
    ctx.post("fork")
        .ct("text/plain")
        .body(" world")
        .send()
        .await?
        .expect_any(&[200, 204], SOFT)?;
    // §4.2: forks outlive their source (MUST). Whether the expired source
    // itself is soft-deleted (410/409) or simply gone (404) is read from
    // §5.4 by analogy with DELETE, so that part is SHOULD-level.
    let s = wait_status(
        &ctx,
        "src",
        &[410, 404],
        t0 + ms(4000),
        "TTL-EXPIRES-IDLE",
        "source idle past its 2 s TTL while a fork references it",
    )
    .await?;
    // What must hold whatever the server makes of the expired source: the
    // fork reads its inherited and own bytes exactly, at the same tail,
    // still open. Re-checked after every operation the server accepted.
    let fork_tail = fork_intact(&ctx, None, "its source expired").await?;
    if s != 410 {
        ctx.finding(crate::case::Failure::new(
            Some(SOFT),
            "HEAD on the expired source answered 404 while a fork still references it: expected soft-delete (410)",
        ));
    }

    for (what, put) in [
        (
            "same config",
            ctx.put("src").ct("text/plain").ttl(2).untracked(),
        ),
        (
            "other config",
            ctx.put("src").ct("application/json").untracked(),
        ),
    ] {
        let s = put.send().await?.status;
        if s != 409 {
            // A SHOULD: carry on, and make sure accepting it broke nothing
            // the fork was shown.
            ctx.finding(crate::case::Failure::new(
                Some("FORKTTL-EXPIRED-SOURCE-PUT-409"),
                format!("PUT ({what}) on the expired, forked source answered {s}, expected 409"),
            ));
            let after = format!("a PUT ({what}) on its expired source was answered {s}");
            fork_intact(&ctx, Some(&fork_tail), &after).await?;
        }
    }
    let statuses = [
        ("GET", ctx.get("src").offset("-1").send().await?.status),
        (
            "long-poll GET",
            ctx.get("src")
                .offset(&tail)
                .long_poll()
                .timeout(ms(5000))
                .send()
                .await?
                .status,
        ),
        (
            "SSE GET",
            ctx.get("src").offset("-1").live("sse").sse().await?.status,
        ),
        ("HEAD", ctx.head("src").send().await?.status),
        (
            "append POST",
            ctx.post("src")
                .ct("text/plain")
                .body("x")
                .send()
                .await?
                .status,
        ),
        (
            "close-only POST",
            ctx.post("src").closed().send().await?.status,
        ),
        ("DELETE", ctx.delete("src").send().await?.status),
    ];
    let wrong: Vec<String> = statuses
        .iter()
        .filter(|(_, status)| *status != 410)
        .map(|(what, status)| format!("{what} answered {status}"))
        .collect();
    if !wrong.is_empty() {
        ctx.finding(crate::case::Failure::new(
            Some(SOFT),
            format!(
                "on the expired, forked source (410 expected for each): {}",
                wrong.join("; ")
            ),
        ));
        // Appends, a close and a DELETE the server may have accepted on
        // the source's name: none may reach the fork.
        fork_intact(
            &ctx,
            Some(&fork_tail),
            "operations on its expired source were accepted",
        )
        .await?;
    }
    ctx.delete("fork")
        .send()
        .await?
        .expect(204, "FORKTTL-EXPIRED-SOURCE-CLEANUP")?;
    cleaned_up(
        &ctx,
        "src",
        "FORKTTL-EXPIRED-SOURCE-CLEANUP",
        "its last fork was deleted",
    )
    .await?;
    Ok(())
}

/// Source (TTL 1) and fork (TTL 3) both left idle: the source is
/// soft-deleted while the fork lives; once the fork expires too, the
/// source is cleaned up (404 within a bounded time). A source gone (404)
/// while its fork lives is a SHOULD-level finding, after which the case
/// carries on: the fork must still read its inherited bytes (MUST).
#[case(
    "FORKTTL-EXPIRED-SOURCE-CLEANUP",
    "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED",
    "FORKTTL-OUTLIVE-SOURCE",
    secs = 3
)]
pub async fn last_fork_expiry_cleans_up_expired_source(ctx: Ctx) -> CaseResult {
    put_text(&ctx, "src", |q| q.ttl(1).body("abc"), SOFT).await?;
    let (_, t0) = put_text(&ctx, "fork", |q| q.ttl(3).fork_of("src"), SOFT).await?;
    let s = wait_status(
        &ctx,
        "src",
        &[410, 404],
        t0 + ms(3500),
        SOFT,
        "source idle past its 1 s TTL",
    )
    .await?;
    // The fork's 3 s TTL (long enough to be seen alive after the source
    // expired) runs from its creation, or from a read below.
    let mut fork_touched = t0;
    if s == 404 && ctx.head("fork").send().await?.status == 200 {
        ctx.finding(crate::case::Failure::new(
            Some(SOFT),
            "the expired source answers 404 while its fork still exists: it must be soft-deleted (410)",
        ));
        // Carry on: whatever the server did with its source, the fork
        // must still read what it inherited (MUST). It may have expired
        // on time since the HEAD: then there is nothing left to judge.
        const OUTLIVE: &str = "FORKTTL-OUTLIVE-SOURCE";
        if ctx.get("fork").offset("-1").send().await?.status != 404 {
            let all = ctx.read_all("fork", "-1", OUTLIVE).await?;
            fork_touched = std::time::Instant::now();
            check!(
                all.text() == "abc" && !all.closed,
                OUTLIVE,
                "the fork reads {:?} (closed: {}) after its source expired and answered 404; expected \"abc\", open",
                all.text(),
                all.closed
            );
        }
    }
    wait_status(
        &ctx,
        "fork",
        &[404],
        fork_touched + ms(5500),
        "TTL-EXPIRES-IDLE",
        "fork idle past its 3 s TTL",
    )
    .await?;
    cleaned_up(
        &ctx,
        "src",
        "FORKTTL-EXPIRED-SOURCE-CLEANUP",
        "its only fork expired",
    )
    .await?;
    Ok(())
}

/// A source soft-deleted by DELETE is cleaned up when its only fork expires
/// (SHOULD: §4.2 names the fork's DELETE, expiry is read by analogy, and the
/// cleanup MAY be asynchronous, so it is polled with a bounded deadline).
#[case(
    "FORKTTL-FORK-EXPIRY-GC",
    "SOFTDEL-DELETE-204",
    "SOFTDEL-HEAD-410",
    "TTL-EXPIRES-IDLE",
    secs = 2
)]
pub async fn deleted_source_cleaned_up_by_fork_expiry(ctx: Ctx) -> CaseResult {
    const GC: &str = "FORKTTL-FORK-EXPIRY-GC";
    put_text(&ctx, "src", |q| q.body("abc"), "CREATE-NEW-201").await?;
    let (_, t0) = put_text(&ctx, "fork", |q| q.ttl(2).fork_of("src"), "CREATE-NEW-201").await?;
    ctx.delete("src")
        .send()
        .await?
        .expect(204, "SOFTDEL-DELETE-204")?;
    let h = ctx.head("src").send().await?;
    check!(
        h.status == 410,
        "SOFTDEL-HEAD-410",
        "HEAD on the deleted source with a live fork answered {}, expected 410",
        h.status
    );
    wait_status(
        &ctx,
        "fork",
        &[404],
        t0 + ms(4000),
        "TTL-EXPIRES-IDLE",
        "fork idle past its 2 s TTL",
    )
    .await?;
    cleaned_up(&ctx, "src", GC, "its only fork expired").await?;
    Ok(())
}

register![
    expired_source_with_fork_is_soft_deleted,
    last_fork_expiry_cleans_up_expired_source,
    deleted_source_cleaned_up_by_fork_expiry,
];
