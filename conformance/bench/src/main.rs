//! `ds-bench` binary: see the library docs and `ds-bench --help`.

use std::process::ExitCode;

use clap::Parser;
use ds_bench::progress::{err_line, out};
use ds_bench::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            err_line(format_args!("ds-bench: cannot start the runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    rt.block_on(main_async(cli))
}

async fn main_async(cli: Cli) -> ExitCode {
    ds_bench::procfs::raise_nofile();
    let (url, _embedded) = match &cli.target {
        Some(t) => (t.clone(), None),
        None => match embedded().await {
            Ok((url, stop)) => {
                err_line(format_args!(
                    "ds-bench: no --target: reference server started in-process at {url}"
                ));
                (url, Some(stop))
            }
            Err(e) => {
                err_line(format_args!(
                    "ds-bench: cannot start the embedded server: {e:#}"
                ));
                return ExitCode::from(2);
            }
        },
    };
    let report = match run(&cli, &url).await {
        Ok(r) => r,
        Err(e) => {
            // Errors before any figure are setup problems (bad flag, target
            // unreachable, a stream that cannot be created).
            err_line(format_args!("ds-bench: {e:#}"));
            return ExitCode::from(2);
        }
    };
    // `--json -`: the JSON alone on stdout (for tools), the table on stderr.
    let json_stdout = cli.json.as_deref() == Some(std::path::Path::new("-"));
    if json_stdout {
        err_line(report.table(&url).trim_end());
    } else {
        out(&report.table(&url));
    }
    if let Some(path) = &cli.json {
        let j = report.to_json(
            &url,
            serde_json::to_value(format!("{:?}", cli.mode)).unwrap_or_default(),
        );
        let text = serde_json::to_string_pretty(&j).unwrap_or_default() + "\n";
        if json_stdout {
            out(&text);
        } else if let Err(e) = std::fs::write(path, text) {
            err_line(format_args!(
                "ds-bench: cannot write {}: {e}",
                path.display()
            ));
            return ExitCode::from(2);
        }
    }
    if report.verified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The reference server on 127.0.0.1:0 in this process (memory store).
async fn embedded() -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let state = ds_reference_server::AppState::new(ds_reference_server::Config::default())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ds_reference_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    Ok((format!("http://{addr}/v1/stream"), tx))
}
