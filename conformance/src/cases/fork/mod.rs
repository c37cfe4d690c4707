//! Cases for the `fork` area: §4.2 forks (creation, errors, idempotency,
//! sub-offsets), reading forks (§8, §9.1), live modes on forks (§5.7,
//! §5.8), soft-delete by DELETE and cascading cleanup (§4.2, §5.4), and
//! writer state across fork boundaries. Fork TTL/expiry is the ttl area's.

use crate::case::Case;

mod create;
mod errors;
mod idempotent;
mod lifecycle;
mod live;
mod read;
mod suboffset;
pub(crate) mod util;
mod writers;

pub fn cases() -> Vec<Case> {
    [
        create::cases as fn() -> Vec<Case>,
        errors::cases,
        idempotent::cases,
        suboffset::cases,
        read::cases,
        live::cases,
        lifecycle::cases,
        writers::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
