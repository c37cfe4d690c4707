//! §12.7 browser security headers and CORS; bad input (malformed headers,
//! offsets, bodies, paths) is answered with a 4xx, never a 5xx or a hang.

use crate::case::Case;

mod bad_input;
mod cors;
mod headers;

pub fn cases() -> Vec<Case> {
    [
        headers::cases as fn() -> Vec<Case>,
        cors::cases,
        bad_input::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}
