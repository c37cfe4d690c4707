//! §4.2 fork TTL/expiry table, checked through HEAD on the new fork
//! (§5.5 Stream-TTL / Stream-Expires-At): one case per row.

use super::util::{check_expiry_headers, fork_reads_inherited, Exp};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::{Ctx, Req};

/// Expiry configuration of a create request (`At`: a time set by the case).
#[derive(Clone, Copy)]
pub enum Conf {
    None,
    Ttl(u64),
    At,
}

pub const SRC_TTL: u64 = 600;
pub const FORK_TTL: u64 = 300;

fn with(req: Req, conf: Conf, at: &str) -> Req {
    match conf {
        Conf::None => req,
        Conf::Ttl(n) => req.ttl(n),
        Conf::At => req.expires_at(at),
    }
}

/// Create source "src" (text/plain, "abc") and fork "fork" of it with the
/// given expiry configurations; `Conf::At` stands for a time 1 h (source) or
/// 30 min (fork) ahead. Returns the two Expires-At values used.
pub async fn source_and_fork(
    ctx: &Ctx,
    src: Conf,
    fork: Conf,
    req: &str,
) -> Result<(String, String), Failure> {
    let src_at = crate::cases::support::rfc3339_in(3600);
    let fork_at = crate::cases::support::rfc3339_in(1800);
    let r = with(ctx.put("src").ct("text/plain").body("abc"), src, &src_at);
    r.send().await?.expect(201, req)?;
    let f = with(
        ctx.put("fork").ct("text/plain").fork_of("src"),
        fork,
        &fork_at,
    );
    f.send().await?.expect(201, req)?;
    // A fork that inherits nothing is no fork: its expiry says nothing.
    fork_reads_inherited(ctx, "FORK-READ-STITCH").await?;
    Ok((src_at, fork_at))
}

/// What HEAD on the fork must report for the row `(src, fork)`.
async fn row(ctx: Ctx, src: Conf, fork: Conf, req: &'static str) -> CaseResult {
    let (src_at, fork_at) = source_and_fork(&ctx, src, fork, req).await?;
    let want = match (src, fork) {
        (_, Conf::Ttl(n)) => Exp::Ttl(n),
        (_, Conf::At) => Exp::At(&fork_at),
        (Conf::None, Conf::None) => Exp::None,
        (Conf::Ttl(n), Conf::None) => Exp::Ttl(n),
        (Conf::At, Conf::None) => Exp::At(&src_at),
    };
    check_expiry_headers(&ctx, "fork", want, req, "TTL-HEAD-REPORTS").await
}

const AT: Conf = Conf::At;

/// Source without expiry, fork without: the fork has no expiry.
#[case("FORKTTL-NONE-NONE")]
pub async fn none_none(ctx: Ctx) -> CaseResult {
    row(ctx, Conf::None, Conf::None, "FORKTTL-NONE-NONE").await
}
/// Source without expiry, fork with TTL: the fork has its own TTL.
#[case("FORKTTL-NONE-TTL", "TTL-HEAD-REPORTS")]
pub async fn none_ttl(ctx: Ctx) -> CaseResult {
    row(ctx, Conf::None, Conf::Ttl(FORK_TTL), "FORKTTL-NONE-TTL").await
}
/// Source without expiry, fork with Expires-At: the fork has its own Expires-At.
#[case("FORKTTL-NONE-AT", "TTL-HEAD-REPORTS")]
pub async fn none_at(ctx: Ctx) -> CaseResult {
    row(ctx, Conf::None, AT, "FORKTTL-NONE-AT").await
}
/// Source with TTL, fork without: the fork inherits the source's TTL value.
#[case("FORKTTL-TTL-NONE", "TTL-HEAD-REPORTS")]
pub async fn ttl_none(ctx: Ctx) -> CaseResult {
    row(ctx, Conf::Ttl(SRC_TTL), Conf::None, "FORKTTL-TTL-NONE").await
}
/// Source with TTL, fork with another TTL: the requested TTL wins.
#[case("FORKTTL-TTL-TTL", "TTL-HEAD-REPORTS")]
pub async fn ttl_ttl(ctx: Ctx) -> CaseResult {
    row(
        ctx,
        Conf::Ttl(SRC_TTL),
        Conf::Ttl(FORK_TTL),
        "FORKTTL-TTL-TTL",
    )
    .await
}
/// Source with TTL, fork with Expires-At: the fork has only the requested Expires-At.
#[case("FORKTTL-TTL-AT", "TTL-HEAD-REPORTS")]
pub async fn ttl_at(ctx: Ctx) -> CaseResult {
    row(ctx, Conf::Ttl(SRC_TTL), AT, "FORKTTL-TTL-AT").await
}
/// Source with Expires-At, fork without: the fork inherits the source's Expires-At.
#[case("FORKTTL-AT-NONE", "TTL-HEAD-REPORTS")]
pub async fn at_none(ctx: Ctx) -> CaseResult {
    row(ctx, AT, Conf::None, "FORKTTL-AT-NONE").await
}
/// Source with Expires-At, fork with TTL: the fork has only the requested TTL.
#[case("FORKTTL-AT-TTL", "TTL-HEAD-REPORTS")]
pub async fn at_ttl(ctx: Ctx) -> CaseResult {
    row(ctx, AT, Conf::Ttl(FORK_TTL), "FORKTTL-AT-TTL").await
}
/// Source with Expires-At, fork with another Expires-At: the requested one wins.
#[case("FORKTTL-AT-AT", "TTL-HEAD-REPORTS")]
pub async fn at_at(ctx: Ctx) -> CaseResult {
    row(ctx, AT, AT, "FORKTTL-AT-AT").await
}

register![none_none, none_ttl, none_at, ttl_none, ttl_ttl, ttl_at, at_none, at_ttl, at_at,];
