//! Timing helpers for the TTL cases (§4, §5.1): clocks measured from the
//! moment a response arrived, bounded polling with HEAD (which never renews
//! a TTL, §5.1), and RFC 3339 instants compared as instants, not strings.

use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::case::{CaseResult, Failure};
use crate::client::{Ctx, Req, Resp};
use crate::{check, fail};

/// How often a poll asks again.
const POLL_EVERY: Duration = Duration::from_millis(150);

/// Sleep until `at` (no-op when it has passed), noting it in the transcript.
pub async fn sleep_until(ctx: &Ctx, at: Instant) {
    let left = at.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        ctx.sleep(left).await;
    }
}

/// Seconds elapsed since `t0`, for messages.
pub fn secs_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

/// Poll `HEAD name` until its status is in `want`, failing with `req` if it
/// still answers 200 at `deadline` or answers anything else.
/// Returns the status seen.
pub async fn wait_status(
    ctx: &Ctx,
    name: &str,
    want: &[u16],
    deadline: Instant,
    req: &str,
    why: &str,
) -> Result<u16, Failure> {
    ctx.note(format!(
        "polling HEAD {name} every {} ms until it answers {want:?} ({why})",
        POLL_EVERY.as_millis()
    ));
    loop {
        let h = ctx.head(name).send().await?;
        if want.contains(&h.status) {
            return Ok(h.status);
        }
        // 200 (still there) or 410 (soft-deleted, awaiting cleanup) may
        // precede the wanted status; anything else is an answer.
        check!(
            h.status == 200 || h.status == 410,
            req,
            "HEAD {name} answered {} while waiting for {want:?} ({why})",
            h.status
        );
        if Instant::now() >= deadline {
            fail!(
                req,
                "{name} still answers HEAD {} at the deadline ({why}); expected {want:?}",
                h.status
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// PUT `name` as text/plain, configured by `conf`; require 201 under `req`.
/// Also returns the instant the response arrived (where a TTL clock starts).
pub async fn put_text(
    ctx: &Ctx,
    name: &str,
    conf: impl FnOnce(Req) -> Req,
    req: &str,
) -> Result<(Resp, Instant), Failure> {
    let r = conf(ctx.put(name).ct("text/plain")).send().await?;
    let t0 = Instant::now();
    r.expect(201, req)?;
    Ok((r, t0))
}

/// Poll `HEAD name` until it answers 404 (cleanup may be asynchronous),
/// for at most 5 s from now.
pub async fn cleaned_up(ctx: &Ctx, name: &str, req: &str, why: &str) -> CaseResult {
    let deadline = Instant::now() + Duration::from_millis(5000);
    wait_status(ctx, name, &[404], deadline, req, why).await?;
    Ok(())
}

/// Require `HEAD name` to answer 200 now (the stream has not expired).
pub async fn alive(ctx: &Ctx, name: &str, req: &str, why: &str) -> CaseResult {
    let h = ctx.head(name).send().await?;
    check!(
        h.status == 200,
        req,
        "HEAD {name} answered {}, expected 200: {why}",
        h.status
    );
    Ok(())
}

/// Keep `keep` alive with a catch-up GET every `every` until `watch` answers
/// a status in `want` (polled with HEAD), or fail with `req` at `deadline`.
#[allow(clippy::too_many_arguments)]
pub async fn touch_until(
    ctx: &Ctx,
    keep: &str,
    every: Duration,
    watch: &str,
    want: &[u16],
    deadline: Instant,
    req: &str,
    why: &str,
) -> Result<u16, Failure> {
    ctx.note(format!(
        "reading {keep} every {} ms while polling HEAD {watch} for {want:?} ({why})",
        every.as_millis()
    ));
    let mut next_touch = Instant::now();
    loop {
        if Instant::now() >= next_touch {
            let g = ctx.get(keep).offset("-1").send().await?;
            if keep == watch && want.contains(&g.status) {
                return Ok(g.status);
            }
            check!(
                g.status == 200,
                req,
                "GET {keep} answered {} while it was being kept alive by reads ({why})",
                g.status
            );
            next_touch = Instant::now() + every;
        }
        let h = ctx.head(watch).send().await?;
        if want.contains(&h.status) {
            return Ok(h.status);
        }
        check!(
            h.status == 200,
            req,
            "HEAD {watch} answered {} while waiting for {want:?} ({why})",
            h.status
        );
        if Instant::now() >= deadline {
            fail!(
                req,
                "{watch} still answers HEAD 200 at the deadline ({why}); expected {want:?}"
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// An absolute expiry `secs` seconds from now: the header value and the
/// local instant it denotes (the value has second precision, so the instant
/// lies between `secs - 1` and `secs` seconds ahead).
pub fn expires_in(secs: i64) -> (String, Instant) {
    let value = crate::cases::support::rfc3339_in(secs);
    let at = parse_rfc3339(&value).expect("own timestamp parses");
    (value, instant_of(at))
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// The local monotonic instant of a wall-clock time (assumes the target's
/// clock agrees with ours, as any Expires-At check must).
pub fn instant_of(at: OffsetDateTime) -> Instant {
    let delta = at - OffsetDateTime::now_utc();
    let now = Instant::now();
    if delta.is_negative() {
        now.checked_sub(delta.unsigned_abs()).unwrap_or(now)
    } else {
        now + delta.unsigned_abs()
    }
}

/// Expected expiry headers on HEAD.
#[derive(Clone, Copy, Debug)]
pub enum Exp<'a> {
    None,
    Ttl(u64),
    At(&'a str),
}

/// Check `HEAD name`'s Stream-TTL / Stream-Expires-At against `want`.
/// A missing header that should be there fails `report_req` (HEAD reporting
/// is SHOULD-level); a wrong value, or a header that should be absent,
/// fails `value_req`.
pub async fn check_expiry_headers(
    ctx: &Ctx,
    name: &str,
    want: Exp<'_>,
    value_req: &str,
    report_req: &str,
) -> CaseResult {
    let h = ctx.head(name).send().await?;
    h.expect(200, value_req)?;
    let ttl = h.header("stream-ttl");
    let at = h.header("stream-expires-at");
    match want {
        Exp::None => {
            check!(
                ttl.is_none(),
                value_req,
                "{name} has no TTL, yet HEAD reports Stream-TTL: {ttl:?}"
            );
            check!(
                at.is_none(),
                value_req,
                "{name} has no expiry time, yet HEAD reports Stream-Expires-At: {at:?}"
            );
        }
        Exp::Ttl(secs) => {
            // §5.5 reports Stream-Expires-At "if applicable": a server may
            // show a sliding TTL's current deadline, which must then be a
            // real time about `secs` ahead (60 s allowed for clock skew).
            if let Some(at) = &at {
                let got = parse_rfc3339(at);
                let now = OffsetDateTime::now_utc();
                let slack = time::Duration::seconds(60);
                check!(
                    got.is_some_and(|t| t >= now - slack
                        && t <= now + time::Duration::seconds(secs as i64) + slack),
                    value_req,
                    "{name} has a sliding TTL of {secs} s, yet HEAD reports Stream-Expires-At: \
                     {at:?}, which is not its current deadline"
                );
            }
            let Some(ttl) = ttl else {
                fail!(report_req, "HEAD {name} lacks Stream-TTL (expected {secs})");
            };
            let want = secs.to_string();
            check_eq!(ttl.trim(), want.as_str(), value_req, "Stream-TTL of {name}");
        }
        Exp::At(value) => {
            check!(
                ttl.is_none(),
                value_req,
                "{name} has an absolute expiry only, yet HEAD reports Stream-TTL: {ttl:?}"
            );
            let Some(at) = at else {
                fail!(
                    report_req,
                    "HEAD {name} lacks Stream-Expires-At (expected {value})"
                );
            };
            let got = parse_rfc3339(&at);
            check!(
                got.is_some(),
                value_req,
                "Stream-Expires-At {at:?} of {name} is not an RFC 3339 timestamp"
            );
            check!(
                got == parse_rfc3339(value),
                value_req,
                "Stream-Expires-At of {name} is {at:?}, a different instant from {value:?}"
            );
        }
    }
    Ok(())
}

use crate::check_eq;

/// The stream "fork" (forked from "src" created with "abc") reads exactly
/// the inherited "abc" (§4.2); a server ignoring the fork headers made an
/// empty plain stream instead.
pub async fn fork_reads_inherited(ctx: &Ctx, req: &str) -> CaseResult {
    let what = "the fork's data (inherited \"abc\")";
    crate::cases::fork::util::reads(ctx, "fork", "-1", b"abc", req, what).await?;
    Ok(())
}
