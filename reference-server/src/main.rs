//! `ds-server`: the Durable Streams reference server binary (§13.1 default
//! port 4437).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ds_reference_server::{serve, AppState, Config};

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = Config {
        long_poll_timeout: Duration::from_millis(args.long_poll_timeout_ms),
        max_chunk_bytes: args.max_chunk_bytes.max(1),
        max_body_bytes: args.max_body_bytes,
        data_dir: args.data_dir,
        stream_root: args.stream_root,
        webhooks: args.webhooks,
        allow_local_webhooks: args.allow_local_webhooks,
        service_token: args.service_token.filter(|t| !t.is_empty()),
        webhook_timeout: Duration::from_millis(args.webhook_timeout_ms.max(1)),
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
