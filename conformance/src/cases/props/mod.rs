//! Properties (cross-section invariants, §4.1, §4.2, §5.1–§5.8, §8, §9.1):
//! model-based operation sequences with shrinking, and a concurrency
//! property. The engine lives in `crate::props`, the model in `crate::model`.

use crate::case::Case;

mod concurrency;
mod sequences;

/// Requirement ids the property checks can name.
pub const REQUIREMENTS: &[&str] = &[
    "PROP-CREATE-OUTCOME",
    "PROP-APPEND-OUTCOME",
    "PROP-STREAM-SEQ",
    "PROP-CLOSE-OUTCOME",
    "PROP-CLOSED-REJECTS",
    "PROP-PRODUCER-OUTCOME",
    "PROP-FORK-CREATE",
    "PROP-FORK-READ",
    "PROP-FORK-WRITER-STATE",
    "PROP-SOFT-DELETE",
    "PROP-DELETE-OUTCOME",
    "PROP-HEAD-OUTCOME",
    "PROP-READ-CONTENT",
    "PROP-JSON-MODE",
    "PROP-OFFSET-ORDER",
    "PROP-LIVE-IMMEDIATE",
    "PROP-SSE-IMMEDIATE",
];

pub fn cases() -> Vec<Case> {
    [sequences::cases as fn() -> Vec<Case>, concurrency::cases]
        .iter()
        .flat_map(|f| f())
        .collect()
}
