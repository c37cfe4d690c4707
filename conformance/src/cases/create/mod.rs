//! §5.1 Create Stream: new streams, idempotent re-creation, closed creation,
//! header validation.

use crate::case::Case;

mod basic;
mod closed;
mod idempotent;
mod validation;

pub fn cases() -> Vec<Case> {
    [
        basic::cases as fn() -> Vec<Case>,
        idempotent::cases,
        closed::cases,
        validation::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
