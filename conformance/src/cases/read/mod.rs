//! §5.6 Read Stream - Catch-up: reads from sentinels and minted offsets,
//! chunked reads followed by `Stream-Next-Offset`, the tail, EOF, errors.

use crate::case::Case;

mod basic;
mod chunks;
mod errors;
mod tail;

pub fn cases() -> Vec<Case> {
    [
        basic::cases as fn() -> Vec<Case>,
        chunks::cases,
        tail::cases,
        errors::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
