//! The main integration test: every case of the catalog against the
//! reference server started in-process (memory store), with libtest output.
//! Extra arguments (`cargo test --test embedded -- FILTER`) pass through.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    // cargo passes libtest flags we accept; keep them.
    args.truncate(args.len());
    let cli = ds_conformance::cli::Cli::parse_from(args);
    ds_conformance::cli::main_with(cli)
}
