//! §4.2 "Producer state and fork boundaries": forks inherit neither
//! idempotent-producer state (§5.2.1) nor `Stream-Seq` state (§5.2).

use serde_json::json;

use super::util::{answers, fork, reads, source};
use crate::case::{case, register, CaseResult};
use crate::check_eq;
use crate::client::Ctx;

const CT: &str = "text/plain";

/// POST `body` to `name` as producer "p" at (`epoch`, `seq`); require
/// `expected` under FORK-NO-PRODUCER-STATE.
async fn produce(
    ctx: &Ctx,
    name: &str,
    ct: &str,
    body: &str,
    (epoch, seq): (u64, u64),
    expected: u16,
    what: &str,
) -> CaseResult {
    let q = ctx.post(name).ct(ct).body(body).producer("p", epoch, seq);
    answers(q, expected, "FORK-NO-PRODUCER-STATE", what).await?;
    Ok(())
}

/// Append `body` to `name` with `Stream-Seq: seq`; require 200 or 204.
async fn seq_append(ctx: &Ctx, name: &str, body: &str, seq: &str) -> CaseResult {
    let r = ctx.post(name).ct(CT).body(body).seq(seq).send().await?;
    r.expect_any(&[200, 204], "FORK-NO-SEQ-STATE")?;
    Ok(())
}

/// A producer's (epoch 0, seq 0) already used on the source is new on the
/// fork: 200 and appended (not a 204 duplicate); the source's producer
/// state is unchanged by it.
#[case("FORK-NO-PRODUCER-STATE")]
pub async fn producer_dup_is_new_on_fork(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[], "FORK-CREATE").await?;
    produce(
        &ctx,
        "s",
        CT,
        "src|",
        (0, 0),
        200,
        "producer (0,0) on the source",
    )
    .await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let what = "producer (0,0) on the fork (the source saw it, the fork did not)";
    produce(&ctx, "f", CT, "fork|", (0, 0), 200, what).await?;
    let what = "fork after its producer's first append";
    reads(
        &ctx,
        "f",
        "-1",
        b"src|fork|",
        "FORK-NO-PRODUCER-STATE",
        what,
    )
    .await?;
    let what = "producer (0,1) on the source after the fork's (0,0)";
    produce(&ctx, "s", CT, "src2|", (0, 1), 200, what).await?;
    let what = "producer (0,0) retried on the source (a duplicate there)";
    produce(&ctx, "s", CT, "src|", (0, 0), 204, what).await?;
    let what = "source after both producers wrote";
    reads(
        &ctx,
        "s",
        "-1",
        b"src|src2|",
        "FORK-NO-PRODUCER-STATE",
        what,
    )
    .await?;
    Ok(())
}

/// A higher epoch on the source does not fence the fork: epoch 0 is new
/// there (200, not 403).
#[case("FORK-NO-PRODUCER-STATE")]
pub async fn producer_epoch_is_new_on_fork(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[], "FORK-CREATE").await?;
    produce(
        &ctx,
        "s",
        CT,
        "e3|",
        (3, 0),
        200,
        "producer (3,0) on the source",
    )
    .await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let what = "producer (0,0) on the fork of a source at epoch 3";
    produce(&ctx, "f", CT, "e0|", (0, 0), 200, what).await?;
    let what = "fork after its producer's append";
    reads(&ctx, "f", "-1", b"e3|e0|", "FORK-NO-PRODUCER-STATE", what).await?;
    Ok(())
}

/// A fork cut inside a producer's JSON batch: the same producer's (0,0)
/// is new on the fork and lands after the inherited part of the batch.
#[case("FORK-NO-PRODUCER-STATE", "FORK-SUB-JSON")]
pub async fn producer_across_sub_offset(ctx: Ctx) -> CaseResult {
    let ct = "application/json";
    let s = source(&ctx, "s", ct, &[], "FORK-CREATE").await?;
    let batch = r#"[{"i":1},{"i":2},{"i":3}]"#;
    produce(
        &ctx,
        "s",
        ct,
        batch,
        (0, 0),
        200,
        "producer batch on the JSON source",
    )
    .await?;
    let q = ctx
        .put("f")
        .fork_of("s")
        .fork_offset(s.tail())
        .fork_sub_offset(1);
    let what = "JSON fork inside the producer's batch (1 message)";
    answers(q, 201, "FORK-SUB-JSON", what).await?;
    let what = "producer (0,0) on the fork cut inside its batch";
    produce(&ctx, "f", ct, r#"{"fork":1}"#, (0, 0), 200, what).await?;
    let all = ctx.read_all("f", "-1", "FORK-NO-PRODUCER-STATE").await?;
    check_eq!(
        all.messages,
        vec![json!({"i":1}), json!({"fork":1})],
        "FORK-NO-PRODUCER-STATE",
        "fork messages"
    );
    Ok(())
}

/// A `Stream-Seq` at or below the source's last one is accepted on the
/// fork (its Stream-Seq state starts empty).
#[case("FORK-NO-SEQ-STATE")]
pub async fn stream_seq_not_inherited(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[], "FORK-CREATE").await?;
    seq_append(&ctx, "s", "s5|", "005").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    seq_append(&ctx, "f", "f5|", "005").await?;
    seq_append(&ctx, "f", "f6|", "006").await?;
    let what = "fork after Stream-Seq appends";
    reads(&ctx, "f", "-1", b"s5|f5|f6|", "FORK-NO-SEQ-STATE", what).await?;
    answers(ctx.put("g").fork_of("s"), 201, "FORK-CREATE", "second fork").await?;
    seq_append(&ctx, "g", "g1|", "001").await?;
    let what = "second fork after a Stream-Seq below the source's";
    reads(&ctx, "g", "-1", b"s5|g1|", "FORK-NO-SEQ-STATE", what).await?;
    Ok(())
}

register![
    producer_dup_is_new_on_fork,
    producer_epoch_is_new_on_fork,
    producer_across_sub_offset,
    stream_seq_not_inherited,
];
