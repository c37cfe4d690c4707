//! The store's operations, each one validate → event → `apply` → commit:
//! `create` (§5.1, §4.2), `append` (§5.2, §5.2.1, §5.3), `delete` and
//! expiry (§5.4, §4, §4.2), and `open` for HEAD and reads (§5.5-§5.8).

pub mod append;
mod create;
mod delete;
mod open;
