//! Tokens as an attacker uses them (§6.3, §7.3, §12.9): on the wrong
//! subscription, forged, outside the Authorization header, after a DELETE
//! and against a re-created subscription with the same id.

use serde_json::json;

use super::util::{acked, append, claim, expect_wake, ok_next_wake, stream_with, Wake};
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::subs::Reply;
use crate::subs::{require, Need, PullSub, Subs};
use crate::{check, check_eq};

/// Two pull-wake subscriptions over their own streams, each with an
/// append pending and claimed.
async fn two_claimed(
    ctx: &Ctx,
    s: &Subs,
) -> Result<Vec<(PullSub, Wake, String)>, crate::case::Failure> {
    let mut out = Vec::new();
    for n in ["a", "b"] {
        stream_with(ctx, n, "x").await?;
        let sub = s.pull(n, &[n], None, None).await?;
        let t = append(ctx, n, "y").await?;
        expect_wake(s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
        let c = claim(s, &sub.id, "w1").await?;
        out.push((sub, c, t));
    }
    Ok(out)
}

/// A token from one subscription, a forged token, and a token outside
/// the Authorization header are all refused and advance nothing.
#[case("SUB-FENCE-CHECKS", "SUB-TOKEN-SIGNED", "SUB-TOKEN-HEADER")]
pub async fn foreign_forged_and_misplaced_tokens_refused(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let subs = two_claimed(&ctx, &s).await?;
    let (sub_b, cb, tb) = &subs[1];
    let ca = &subs[0].1;
    let b = ctx.rel("b");
    let before = acked(&s, &sub_b.id, &b, "SUB-LINK-FIELDS").await?;
    let body = cb.ack(&[(&b, tb)], true);
    let r = s.post_token(&sub_b.id, "ack", &ca.token, &body).await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-FENCE-CHECKS",
        "subscription A's token acked subscription B: {} {}",
        r.status,
        r.text()
    );
    let mut forged = cb.token.clone();
    let last = forged.pop().unwrap_or('A');
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for (what, tok) in [
        ("altered", forged),
        (
            "empty-signature",
            format!("{}.", cb.token.split('.').next().unwrap_or("")),
        ),
    ] {
        let r = s.post_token(&sub_b.id, "ack", &tok, &body).await?;
        check!(
            !(200..300).contains(&r.status),
            "SUB-TOKEN-SIGNED",
            "an {what} token was accepted: {} {}",
            r.status,
            r.text()
        );
    }
    let url = format!("{}/ack", s.sub_url(&sub_b.id));
    let mut in_body = body.clone();
    in_body["token"] = json!(cb.token);
    let r = ctx
        .request(reqwest::Method::POST, &url)
        .query("token", &cb.token)
        .ct("application/json")
        .body(serde_json::to_vec(&in_body).unwrap_or_default())
        .send()
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-TOKEN-HEADER",
        "an ack carrying its token in the query and body, not Authorization, was accepted: {}",
        r.status
    );
    check_eq!(
        acked(&s, &sub_b.id, &b, "SUB-FENCE-CHECKS").await?,
        before,
        "SUB-FENCE-CHECKS",
        "B's acked_offset after refused acks"
    );
    let r = s.post_token(&sub_b.id, "ack", &cb.token, &body).await?;
    ok_next_wake(&r, "SUB-ACK-DONE")?;
    Ok(())
}

/// After DELETE, the old claim's ack and release fail; a re-created
/// subscription with the same id starts afresh and the old token
/// advances nothing there.
#[case("SUB-DELETED-FENCED")]
pub async fn deleted_subscription_requests_fail(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    stream_with(&ctx, "a", "x").await?;
    let sub = s.pull("s", &["a"], None, None).await?;
    let t = append(&ctx, "a", "y").await?;
    expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let c = claim(&s, &sub.id, "w1").await?;
    s.delete(&sub.id).await?.expect(204, "SUB-DELETE-204")?;
    let a = ctx.rel("a");
    let r = s
        .post_token(&sub.id, "ack", &c.token, &c.ack(&[(&a, &t)], true))
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-DELETED-FENCED",
        "ack for a deleted subscription: {} {}",
        r.status,
        r.text()
    );
    let r = s
        .post_token(&sub.id, "release", &c.token, &c.release())
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-DELETED-FENCED",
        "release for a deleted subscription: {} {}",
        r.status,
        r.text()
    );
    let t2 = append(&ctx, "a", "z").await?;
    let cfg = json!({"type": "pull-wake", "streams": [a], "wake_stream": ctx.rel(&sub.wake)});
    s.put(&sub.id, &cfg).await?.expect(201, "SUB-DELETE-204")?;
    let fresh = acked(&s, &sub.id, &a, "SUB-STREAMS-ADD").await?;
    check_eq!(
        fresh,
        t2,
        "SUB-DELETED-FENCED",
        "the re-created subscription's link starts at the tail"
    );
    let r = s
        .post_token(&sub.id, "ack", &c.token, &c.ack(&[(&a, &t)], true))
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-DELETED-FENCED",
        "the deleted subscription's ack was accepted by its successor: {} {}",
        r.status,
        r.text()
    );
    check_eq!(
        acked(&s, &sub.id, &a, "SUB-DELETED-FENCED").await?,
        fresh,
        "SUB-DELETED-FENCED",
        "acked_offset after the stale ack"
    );
    Ok(())
}

/// A token issued before a DELETE is not accepted by a re-created
/// subscription with the same id, even with the new wake's id and
/// generation.
#[case("SUB-TOKEN-IDENTITY")]
pub async fn recreated_subscription_rejects_old_token(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    stream_with(&ctx, "a", "x").await?;
    let sub = s.pull("s", &["a"], None, None).await?;
    append(&ctx, "a", "y").await?;
    expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let old = claim(&s, &sub.id, "w1").await?;
    s.delete(&sub.id).await?.expect(204, "SUB-DELETE-204")?;
    let a = ctx.rel("a");
    let cfg = json!({"type": "pull-wake", "streams": [a], "wake_stream": ctx.rel(&sub.wake)});
    s.put(&sub.id, &cfg).await?.expect(201, "SUB-DELETE-204")?;
    let before = acked(&s, &sub.id, &a, "SUB-LINK-FIELDS").await?;
    let t = append(&ctx, "a", "z").await?;
    let seen = s.wake_events(&sub.wake).await?.len();
    let _ = seen;
    let new = claim(&s, &sub.id, "w2").await?;
    let r = s
        .post_token(&sub.id, "ack", &old.token, &new.ack(&[(&a, &t)], true))
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-TOKEN-IDENTITY",
        "a token of the deleted subscription (generation {}) acked its re-created namesake (generation {}): {} {}",
        old.generation,
        new.generation,
        r.status,
        r.text()
    );
    check_eq!(
        acked(&s, &sub.id, &a, "SUB-TOKEN-IDENTITY").await?,
        before,
        "SUB-TOKEN-IDENTITY",
        "acked_offset"
    );
    Ok(())
}

/// A webhook subscription over `name` delivering to a fresh mailbox that
/// answers 200 without `done`; its first wake (after an append).
async fn webhook_wake(
    ctx: &Ctx,
    s: &Subs,
    name: &str,
) -> Result<(String, Wake, String), crate::case::Failure> {
    stream_with(ctx, name, "x").await?;
    let mb = s.mailbox().await?;
    mb.set_policy(Some(Reply::ok()));
    let id = s.id(name);
    let body = json!({"type": "webhook", "streams": [ctx.rel(name)], "webhook": {"url": mb.url()}, "lease_ttl_ms": 60_000});
    s.put(&id, &body).await?.expect(201, "SUB-CREATE-201")?;
    let t = append(ctx, name, "y").await?;
    let Some(d) = mb.next(s.soon()).await else {
        crate::fail!(
            "SUB-WEBHOOK-DELIVERY",
            "no webhook delivery for {id} within {} ms",
            s.soon().as_millis()
        );
    };
    let Some(v) = d.json() else {
        crate::fail!("SUB-WEBHOOK-DELIVERY", "the delivery body is not JSON");
    };
    let w = Wake::parse(&v, "callback_token", "SUB-WEBHOOK-DELIVERY")?;
    Ok((id, w, t))
}

/// Callback tokens are scoped to their subscription's callback: webhook
/// A's token is refused on webhook B's callback (with B's wake id and
/// generation) and on a pull-wake ack and release; a pull-wake claim
/// token is refused on a webhook callback. Nothing advances; each token
/// then works where it belongs.
#[case("SUB-CALLBACK-TOKEN-SCOPE", "SUB-CALLBACK")]
pub async fn tokens_refused_on_the_wrong_endpoint(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let (ida, wa, _ta) = webhook_wake(&ctx, &s, "wa").await?;
    let (idb, wb, tb) = webhook_wake(&ctx, &s, "wb").await?;
    stream_with(&ctx, "p", "x").await?;
    let p = s.pull("p", &["p"], None, Some(60_000)).await?;
    let tp = append(&ctx, "p", "y").await?;
    expect_wake(&s, &p.wake, &p.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let cp = claim(&s, &p.id, "w1").await?;
    let (b, pp) = (ctx.rel("wb"), ctx.rel("p"));
    let b_before = acked(&s, &idb, &b, "SUB-LINK-FIELDS").await?;
    let p_before = acked(&s, &p.id, &pp, "SUB-LINK-FIELDS").await?;
    let cb_url = |w: &Wake, id: &str| {
        w.body["callback_url"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}/callback", s.sub_url(id)))
    };
    let tries = [
        (
            "A's callback token on B's callback",
            cb_url(&wb, &idb),
            wa.token.clone(),
            wb.ack(&[(&b, &tb)], true),
        ),
        (
            "a webhook callback token on a pull-wake ack",
            format!("{}/ack", s.sub_url(&p.id)),
            wa.token.clone(),
            cp.ack(&[(&pp, &tp)], true),
        ),
        (
            "a webhook callback token on a pull-wake release",
            format!("{}/release", s.sub_url(&p.id)),
            wa.token.clone(),
            cp.release(),
        ),
        (
            "a pull-wake claim token on a webhook callback",
            cb_url(&wb, &idb),
            cp.token.clone(),
            wb.ack(&[(&b, &tb)], true),
        ),
    ];
    for (what, url, token, body) in tries {
        let r = s.post_url_token(&url, &token, &body).await?;
        check!(
            !(200..300).contains(&r.status),
            "SUB-CALLBACK-TOKEN-SCOPE",
            "{what} was accepted: {} {}",
            r.status,
            r.text()
        );
    }
    check_eq!(
        acked(&s, &idb, &b, "SUB-CALLBACK-TOKEN-SCOPE").await?,
        b_before,
        "SUB-CALLBACK-TOKEN-SCOPE",
        "B's acked_offset after refused callbacks"
    );
    check_eq!(
        acked(&s, &p.id, &pp, "SUB-CALLBACK-TOKEN-SCOPE").await?,
        p_before,
        "SUB-CALLBACK-TOKEN-SCOPE",
        "the pull-wake subscription's acked_offset after refused acks"
    );
    // Where they belong, the same bodies work.
    let r = s
        .post_url_token(&cb_url(&wb, &idb), &wb.token, &wb.ack(&[(&b, &tb)], true))
        .await?;
    check!(
        r.status == 200,
        "SUB-CALLBACK",
        "B's own callback: {} {}",
        r.status,
        r.text()
    );
    let r = s
        .post_token(&p.id, "ack", &cp.token, &cp.ack(&[(&pp, &tp)], true))
        .await?;
    ok_next_wake(&r, "SUB-ACK-DONE")?;
    let _ = ida;
    Ok(())
}

register![
    foreign_forged_and_misplaced_tokens_refused,
    deleted_subscription_requests_fail,
    recreated_subscription_rejects_old_token,
    tokens_refused_on_the_wrong_endpoint,
];
