//! §5.2.1 Idempotent Producers: validation table, header syntax, response
//! headers, concurrency, closure, interplay with Stream-Seq (§5.2).

use crate::case::Case;

mod close;
mod concurrency;
mod stream_seq;
mod syntax;
mod util;
mod validation;

pub fn cases() -> Vec<Case> {
    [
        validation::cases as fn() -> Vec<Case>,
        syntax::cases,
        concurrency::cases,
        close::cases,
        stream_seq::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
