//! §4.1 Stream Closure and §5.3 Close Stream: the `Stream-Closed` header
//! value, close-only and append-and-close, what a closed stream refuses.

use crate::case::Case;

mod after_close;
mod close_only;
mod header_value;

pub fn cases() -> Vec<Case> {
    [
        header_value::cases as fn() -> Vec<Case>,
        close_only::cases,
        after_close::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
