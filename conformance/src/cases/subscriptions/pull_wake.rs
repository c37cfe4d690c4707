//! Pull-wake delivery (§7, §7.2, §7.3): wake events, claims and their
//! exclusivity, ack as heartbeat and as done, release, fencing of stale
//! requests and lease expiry.

use std::time::{Duration, Instant};

use serde_json::json;

use super::util::{acked, any_pending, append, claim, expect_wake, ok_next_wake, stream_with};
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::subs::{error_code, is_fenced, require, Need, PullSub, Subs};
use crate::{check, check_eq};

/// A subscription over stream `a` (explicit) with one append pending and
/// its wake event seen; returns the event's generation and `a`'s tail.
async fn pending(
    ctx: &Ctx,
    s: &Subs,
    lease: Option<u64>,
) -> Result<(PullSub, i64, String), crate::case::Failure> {
    stream_with(ctx, "a", "before").await?;
    let sub = s.pull("s", &["a"], None, lease).await?;
    let t = append(ctx, "a", "one").await?;
    let ev = expect_wake(s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    Ok((sub, ev["generation"].as_i64().unwrap_or(0), t))
}

/// An append to a linked stream writes a wake event with the documented
/// fields to the wake stream.
#[case("SUB-WAKE-EVENT", "SUB-WAKE-ON-PENDING")]
pub async fn wake_event_fields(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    stream_with(&ctx, "a", "before").await?;
    let sub = s.pull("s", &["a"], None, None).await?;
    append(&ctx, "a", "one").await?;
    let ev = expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    check_eq!(ev["type"], json!("wake"), "SUB-WAKE-EVENT", "type");
    check_eq!(
        ev["subscription_id"],
        json!(sub.id),
        "SUB-WAKE-EVENT",
        "subscription_id"
    );
    check_eq!(
        ev["stream"],
        json!(ctx.rel("a")),
        "SUB-WAKE-EVENT",
        "stream"
    );
    check!(
        ev["generation"].as_i64().is_some_and(|g| g >= 1),
        "SUB-WAKE-EVENT",
        "generation is not a positive integer: {ev}"
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    check!(
        ev["ts"]
            .as_i64()
            .is_some_and(|ts| (ts - now).abs() < 300_000),
        "SUB-WAKE-EVENT",
        "ts is not the current time in Unix milliseconds (now {now}): {ev}"
    );
    Ok(())
}

/// A claim answers with the wake, a token, the pending streams and the
/// lease.
#[case("SUB-CLAIM")]
pub async fn claim_fields(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let before = stream_with(&ctx, "a", "before").await?;
    let sub = s.pull("s", &["a"], None, Some(4000)).await?;
    let t = append(&ctx, "a", "one").await?;
    let ev = expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let c = claim(&s, &sub.id, "w1").await?;
    check_eq!(
        c.body["lease_ttl_ms"],
        json!(4000),
        "SUB-CLAIM",
        "lease_ttl_ms of the claim"
    );
    check!(
        c.generation >= ev["generation"].as_i64().unwrap_or(0),
        "SUB-CLAIM",
        "claim generation {} is below the wake event's {}",
        c.generation,
        ev["generation"]
    );
    let e = c.stream(&ctx.rel("a")).cloned().unwrap_or_default();
    check_eq!(
        e["acked_offset"],
        json!(before),
        "SUB-CLAIM",
        "acked_offset of the pending stream"
    );
    check_eq!(
        e["tail_offset"],
        json!(t),
        "SUB-CLAIM",
        "tail_offset of the pending stream"
    );
    check_eq!(e["has_pending"], json!(true), "SUB-CLAIM", "has_pending");
    check_eq!(e["link_type"], json!("explicit"), "SUB-CLAIM", "link_type");
    Ok(())
}

/// Three workers claim at once: exactly one wins, the others learn who
/// holds the lease and its generation.
#[case("SUB-CLAIM-EXCLUSIVE")]
pub async fn racing_claims_one_wins(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let (sub, _, _) = pending(&ctx, &s, None).await?;
    let rs = futures::future::join_all(["w1", "w2", "w3"].map(|w| s.claim(&sub.id, w))).await;
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for (i, r) in rs.into_iter().enumerate() {
        let r = r?;
        match r.status {
            200 => winners.push((format!("w{}", i + 1), r.json("SUB-CLAIM")?)),
            _ => losers.push(r),
        }
    }
    check!(
        winners.len() == 1,
        "SUB-CLAIM-EXCLUSIVE",
        "{} of 3 racing claims won",
        winners.len()
    );
    let (holder, won) = &winners[0];
    let late = s.claim(&sub.id, "w4").await?;
    losers.push(late);
    for r in losers {
        check!(
            r.status == 409,
            "SUB-CLAIM-EXCLUSIVE",
            "a losing claim got {}, not 409: {}",
            r.status,
            r.text()
        );
        let v = r.json("SUB-CLAIM-EXCLUSIVE")?;
        check_eq!(
            v["error"]["code"],
            json!("ALREADY_CLAIMED"),
            "SUB-CLAIM-EXCLUSIVE",
            "error.code"
        );
        check_eq!(
            v["error"]["current_holder"],
            json!(holder),
            "SUB-CLAIM-EXCLUSIVE",
            "error.current_holder"
        );
        check_eq!(
            v["error"]["generation"],
            won["generation"],
            "SUB-CLAIM-EXCLUSIVE",
            "error.generation"
        );
    }
    Ok(())
}

/// Acks without done keep the claim alive well past the lease TTL. A
/// refused heartbeat is a violation only when it was answered within one
/// lease of sending the request that last renewed the lease (claim or
/// heartbeat): the server renewed it between sending and answering, so the
/// lease still ran. On a machine too slow for that (a claim answered after
/// more than the lease) the attempt is repeated, and inconclusive if all
/// three are too slow.
#[case("SUB-ACK-HEARTBEAT", secs = 6)]
pub async fn ack_heartbeat_extends_lease(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let mut slow = Vec::new();
    for i in 1..=3 {
        match heartbeat_attempt(&ctx, &s, i).await? {
            None => return Ok(()),
            Some(why) => {
                ctx.note(format!("attempt {i}: too slow to judge: {why}"));
                slow.push(format!("attempt {i}: {why}"));
            }
        }
    }
    Err(crate::case::Failure::inconclusive(
        "SUB-ACK-HEARTBEAT",
        format!(
            "each attempt took longer than the 2000 ms lease between a renewal and the next request's answer\n  {}",
            slow.join("\n  ")
        ),
    ))
}

/// One heartbeat attempt on fresh streams: `Some(why)` when a refusal came
/// too late to judge.
async fn heartbeat_attempt(
    ctx: &Ctx,
    s: &Subs,
    i: usize,
) -> Result<Option<String>, crate::case::Failure> {
    const LEASE: Duration = Duration::from_millis(2000);
    let name = format!("a{i}");
    stream_with(ctx, &name, "before").await?;
    let sub = s
        .pull(
            &format!("s{i}"),
            &[&name],
            None,
            Some(LEASE.as_millis() as u64),
        )
        .await?;
    let t = append(ctx, &name, "one").await?;
    expect_wake(s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    // When the request that last renewed the lease was sent.
    let mut renewed = Instant::now();
    let c = claim(s, &sub.id, "w1").await?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(5000) + s.slack() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = Instant::now();
        let r = s
            .post_token(&sub.id, "ack", &c.token, &c.ack(&[], false))
            .await?;
        let gap = renewed.elapsed();
        if !(200..300).contains(&r.status) {
            if gap > LEASE {
                return Ok(Some(format!(
                    "a heartbeat answered {} ms after the last renewal was sent got {}",
                    gap.as_millis(),
                    r.status
                )));
            }
            crate::fail!(
                "SUB-ACK-HEARTBEAT",
                "heartbeat ack {} ms into the claim, answered {} ms after the last renewal was sent (lease 2000 ms), got {}: {}",
                started.elapsed().as_millis(),
                gap.as_millis(),
                r.status,
                r.text()
            );
        }
        renewed = sent;
    }
    let other = s.claim(&sub.id, "w2").await?;
    let gap = renewed.elapsed();
    if !(other.status == 409 && error_code(&other).as_deref() == Some("ALREADY_CLAIMED")) {
        if gap > LEASE {
            return Ok(Some(format!(
                "the other worker's claim answered {} ms after the last heartbeat was sent got {}",
                gap.as_millis(),
                other.status
            )));
        }
        crate::fail!(
            "SUB-ACK-HEARTBEAT",
            "after 5 s of heartbeats on a 2 s lease another worker's claim got {}: {}",
            other.status,
            other.text()
        );
    }
    let a = ctx.rel(&name);
    let r = s
        .post_token(&sub.id, "ack", &c.token, &c.ack(&[(&a, &t)], true))
        .await?;
    let gap = renewed.elapsed();
    if r.status != 200 && gap > LEASE {
        return Ok(Some(format!(
            "the done ack answered {} ms after the last heartbeat was sent got {}",
            gap.as_millis(),
            r.status
        )));
    }
    ok_next_wake(&r, "SUB-ACK-HEARTBEAT")?;
    Ok(None)
}

/// A done ack at the tail applies, releases, reports no next wake, and
/// leaves nothing pending; the next append starts a newer wake.
#[case("SUB-ACK-DONE", "SUB-ACK-INCLUSIVE", "SUB-GENERATION")]
pub async fn ack_done_releases(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let (sub, g, t) = pending(&ctx, &s, None).await?;
    let c = claim(&s, &sub.id, "w1").await?;
    let a = ctx.rel("a");
    let r = s
        .post_token(&sub.id, "ack", &c.token, &c.ack(&[(&a, &t)], true))
        .await?;
    let next = ok_next_wake(&r, "SUB-ACK-DONE")?;
    check!(
        !next,
        "SUB-ACK-DONE",
        "next_wake is true with nothing pending"
    );
    check_eq!(
        acked(&s, &sub.id, &a, "SUB-ACK-DONE").await?,
        t,
        "SUB-ACK-DONE",
        "acked_offset after the done ack"
    );
    let r = s.claim(&sub.id, "w2").await?;
    if r.status == 200 {
        let v = r.json("SUB-CLAIM")?;
        let pending = any_pending(&v);
        check!(
            !pending,
            "SUB-ACK-INCLUSIVE",
            "acked up to the tail, yet a claim reports pending work: {v}"
        );
    }
    ctx.sleep(Duration::from_millis(600)).await;
    let events = s.wake_events(&sub.wake).await?;
    check!(
        events.len() == 1,
        "SUB-ACK-DONE",
        "a done ack with nothing pending woke the subscription again: {events:?}"
    );
    append(&ctx, "a", "two").await?;
    let ev = expect_wake(
        &s,
        &sub.wake,
        &sub.id,
        g.max(c.generation),
        "SUB-GENERATION",
    )
    .await?;
    let c2 = claim(&s, &sub.id, "w2").await?;
    check!(
        c2.generation > c.generation,
        "SUB-GENERATION",
        "generation {} after {}: not increasing",
        c2.generation,
        c.generation
    );
    check!(
        c2.wake_id != c.wake_id,
        "SUB-GENERATION",
        "wake_id {} reused by a new wake",
        c.wake_id
    );
    check!(
        ev["generation"].as_i64() > Some(c.generation),
        "SUB-GENERATION",
        "wake event generation {} not above {}",
        ev["generation"],
        c.generation
    );
    Ok(())
}

/// Data appended while the lease is held wakes nobody until the done ack,
/// which then reports next_wake and writes a newer wake.
#[case("SUB-ACK-DONE", "SUB-SINGLE-WAKE", "SUB-WAKE-ON-PENDING")]
pub async fn done_with_pending_rewakes(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let (sub, _, t1) = pending(&ctx, &s, None).await?;
    let c = claim(&s, &sub.id, "w1").await?;
    let t2 = append(&ctx, "a", "two").await?;
    ctx.sleep(Duration::from_millis(700)).await;
    let events = s.wake_events(&sub.wake).await?;
    check!(
        events.len() == 1,
        "SUB-SINGLE-WAKE",
        "an append during a held lease wrote another wake: {events:?}"
    );
    let a = ctx.rel("a");
    let r = s
        .post_token(&sub.id, "ack", &c.token, &c.ack(&[(&a, &t1)], true))
        .await?;
    check!(
        ok_next_wake(&r, "SUB-ACK-DONE")?,
        "SUB-ACK-DONE",
        "next_wake is false with {t2} still pending"
    );
    expect_wake(&s, &sub.wake, &sub.id, c.generation, "SUB-WAKE-ON-PENDING").await?;
    let c2 = claim(&s, &sub.id, "w2").await?;
    let e = c2.stream(&a).cloned().unwrap_or_default();
    check!(
        e["acked_offset"] == json!(t1)
            && e["tail_offset"] == json!(t2)
            && e["has_pending"] == json!(true),
        "SUB-WAKE-ON-PENDING",
        "the new wake does not offer {t1}..{t2}: {e}"
    );
    Ok(())
}

/// Release is 204 and, with work still pending, writes a newer wake.
#[case("SUB-RELEASE")]
pub async fn release_rewakes(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let (sub, _, _) = pending(&ctx, &s, None).await?;
    let c = claim(&s, &sub.id, "w1").await?;
    s.post_token(&sub.id, "release", &c.token, &c.release())
        .await?
        .expect(204, "SUB-RELEASE")?;
    expect_wake(&s, &sub.wake, &sub.id, c.generation, "SUB-RELEASE").await?;
    let c2 = claim(&s, &sub.id, "w2").await?;
    check!(
        c2.generation > c.generation,
        "SUB-RELEASE",
        "claim after release has generation {} (was {})",
        c2.generation,
        c.generation
    );
    Ok(())
}

/// Acks and releases from an older wake, or mixing one wake's token,
/// generation and wake_id with another's, are 409 FENCED and change
/// nothing; the live worker is unaffected.
#[case("SUB-STALE-FENCED", "SUB-FENCE-CHECKS")]
pub async fn stale_requests_fenced(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let (sub, _, t) = pending(&ctx, &s, None).await?;
    let a = ctx.rel("a");
    let before = acked(&s, &sub.id, &a, "SUB-LINK-FIELDS").await?;
    let c1 = claim(&s, &sub.id, "w1").await?;
    s.post_token(&sub.id, "release", &c1.token, &c1.release())
        .await?
        .expect(204, "SUB-RELEASE")?;
    let c2 = claim(&s, &sub.id, "w2").await?;
    let done = |w: &super::util::Wake| w.ack(&[(&a, &t)], true);
    let mixed = |gen: i64, wake: &str| json!({"wake_id": wake, "generation": gen, "acks": [{"stream": a, "offset": t}], "done": true});
    let tries = [
        (
            "ack from the released wake",
            "ack",
            c1.token.clone(),
            done(&c1),
            true,
        ),
        (
            "release from the released wake",
            "release",
            c1.token.clone(),
            c1.release(),
            true,
        ),
        (
            "current token, old generation and wake_id",
            "ack",
            c2.token.clone(),
            mixed(c1.generation, &c1.wake_id),
            true,
        ),
        (
            "current token and generation, old wake_id",
            "ack",
            c2.token.clone(),
            mixed(c2.generation, &c1.wake_id),
            true,
        ),
        (
            "current token and wake_id, old generation",
            "ack",
            c2.token.clone(),
            mixed(c1.generation, &c2.wake_id),
            true,
        ),
        (
            "old token, current generation and wake_id",
            "ack",
            c1.token.clone(),
            done(&c2),
            false,
        ),
    ];
    for (what, action, token, body, must_be_fenced) in tries {
        let r = s.post_token(&sub.id, action, &token, &body).await?;
        if must_be_fenced {
            check!(
                is_fenced(&r),
                "SUB-STALE-FENCED",
                "{what}: expected 409 FENCED, got {} ({})",
                r.status,
                r.text()
            );
        } else {
            check!(
                matches!(r.status, 401 | 403 | 409),
                "SUB-FENCE-CHECKS",
                "{what}: expected a rejection (409 FENCED or 401), got {} ({})",
                r.status,
                r.text()
            );
        }
    }
    check_eq!(
        acked(&s, &sub.id, &a, "SUB-STALE-FENCED").await?,
        before,
        "SUB-STALE-FENCED",
        "acked_offset after fenced acks"
    );
    let r = s.post_token(&sub.id, "ack", &c2.token, &done(&c2)).await?;
    ok_next_wake(&r, "SUB-FENCE-CHECKS")?;
    check_eq!(
        acked(&s, &sub.id, &a, "SUB-ACK-DONE").await?,
        t,
        "SUB-ACK-DONE",
        "acked_offset after the live worker's done ack"
    );
    Ok(())
}

/// An unrenewed lease expires: the holder is cleared, a newer wake is
/// written for the pending work, another worker can claim, and the
/// expired worker's ack is fenced.
#[case("SUB-LEASE-EXPIRY", "SUB-STALE-FENCED")]
pub async fn lease_expiry_rewakes(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let (sub, _, t) = pending(&ctx, &s, Some(1000)).await?;
    let c1 = claim(&s, &sub.id, "w1").await?;
    ctx.sleep(Duration::from_millis(1000)).await;
    let ev = s
        .wait_wake(&sub.wake, &sub.id, c1.generation, s.soon() + s.slack())
        .await?;
    check!(
        ev.is_some(),
        "SUB-LEASE-EXPIRY",
        "no newer wake event after the 1 s lease expired with work pending"
    );
    let c2 = claim(&s, &sub.id, "w2").await?;
    check!(
        c2.generation > c1.generation,
        "SUB-LEASE-EXPIRY",
        "claim after expiry has generation {} (expired: {})",
        c2.generation,
        c1.generation
    );
    let a = ctx.rel("a");
    let r = s
        .post_token(&sub.id, "ack", &c1.token, &c1.ack(&[(&a, &t)], true))
        .await?;
    check!(
        is_fenced(&r),
        "SUB-STALE-FENCED",
        "the expired worker's ack: expected 409 FENCED, got {} ({})",
        r.status,
        r.text()
    );
    Ok(())
}

register![
    wake_event_fields,
    claim_fields,
    racing_claims_one_wins,
    ack_heartbeat_extends_lease,
    ack_done_releases,
    done_with_pending_rewakes,
    release_rewakes,
    stale_requests_fenced,
    lease_expiry_rewakes,
];
