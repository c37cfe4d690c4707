//! §5.2.1 "Concurrency Requirements": state per (stream, producerId), and
//! validation + append serialized per producer even under pipelining.

use std::time::Duration;

use super::util::{accepted, content, send, stream};
use crate::case::{case, register, CaseResult};
use crate::check;
use crate::client::Ctx;

/// Interleaved producers on one stream keep separate seqs and epochs, and
/// the same producer id on another stream starts from scratch.
#[case("PROD-INDEPENDENT")]
pub async fn producers_are_independent(ctx: Ctx) -> CaseResult {
    const R: &str = "PROD-INDEPENDENT";
    stream(&ctx, "s").await?;
    stream(&ctx, "t").await?;
    accepted(&send(&ctx, "s", "p", 0, 0, "p0").await?, 200, 0, 0, R)?;
    accepted(&send(&ctx, "s", "q", 0, 0, "q0").await?, 200, 0, 0, R)?;
    accepted(&send(&ctx, "s", "p", 0, 1, "p1").await?, 200, 0, 1, R)?;
    accepted(&send(&ctx, "s", "p", 3, 0, "P0").await?, 200, 3, 0, R)?;
    // q is neither fenced by p's epoch nor confused by p's seq.
    accepted(&send(&ctx, "s", "q", 0, 1, "q1").await?, 200, 0, 1, R)?;
    accepted(&send(&ctx, "s", "q", 0, 0, "q0").await?, 204, 0, 1, R)?;
    // p's state on "s" does not exist on "t".
    accepted(&send(&ctx, "t", "p", 0, 0, "t0").await?, 200, 0, 0, R)?;
    content(&ctx, "s", "p0q0p1P0q1", R).await?;
    content(&ctx, "t", "t0", R).await
}

/// Seqs 0..8 each sent twice, concurrently and nearly in order, over
/// separate connections (a retry storm). Serialized validation means each
/// seq is accepted (200) exactly once: its twin answers 204 (duplicate) or
/// 409 (arrived before a gap closed); no seq's data is appended twice; after
/// retrying in order, the stream holds every batch once, in seq order.
#[case("PROD-SERIALIZE", "PROD-RESP-SEQ")]
pub async fn pipelined_retries_append_once(ctx: Ctx) -> CaseResult {
    const R: &str = "PROD-SERIALIZE";
    const N: u64 = 8;
    stream(&ctx, "s").await?;
    let body = |k: u64| format!("<{k}>");
    let burst = (0..N * 2).map(|i| {
        let ctx = ctx.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(3 * i)).await;
            let k = i / 2;
            send(&ctx, "s", "p", 0, k, &format!("<{k}>"))
                .await
                .map(|r| (k, r))
        }
    });
    let mut ok = vec![0u32; N as usize];
    for res in futures::future::join_all(burst).await {
        let (k, r) = res?;
        check!(
            matches!(r.status, 200 | 204 | 409),
            R,
            "seq {k} answered {} during the burst (expected 200, 204 or 409)",
            r.status
        );
        if r.status == 200 {
            ok[k as usize] += 1;
            let s = r.require("producer-seq", "PROD-RESP-SEQ")?;
            check!(
                s.trim() == k.to_string(),
                "PROD-RESP-SEQ",
                "200 for seq {k} reports Producer-Seq {s}"
            );
        }
    }
    for k in 0..N {
        check!(
            ok[k as usize] <= 1,
            R,
            "seq {k} was accepted (200) {} times",
            ok[k as usize]
        );
        let r = send(&ctx, "s", "p", 0, k, &body(k)).await?;
        let want = if ok[k as usize] == 1 { 204 } else { 200 };
        check!(
            r.status == want,
            R,
            "in-order retry of seq {k} answered {}, expected {want} (it was accepted {} times before)",
            r.status,
            ok[k as usize]
        );
    }
    let want: String = (0..N).map(body).collect();
    content(&ctx, "s", &want, R).await
}

register![producers_are_independent, pipelined_retries_append_once,];
