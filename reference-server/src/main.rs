//! `ds-server`: the Durable Streams reference server binary (§13.1 default
//! port 4437).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ds_reference_server::{serve, AppState, Config};

/// See the note on `mimalloc` in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Durable Streams reference server.
#[derive(Parser, Debug)]
#[command(name = "ds-server", version)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, default_value_t = 4437)]
    port: u16,
    /// Durable store directory (omitted: in memory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Long-poll timeout in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    long_poll_timeout_ms: u64,
    /// An SSE response ends after about this many milliseconds and the
    /// client reconnects from its last offset (§10.2). 1 to 86400000 (a day).
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    sse_lifetime_ms: u64,
    /// Largest catch-up response body in bytes.
    #[arg(long, default_value_t = 1_048_576)]
    max_chunk_bytes: usize,
    /// Largest request body in bytes (larger appends get 413).
    #[arg(long, default_value_t = 67_108_864)]
    max_body_bytes: usize,
    /// Stream root path: subscriptions (§6) live at {stream-root}/__ds/ and
    /// name streams relative to it. Streams outside it still work but cannot
    /// be subscribed to.
    #[arg(long, default_value = "/v1/stream")]
    stream_root: String,
    /// Accept webhook subscriptions (§7.1). Without it, creating one is a
    /// 400 WEBHOOKS_DISABLED (pull-wake subscriptions always work).
    #[arg(long)]
    webhooks: bool,
    /// Development only: allow http://localhost and http://127.0.0.x
    /// webhook URLs (§6.2); other local targets stay refused.
    #[arg(long)]
    allow_local_webhooks: bool,
    /// Bearer token a pull-wake claim must carry (the spec's service JWT,
    /// compared verbatim). Without it anyone may claim (development).
    #[arg(long, env = "DS_SERVICE_TOKEN", hide_env_values = true)]
    service_token: Option<String>,
    /// Timeout of one webhook delivery, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// Compact the data directory once streams were removed and its log
    /// grew by this many MiB (and by the size of the last compaction).
    #[arg(long, default_value_t = 64)]
    compact_min_mib: u64,
    /// Log every request (method, URI, status, latency) at info level on
    /// stderr; also shown by RUST_LOG=ds_server=debug.
    #[arg(long)]
    log_requests: bool,
    /// PEM file of extra root certificates trusted for https webhooks (on
    /// top of the system's), e.g. a private CA or a local receiver's
    /// self-signed certificate.
    #[arg(long, value_name = "FILE")]
    webhook_ca: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_logging(args.log_requests);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// One line on stderr, exit status 1.
fn fail(e: anyhow::Error) -> std::process::ExitCode {
    eprintln!("ds-server: error: {e:#}");
    std::process::ExitCode::FAILURE
}

/// Logs on stderr, ANSI colours only on a terminal. Without RUST_LOG:
/// info, the per-request log only with `--log-requests`.
fn init_logging(log_requests: bool) {
    use std::io::IsTerminal;
    let target = ds_reference_server::REQUEST_LOG_TARGET;
    let mut directives = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v,
        _ if log_requests => "info".to_string(),
        _ => format!("info,{target}=off"),
    };
    if log_requests {
        directives.push_str(&format!(",{target}=info"));
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::new(directives))
        .init();
}

/// An exclusive lock on `DIR/ds-server.lock` for the process's lifetime:
/// a second server on the same directory stops at once with one line.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join("ds-server.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "the data directory {} is in use by another ds-server (it holds {}); \
             stop that server or pass another --data-dir",
            dir.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::anyhow!("cannot lock {}: {e}", path.display()))
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let _lock = match &args.data_dir {
        Some(dir) => Some(lock_data_dir(dir)?),
        None => None,
    };
    let config = Config {
        long_poll_timeout: Duration::from_millis(args.long_poll_timeout_ms),
        max_chunk_bytes: args.max_chunk_bytes.max(1),
        max_body_bytes: args.max_body_bytes,
        sse_max_duration: Duration::from_millis(args.sse_lifetime_ms),
        data_dir: args.data_dir,
        stream_root: args.stream_root,
        webhooks: args.webhooks,
        allow_local_webhooks: args.allow_local_webhooks,
        service_token: args.service_token.filter(|t| !t.is_empty()),
        webhook_timeout: Duration::from_millis(args.webhook_timeout_ms.max(1)),
        compact_min_bytes: args.compact_min_mib.saturating_mul(1 << 20),
        webhook_ca: args.webhook_ca,
        ..Config::default()
    };
    let state = AppState::new(config)?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    // An IP host prints as bound (IPv6 in brackets); a name prints as given.
    let shown = if args.host.parse::<std::net::IpAddr>().is_ok() {
        addr.to_string()
    } else {
        format!("{}:{}", args.host, addr.port())
    };
    println!("listening on http://{shown}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, "ds-server started");
    serve(listener, state, shutdown_signal()).await?;
    tracing::info!("ds-server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
