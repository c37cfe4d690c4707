//! §5.2.1 "Request Headers": the three headers come together or not at
//! all, Producer-Id is non-empty, epoch and seq are integers in
//! [0, 2^53-1]; anything else is 400 and appends nothing.

use super::util::{content, gap, send, stream};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::Ctx;
use crate::{check, check_eq, fail};

const MAX: u64 = (1 << 53) - 1;

/// POST "x" with the given raw producer headers; returns the status.
async fn raw(ctx: &Ctx, headers: &[(&str, &str)]) -> Result<u16, Failure> {
    let mut r = ctx.post("s").ct("text/plain").body("x");
    for (k, v) in headers {
        r = r.header(k, v);
    }
    Ok(r.send().await?.status)
}

/// How a wrong answer counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A MUST: the first wrong answer fails the case.
    Must,
    /// A SHOULD: each wrong answer is a finding and the case carries on.
    Should,
}

/// Each value in `bad`, used as the epoch (of producer q) and then as the
/// seq (of producer p, epoch 0), with an otherwise valid request, is
/// answered 400 under `req`. Under a SHOULD the case carries on after a
/// value the server accepted, and checks at the end that every answer was
/// applied as given (MUST): one "x" appended per 200, nothing for a 204
/// duplicate or an error.
async fn rejects(ctx: &Ctx, bad: &[&str], req: &str, level: Level) -> CaseResult {
    stream(ctx, "s").await?;
    send(ctx, "s", "p", 0, 0, "a")
        .await?
        .expect(200, "PROD-NEW-PRODUCER")?;
    let mut appended = 0usize;
    let mut answers = Vec::new();
    for v in bad {
        for (what, headers) in [
            (
                "Producer-Epoch",
                [
                    ("Producer-Id", "q"),
                    ("Producer-Epoch", *v),
                    ("Producer-Seq", "0"),
                ],
            ),
            (
                "Producer-Seq",
                [
                    ("Producer-Id", "p"),
                    ("Producer-Epoch", "0"),
                    ("Producer-Seq", *v),
                ],
            ),
        ] {
            let s = raw(ctx, &headers).await?;
            if s == 400 {
                continue;
            }
            if level == Level::Must {
                fail!(req, "{what} {v:?} answered {s}, expected 400");
            }
            ctx.finding(Failure::new(
                Some(req),
                format!("{what} {v:?} answered {s}, expected 400"),
            ));
            answers.push(format!("{what} {v:?}: {s}"));
            if s == 200 {
                appended += 1;
            }
        }
    }
    let want = format!("a{}", "x".repeat(appended));
    let all = ctx.read_all("s", "-1", req).await?;
    let got = all.text();
    if answers.is_empty() {
        check_eq!(got, want, req, "content of s");
        return Ok(());
    }
    // The server accepted some of the values: what it stored must match
    // what it answered.
    let broken = if got.len() > want.len() {
        "PROD-SEQ-DUP"
    } else {
        "PROD-SEQ-NEXT"
    };
    check_eq!(
        got,
        want,
        broken,
        "content of s after the values it accepted were answered {} (a 200 appends \"x\" once; a 204 duplicate or an error appends nothing)",
        answers.join(", ")
    );
    Ok(())
}

/// Negative, fractional, exponent, hex, alphabetic, empty and inner-space
/// values are 400. (`-0` spells zero, a non-negative integer: it is a
/// non-canonical spelling, judged with `+0` under the SHOULD below.)
#[case("PROD-VALUE-INTEGER")]
pub async fn non_integer_values_are_400(ctx: Ctx) -> CaseResult {
    let bad = [
        "-1", "1.0", "1.5", "1e3", "0x1", "abc", "", "1 0", "1,2", "NaN",
    ];
    rejects(&ctx, &bad, "PROD-VALUE-INTEGER", Level::Must).await
}

/// 2^53 (and beyond, including u64 overflow) is 400.
#[case("PROD-VALUE-MAX")]
pub async fn values_above_2_pow_53_minus_1_are_400(ctx: Ctx) -> CaseResult {
    let bad = [
        "9007199254740992",
        "9007199254740993",
        "18446744073709551616",
        "99999999999999999999999",
    ];
    rejects(&ctx, &bad, "PROD-VALUE-MAX", Level::Must).await
}

/// Signs and leading zeros are not plain decimal integers (SHOULD be 400).
/// A server that accepts them gets that finding; whatever it accepted must
/// then have been stored exactly as answered (MUST).
#[case("PROD-VALUE-CANONICAL", "PROD-SEQ-DUP", "PROD-SEQ-NEXT")]
pub async fn non_canonical_integers_are_400(ctx: Ctx) -> CaseResult {
    rejects(
        &ctx,
        &["+1", "01", "00", "+0", "-0"],
        "PROD-VALUE-CANONICAL",
        Level::Should,
    )
    .await
}

/// 2^53-1 is a valid epoch (200) and a valid seq (parsed: a 409 gap that
/// reports it as the received seq).
#[case("PROD-VALUE-MAX", "PROD-SEQ-GAP")]
pub async fn max_values_accepted(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    let r = send(&ctx, "s", "p", MAX, 0, "a").await?;
    super::util::accepted(&r, 200, MAX, 0, "PROD-VALUE-MAX")?;
    send(&ctx, "s", "q", 0, 0, "b")
        .await?
        .expect(200, "PROD-NEW-PRODUCER")?;
    gap(&send(&ctx, "s", "q", 0, MAX, "x").await?, 1, MAX)?;
    content(&ctx, "s", "ab", "PROD-VALUE-MAX").await
}

/// Each of the six non-empty proper subsets of the three headers is 400.
#[case("PROD-ALL-OR-NONE")]
pub async fn partial_header_sets_are_400(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    let all = [
        ("Producer-Id", "p"),
        ("Producer-Epoch", "0"),
        ("Producer-Seq", "0"),
    ];
    for mask in 1..7u8 {
        let subset: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, h)| *h)
            .collect();
        let s = raw(&ctx, &subset).await?;
        let names: Vec<_> = subset.iter().map(|(k, _)| *k).collect();
        check!(
            s == 400,
            "PROD-ALL-OR-NONE",
            "only {names:?} answered {s}, expected 400"
        );
    }
    content(&ctx, "s", "", "PROD-ALL-OR-NONE").await
}

/// An empty Producer-Id is 400.
#[case("PROD-ID-NON-EMPTY")]
pub async fn empty_producer_id_is_400(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    let s = raw(
        &ctx,
        &[
            ("Producer-Id", ""),
            ("Producer-Epoch", "0"),
            ("Producer-Seq", "0"),
        ],
    )
    .await?;
    check!(
        s == 400,
        "PROD-ID-NON-EMPTY",
        "empty Producer-Id answered {s}, expected 400"
    );
    content(&ctx, "s", "", "PROD-ID-NON-EMPTY").await
}

register![
    non_integer_values_are_400,
    values_above_2_pow_53_minus_1_are_400,
    non_canonical_integers_are_400,
    max_values_accepted,
    partial_header_sets_are_400,
    empty_producer_id_is_400,
];
