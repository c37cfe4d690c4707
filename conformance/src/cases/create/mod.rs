//! §5.1 Create Stream: new streams, idempotent re-creation, validation.

use crate::case::{case, Case};

mod basic;

pub fn cases() -> Vec<Case> {
    vec![case(
        "create::basic::new_stream_is_201",
        &["CREATE-NEW-201"],
        basic::new_stream_is_201,
    )]
}
