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

use libtest_mimic::{Arguments, Failed, Trial};

/// The trials of one module, each `KIND name` with KIND one of `tokio`
/// (an async fn on a current-thread runtime, like `#[tokio::test]`),
/// `multi` (an async fn on a 2-worker multi-thread runtime) or `sync`.
/// Each module lists its tests in `pub fn trials()`; a test left out of
/// the list is an unused function, which the lints (`-D warnings`) refuse.
macro_rules! trials {
    ($($kind:ident $name:ident),* $(,)?) => {
        vec![$(trial!($kind $name)),*]
    };
}

macro_rules! trial {
    (tokio $name:ident) => {
        $crate::trial(module_path!(), stringify!($name), || {
            $crate::runtime(false).block_on($name())
        })
    };
    (multi $name:ident) => {
        $crate::trial(module_path!(), stringify!($name), || {
            $crate::runtime(true).block_on($name())
        })
    };
    (sync $name:ident) => {
        $crate::trial(module_path!(), stringify!($name), $name)
    };
}

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

/// A test named `area::name` (as libtest named it). It runs on a thread of
/// that name: the bite log (`DS_BITE_LOG`) names the test after its thread.
fn trial(module: &str, name: &str, body: impl FnOnce() + Send + 'static) -> Trial {
    let area = module.split_once("::").map_or(module, |(_, area)| area);
    let full = format!("{area}::{name}");
    let thread = full.clone();
    Trial::test(full, move || {
        let run = std::thread::Builder::new().name(thread).spawn(body);
        run.map_err(|e| Failed::from(format!("cannot start the test thread: {e}")))?
            .join()
            .map_err(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                Failed::from(format!("test panicked: {msg}"))
            })
    })
}

/// `--nocapture` (or `--show-output`) was given. libtest-mimic captures no
/// output, so what a passing bite would print (e.g. what a property found)
/// is printed only then; a failing bite's panic message carries it anyway.
static VERBOSE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn verbose() -> bool {
    VERBOSE.get().copied().unwrap_or(false)
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut b = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().expect("a tokio runtime")
}

/// The bite tests mostly wait (TTLs, long-poll timeouts, leases), so one
/// test per core (2 on CI) left the machine idle and this binary took over
/// half of `cargo test`: unless `--test-threads N` or `RUST_TEST_THREADS`
/// says otherwise, 6 run at once.
fn main() -> std::process::ExitCode {
    let mut args = Arguments::from_args();
    let _ = VERBOSE.set(args.nocapture || args.show_output);
    if args.test_threads.is_none() {
        args.test_threads = Some(
            std::env::var("RUST_TEST_THREADS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or(6),
        );
    }
    let mut all: Vec<Trial> = [
        append::trials(),
        caching::trials(),
        close::trials(),
        crash::trials(),
        create::trials(),
        durability::trials(),
        fork::trials(),
        json::trials(),
        longpoll::trials(),
        metadata::trials(),
        offsets::trials(),
        producer::trials(),
        props::trials(),
        read::trials(),
        replay::trials(),
        security::trials(),
        sse::trials(),
        subscriptions::trials(),
        ttl::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    all.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, all).exit_code()
}
