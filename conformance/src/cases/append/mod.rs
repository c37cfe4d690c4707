//! §5.2 Append to Stream: success, ordering, content type, empty bodies,
//! `Stream-Seq`, error precedence.

use crate::case::Case;

mod basic;
mod content_type;
mod precedence;
mod seq;

pub fn cases() -> Vec<Case> {
    [
        basic::cases as fn() -> Vec<Case>,
        content_type::cases,
        seq::cases,
        precedence::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
