//! Subscriptions across a restart (§6, §6.5, §7): configuration, links,
//! acked offsets and generations are durable state; the signing key
//! SHOULD be. Run with `--restart-cmd` (or the embedded file store).

use serde_json::json;

use super::util::{acked, append, claim, expect_wake, link_paths, ok_next_wake, stream_with};
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::subs::{require, Need};
use crate::{check, check_eq};

/// A subscription with an acked cursor, pending work and a few
/// generations behind it reads back the same after a restart, offers the
/// pending work, and its next wake has a higher generation.
#[case("SUB-DURABLE")]
pub async fn subscription_state_survives(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    stream_with(&ctx, "g/a", "x").await?;
    stream_with(&ctx, "e", "y").await?;
    let pattern = format!("{}/*", ctx.rel("g"));
    let sub = s.pull("s", &["e"], Some(&pattern), Some(5000)).await?;
    let a = ctx.rel("g/a");
    let t1 = append(&ctx, "g/a", "one").await?;
    expect_wake(&s, &sub.wake, &sub.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let c = claim(&s, &sub.id, "w1").await?;
    ok_next_wake(
        &s.post_token(&sub.id, "ack", &c.token, &c.ack(&[(&a, &t1)], true))
            .await?,
        "SUB-ACK-DONE",
    )?;
    let before = s.state(&sub.id, "SUB-DURABLE").await?;
    ctx.restart().await?;
    let after = s.state(&sub.id, "SUB-DURABLE").await?;
    for f in ["type", "pattern", "wake_stream", "lease_ttl_ms"] {
        check_eq!(after[f], before[f], "SUB-DURABLE", "{f} after restart");
    }
    check_eq!(
        link_paths(&after),
        link_paths(&before),
        "SUB-DURABLE",
        "links after restart"
    );
    check_eq!(
        acked(&s, &sub.id, &a, "SUB-DURABLE").await?,
        t1,
        "SUB-DURABLE",
        "acked_offset after restart"
    );
    let t2 = append(&ctx, "g/a", "two").await?;
    expect_wake(&s, &sub.wake, &sub.id, c.generation, "SUB-DURABLE").await?;
    let c2 = claim(&s, &sub.id, "w2").await?;
    check!(
        c2.generation > c.generation,
        "SUB-DURABLE",
        "generation {} after the restart, {} before: the fencing counter went back",
        c2.generation,
        c.generation
    );
    let e = c2.stream(&a).cloned().unwrap_or_default();
    check!(
        e["acked_offset"] == json!(t1) && e["tail_offset"] == json!(t2),
        "SUB-DURABLE",
        "after the restart the wake should offer {t1}..{t2}: {e}"
    );
    Ok(())
}

/// The key that signs deliveries is still published after a restart.
#[case("SUB-KEY-PERSIST")]
pub async fn signing_key_survives(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let r = s.jwks().await?;
    r.expect(200, "SUB-JWKS-SERVED")?;
    let before = crate::subs::jwks::Jwks::parse(&r.json("SUB-JWKS-SERVED")?)?.kids();
    ctx.restart().await?;
    let r = s.jwks().await?;
    r.expect(200, "SUB-JWKS-SERVED")?;
    let after = crate::subs::jwks::Jwks::parse(&r.json("SUB-JWKS-SERVED")?)?.kids();
    check!(
        before.iter().all(|k| after.contains(k)),
        "SUB-KEY-PERSIST",
        "signing keys {before:?} before the restart, {after:?} after: the key was not persisted"
    );
    Ok(())
}

register![subscription_state_survives, signing_key_survives];
