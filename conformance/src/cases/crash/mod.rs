//! Crashes under load (§4 durability, §4.1, §4.2, §5.2, §5.2.1, §5.4, §8):
//! concurrent clients write while the target is killed (`--kill-cmd`) at a
//! seeded moment and restarted (`--restart-cmd`); clients resend what a
//! client library resends, and a history checker judges everything the
//! clients were told against what survived. Each case holds the runner's
//! restart lock. Skipped (with that reason) without both commands.

use crate::case::{Case, Needs};

mod appends;
mod history;
mod lifecycle;
mod load;
mod rounds;

pub fn cases() -> Vec<Case> {
    [appends::cases as fn() -> Vec<Case>, lifecycle::cases]
        .iter()
        .flat_map(|f| f())
        .map(|c| c.with_needs(Needs::KillAndRestart))
        .collect()
}
