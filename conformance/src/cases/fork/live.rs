//! §5.7 "Long-poll on forked streams", §5.8 "SSE on forked streams": the
//! inherited range is served at once; a waiter at the fork's tail wakes
//! for the fork's own appends and close, never for source appends.

use std::time::{Duration, Instant};

use super::util::{append, close, fork, source, Src};
use crate::case::{case, register, CaseResult, Failure};
use crate::cases::longpoll::{attempt_name, judge_wake, until_woken, Event, Wake};
use crate::client::{Ctx, Resp};
use crate::{check, check_eq};
use tokio::task::JoinHandle;

const CT: &str = "text/plain";

/// Whether `elapsed` is clearly less than the target's long-poll timeout
/// (only judged when the timeout is long enough to tell apart).
fn before_timeout(ctx: &Ctx, elapsed: Duration) -> bool {
    let lp = ctx.long_poll_timeout();
    lp < Duration::from_millis(1500) || elapsed < lp.mul_f32(0.75)
}

/// How long to let a spawned waiter reach the server before acting: long
/// enough for a local request, short next to the long-poll timeout so a
/// loaded machine does not let the waiter time out first (300 ms would
/// leave only 200 ms of a 500 ms timeout).
fn settle(ctx: &Ctx) -> Duration {
    (ctx.long_poll_timeout() / 4).min(Duration::from_millis(300))
}

type Waiter = JoinHandle<Result<Resp, Failure>>;

/// Source `s` ("old|") and its fork `f`, with a long-poll GET of `f` at its
/// tail spawned (so the case can act meanwhile) and the time it was spawned.
async fn fork_with_waiter(ctx: &Ctx) -> Result<(Src, Waiter, Instant), Failure> {
    fork_pair_with_waiter(ctx, "s", "f").await
}

/// [`fork_with_waiter`] with the names given.
async fn fork_pair_with_waiter(
    ctx: &Ctx,
    src: &str,
    f: &str,
) -> Result<(Src, Waiter, Instant), Failure> {
    let s = source(ctx, src, CT, &[b"old|"], "FORK-CREATE").await?;
    fork(ctx, f, src, None, "FORK-CREATE").await?;
    let ctx = ctx.clone();
    let at = s.tail().to_string();
    let f = f.to_string();
    let started = Instant::now();
    let waiter = tokio::spawn(async move { ctx.get(&f).offset(&at).long_poll().send().await });
    Ok((s, waiter, started))
}

/// The response of a spawned long-poll.
async fn joined(waiter: Waiter) -> Result<Resp, Failure> {
    waiter
        .await
        .map_err(|e| Failure::no_answer(format!("waiter task: {e}")))?
}

/// Attempt `i` of a wake case: a fresh source and fork (named for the
/// attempt) with a waiter at the fork's tail; once it has reached the
/// server, the fork gets an append (`fork-own|`) or is closed. Returns the
/// source's name, when the append or close was acknowledged (since the
/// waiter was spawned) and the waiter's answer.
async fn act_on_waiting_fork(
    ctx: &Ctx,
    i: usize,
    act: Event,
) -> Result<(String, Duration, Resp), Failure> {
    let (src, f) = (attempt_name("s", i), attempt_name("f", i));
    let (_, waiter, started) = fork_pair_with_waiter(ctx, &src, &f).await?;
    ctx.sleep(settle(ctx)).await;
    if matches!(act, Event::Close) {
        close(ctx, &f, "FORK-INDEPENDENT").await?;
    } else {
        append(ctx, &f, CT, b"fork-own|", "FORK-INDEPENDENT").await?;
    }
    let acked = started.elapsed();
    let r = joined(waiter).await?;
    Ok((src, acked, r))
}

/// A long-poll in the fork's inherited range returns the data at once.
#[case("FORK-LP-INHERITED")]
pub async fn long_poll_inherited_is_immediate(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"old1|", b"old2|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    for (i, want) in [(0usize, &b"old1|old2|"[..]), (1, &b"old2|"[..])] {
        let r = ctx
            .get("f")
            .offset(&s.offsets[i])
            .long_poll()
            .send()
            .await?;
        r.expect(200, "FORK-LP-INHERITED")?;
        check!(
            !r.body.is_empty() && want.starts_with(&r.body),
            "FORK-LP-INHERITED",
            "long-poll at source offset #{i}: expected (a prefix of) {:?}, got {:?}",
            String::from_utf8_lossy(want),
            r.text()
        );
        check!(
            before_timeout(&ctx, r.elapsed),
            "FORK-LP-INHERITED",
            "long-poll in the inherited range took {} ms (long-poll timeout {} ms): it waited",
            r.elapsed.as_millis(),
            ctx.long_poll_timeout().as_millis()
        );
    }
    Ok(())
}

/// A waiter at the fork's tail is not woken by source appends: it times
/// out with 204 at the unchanged tail.
#[case("FORK-LP-SOURCE-NO-WAKE")]
pub async fn long_poll_ignores_source_appends(ctx: Ctx) -> CaseResult {
    let (s, waiter, _) = fork_with_waiter(&ctx).await?;
    // A quarter of the timeout in, so the source append surely lands while
    // the fork's waiter is still waiting, whatever the target's timeout.
    ctx.sleep(ctx.long_poll_timeout() / 4).await;
    append(&ctx, "s", CT, b"source-after-fork|", "FORK-INDEPENDENT").await?;
    let r = joined(waiter).await?;
    check!(r.status == 204, "FORK-LP-SOURCE-NO-WAKE", "long-poll at the fork's tail answered {} after a source append (body {:?}); only a timeout (204) is right", r.status, r.text());
    check_eq!(
        r.next_offset("FORK-LP-SOURCE-NO-WAKE")?,
        s.tail().to_string(),
        "FORK-LP-SOURCE-NO-WAKE",
        "Stream-Next-Offset of the timed-out long-poll on the fork"
    );
    Ok(())
}

/// A waiter at the fork's tail is woken by the fork's own append and gets
/// only that data.
#[case("FORK-LP-OWN-WAKE")]
pub async fn long_poll_woken_by_fork_append(ctx: Ctx) -> CaseResult {
    // Judged only where timing makes the order certain (see
    // `longpoll::judge_wake`); fresh streams retry.
    until_woken(&ctx, "FORK-LP-OWN-WAKE", |i| {
        let ctx = ctx.clone();
        async move {
            let (_, acked, r) = act_on_waiting_fork(&ctx, i, Event::Append).await?;
            if r.status == 200 {
                check_eq!(
                    r.text(),
                    "fork-own|".to_string(),
                    "FORK-LP-OWN-WAKE",
                    "data delivered to the fork's waiter"
                );
            }
            judge_wake(
                &r,
                Event::Append,
                acked,
                ctx.long_poll_timeout(),
                "FORK-LP-OWN-WAKE",
            )
        }
    })
    .await
}

/// A waiter at the fork's tail is woken by the fork's close: 204 with
/// `Stream-Closed: true`, without waiting for the timeout.
#[case("FORK-LP-CLOSE-WAKE")]
pub async fn long_poll_woken_by_fork_close(ctx: Ctx) -> CaseResult {
    until_woken(&ctx, "FORK-LP-CLOSE-WAKE", |i| {
        let ctx = ctx.clone();
        async move {
            let (src, acked, r) = act_on_waiting_fork(&ctx, i, Event::Close).await?;
            let wake = judge_wake(&r, Event::Close, acked, ctx.long_poll_timeout(), "FORK-LP-CLOSE-WAKE")?;
            // A 204 sooner than the timeout could run out came from the
            // close: it must say so.
            if matches!(wake, Wake::Woken) {
                check!(
                    r.closed(),
                    "FORK-LP-CLOSE-WAKE",
                    "long-poll at the fork's tail woken by the fork's close: 204 without Stream-Closed: true (got {:?})",
                    r.header("stream-closed")
                );
            }
            let h = ctx.head(&src).send().await?;
            check!(
                h.status == 200 && !h.closed(),
                "FORK-INDEPENDENT",
                "closing the fork closed or broke its source: HEAD {src} {} closed {}",
                h.status,
                h.closed()
            );
            Ok(wake)
        }
    })
    .await
}

/// The data of the SSE events received so far (a text stream's).
fn text_of(events: &[crate::sse::SseEvent]) -> String {
    events
        .iter()
        .filter(|e| e.event == "data")
        .map(|e| e.data.as_str())
        .collect()
}

/// Read until a `streamClosed` control arrives, failing FORK-SSE with
/// "`what` sent no streamClosed control within 10 s" (and the data so far)
/// if none does.
async fn until_closed(sse: &mut crate::sse::SseSession, what: &str) -> CaseResult {
    let closed = sse
        .read_until(Duration::from_secs(10), crate::sse::closed_control)
        .await;
    check!(
        closed,
        "FORK-SSE",
        "{what} sent no streamClosed control within 10 s; data {:?}",
        text_of(&sse.events)
    );
    Ok(())
}

fn up_to_date(events: &[crate::sse::SseEvent]) -> bool {
    events
        .iter()
        .filter_map(crate::sse::SseEvent::control)
        .any(|c| c.get("upToDate") == Some(&serde_json::Value::Bool(true)))
}

/// SSE on a fork delivers the inherited data then the fork's own, then the
/// fork's later appends — never the source's appends after the fork point —
/// and ends when the fork is closed.
#[case("FORK-SSE")]
pub async fn sse_inherited_then_own(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[b"in1|", b"in2|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    append(&ctx, "s", CT, b"SRC1|", "FORK-INDEPENDENT").await?;
    append(&ctx, "f", CT, b"own1|", "FORK-INDEPENDENT").await?;
    let mut sse = ctx.get("f").offset("-1").live("sse").sse().await?;
    sse.expect(200, "FORK-SSE")?;
    let caught_up = sse.read_until(Duration::from_secs(10), up_to_date).await;
    check!(
        caught_up,
        "FORK-SSE",
        "SSE on the fork sent no upToDate control within 10 s; data so far {:?}",
        text_of(&sse.events)
    );
    check_eq!(
        text_of(&sse.events),
        "in1|in2|own1|".to_string(),
        "FORK-SSE",
        "SSE data on the fork up to the first upToDate"
    );
    append(&ctx, "s", CT, b"SRC2|", "FORK-INDEPENDENT").await?;
    append(&ctx, "f", CT, b"own2|", "FORK-INDEPENDENT").await?;
    let own2 = sse
        .read_until(Duration::from_secs(10), |evs| {
            text_of(evs).contains("own2|")
        })
        .await;
    check!(
        own2,
        "FORK-SSE",
        "SSE on the fork did not deliver the fork's later append within 10 s; data {:?}",
        text_of(&sse.events)
    );
    close(&ctx, "f", "FORK-INDEPENDENT").await?;
    until_closed(&mut sse, "SSE on the fork (closed)").await?;
    check_eq!(
        text_of(&sse.events),
        "in1|in2|own1|own2|".to_string(),
        "FORK-SSE",
        "all SSE data on the fork (source appends after the fork point must never appear)"
    );
    Ok(())
}

/// SSE on a JSON fork: every data event is JSON; flattened they are the
/// inherited messages then the fork's own, never the source's later ones.
#[case("FORK-SSE")]
pub async fn sse_json_fork(ctx: Ctx) -> CaseResult {
    let ct = "application/json";
    source(&ctx, "s", ct, &[br#"[{"n":1},{"n":2}]"#], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    append(&ctx, "s", ct, br#"{"src":true}"#, "FORK-INDEPENDENT").await?;
    append(&ctx, "f", ct, br#"{"n":3}"#, "FORK-INDEPENDENT").await?;
    close(&ctx, "f", "FORK-INDEPENDENT").await?;
    let mut sse = ctx.get("f").offset("-1").live("sse").sse().await?;
    sse.expect(200, "FORK-SSE")?;
    until_closed(&mut sse, "SSE on a closed JSON fork").await?;
    let mut msgs = Vec::new();
    for e in sse.data_events() {
        match crate::sse::decode_data(&e.data, crate::sse::Encoding::Json) {
            Ok(crate::sse::Payload::Json(serde_json::Value::Array(items))) => msgs.extend(items),
            Ok(crate::sse::Payload::Json(v)) => msgs.push(v),
            Ok(crate::sse::Payload::Bytes(_)) => unreachable!("JSON decodes to a value"),
            Err(why) => crate::fail!("FORK-SSE", "SSE data event on a JSON fork is {why}"),
        }
    }
    let want: Vec<_> = (1..=3).map(|n| serde_json::json!({ "n": n })).collect();
    check_eq!(
        msgs,
        want,
        "FORK-SSE",
        "messages delivered by SSE on the JSON fork"
    );
    Ok(())
}

/// SSE on a fork from an offset inside the inherited range starts there:
/// the rest of the inherited data, then the fork's own, then EOF on close.
#[case("FORK-SSE")]
pub async fn sse_from_inherited_offset(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"one|", b"two|", b"three|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    append(&ctx, "f", CT, b"own|", "FORK-INDEPENDENT").await?;
    close(&ctx, "f", "FORK-INDEPENDENT").await?;
    let mut sse = ctx.get("f").offset(&s.offsets[1]).live("sse").sse().await?;
    sse.expect(200, "FORK-SSE")?;
    until_closed(&mut sse, "SSE on a closed fork").await?;
    check_eq!(
        text_of(&sse.events),
        "two|three|own|".to_string(),
        "FORK-SSE",
        "SSE data on the fork from the source's offset #1"
    );
    Ok(())
}

/// Soft-deleting the source does not disturb a waiter at the fork's tail:
/// the fork's next append still reaches it.
#[case("FORK-INDEPENDENT", "SOFTDEL-DELETE-204")]
pub async fn long_poll_survives_source_delete(ctx: Ctx) -> CaseResult {
    let (s, waiter, started) = fork_with_waiter(&ctx).await?;
    ctx.sleep(Duration::from_millis(200)).await;
    let r = ctx.delete("s").send().await?;
    r.expect(204, "SOFTDEL-DELETE-204")?;
    ctx.sleep(Duration::from_millis(100)).await;
    append(&ctx, "f", CT, b"after-delete|", "FORK-INDEPENDENT").await?;
    let appended = started.elapsed();
    let r = joined(waiter).await?;
    check!(
        r.status == 200 || r.status == 204,
        "FORK-INDEPENDENT",
        "the fork's waiter answered {} when its source was deleted",
        r.status
    );
    // The waiter reached the server after `started`, so its timeout cannot
    // run out before `started + timeout`: an append acknowledged well
    // before that (half the hint, for slack) had to wake it with 200
    // (§5.7: "200 OK: Data became available within the timeout"). A 204
    // then is exactly what a waiter orphaned by the source's delete gives.
    check!(
        r.status == 200 || appended >= ctx.long_poll_timeout() / 2,
        "FORK-INDEPENDENT",
        "the fork's waiter timed out (204 after {} ms) although the fork append was acknowledged {} ms in (long-poll timeout {} ms): deleting the source orphaned it",
        r.elapsed.as_millis(),
        appended.as_millis(),
        ctx.long_poll_timeout().as_millis()
    );
    if r.status == 200 {
        check_eq!(
            r.text(),
            "after-delete|".to_string(),
            "FORK-INDEPENDENT",
            "data delivered to the fork's waiter"
        );
    } else {
        // Woken without data (timeout raced the append): the data must be there.
        let all = ctx.read_all("f", s.tail(), "FORK-INDEPENDENT").await?;
        check_eq!(
            all.text(),
            "after-delete|".to_string(),
            "FORK-INDEPENDENT",
            "fork read after its source was deleted"
        );
    }
    Ok(())
}

register![
    long_poll_inherited_is_immediate,
    long_poll_ignores_source_appends,
    long_poll_woken_by_fork_append,
    long_poll_woken_by_fork_close,
    sse_inherited_then_own,
    sse_json_fork,
    sse_from_inherited_offset,
    long_poll_survives_source_delete,
];
