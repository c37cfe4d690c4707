//! §4 Durability, §4.1 durable closure, §5.2.1 persistent producer state:
//! write, restart the target (`--restart-cmd`), verify everything survived.
//! Each case holds the runner's restart lock, so no other case runs while
//! the target restarts. Skipped (not passed) without a restart command.

use crate::case::{case, Case};

mod restart;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "durability::restart::data_and_offsets_survive",
            &["DUR-DATA", "DUR-OFFSETS"],
            restart::data_and_offsets_survive,
        ),
        case(
            "durability::restart::json_messages_survive",
            &["DUR-DATA"],
            restart::json_messages_survive,
        ),
        case(
            "durability::restart::closure_survives",
            &["DUR-CLOSED"],
            restart::closure_survives,
        ),
        case(
            "durability::restart::config_survives",
            &["DUR-CONFIG"],
            restart::config_survives,
        ),
        case(
            "durability::restart::producer_state_survives",
            &["DUR-PRODUCER", "DUR-DATA"],
            restart::producer_state_survives,
        ),
        case(
            "durability::restart::stream_seq_survives",
            &["DUR-SEQ"],
            restart::stream_seq_survives,
        ),
        case(
            "durability::restart::forks_and_soft_delete_survive",
            &["DUR-FORKS"],
            restart::forks_and_soft_delete_survive,
        ),
        case(
            "durability::restart::deleted_stays_deleted",
            &["DUR-DELETE"],
            restart::deleted_stays_deleted,
        ),
    ]
    .into_iter()
    .map(Case::needs_restart)
    .collect()
}
