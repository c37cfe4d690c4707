//! "The checks bite": one test binary proving that every case can fail.
//! Each test serves the reference app behind a middleware that breaks one
//! rule (tests/common) and states, with one builder, which case must fail
//! on which requirement:
//!
//! ```text
//! bite(&srv.root).case("append::seq::equal_is_409").fails_with("SEQ-...").await;
//! bite(&srv.root).each(&[(case, requirement), ..]).await;
//! bite(&reference.root).area("append::").passes().await;   // the control
//! ```
//!
//! (`ds_conformance::testing::Bite`). Every asserted failure is recorded
//! as (case, requirement, test) when `DS_BITE_LOG` names a file;
//! `scripts/bite-coverage.sh` turns that log into
//! `fixtures/bite-coverage.txt`, which `ds-conformance --coverage` reads to
//! list cases that no bite test proves able to fail.
//!
//! One module per area, as in `conformance/src/cases/`.

/// The bite tests mostly wait (TTLs, long-poll timeouts, leases), so
/// libtest's default of one test per core (2 on CI) left the machine idle
/// and this binary took over half of `cargo test`. Unless
/// `RUST_TEST_THREADS` (or `--test-threads`, which wins) says otherwise,
/// run 6 at once. libtest reads the variable in `main`, so it is set just
/// before `main`, while the process is still single-threaded.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static MORE_TEST_THREADS: extern "C" fn() = {
    extern "C" fn more_test_threads() {
        if std::env::var_os("RUST_TEST_THREADS").is_none() {
            std::env::set_var("RUST_TEST_THREADS", "6");
        }
    }
    more_test_threads
};

#[path = "../common/mod.rs"]
mod common;

mod append;
mod caching;
mod close;
mod crash;
mod create;
mod durability;
mod fork;
mod json;
mod longpoll;
mod metadata;
mod offsets;
mod producer;
mod props;
mod read;
mod replay;
mod security;
mod sse;
mod subscriptions;
mod ttl;
