//! Durable Streams reference server.
