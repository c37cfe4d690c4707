//! §5.5 Stream Metadata (HEAD) and §5.4 Delete Stream.

use crate::case::Case;

mod delete;
mod head;

pub fn cases() -> Vec<Case> {
    [head::cases as fn() -> Vec<Case>, delete::cases]
        .iter()
        .flat_map(|f| f())
        .collect()
}
