use clap::Parser;

fn main() -> std::process::ExitCode {
    ds_conformance::cli::main_with(ds_conformance::cli::Cli::parse())
}
