//! §4.2 fork TTL/expiry table checked through actual expiry: which stream
//! expires when, with short TTLs (2–3 s) and Expires-At 2–3 s ahead. Forks
//! have independent lifetimes and can outlive their source.

use std::time::{Duration, Instant};

use super::util::{alive, expires_in, fork_reads_inherited, sleep_until, touch_until, wait_status};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::{Ctx, Req};

const EVERY: Duration = Duration::from_millis(500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Create "src" with body "abc" (configured by `conf`), then fork "fork" of
/// it (configured by `fork_conf`); returns when the fork's 201 arrived.
async fn setup(
    ctx: &Ctx,
    conf: impl FnOnce(Req) -> Req,
    fork_conf: impl FnOnce(Req) -> Req,
    req: &str,
) -> Result<Instant, Failure> {
    conf(ctx.put("src").ct("text/plain").body("abc"))
        .send()
        .await?
        .expect(201, req)?;
    fork_conf(ctx.put("fork").ct("text/plain").fork_of("src"))
        .send()
        .await?
        .expect(201, req)?;
    // A fork that inherits nothing is no fork: its expiry says nothing.
    fork_reads_inherited(ctx, "FORK-READ-STITCH").await?;
    Ok(Instant::now())
}

/// Read the fork every 0.5 s until it expires (404), at most 1.5 s past `at`.
async fn fork_expires_while_read(ctx: &Ctx, at: Instant, req: &str, why: &str) -> CaseResult {
    touch_until(ctx, "fork", EVERY, "fork", &[404], at + ms(1500), req, why).await?;
    Ok(())
}

/// Leave the fork idle until it expires (404), at most 4 s after `t0`.
async fn fork_expires_idle(ctx: &Ctx, t0: Instant, req: &str, why: &str) -> CaseResult {
    wait_status(ctx, "fork", &[404], t0 + ms(4000), req, why).await?;
    Ok(())
}

/// Neither has expiry: both are still there after 2.5 s idle.
#[case("FORKTTL-NONE-NONE", secs = 3)]
pub async fn none_none_never_expires(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-NONE-NONE";
    let t0 = setup(&ctx, |r| r, |r| r, R).await?;
    sleep_until(&ctx, t0 + ms(2500)).await;
    alive(
        &ctx,
        "fork",
        R,
        "a fork of a stream without expiry, created without expiry, expired",
    )
    .await?;
    alive(&ctx, "src", R, "a stream without expiry expired").await
}

/// No-expiry source, fork with TTL 2: the idle fork expires, the source stays.
#[case("FORKTTL-NONE-TTL", secs = 2)]
pub async fn none_ttl_fork_expires(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-NONE-TTL";
    let t0 = setup(&ctx, |r| r, |r| r.ttl(2), R).await?;
    fork_expires_idle(&ctx, t0, R, "fork idle for its own 2 s TTL").await?;
    alive(
        &ctx,
        "src",
        R,
        "the source has no expiry; only the fork had a TTL",
    )
    .await
}

/// No-expiry source, fork with Expires-At: the fork expires on time although
/// read repeatedly; the source stays.
#[case("FORKTTL-NONE-AT", secs = 2)]
pub async fn none_at_fork_expires(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-NONE-AT";
    let (value, at) = expires_in(3);
    setup(&ctx, |r| r, |r| r.expires_at(&value), R).await?;
    fork_expires_while_read(&ctx, at, R, "fork past its own Expires-At").await?;
    alive(
        &ctx,
        "src",
        R,
        "the source has no expiry; only the fork had an Expires-At",
    )
    .await
}

/// TTL-3 source kept alive by reads every 0.5 s (2.5 s of slack); the fork
/// inherited the 3 s window but is refreshed independently, so the idle
/// fork expires.
#[case("FORKTTL-TTL-NONE", secs = 3)]
pub async fn ttl_none_refreshed_independently(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-TTL-NONE";
    let t0 = setup(&ctx, |r| r.ttl(3), |r| r, R).await?;
    touch_until(
        &ctx,
        "src",
        EVERY,
        "fork",
        &[404],
        t0 + ms(5000),
        R,
        "idle fork with the inherited 3 s TTL",
    )
    .await?;
    alive(&ctx, "src", R, "the source was read every 0.5 s").await
}

/// TTL-600 source, fork requesting TTL 2: the idle fork expires at 2 s.
#[case("FORKTTL-TTL-TTL", secs = 2)]
pub async fn ttl_ttl_fork_expires(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-TTL-TTL";
    let t0 = setup(&ctx, |r| r.ttl(600), |r| r.ttl(2), R).await?;
    fork_expires_idle(&ctx, t0, R, "fork idle for its requested 2 s TTL").await?;
    alive(&ctx, "src", R, "the source has a 600 s TTL").await
}

/// TTL-600 source, fork with Expires-At: the fork expires on time although
/// read repeatedly (no sliding window from the source).
#[case("FORKTTL-TTL-AT", secs = 2)]
pub async fn ttl_at_fork_expires(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-TTL-AT";
    let (value, at) = expires_in(3);
    setup(&ctx, |r| r.ttl(600), |r| r.expires_at(&value), R).await?;
    fork_expires_while_read(&ctx, at, R, "fork past its requested Expires-At").await?;
    alive(&ctx, "src", R, "the source has a 600 s TTL").await
}

/// Expires-At source, fork without expiry: the fork inherits the deadline
/// and expires on time although read repeatedly.
#[case("FORKTTL-AT-NONE", secs = 3)]
pub async fn at_none_fork_inherits_deadline(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-AT-NONE";
    let (value, at) = expires_in(3);
    setup(&ctx, |r| r.expires_at(&value), |r| r, R).await?;
    fork_expires_while_read(&ctx, at, R, "fork past the source's inherited Expires-At").await?;
    Ok(())
}

/// Expires-At source, fork with TTL 3 kept alive by reads every 0.5 s: the
/// source expires, the fork lives on and still reads the inherited data.
#[case("FORKTTL-AT-TTL", "FORKTTL-OUTLIVE-SOURCE", secs = 2)]
pub async fn at_ttl_fork_outlives(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-AT-TTL";
    let (value, at) = expires_in(3);
    setup(&ctx, |r| r.expires_at(&value), |r| r.ttl(3), R).await?;
    touch_until(
        &ctx,
        "fork",
        EVERY,
        "src",
        &[404, 410],
        at + ms(1500),
        R,
        "source past its Expires-At",
    )
    .await?;
    alive(
        &ctx,
        "fork",
        R,
        "the fork's own TTL was kept alive by reads",
    )
    .await?;
    fork_reads_inherited(&ctx, "FORKTTL-OUTLIVE-SOURCE").await
}

/// Expires-At source, fork with a later Expires-At: the fork outlives its
/// source and still reads the inherited data.
#[case("FORKTTL-AT-AT", "FORKTTL-OUTLIVE-SOURCE", secs = 3)]
pub async fn at_at_fork_outlives(ctx: Ctx) -> CaseResult {
    const R: &str = "FORKTTL-AT-AT";
    let (value, at) = expires_in(3);
    let later = crate::cases::support::rfc3339_in(600);
    setup(&ctx, |r| r.expires_at(&value), |r| r.expires_at(&later), R).await?;
    wait_status(
        &ctx,
        "src",
        &[404, 410],
        at + ms(1500),
        R,
        "source past its Expires-At",
    )
    .await?;
    alive(&ctx, "fork", R, "the fork's own Expires-At is 10 min ahead").await?;
    fork_reads_inherited(&ctx, "FORKTTL-OUTLIVE-SOURCE").await
}

register![
    none_none_never_expires,
    none_ttl_fork_expires,
    none_at_fork_expires,
    ttl_none_refreshed_independently,
    ttl_ttl_fork_expires,
    ttl_at_fork_expires,
    at_none_fork_inherits_deadline,
    at_ttl_fork_outlives,
    at_at_fork_outlives,
];
