//! §4.2 "Producer state and fork boundaries": forks inherit neither
//! idempotent-producer state (§5.2.1) nor `Stream-Seq` state (§5.2).

use serde_json::json;

use super::util::{fork, reads, source, status};
use crate::case::CaseResult;
use crate::check_eq;
use crate::client::Ctx;

const CT: &str = "text/plain";

/// A producer's (epoch 0, seq 0) already used on the source is new on the
/// fork: 200 and appended (not a 204 duplicate); the source's producer
/// state is unchanged by it.
pub async fn producer_dup_is_new_on_fork(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[], "FORK-CREATE").await?;
    let r = ctx
        .post("s")
        .ct(CT)
        .body("src|")
        .producer("p", 0, 0)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer (0,0) on the source",
    )?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let r = ctx
        .post("f")
        .ct(CT)
        .body("fork|")
        .producer("p", 0, 0)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer (0,0) on the fork (the source saw it, the fork did not)",
    )?;
    reads(
        &ctx,
        "f",
        "-1",
        b"src|fork|",
        "FORK-NO-PRODUCER-STATE",
        "fork after its producer's first append",
    )
    .await?;
    let r = ctx
        .post("s")
        .ct(CT)
        .body("src2|")
        .producer("p", 0, 1)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer (0,1) on the source after the fork's (0,0)",
    )?;
    let r = ctx
        .post("s")
        .ct(CT)
        .body("src|")
        .producer("p", 0, 0)
        .send()
        .await?;
    status(
        &r,
        204,
        "FORK-NO-PRODUCER-STATE",
        "producer (0,0) retried on the source (a duplicate there)",
    )?;
    reads(
        &ctx,
        "s",
        "-1",
        b"src|src2|",
        "FORK-NO-PRODUCER-STATE",
        "source after both producers wrote",
    )
    .await?;
    Ok(())
}

/// A higher epoch on the source does not fence the fork: epoch 0 is new
/// there (200, not 403).
pub async fn producer_epoch_is_new_on_fork(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[], "FORK-CREATE").await?;
    let r = ctx
        .post("s")
        .ct(CT)
        .body("e3|")
        .producer("p", 3, 0)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer (3,0) on the source",
    )?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let r = ctx
        .post("f")
        .ct(CT)
        .body("e0|")
        .producer("p", 0, 0)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer (0,0) on the fork of a source at epoch 3",
    )?;
    reads(
        &ctx,
        "f",
        "-1",
        b"e3|e0|",
        "FORK-NO-PRODUCER-STATE",
        "fork after its producer's append",
    )
    .await?;
    Ok(())
}

/// A fork cut inside a producer's JSON batch: the same producer's (0,0)
/// is new on the fork and lands after the inherited part of the batch.
pub async fn producer_across_sub_offset(ctx: Ctx) -> CaseResult {
    let ct = "application/json";
    let s = source(&ctx, "s", ct, &[], "FORK-CREATE").await?;
    let r = ctx
        .post("s")
        .ct(ct)
        .body(r#"[{"i":1},{"i":2},{"i":3}]"#)
        .producer("p", 0, 0)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer batch on the JSON source",
    )?;
    let r = ctx
        .put("f")
        .fork_of("s")
        .fork_offset(s.tail())
        .fork_sub_offset(1)
        .send()
        .await?;
    status(
        &r,
        201,
        "FORK-SUB-JSON",
        "JSON fork inside the producer's batch (1 message)",
    )?;
    let r = ctx
        .post("f")
        .ct(ct)
        .body(r#"{"fork":1}"#)
        .producer("p", 0, 0)
        .send()
        .await?;
    status(
        &r,
        200,
        "FORK-NO-PRODUCER-STATE",
        "producer (0,0) on the fork cut inside its batch",
    )?;
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
pub async fn stream_seq_not_inherited(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", CT, &[], "FORK-CREATE").await?;
    let r = ctx.post("s").ct(CT).body("s5|").seq("005").send().await?;
    r.expect_any(&[200, 204], "FORK-NO-SEQ-STATE")?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let r = ctx.post("f").ct(CT).body("f5|").seq("005").send().await?;
    r.expect_any(&[200, 204], "FORK-NO-SEQ-STATE")?;
    let r = ctx.post("f").ct(CT).body("f6|").seq("006").send().await?;
    r.expect_any(&[200, 204], "FORK-NO-SEQ-STATE")?;
    reads(
        &ctx,
        "f",
        "-1",
        b"s5|f5|f6|",
        "FORK-NO-SEQ-STATE",
        "fork after Stream-Seq appends",
    )
    .await?;
    let g = ctx.put("g").fork_of("s").send().await?;
    status(&g, 201, "FORK-CREATE", "second fork")?;
    let r = ctx.post("g").ct(CT).body("g1|").seq("001").send().await?;
    r.expect_any(&[200, 204], "FORK-NO-SEQ-STATE")?;
    reads(
        &ctx,
        "g",
        "-1",
        b"s5|g1|",
        "FORK-NO-SEQ-STATE",
        "second fork after a Stream-Seq below the source's",
    )
    .await?;
    Ok(())
}
