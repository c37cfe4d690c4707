//! Which streams a subscription covers (§6.1, §6.2, §6.4): glob segments,
//! backfill at the tail, discovery by append, explicit links and their
//! precedence over glob links.

use std::time::Duration;

use serde_json::json;

use super::util::{any_pending, claim, expect_wake, link_paths, stream_with, tail};
use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create};
use crate::client::Ctx;
use crate::subs::{require, Need, Subs};
use crate::{check, check_eq};

/// `*` matches exactly one segment: `ev/*` links `ev/a`, `ev/b`, not
/// `ev/a/deep` nor `other/a`.
#[case("SUB-GLOB-SEGMENTS", "SUB-BACKFILL-TAIL")]
pub async fn star_matches_one_segment(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    for n in ["ev/a", "ev/b", "ev/a/deep", "other/a", "evx/a"] {
        create(&ctx, n, "text/plain", "SUB-GLOB-SEGMENTS").await?;
    }
    let pat = format!("{}/*", ctx.rel("ev"));
    let sub = s.pull("s", &[], Some(&pat), None).await?;
    let st = s.state(&sub.id, "SUB-GLOB-SEGMENTS").await?;
    check_eq!(
        link_paths(&st),
        vec![ctx.rel("ev/a"), ctx.rel("ev/b")],
        "SUB-GLOB-SEGMENTS",
        "streams linked by {pat}"
    );
    for l in st["streams"].as_array().into_iter().flatten() {
        check_eq!(
            l["link_type"],
            json!("glob"),
            "SUB-LINK-FIELDS",
            "link_type of a pattern link"
        );
    }
    Ok(())
}

/// `**` matches zero or more segments: `x/**/leaf` links `x/leaf`,
/// `x/a/leaf` and `x/a/b/leaf`, not `x/a/other` nor `y/leaf`.
#[case("SUB-GLOB-SEGMENTS", "SUB-BACKFILL-TAIL")]
pub async fn double_star_matches_zero_or_more(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    for n in [
        "x/leaf",
        "x/a/leaf",
        "x/a/b/leaf",
        "x/a/other",
        "y/leaf",
        "x/leafy",
    ] {
        create(&ctx, n, "text/plain", "SUB-GLOB-SEGMENTS").await?;
    }
    let pat = format!("{}/**/leaf", ctx.rel("x"));
    let sub = s.pull("s", &[], Some(&pat), None).await?;
    let st = s.state(&sub.id, "SUB-GLOB-SEGMENTS").await?;
    let mut want = vec![
        ctx.rel("x/leaf"),
        ctx.rel("x/a/leaf"),
        ctx.rel("x/a/b/leaf"),
    ];
    want.sort();
    check_eq!(
        link_paths(&st),
        want,
        "SUB-GLOB-SEGMENTS",
        "streams linked by {pat}"
    );
    Ok(())
}

/// Existing streams are linked at their tail: no wake, nothing pending,
/// no historical replay.
#[case("SUB-BACKFILL-TAIL")]
pub async fn backfill_links_at_tail(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    stream_with(&ctx, "h/old", "history").await?;
    append(
        &ctx,
        "h/old",
        "text/plain",
        "more history",
        "SUB-BACKFILL-TAIL",
    )
    .await?;
    let t = tail(&ctx, "h/old").await?;
    let sub = s
        .pull("s", &[], Some(&format!("{}/*", ctx.rel("h"))), None)
        .await?;
    let st = s.state(&sub.id, "SUB-BACKFILL-TAIL").await?;
    let link = Subs::link(&st, &ctx.rel("h/old"));
    check!(
        link.is_some(),
        "SUB-BACKFILL-TAIL",
        "the existing stream was not linked: {st}"
    );
    check_eq!(
        link.and_then(|l| l["acked_offset"].as_str())
            .unwrap_or_default(),
        t.as_str(),
        "SUB-BACKFILL-TAIL",
        "acked_offset of a backfilled stream (its tail)"
    );
    ctx.sleep(Duration::from_millis(800)).await;
    let events = s.wake_events(&sub.wake).await?;
    check!(
        events.is_empty(),
        "SUB-BACKFILL-TAIL",
        "creating the subscription woke it for history: {events:?}"
    );
    let r = s.claim(&sub.id, "w1").await?;
    if r.status == 200 {
        let v = r.json("SUB-CLAIM")?;
        let pending = any_pending(&v);
        check!(
            !pending,
            "SUB-BACKFILL-TAIL",
            "a claim reports history as pending: {v}"
        );
    }
    Ok(())
}

/// A stream created after the subscription and matching its pattern is
/// linked by its first append and wakes the subscription for it.
#[case("SUB-DISCOVER-ON-APPEND", "SUB-WAKE-ON-PENDING")]
pub async fn new_stream_woken_by_append(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let sub = s
        .pull("s", &[], Some(&format!("{}/*", ctx.rel("late"))), None)
        .await?;
    create(&ctx, "late/x", "text/plain", "SUB-DISCOVER-ON-APPEND").await?;
    let t = append(
        &ctx,
        "late/x",
        "text/plain",
        "news",
        "SUB-DISCOVER-ON-APPEND",
    )
    .await?;
    let ev = expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-DISCOVER-ON-APPEND").await?;
    check_eq!(
        ev["stream"],
        json!(ctx.rel("late/x")),
        "SUB-DISCOVER-ON-APPEND",
        "stream of the wake event"
    );
    let st = s.state(&sub.id, "SUB-DISCOVER-ON-APPEND").await?;
    check!(
        Subs::link(&st, &ctx.rel("late/x")).is_some_and(|l| l["link_type"] == json!("glob")),
        "SUB-DISCOVER-ON-APPEND",
        "the new stream is not glob-linked: {st}"
    );
    let c = claim(&s, &sub.id, "w1").await?;
    let entry = c.stream(&ctx.rel("late/x"));
    check!(
        entry.is_some_and(|e| e["has_pending"] == json!(true) && e["tail_offset"] == json!(t)),
        "SUB-DISCOVER-ON-APPEND",
        "the claim does not offer the appended data as pending up to {t}: {}",
        c.body
    );
    Ok(())
}

/// Explicit links: added at the tail, idempotently; removed by the
/// URL-encoded path (slashes included), idempotently.
#[case("SUB-STREAMS-ADD", "SUB-STREAMS-REMOVE")]
pub async fn explicit_add_remove_idempotent(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let t = stream_with(&ctx, "deep/er/e1", "old").await?;
    let sub = s
        .pull("s", &[], Some(&format!("{}/*", ctx.rel("none"))), None)
        .await?;
    let p = ctx.rel("deep/er/e1");
    for _ in 0..2 {
        s.add_streams(&sub.id, std::slice::from_ref(&p))
            .await?
            .expect(204, "SUB-STREAMS-ADD")?;
    }
    let st = s.state(&sub.id, "SUB-STREAMS-ADD").await?;
    check_eq!(
        link_paths(&st),
        vec![p.clone()],
        "SUB-STREAMS-ADD",
        "links after adding twice"
    );
    let l = Subs::link(&st, &p).cloned().unwrap_or_default();
    check_eq!(
        l["link_type"],
        json!("explicit"),
        "SUB-STREAMS-ADD",
        "link_type"
    );
    check_eq!(
        l["acked_offset"],
        json!(t),
        "SUB-STREAMS-ADD",
        "acked_offset of an added stream (its tail)"
    );
    for _ in 0..2 {
        s.remove_stream(&sub.id, &p)
            .await?
            .expect(204, "SUB-STREAMS-REMOVE")?;
    }
    let st = s.state(&sub.id, "SUB-STREAMS-REMOVE").await?;
    check!(
        Subs::link(&st, &p).is_none(),
        "SUB-STREAMS-REMOVE",
        "the explicit link survived DELETE .../streams/{}: {st}",
        crate::subs::encode_segment(&p)
    );
    Ok(())
}

/// A stream linked both ways reads `explicit`; removing the explicit
/// link leaves the glob link, which still wakes the subscription.
#[case("SUB-LINK-EXPLICIT-PRECEDENCE", "SUB-LINK-GLOB-SURVIVES")]
pub async fn explicit_beats_glob_and_glob_survives(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    stream_with(&ctx, "g/a", "x").await?;
    let sub = s
        .pull("s", &[], Some(&format!("{}/*", ctx.rel("g"))), None)
        .await?;
    let p = ctx.rel("g/a");
    s.add_streams(&sub.id, std::slice::from_ref(&p))
        .await?
        .expect(204, "SUB-STREAMS-ADD")?;
    let st = s.state(&sub.id, "SUB-LINK-EXPLICIT-PRECEDENCE").await?;
    check_eq!(
        link_paths(&st),
        vec![p.clone()],
        "SUB-LINK-EXPLICIT-PRECEDENCE",
        "one link per stream"
    );
    check_eq!(
        Subs::link(&st, &p)
            .map(|l| l["link_type"].clone())
            .unwrap_or_default(),
        json!("explicit"),
        "SUB-LINK-EXPLICIT-PRECEDENCE",
        "link_type of a stream linked both ways"
    );
    s.remove_stream(&sub.id, &p)
        .await?
        .expect(204, "SUB-STREAMS-REMOVE")?;
    let st = s.state(&sub.id, "SUB-LINK-GLOB-SURVIVES").await?;
    check_eq!(
        Subs::link(&st, &p)
            .map(|l| l["link_type"].clone())
            .unwrap_or_default(),
        json!("glob"),
        "SUB-LINK-GLOB-SURVIVES",
        "link_type after removing the explicit link"
    );
    append(&ctx, "g/a", "text/plain", "y", "SUB-LINK-GLOB-SURVIVES").await?;
    let ev = expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-LINK-GLOB-SURVIVES").await?;
    check_eq!(
        ev["stream"],
        json!(p),
        "SUB-LINK-GLOB-SURVIVES",
        "stream of the wake"
    );
    Ok(())
}

register![
    star_matches_one_segment,
    double_star_matches_zero_or_more,
    backfill_links_at_tail,
    new_stream_woken_by_append,
    explicit_add_remove_idempotent,
    explicit_beats_glob_and_glob_survives,
];
