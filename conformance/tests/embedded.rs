//! The main integration test: every case of the catalog against the
//! reference server started in-process (memory store), with libtest output.
//! Extra arguments (`cargo test --test embedded -- FILTER`) pass through.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ds_conformance::cli::main_with(ds_conformance::cli::Cli::parse_from(std::env::args()))
}
