//! §4 Durability, §4.1 durable closure, §5.2.1 persistent producer state:
//! write, restart the target (`--restart-cmd`), verify everything survived.
//! Each case holds the runner's restart lock, so no other case runs while
//! the target restarts. Skipped (not passed) without a restart command.

use crate::case::Case;

mod restart;

pub fn cases() -> Vec<Case> {
    [restart::cases as fn() -> Vec<Case>]
        .iter()
        .flat_map(|f| f())
        .map(Case::needs_restart)
        .collect()
}
