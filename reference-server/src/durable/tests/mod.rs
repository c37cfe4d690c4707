//! §4 Durability tests of the log: torn tails, corruption, group commit,
//! rotation, reads.

mod log;
