//! The service credential of pull-wake claims (§7.2 `Authorization: Bearer
//! <service-jwt>`; §12.1: access control by any mechanism). How a target
//! checks it is implementation-defined, so these cases run only when the
//! run is given the target's credential (`--service-token`) and are
//! reported `skipped` with that reason otherwise.

use super::util::{append, claim, expect_wake, ok_next_wake, stream_with};
use crate::case::{case, register, CaseResult, Failure};
use crate::check;
use crate::client::Ctx;
use crate::subs::{require, Need};

/// A claim without the service token, with another bearer value, with the
/// token under another scheme, or with a claim token (§7.1: such tokens
/// are not service JWTs) is refused with a 4xx and takes no lease: the
/// claim with the service token that follows is granted.
#[case("SUB-CLAIM-SERVICE-AUTH")]
pub async fn claims_without_the_service_token_refused(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    let Some(token) = ctx.target().subs.service_token.clone() else {
        return Err(Failure::setup_error(
            "this case needs --service-token (it is skipped without one)",
        ));
    };
    // Another subscription's claim token, to offer as a service credential.
    stream_with(&ctx, "b", "x").await?;
    let b = s.pull("b", &["b"], None, Some(60_000)).await?;
    append(&ctx, "b", "y").await?;
    expect_wake(&s, &b.wake, &b.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let cb = claim(&s, &b.id, "w1").await?;
    // The subscription under test, with work pending.
    stream_with(&ctx, "a", "x").await?;
    let a = s.pull("a", &["a"], None, Some(60_000)).await?;
    let ta = append(&ctx, "a", "y").await?;
    expect_wake(&s, &a.wake, &a.id, 0, "SUB-WAKE-ON-PENDING").await?;
    let mut altered = token.clone();
    let last = altered.pop().unwrap_or('a');
    altered.push(if last == 'a' { 'b' } else { 'a' });
    let tries = [
        ("no Authorization header", None),
        ("an altered bearer token", Some(format!("Bearer {altered}"))),
        (
            "the service token plus a suffix",
            Some(format!("Bearer {token}x")),
        ),
        (
            "the service token under the Basic scheme",
            Some(format!("Basic {token}")),
        ),
        (
            "another subscription's claim token as bearer",
            Some(format!("Bearer {}", cb.token)),
        ),
    ];
    for (what, auth) in tries {
        let r = s.claim_with(&a.id, "intruder", auth.as_deref()).await?;
        check!(
            (400..500).contains(&r.status),
            "SUB-CLAIM-SERVICE-AUTH",
            "a claim with {what} got {} {} (a 4xx refusal was expected)",
            r.status,
            r.text()
        );
    }
    // None of them took the lease: the claim with the token is granted.
    let r = s.claim(&a.id, "w1").await?;
    check!(
        r.status == 200,
        "SUB-CLAIM-SERVICE-AUTH",
        "after the refused claims, the claim with the service token got {} {} (did a refused claim take the lease?)",
        r.status,
        r.text()
    );
    let v = r.json("SUB-CLAIM")?;
    let c = super::util::Wake::parse(&v, "token", "SUB-CLAIM")?;
    let pa = ctx.rel("a");
    let r = s
        .post_token(&a.id, "ack", &c.token, &c.ack(&[(&pa, &ta)], true))
        .await?;
    ok_next_wake(&r, "SUB-ACK-DONE")?;
    Ok(())
}

register![claims_without_the_service_token_refused];
