//! Model-based sequences (§4.1, §4.2, §5.1–§5.8, §8, §9.1): random
//! operations over a few stream names, every response compared with the
//! reference model, failures shrunk and written as replay scripts.

use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::props::{check_property, Family};

/// Create/append (bytes, text, JSON arrays, Stream-Seq)/close/HEAD/read/
/// delete/re-create on two names agree with the model.
#[case(
    "PROP-CREATE-OUTCOME",
    "PROP-APPEND-OUTCOME",
    "PROP-STREAM-SEQ",
    "PROP-CLOSE-OUTCOME",
    "PROP-CLOSED-REJECTS",
    "PROP-DELETE-OUTCOME",
    "PROP-HEAD-OUTCOME",
    "PROP-READ-CONTENT",
    "PROP-JSON-MODE",
    "PROP-OFFSET-ORDER",
    "PROP-LIVE-IMMEDIATE",
    "PROP-SSE-IMMEDIATE",
    secs = 5
)]
pub async fn single_stream(ctx: Ctx) -> CaseResult {
    check_property(ctx, Family::SingleStream).await
}

/// Forks at any minted offset (with sub-offsets and content types), forks
/// of forks, deletes of sources (soft-delete, cascades) agree with the model.
#[case(
    "PROP-FORK-CREATE",
    "PROP-FORK-READ",
    "PROP-SOFT-DELETE",
    "PROP-DELETE-OUTCOME",
    "PROP-READ-CONTENT",
    "PROP-OFFSET-ORDER",
    secs = 3
)]
pub async fn forks_and_deletes(ctx: Ctx) -> CaseResult {
    check_property(ctx, Family::ForksAndDeletes).await
}

/// Idempotent producers (next, retry, gap, zombie epoch, bump, closing
/// append) on streams and their forks agree with the model.
#[case(
    "PROP-PRODUCER-OUTCOME",
    "PROP-FORK-WRITER-STATE",
    "PROP-CLOSED-REJECTS",
    "PROP-READ-CONTENT",
    secs = 3
)]
pub async fn producers(ctx: Ctx) -> CaseResult {
    check_property(ctx, Family::Producers).await
}

register![single_stream, forks_and_deletes, producers,];
