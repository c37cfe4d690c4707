//! §4 Durability tests: the log (torn tails, corruption, group commit,
//! rotation, reads), the journal end to end, and the replay fold.

mod journal;
mod log;
mod replay;
