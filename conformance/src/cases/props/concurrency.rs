//! Concurrency (§5.2, §5.2.1, §5.7, §5.8, §8): concurrent producers and
//! writers with live readers following one stream.

use crate::case::{case, register, CaseResult};
use crate::client::Ctx;

/// Every acknowledged append is stored exactly once, in per-writer order,
/// offsets sort in stream order, and every live reader saw the final content.
#[case(
    "PROP-CONCURRENT-EXACTLY-ONCE",
    "PROP-CONCURRENT-OFFSETS",
    "PROP-CONCURRENT-READERS"
)]
pub async fn writers_and_readers(ctx: Ctx) -> CaseResult {
    crate::props::concurrency::writers_and_readers(ctx).await
}

register![writers_and_readers,];
