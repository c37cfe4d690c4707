//! Webhook delivery (§6.5, §7.1, §7.3, §12.10): the JWK Set, signed
//! deliveries verified by the harness's receiver, `{done: true}`
//! auto-acks, asynchronous callbacks, fencing, retries with backoff, and
//! answers that arrive after their lease expired.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::util::{acked, append, ok_next_wake, stream_with, Wake};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::Ctx;
use crate::subs::jwks::{verify, Jwks};
use crate::subs::{is_fenced, require, Delivery, Mailbox, Need, Reply, Subs};
use crate::{check, check_eq, fail};

/// The target's JWK Set (200 required).
async fn jwks(s: &Subs) -> Result<Jwks, Failure> {
    let r = s.jwks().await?;
    r.expect(200, "SUB-JWKS-SERVED")?;
    Jwks::parse(&r.json("SUB-JWKS-SERVED")?)
}

/// A webhook subscription over stream `a` (created with data) delivering
/// to a fresh mailbox answering with `policy` (None: held).
pub(super) struct Hook {
    pub id: String,
    pub mb: Mailbox,
    pub jwks: Jwks,
    /// `a`'s tail when the subscription was created.
    pub t0: String,
}

pub(super) async fn hook(
    ctx: &Ctx,
    s: &Subs,
    lease: Option<u64>,
    policy: Option<Reply>,
) -> Result<Hook, Failure> {
    let t0 = stream_with(ctx, "a", "before").await?;
    let mb = s.mailbox().await?;
    mb.set_policy(policy);
    let id = s.id("s");
    let mut body =
        json!({"type": "webhook", "streams": [ctx.rel("a")], "webhook": {"url": mb.url()}});
    if let Some(ms) = lease {
        body["lease_ttl_ms"] = json!(ms);
    }
    s.put(&id, &body).await?.expect(201, "SUB-CREATE-201")?;
    let jwks = jwks(s).await?;
    Ok(Hook { id, mb, jwks, t0 })
}

/// A verified delivery: signature checked, body parsed as a wake.
pub(super) struct Got {
    pub d: Delivery,
    pub wake: Wake,
}

impl Hook {
    /// The next delivery within `within`, its signature verified against
    /// the JWK Set and its body checked (SUB-WEBHOOK-DELIVERY).
    pub async fn next(&self, s: &Subs, within: Duration, what: &str) -> Result<Got, Failure> {
        self.next_for(s, within, what, "SUB-WEBHOOK-DELIVERY").await
    }

    /// As `next`; a missing delivery fails on `req`.
    pub async fn next_for(
        &self,
        s: &Subs,
        within: Duration,
        what: &str,
        req: &str,
    ) -> Result<Got, Failure> {
        let Some(d) = self.mb.next(within).await else {
            fail!(
                req,
                "no webhook delivery ({what}) within {} ms",
                within.as_millis()
            );
        };
        s.ctx.note(format!(
            "webhook delivery received ({what}): {} {}",
            d.header("webhook-signature").unwrap_or_default(),
            crate::transcript::preview(&d.raw, 600)
        ));
        let sig = verify(&self.jwks, d.header("webhook-signature").as_deref(), &d.raw)?;
        let now = d
            .wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|x| x.as_secs() as i64)
            .unwrap_or(0);
        check!(
            (sig.t - now).abs() <= 300,
            "SUB-WEBHOOK-TIMESTAMP",
            "signature timestamp t={} is {} s from the receiver's clock",
            sig.t,
            sig.t - now
        );
        let Some(v) = d.json() else {
            fail!("SUB-WEBHOOK-DELIVERY", "the delivery body is not JSON");
        };
        check_eq!(
            v["subscription_id"],
            json!(self.id),
            "SUB-WEBHOOK-DELIVERY",
            "subscription_id"
        );
        let cb = v["callback_url"].as_str().unwrap_or_default();
        check!(
            cb.ends_with(&format!("/__ds/subscriptions/{}/callback", self.id)),
            "SUB-WEBHOOK-DELIVERY",
            "callback_url {cb:?} is not the subscription's __ds callback"
        );
        let wake = Wake::parse(&v, "callback_token", "SUB-WEBHOOK-DELIVERY")?;
        Ok(Got { d, wake })
    }

    /// POST the delivery's callback with its token.
    pub async fn callback(
        &self,
        s: &Subs,
        w: &Wake,
        token: &str,
        body: &serde_json::Value,
    ) -> Result<crate::client::Resp, Failure> {
        let url = w.body["callback_url"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let url = if url.is_empty() {
            format!("{}/callback", s.sub_url(&self.id))
        } else {
            url
        };
        s.post_url_token(&url, token, body).await
    }
}

/// The JWK Set: its media type and Ed25519 keys with unique kids that do
/// not change between fetches.
#[case("SUB-JWKS-SERVED", "SUB-JWKS-KEY-FIELDS", "SUB-JWKS-KID")]
pub async fn jwks_document(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let r = s.jwks().await?;
    r.expect(200, "SUB-JWKS-SERVED")?;
    check_eq!(
        r.media_type().unwrap_or_default(),
        "application/jwk-set+json",
        "SUB-JWKS-SERVED",
        "Content-Type of the JWK Set"
    );
    let first = Jwks::parse(&r.json("SUB-JWKS-SERVED")?)?;
    let again = jwks(&s).await?;
    check_eq!(
        again.kids(),
        first.kids(),
        "SUB-JWKS-KID",
        "kids of two fetches"
    );
    Ok(())
}

/// The JWK Set is cacheable (public, max-age).
#[case("SUB-JWKS-CACHE")]
pub async fn jwks_cache_control(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let r = s.jwks().await?;
    r.expect(200, "SUB-JWKS-SERVED")?;
    let cc = r
        .header("cache-control")
        .unwrap_or_default()
        .to_ascii_lowercase();
    check!(
        cc.contains("public") && cc.contains("max-age="),
        "SUB-JWKS-CACHE",
        "Cache-Control of the JWK Set is {cc:?}, not public with a max-age"
    );
    Ok(())
}

/// An append wakes the idle subscription with a signed delivery carrying
/// the documented fields; the callback then acks it.
#[case(
    "SUB-WEBHOOK-DELIVERY",
    "SUB-WEBHOOK-SIGNATURE",
    "SUB-WEBHOOK-TIMESTAMP",
    "SUB-CALLBACK"
)]
pub async fn delivery_signed_with_fields(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, None, Some(Reply::ok())).await?;
    let t1 = append(&ctx, "a", "one").await?;
    let g = h.next(&s, s.soon(), "after the append").await?;
    let ct = g.d.header("content-type").unwrap_or_default();
    check_eq!(
        ct.split(';').next().unwrap_or("").trim(),
        "application/json",
        "SUB-WEBHOOK-DELIVERY",
        "Content-Type of the delivery"
    );
    let a = ctx.rel("a");
    let e = g.wake.stream(&a).cloned().unwrap_or_default();
    check_eq!(
        e["acked_offset"],
        json!(h.t0),
        "SUB-WEBHOOK-DELIVERY",
        "acked_offset in the wake"
    );
    check_eq!(
        e["tail_offset"],
        json!(t1),
        "SUB-WEBHOOK-DELIVERY",
        "tail_offset in the wake"
    );
    check_eq!(
        e["has_pending"],
        json!(true),
        "SUB-WEBHOOK-DELIVERY",
        "has_pending"
    );
    let r = h
        .callback(&s, &g.wake, &g.wake.token, &g.wake.ack(&[(&a, &t1)], true))
        .await?;
    check!(
        !ok_next_wake(&r, "SUB-CALLBACK")?,
        "SUB-CALLBACK",
        "next_wake is true with nothing pending"
    );
    check_eq!(
        acked(&s, &h.id, &a, "SUB-CALLBACK").await?,
        t1,
        "SUB-CALLBACK",
        "acked_offset after the callback"
    );
    Ok(())
}

/// Poll the subscription until `path`'s acked offset is `want` (or time
/// runs out); returns the last value seen.
async fn acked_becomes(s: &Subs, id: &str, path: &str, want: &str) -> Result<String, Failure> {
    let deadline = Instant::now() + s.soon();
    loop {
        let got = acked(s, id, path, "SUB-WEBHOOK-DONE-ACK").await?;
        if got == want || Instant::now() >= deadline {
            return Ok(got);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the subscription's `status` until it equals `want` or `soon()`
/// passes; returns the last value seen.
async fn status_becomes(s: &Subs, id: &str, want: &str) -> Result<Value, Failure> {
    let deadline = Instant::now() + s.soon();
    loop {
        let got = s.state(id, "SUB-STATUS").await?["status"].clone();
        if got == json!(want) || Instant::now() >= deadline {
            return Ok(got);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `{done: true}` from the receiver acks the wake's snapshot; with nothing
/// pending no further wake follows.
#[case("SUB-WEBHOOK-DONE-ACK")]
pub async fn done_true_acks_snapshot(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, None, Some(Reply::done())).await?;
    let t1 = append(&ctx, "a", "one").await?;
    let g = h.next(&s, s.soon(), "after the append").await?;
    let a = ctx.rel("a");
    let got = acked_becomes(&s, &h.id, &a, &t1).await?;
    check_eq!(
        got,
        t1,
        "SUB-WEBHOOK-DONE-ACK",
        "acked_offset after {{done: true}}"
    );
    if let Some(d) = h.mb.next(Duration::from_millis(1000)).await {
        fail!(
            "SUB-WEBHOOK-DONE-ACK",
            "another delivery followed {{done: true}} with nothing pending: {}",
            crate::transcript::preview(&d.raw, 300)
        );
    }
    let t2 = append(&ctx, "a", "two").await?;
    let g2 = h.next(&s, s.soon(), "after a second append").await?;
    check!(
        g2.wake.generation > g.wake.generation,
        "SUB-GENERATION",
        "generation {} after {}",
        g2.wake.generation,
        g.wake.generation
    );
    check_eq!(
        acked_becomes(&s, &h.id, &a, &t2).await?,
        t2,
        "SUB-WEBHOOK-DONE-ACK",
        "acked_offset after the second {{done: true}}"
    );
    Ok(())
}

/// Events appended while a delivery is being answered: `{done: true}`
/// acks exactly the snapshot and a new wake (new wake_id, higher
/// generation) follows for the rest.
#[case("SUB-WEBHOOK-DONE-REWAKE", "SUB-WEBHOOK-DONE-ACK", "SUB-GENERATION")]
pub async fn done_true_rewakes_for_later_events(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, None, None).await?;
    let t1 = append(&ctx, "a", "one").await?;
    let g1 = h.next(&s, s.soon(), "after the first append").await?;
    let a = ctx.rel("a");
    let snap = g1
        .wake
        .stream(&a)
        .and_then(|e| e["tail_offset"].as_str())
        .unwrap_or_default()
        .to_string();
    check_eq!(
        snap,
        t1,
        "SUB-WEBHOOK-DELIVERY",
        "tail_offset of the snapshot"
    );
    let t2 = append(&ctx, "a", "two").await?;
    let w1 = g1.wake.clone();
    let _ = g1.d.reply(Reply::done());
    let g2 = h
        .next_for(
            &s,
            s.soon(),
            "the re-wake for the later append",
            "SUB-WEBHOOK-DONE-REWAKE",
        )
        .await?;
    check!(
        g2.wake.wake_id != w1.wake_id,
        "SUB-WEBHOOK-DONE-REWAKE",
        "the re-wake reuses wake_id {}",
        w1.wake_id
    );
    check!(
        g2.wake.generation > w1.generation,
        "SUB-WEBHOOK-DONE-REWAKE",
        "re-wake generation {} not above {}",
        g2.wake.generation,
        w1.generation
    );
    let e = g2.wake.stream(&a).cloned().unwrap_or_default();
    check!(
        e["acked_offset"] == json!(t1) && e["tail_offset"] == json!(t2),
        "SUB-WEBHOOK-DONE-ACK",
        "the re-wake should offer {t1}..{t2} (done acks exactly the snapshot): {e}"
    );
    let _ = g2.d.reply(Reply::done());
    check_eq!(
        acked_becomes(&s, &h.id, &a, &t2).await?,
        t2,
        "SUB-WEBHOOK-DONE-ACK",
        "acked_offset after the second done"
    );
    Ok(())
}

/// Stale callbacks (an older wake's token, wake_id or generation) are
/// 409 FENCED and advance nothing; the live wake's callback still works.
#[case("SUB-CALLBACK-FENCED", "SUB-FENCE-CHECKS", "SUB-CALLBACK")]
pub async fn stale_callbacks_fenced(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, None, Some(Reply::ok())).await?;
    let a = ctx.rel("a");
    let t1 = append(&ctx, "a", "one").await?;
    let g1 = h.next(&s, s.soon(), "first wake").await?;
    let r = h
        .callback(
            &s,
            &g1.wake,
            &g1.wake.token,
            &g1.wake.ack(&[(&a, &t1)], true),
        )
        .await?;
    ok_next_wake(&r, "SUB-CALLBACK")?;
    let t2 = append(&ctx, "a", "two").await?;
    let g2 = h.next(&s, s.soon(), "second wake").await?;
    let (w1, w2) = (&g1.wake, &g2.wake);
    let body = |gen: i64, wake: &str| json!({"wake_id": wake, "generation": gen, "acks": [{"stream": a, "offset": t2}], "done": true});
    for (what, token, b) in [
        (
            "the first wake's callback replayed",
            &w1.token,
            body(w1.generation, &w1.wake_id),
        ),
        (
            "current token, old wake_id and generation",
            &w2.token,
            body(w1.generation, &w1.wake_id),
        ),
        (
            "current token and generation, old wake_id",
            &w2.token,
            body(w2.generation, &w1.wake_id),
        ),
        (
            "current token and wake_id, old generation",
            &w2.token,
            body(w1.generation, &w2.wake_id),
        ),
    ] {
        let r = h.callback(&s, w2, token, &b).await?;
        check!(
            is_fenced(&r),
            "SUB-CALLBACK-FENCED",
            "{what}: expected 409 FENCED, got {} ({})",
            r.status,
            r.text()
        );
    }
    let r = h
        .callback(&s, w2, &w1.token, &body(w2.generation, &w2.wake_id))
        .await?;
    check!(
        matches!(r.status, 401 | 403 | 409),
        "SUB-FENCE-CHECKS",
        "the first wake's token with the current wake: expected a rejection, got {} ({})",
        r.status,
        r.text()
    );
    check_eq!(
        acked(&s, &h.id, &a, "SUB-CALLBACK-FENCED").await?,
        t1,
        "SUB-CALLBACK-FENCED",
        "acked_offset after fenced callbacks"
    );
    let r = h
        .callback(&s, w2, &w2.token, &w2.ack(&[(&a, &t2)], true))
        .await?;
    ok_next_wake(&r, "SUB-CALLBACK")?;
    Ok(())
}

/// Callbacks without done extend the webhook lease: the wake stays live
/// well past the TTL and its final callback is accepted.
#[case("SUB-WEBHOOK-LEASE", "SUB-CALLBACK", secs = 5)]
pub async fn callbacks_extend_lease(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, Some(2000), Some(Reply::ok())).await?;
    let a = ctx.rel("a");
    const LEASE: Duration = Duration::from_millis(2000);
    // The lease surely runs until LEASE after the server handled the last
    // accepted callback, hence after we sent it; at first, after the wake
    // was sent, hence after the append was. A refused heartbeat is judged
    // only if its answer came before that: later, on a slow or loaded
    // machine, the lease may have run out before the heartbeat arrived.
    let mut lease_from = Instant::now();
    let t1 = append(&ctx, "a", "one").await?;
    let g = h.next(&s, s.soon(), "after the append").await?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(5000) + s.slack() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = Instant::now();
        let r = h
            .callback(&s, &g.wake, &g.wake.token, &g.wake.ack(&[], false))
            .await?;
        if r.status == 200 {
            lease_from = sent;
            continue;
        }
        let what = format!(
            "heartbeat callback {} ms after the last accepted one (or the append) into a 2000 ms lease got {} ({})",
            sent.duration_since(lease_from).as_millis(),
            r.status,
            r.text()
        );
        check!(
            Instant::now() >= lease_from + LEASE,
            "SUB-WEBHOOK-LEASE",
            "{what}"
        );
        return Err(crate::case::Failure::inconclusive(
            "SUB-WEBHOOK-LEASE",
            format!("{what}; its answer came after the lease may have run out, so no verdict"),
        ));
    }
    if let Some(d) = h.mb.next(Duration::from_millis(10)).await {
        fail!(
            "SUB-WEBHOOK-LEASE",
            "a second wake arrived while callbacks kept the lease alive: {}",
            crate::transcript::preview(&d.raw, 300)
        );
    }
    let r = h
        .callback(&s, &g.wake, &g.wake.token, &g.wake.ack(&[(&a, &t1)], true))
        .await?;
    ok_next_wake(&r, "SUB-CALLBACK")?;
    Ok(())
}

/// A `{done: true}` that arrives after its lease expired and the next
/// wake went out acks nothing and does not fence the live wake.
#[case("SUB-WEBHOOK-LEASE", "SUB-LEASE-EXPIRY", secs = 2)]
pub async fn late_done_does_not_touch_next_wake(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, Some(2000), None).await?;
    let a = ctx.rel("a");
    append(&ctx, "a", "one").await?;
    let g1 = h.next(&s, s.soon(), "first wake").await?;
    let t2 = append(&ctx, "a", "two").await?;
    let g2 = h
        .next_for(
            &s,
            // A server may hold the next wake until it gives up on the
            // unanswered delivery (its own request timeout).
            Duration::from_millis(25_000) + s.soon(),
            "the wake after the 2 s lease expired (first still unanswered)",
            "SUB-LEASE-EXPIRY",
        )
        .await?;
    check!(
        g2.wake.generation > g1.wake.generation,
        "SUB-LEASE-EXPIRY",
        "generation {} after {}",
        g2.wake.generation,
        g1.wake.generation
    );
    // Keep the live wake's lease fresh, then let the expired one answer.
    let r = h
        .callback(&s, &g2.wake, &g2.wake.token, &g2.wake.ack(&[], false))
        .await?;
    check!(
        r.status == 200,
        "SUB-CALLBACK",
        "heartbeat callback of the live wake: {} ({})",
        r.status,
        r.text()
    );
    if !g1.d.reply(Reply::done()) {
        ctx.note("the server gave up on the first delivery before the next wake: no late answer can reach it");
    }
    ctx.sleep(Duration::from_millis(300)).await;
    let now = acked(&s, &h.id, &a, "SUB-WEBHOOK-LEASE").await?;
    check!(
        now != t2,
        "SUB-WEBHOOK-LEASE",
        "the expired wake's late {{done: true}} acked the next wake's snapshot ({t2})"
    );
    let r = h
        .callback(
            &s,
            &g2.wake,
            &g2.wake.token,
            &g2.wake.ack(&[(&a, &t2)], true),
        )
        .await?;
    check!(
        r.status == 200,
        "SUB-WEBHOOK-LEASE",
        "the live wake's callback after a late done of the expired one: {} ({})",
        r.status,
        r.text()
    );
    Ok(())
}

/// A failing receiver is retried with exponential backoff (1 s, 2 s, 4 s
/// ± 20%) and the subscription reads `failed` meanwhile, `active` after.
#[case("SUB-WEBHOOK-RETRY", "SUB-STATUS", secs = 3)]
pub async fn retries_back_off(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, Some(60_000), Some(Reply::json(500, "{}"))).await?;
    let a = ctx.rel("a");
    let t1 = append(&ctx, "a", "one").await?;
    let mut at = vec![h.next(&s, s.soon(), "first attempt").await?.d.at];
    // The receiver has answered 500, but the server may not have read that
    // answer yet: poll. Retry 1 is answered 500 too, so `failed` holds until
    // retry 2 succeeds, well after this bound.
    check_eq!(
        status_becomes(&s, &h.id, "failed").await?,
        json!("failed"),
        "SUB-STATUS",
        "status while a retry is scheduled"
    );
    // Generous upper bounds: a loaded machine delays timers, never hastens them.
    let late = Duration::from_millis(1500) + s.slack();
    for (n, base) in [(1u32, 1000u64), (2, 2000)] {
        if n == 2 {
            h.mb.set_policy(Some(Reply::done()));
        }
        let d = h
            .next(
                &s,
                Duration::from_millis(base * 6 / 5) + late,
                &format!("retry {n}"),
            )
            .await
            .map_err(|f| Failure::new(Some("SUB-WEBHOOK-RETRY"), f.message))?;
        let gap = d.d.at.duration_since(*at.last().unwrap_or(&d.d.at));
        check!(
            gap >= Duration::from_millis(base * 4 / 5 - 50),
            "SUB-WEBHOOK-RETRY",
            "retry {n} came {} ms after the previous attempt; backoff is {base} ms ± 20%",
            gap.as_millis()
        );
        at.push(d.d.at);
    }
    check_eq!(
        acked_becomes(&s, &h.id, &a, &t1).await?,
        t1,
        "SUB-WEBHOOK-DONE-ACK",
        "acked_offset after the successful retry"
    );
    // The server records the status when it has read the receiver's
    // answer, which may come after the ack: poll, as above.
    check_eq!(
        status_becomes(&s, &h.id, "active").await?,
        json!("active"),
        "SUB-STATUS",
        "status after a successful delivery"
    );
    Ok(())
}

/// DELETE while a delivery is failing and retries are scheduled: the
/// wake's callback then fails; once the DELETE is answered (plus a grace
/// for a request already on the wire) no delivery or retry for it arrives; re-created under the same id, the
/// subscription starts afresh: no inherited retry schedule (`active`), a
/// new wake for new data, delivered at once.
#[case(
    "SUB-DELETE-STOPS-DELIVERY",
    "SUB-DELETE-204",
    "SUB-STATUS",
    "SUB-DELETED-FENCED",
    secs = 4
)]
pub async fn delete_stops_deliveries_and_recreate_starts_fresh(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let h = hook(&ctx, &s, Some(60_000), Some(Reply::json(500, "{}"))).await?;
    let a = ctx.rel("a");
    let t1 = append(&ctx, "a", "one").await?;
    let first = h.next(&s, s.soon(), "first attempt").await?;
    check_eq!(
        status_becomes(&s, &h.id, "failed").await?,
        json!("failed"),
        "SUB-STATUS",
        "status while a retry is scheduled"
    );
    s.delete(&h.id).await?.expect(204, "SUB-DELETE-204")?;
    let answered = Instant::now();
    // The deleted subscription's wake cannot be answered any more (§6.3).
    let r = h
        .callback(
            &s,
            &first.wake,
            &first.wake.token,
            &first.wake.ack(&[(&a, &t1)], true),
        )
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-DELETED-FENCED",
        "a callback for the deleted subscription's wake was accepted: {} {}",
        r.status,
        r.text()
    );
    // A request the server sent before answering may still land just
    // after; anything later is a delivery of a deleted subscription.
    let grace = Duration::from_millis(500) + s.slack();
    // Watch past retries 1 and 2 (1 s and 2 s ± 20% after the first).
    let until = (first.d.at + Duration::from_millis(3600) + s.slack()).max(answered + grace);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Some(d) = h.mb.next(left).await else {
            break;
        };
        check!(
            d.at <= answered + grace,
            "SUB-DELETE-STOPS-DELIVERY",
            "a delivery arrived {} ms after DELETE was answered (204): {}",
            d.at.duration_since(answered).as_millis(),
            crate::transcript::preview(&d.raw, 300)
        );
    }
    // Re-created with the same id and configuration, to a receiver that
    // now answers {done: true}.
    h.mb.set_policy(Some(Reply::done()));
    let body = json!({"type": "webhook", "streams": [a.clone()], "webhook": {"url": h.mb.url()}, "lease_ttl_ms": 60_000});
    s.put(&h.id, &body).await?.expect(201, "SUB-CREATE-201")?;
    check_eq!(
        s.state(&h.id, "SUB-STATUS").await?["status"],
        json!("active"),
        "SUB-DELETE-STOPS-DELIVERY",
        "status of the re-created subscription (a new subscription has no retry scheduled)"
    );
    let t2 = append(&ctx, "a", "two").await?;
    // (A server that links explicit streams at their start may first wake
    // for the older data; each wake is answered done, so the one showing
    // the new tail follows.)
    for n in 1.. {
        check!(
            n <= 5,
            "SUB-DELETE-STOPS-DELIVERY",
            "4 wakes of the re-created subscription, none showing the new tail {t2}"
        );
        let got = h
            .next_for(
                &s,
                s.soon(),
                "the re-created subscription's wake for new data",
                "SUB-DELETE-STOPS-DELIVERY",
            )
            .await?;
        check!(
            got.wake.wake_id != first.wake.wake_id,
            "SUB-DELETE-STOPS-DELIVERY",
            "the re-created subscription was delivered the deleted one's wake {}",
            first.wake.wake_id
        );
        if got.wake.stream(&a).and_then(|l| l["tail_offset"].as_str()) == Some(t2.as_str()) {
            break;
        }
    }
    check_eq!(
        acked_becomes(&s, &h.id, &a, &t2).await?,
        t2,
        "SUB-WEBHOOK-DONE-ACK",
        "acked_offset after the re-created subscription's done"
    );
    Ok(())
}

register![
    jwks_document,
    jwks_cache_control,
    delivery_signed_with_fields,
    done_true_acks_snapshot,
    done_true_rewakes_for_later_events,
    stale_callbacks_fenced,
    callbacks_extend_lease,
    late_done_does_not_touch_next_wake,
    retries_back_off,
    delete_stops_deliveries_and_recreate_starts_fresh,
];
