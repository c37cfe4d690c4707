//! ds-conformance: a black-box conformance suite for Durable Streams servers
//! (../shared/spec/PROTOCOL.md). Library: the client, case catalog, model,
//! runner and reports; the binary is a thin CLI over `cli::main_with`.

/// `println!` that ignores a closed pipe: `ds-conformance ... | head`
/// must not panic (exit 101) when the reader goes away.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `eprintln!` that ignores a closed pipe (see [`outln!`]).
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

pub mod case;
pub mod cases;
pub mod cli;
pub mod client;
pub mod command;
pub mod coverage;
pub mod diff;
pub mod embedded;
pub mod expectations;
pub mod failure;
pub mod matrix;
pub mod model;
pub mod outcome;
pub mod preflight;
pub mod props;
pub mod replay;
pub mod report;
pub mod requirements;
pub mod runner;
pub mod snapshot;
pub mod sse;
pub mod subs;
pub mod testing;
pub mod transcript;

pub use case::{case, Case};
pub use client::{Ctx, Resp, Target};
pub use failure::{CaseResult, Failure};
