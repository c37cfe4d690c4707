//! Durable Streams reference server.
pub mod durable;
