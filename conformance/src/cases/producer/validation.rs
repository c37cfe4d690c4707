//! §5.2.1 "Validation Logic": the epoch/seq decision table, with the
//! response headers of every outcome and the data each outcome leaves.

use super::util::{accepted, accepts, appends, content, gap, send, stale, stream};
use crate::case::{case, register, CaseResult};
use crate::check;
use crate::client::Ctx;

/// A new producer's (epoch 0, seq 0) is accepted: 200, echoed epoch and seq.
#[case("PROD-NEW-PRODUCER", "PROD-RESP-EPOCH", "PROD-RESP-SEQ")]
pub async fn new_producer_accepted(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    accepts(&ctx, (0, 0), "a", 200, 0, "PROD-NEW-PRODUCER").await?;
    content(&ctx, "s", "a", "PROD-NEW-PRODUCER").await
}

/// A new producer must start at seq 0: (0, 3) is rejected (400 or a 409
/// gap) and appends nothing.
#[case("PROD-NEW-PRODUCER")]
pub async fn new_producer_nonzero_seq_rejected(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    let r = send(&ctx, "s", "p", 0, 3, "x").await?;
    r.expect_any(&[400, 409], "PROD-NEW-PRODUCER")?;
    accepts(&ctx, (0, 0), "a", 200, 0, "PROD-NEW-PRODUCER").await?;
    content(&ctx, "s", "a", "PROD-NEW-PRODUCER").await
}

/// seq = lastSeq + 1 is accepted with 200 and Producer-Seq = seq.
#[case("PROD-SEQ-NEXT", "PROD-RESP-EPOCH", "PROD-RESP-SEQ")]
pub async fn next_seq_accepted(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    for (seq, body) in ["a", "b", "c"].iter().enumerate() {
        let r = send(&ctx, "s", "p", 0, seq as u64, body).await?;
        accepted(&r, 200, 0, seq as u64, "PROD-SEQ-NEXT")?;
    }
    content(&ctx, "s", "abc", "PROD-SEQ-NEXT").await
}

/// seq <= lastSeq is a duplicate: 204 with Producer-Seq = the highest
/// accepted seq (not the retried one), and nothing is appended again.
#[case("PROD-SEQ-DUP", "PROD-RESP-EPOCH", "PROD-RESP-SEQ")]
pub async fn duplicate_is_204_not_appended(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    for (seq, body) in ["a", "b", "c"].iter().enumerate() {
        send(&ctx, "s", "p", 0, seq as u64, body)
            .await?
            .expect(200, "PROD-SEQ-NEXT")?;
    }
    for seq in [2, 1, 0] {
        let r = send(&ctx, "s", "p", 0, seq, ["a", "b", "c"][seq as usize]).await?;
        accepted(&r, 204, 0, 2, "PROD-SEQ-DUP")?;
    }
    content(&ctx, "s", "abc", "PROD-SEQ-DUP").await
}

/// seq > lastSeq + 1 is a gap: 409 with expected and received seq; nothing
/// is appended and the expected seq is still accepted afterwards.
#[case("PROD-SEQ-GAP")]
pub async fn gap_is_409_with_expected_and_received(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    appends(&ctx, (0, 0), "a", "PROD-SEQ-NEXT").await?;
    gap(&send(&ctx, "s", "p", 0, 3, "x").await?, 1, 3)?;
    gap(&send(&ctx, "s", "p", 0, 2, "x").await?, 1, 2)?;
    accepts(&ctx, (0, 1), "b", 200, 1, "PROD-SEQ-GAP").await?;
    content(&ctx, "s", "ab", "PROD-SEQ-GAP").await
}

/// A higher epoch with seq 0 starts a new session (200, lastSeq reset to
/// 0), also when it skips epochs; dedup then works within the new epoch.
#[case("PROD-EPOCH-BUMP", "PROD-RESP-EPOCH", "PROD-RESP-SEQ")]
pub async fn epoch_bump_accepted(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    appends(&ctx, (0, 0), "a", "PROD-SEQ-NEXT").await?;
    appends(&ctx, (0, 1), "b", "PROD-SEQ-NEXT").await?;
    accepts(&ctx, (1, 0), "c", 200, 0, "PROD-EPOCH-BUMP").await?;
    accepts(&ctx, (1, 0), "c", 204, 0, "PROD-EPOCH-BUMP").await?;
    accepts(&ctx, (1, 1), "d", 200, 1, "PROD-EPOCH-BUMP").await?;
    accepts(&ctx, (7, 0), "e", 200, 0, "PROD-EPOCH-BUMP").await?;
    content(&ctx, "s", "abcde", "PROD-EPOCH-BUMP").await
}

/// A higher epoch with seq != 0 is 400 and leaves the state untouched.
#[case("PROD-EPOCH-BUMP-SEQ-400")]
pub async fn epoch_bump_with_nonzero_seq_is_400(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    appends(&ctx, (0, 0), "a", "PROD-SEQ-NEXT").await?;
    let r = send(&ctx, "s", "p", 1, 1, "x").await?;
    r.expect(400, "PROD-EPOCH-BUMP-SEQ-400")?;
    accepts(&ctx, (0, 1), "b", 200, 1, "PROD-EPOCH-BUMP-SEQ-400").await?;
    content(&ctx, "s", "ab", "PROD-EPOCH-BUMP-SEQ-400").await
}

/// A lower epoch is fenced: 403 with Producer-Epoch = the current epoch,
/// whatever its seq, and nothing is appended.
#[case("PROD-STALE-EPOCH")]
pub async fn stale_epoch_is_403_with_current_epoch(ctx: Ctx) -> CaseResult {
    stream(&ctx, "s").await?;
    appends(&ctx, (0, 0), "a", "PROD-SEQ-NEXT").await?;
    appends(&ctx, (2, 0), "b", "PROD-EPOCH-BUMP").await?;
    for (epoch, seq) in [(1, 0), (0, 1), (0, 0), (1, 5)] {
        stale(&send(&ctx, "s", "p", epoch, seq, "z").await?, 2)?;
    }
    let r = send(&ctx, "s", "p", 2, 1, "c").await?;
    check!(
        r.status == 200,
        "PROD-STALE-EPOCH",
        "current epoch after fencing answered {}",
        r.status
    );
    content(&ctx, "s", "abc", "PROD-STALE-EPOCH").await
}

register![
    new_producer_accepted,
    new_producer_nonzero_seq_rejected,
    next_seq_accepted,
    duplicate_is_204_not_appended,
    gap_is_409_with_expected_and_received,
    epoch_bump_accepted,
    epoch_bump_with_nonzero_seq_is_400,
    stale_epoch_is_403_with_current_epoch,
];
