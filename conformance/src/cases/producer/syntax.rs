//! §5.2.1 "Request Headers": the three headers come together or not at
//! all, Producer-Id is non-empty, epoch and seq are integers in
//! [0, 2^53-1]; anything else is 400 and appends nothing.

use super::util::{content, gap, send, stream};
use crate::case::{case, register, CaseResult, Failure};
use crate::check;
use crate::client::Ctx;

const MAX: u64 = (1 << 53) - 1;

/// POST "x" with the given raw producer headers; returns the status.
async fn raw(ctx: &Ctx, headers: &[(&str, &str)]) -> Result<u16, Failure> {
    let mut r = ctx.post("s").ct("text/plain").body("x");
    for (k, v) in headers {
        r = r.header(k, v);
    }
    Ok(r.send().await?.status)
}

/// Each value in `bad`, used as the epoch and then as the seq (with an
/// otherwise valid request), is answered 400 under `req`.
async fn rejects(ctx: &Ctx, bad: &[&str], req: &str) -> CaseResult {
    stream(ctx, "s").await?;
    send(ctx, "s", "p", 0, 0, "a")
        .await?
        .expect(200, "PROD-NEW-PRODUCER")?;
    for v in bad {
        let s = raw(
            ctx,
            &[
                ("Producer-Id", "q"),
                ("Producer-Epoch", v),
                ("Producer-Seq", "0"),
            ],
        )
        .await?;
        check!(
            s == 400,
            req,
            "Producer-Epoch {v:?} answered {s}, expected 400"
        );
        let s = raw(
            ctx,
            &[
                ("Producer-Id", "p"),
                ("Producer-Epoch", "0"),
                ("Producer-Seq", v),
            ],
        )
        .await?;
        check!(
            s == 400,
            req,
            "Producer-Seq {v:?} answered {s}, expected 400"
        );
    }
    content(ctx, "s", "a", req).await
}

/// Negative, fractional, exponent, hex, alphabetic, empty and inner-space
/// values are 400. (`-0` spells zero, a non-negative integer: it is a
/// non-canonical spelling, judged with `+0` under the SHOULD below.)
#[case("PROD-VALUE-INTEGER")]
pub async fn non_integer_values_are_400(ctx: Ctx) -> CaseResult {
    let bad = [
        "-1", "1.0", "1.5", "1e3", "0x1", "abc", "", "1 0", "1,2", "NaN",
    ];
    rejects(&ctx, &bad, "PROD-VALUE-INTEGER").await
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
    rejects(&ctx, &bad, "PROD-VALUE-MAX").await
}

/// Signs and leading zeros are not plain decimal integers (SHOULD be 400).
#[case("PROD-VALUE-CANONICAL")]
pub async fn non_canonical_integers_are_400(ctx: Ctx) -> CaseResult {
    rejects(
        &ctx,
        &["+1", "01", "00", "+0", "-0"],
        "PROD-VALUE-CANONICAL",
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
