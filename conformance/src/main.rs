use clap::Parser;

fn main() -> std::process::ExitCode {
    // `ds-conformance diff ...` and `ds-conformance matrix ...` are
    // subcommands; anything else is a suite run (whose positional FILTER
    // could not share the namespace with clap subcommands).
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("diff") => {
            args.remove(1);
            ds_conformance::diff::main_with(ds_conformance::diff::DiffCli::parse_from(args))
        }
        Some("matrix") => {
            args.remove(1);
            ds_conformance::matrix::main_with(ds_conformance::matrix::MatrixCli::parse_from(args))
        }
        _ => ds_conformance::cli::main_with(ds_conformance::cli::Cli::parse_from(args)),
    }
}
