//! §4 "TTL/Expiry", §5.1 Stream-TTL / Stream-Expires-At, §5.5 HEAD metadata,
//! §4.2 fork expiry table and expiry-induced soft-delete.

use crate::case::Case;

mod expired;
mod expires_at;
mod fork_expiry;
mod fork_table;
mod headers;
mod renewal;
mod soft_delete;
mod util;

pub fn cases() -> Vec<Case> {
    [
        renewal::cases as fn() -> Vec<Case>,
        expires_at::cases,
        headers::cases,
        expired::cases,
        fork_table::cases,
        fork_expiry::cases,
        soft_delete::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
