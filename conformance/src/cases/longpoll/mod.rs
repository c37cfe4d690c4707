//! §5.7 Read Stream - Live (Long-poll), with the §8 `offset=now` rules and
//! the §10.1 cursor rules for long-poll responses.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::case::{Case, CaseResult, Failure};
use crate::cases::support::create_with;
use crate::client::{Ctx, Resp};

mod basic;
mod closure;
mod cursor;
mod now;

pub fn cases() -> Vec<Case> {
    [
        basic::cases as fn() -> Vec<Case>,
        closure::cases,
        now::cases,
        cursor::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}

/// Did the answer certainly not wait for the timeout? The server starts its
/// timer after the request was sent, so a server that waited answers at
/// least `timeout` after that: anything sooner did not wait. (A stricter
/// bound would blame a loaded machine's delays on the server.) A loaded
/// machine may still delay one answer past it, so callers retry once.
pub(super) fn prompt(r: &Resp, timeout: Duration) -> bool {
    r.elapsed < timeout
}

/// The stream name of attempt `i` (0-based): `base`, then `base2`,
/// `base3`... (the first attempt keeps the name earlier versions used).
pub(crate) fn attempt_name(base: &str, i: usize) -> String {
    if i == 0 {
        base.to_string()
    } else {
        format!("{base}{}", i + 1)
    }
}

/// The setup of one wake attempt: a fresh `text/plain` stream
/// (`attempt_name(base, i)`) holding `body`; returns its name and tail.
pub(crate) async fn fresh_stream(
    ctx: &Ctx,
    base: &str,
    i: usize,
    body: &str,
    req: &str,
) -> Result<(String, String), Failure> {
    let name = attempt_name(base, i);
    let tail = create_with(ctx, &name, "text/plain", body, req)
        .await?
        .next_offset(req)?;
    Ok((name, tail))
}

/// When the event of [`while_waiting`] happened, counted from the moment
/// the waiter was sent.
pub(crate) struct EventAt {
    /// The event's request was about to be sent.
    pub started: Duration,
    /// The event's answer had arrived.
    pub acked: Duration,
}

/// Send `waiter` and, `delay` after it, `event`; returns the waiter's
/// answer, the event's result and when the event started and was
/// acknowledged.
pub(crate) async fn while_waiting<W: Future, E: Future>(
    ctx: &Ctx,
    delay: Duration,
    waiter: W,
    event: E,
) -> (W::Output, E::Output, EventAt) {
    let sent = Instant::now();
    let event = async {
        ctx.sleep(delay).await;
        let started = sent.elapsed();
        let r = event.await;
        (r, started, sent.elapsed())
    };
    let (answer, (result, started, acked)) = tokio::join!(waiter, event);
    (answer, result, EventAt { started, acked })
}

/// What one long-poll showed about an append made while it waited.
pub(crate) enum Wake {
    /// Answered with the data sooner than the timeout could have run out.
    Woken,
    /// Answered only after the timeout although the append was
    /// acknowledged by 0.6 of it: what a server that waits out its timeout
    /// shows, but also a machine stalled for 0.4 of a timeout.
    Suspect(String),
    /// The append was acknowledged about when the timeout ran out: either
    /// answer is right, nothing is judged.
    Raced(String),
}

/// What woke (or should have woken) a long-poll.
#[derive(Clone, Copy)]
pub(crate) enum Event {
    /// An append to a long-poll at a minted tail offset: the answer is 200.
    Append,
    /// An append to an `offset=now` long-poll, sent `sent` after the
    /// long-poll was: only an append that arrived after the long-poll
    /// counts, so a 204 is judged only where the long-poll certainly
    /// arrived first.
    AppendAfterNow { sent: Duration },
    /// A close: the answer is a 204 either way, only its timing tells.
    Close,
}

/// Judge a long-poll answer `r`, given that the event was acknowledged
/// `acked` after the long-poll was sent, with the target's timeout `t`.
/// Only what the order of events makes certain is a verdict. The server
/// starts its timer after the request was sent, so it cannot time out
/// sooner than `t` after that; it stored the event before acknowledging it:
/// - the wake answer (200, or 204 for a close) sooner than `t`: it did not
///   wait out its timeout: woken.
/// - an append answered 204 sooner than `t`/2: it did not wait at all (a
///   violation; or a wrong hint).
/// - an append answered 204 although acknowledged before 0.8 `t`: the data
///   was there before the timeout could fire: a violation of `req`. (Unless
///   the 204 itself came before 0.9 `t`, when the target's timeout is
///   shorter than the hint and nothing is certain.)
/// - the wake answer after `t` though the event was acknowledged by 0.6 `t`:
///   suspect.
/// - anything else: raced.
///
/// The body and headers of the answer are the caller's to check.
pub(crate) fn judge_wake(
    r: &Resp,
    event: Event,
    acked: Duration,
    t: Duration,
    req: &str,
) -> Result<Wake, Failure> {
    let (ms, acked_ms, t_ms) = (r.elapsed.as_millis(), acked.as_millis(), t.as_millis());
    let wake_status = match event {
        Event::Close => 204,
        _ => 200,
    };
    if r.status == wake_status {
        return Ok(if r.elapsed < t {
            Wake::Woken
        } else if acked <= t * 6 / 10 {
            Wake::Suspect(format!(
                "{wake_status} only after {ms} ms although the event was acknowledged {acked_ms} ms after the long-poll was sent (timeout hint {t_ms} ms)"
            ))
        } else {
            Wake::Raced(format!(
                "{wake_status} after {ms} ms, the event acknowledged {acked_ms} ms in (timeout hint {t_ms} ms)"
            ))
        });
    }
    if r.status != 204 {
        return Err(Failure::new(
            Some(req),
            format!(
                "a long-poll during which data was appended answered {} after {ms} ms (expected 200, or 204 if it timed out first): {}",
                r.status,
                crate::transcript::preview(&r.body, 200)
            ),
        ));
    }
    // A 204 far sooner than any timeout the hint allows: the long-poll did
    // not wait for data at all (or the hint is wrong, which the timing
    // hint of the report then names).
    if r.elapsed < t / 2 {
        return Err(Failure::new(
            Some(req),
            format!(
                "a long-poll at the tail answered 204 after {ms} ms, far sooner than its {t_ms} ms timeout: it did not wait for the append (acknowledged {acked_ms} ms after it was sent)"
            ),
        ));
    }
    // An append answered 204: did the long-poll certainly wait while the
    // data was there? It waited at least 0.9 t (by the hint), so it
    // arrived by `ms - 0.9 t`; with `offset=now` the append must have been
    // sent after that.
    let waited_from = r.elapsed.saturating_sub(t * 9 / 10);
    let arrived_first = match event {
        Event::AppendAfterNow { sent } => waited_from < sent,
        _ => true,
    };
    if r.elapsed >= t * 9 / 10 && acked < t * 8 / 10 && arrived_first {
        return Err(Failure::new(
            Some(req),
            format!(
                "a long-poll answered 204 (timeout) after {ms} ms although an append to its stream was acknowledged {acked_ms} ms after the long-poll was sent, before its {t_ms} ms timeout could run out: the append did not wake it"
            ),
        ));
    }
    Ok(Wake::Raced(format!(
        "204 after {ms} ms, the append acknowledged {acked_ms} ms after the long-poll was sent (timeout hint {t_ms} ms): the timeout and the append raced"
    )))
}

/// Run `attempt` (fresh streams each time) up to six times until one shows
/// a wake; a certain violation (an error) ends it at once. No wake in six
/// attempts and at least two suspect ones is a violation of `req` (a server
/// that never wakes waiters shows that; a correct one would need to stall
/// 0.4 of a timeout twice and never once answer in time); otherwise the
/// attempts all raced: inconclusive, never a failure.
pub(crate) async fn until_woken<F, Fut>(ctx: &Ctx, req: &str, mut attempt: F) -> CaseResult
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Wake, Failure>>,
{
    let mut seen = Vec::new();
    for i in 0..6 {
        match attempt(i).await? {
            Wake::Woken => return Ok(()),
            Wake::Suspect(s) => {
                ctx.note(format!("attempt {}: suspect: {s}", i + 1));
                seen.push((true, s));
            }
            Wake::Raced(s) => {
                ctx.note(format!("attempt {}: raced: {s}", i + 1));
                seen.push((false, s));
            }
        }
    }
    let all: Vec<String> = seen
        .iter()
        .enumerate()
        .map(|(i, (_, s))| format!("attempt {}: {s}", i + 1))
        .collect();
    if seen.iter().filter(|(suspect, _)| *suspect).count() >= 2 {
        return Err(Failure::new(
            Some(req),
            format!(
                "in no attempt did an append wake the long-poll, and at least twice it was answered only after its timeout although the append was acknowledged well before\n  {}",
                all.join("\n  ")
            ),
        ));
    }
    Err(Failure::inconclusive(
        req,
        format!(
            "no attempt showed the order of events clearly (the append and the timeout raced each time)\n  {}",
            all.join("\n  ")
        ),
    ))
}

/// `Stream-Cursor` as the decimal interval number §10.1 defines.
pub(super) fn cursor_of(r: &Resp, presence: &str) -> Result<u128, Failure> {
    let c = r.require("stream-cursor", presence)?;
    parse_cursor(&c)
}

pub(crate) fn parse_cursor(c: &str) -> Result<u128, Failure> {
    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::new(
            Some("CURSOR-DECIMAL"),
            format!("cursor {c:?} is not a decimal interval number"),
        ));
    }
    c.parse().map_err(|_| {
        Failure::new(
            Some("CURSOR-DECIMAL"),
            format!("cursor {c:?} is too large to be an interval number"),
        )
    })
}

/// The body must start the expected bytes (a server may cut any read into
/// chunks, §5.6). Returns whether it is all of them.
pub(crate) fn check_chunk(
    r: &Resp,
    expected: &str,
    req: &str,
    what: &str,
) -> Result<bool, Failure> {
    if r.body.is_empty() || !expected.as_bytes().starts_with(&r.body) {
        return Err(Failure::new(
            Some(req),
            format!(
                "{what}\n  expected: {expected:?} (or a first chunk of it)\n  actual:   {:?}",
                r.text()
            ),
        ));
    }
    Ok(r.body.len() == expected.len())
}
