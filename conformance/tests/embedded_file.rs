//! The whole catalog against the reference server's durable file store,
//! in-process, including the durability:: group (restarted in-process on
//! the same port and data directory). Arguments pass through.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    args.insert(1, "--embedded-store=file".to_string());
    ds_conformance::cli::main_with(ds_conformance::cli::Cli::parse_from(args))
}
