//! Durable Streams reference server: the protocol of `PROTOCOL.md` (§4, §5,
//! §8, §9, §10, §12.7) over an in-memory store, or with `--data-dir` a
//! durable one (the same store, journaled).
//!
//! - `config`: tunables and start-up errors; `state`: what one server
//!   shares between requests (`AppState`).
//! - `http`: the axum app, one thin handler per operation: parse, one store
//!   operation, await its commit, map the outcome.
//! - `store`: the streams as one state machine (validate → event → apply →
//!   commit); its journal makes it the durable file store.
//! - `durable`: the append-only record log with group commit and crash
//!   recovery that the journal writes to (§4).
//! - `subscriptions`: §6 reserved subscription APIs and §7 delivery, with
//!   their own record log in the data directory.

pub mod config;
pub mod durable;
pub mod http;
pub mod state;
pub mod store;
pub mod subscriptions;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, StartError};
pub use state::AppState;

/// `n` and its noun, agreeing: "1 stream", "2 streams", "0 streams".
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The protocol app; streams live at any path under the root.
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then ends open
/// long-polls and SSE connections and drains in-flight requests for at most
/// `Config::shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let signal_state = state.clone();
    let signal = async move {
        shutdown.await;
        signal_state.begin_shutdown();
    };
    // The sweeper runs inside this future (not a spawned task), so aborting
    // or finishing `serve` stops it too.
    let sweeper = sweep_loop(state.clone());
    let subscriptions = subscriptions::delivery::run(state.clone());
    let grace = state.config().shutdown_grace;
    let mut stopping = state.shutdown_signal();
    let drain_limit = async move {
        if stopping.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    // The request log costs a span, two clock reads and a wrapped body per
    // request even when nothing would be printed: it is only layered on
    // when its target is enabled (decided once, when serving starts).
    let server: std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = if tracing::enabled!(target: REQUEST_LOG_TARGET, tracing::Level::INFO)
    {
        let app = app(state).layer(request_log());
        Box::pin(
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .into_future(),
        )
    } else {
        use axum::ServiceExt as _;
        let app = http::service(state).into_make_service();
        Box::pin(
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .into_future(),
        )
    };
    tokio::select! {
        result = server => result,
        () = drain_limit => {
            tracing::warn!("shutdown: gave up on responses still in flight after {grace:?}");
            Ok(())
        }
        never = sweeper => match never {},
        never = subscriptions => match never {},
    }
}

/// Where the per-request log goes: one INFO line per answered request
/// (method, URI, status, latency) under this target. `ds-server` shows it
/// with `--log-requests` or e.g. `RUST_LOG=ds_server=debug`.
pub const REQUEST_LOG_TARGET: &str = "ds_server::requests";

type RequestLog = tower_http::trace::TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&axum::extract::Request) -> tracing::Span,
    (),
    fn(&axum::response::Response, Duration, &tracing::Span),
    (),
    (),
    (),
>;

fn request_log() -> RequestLog {
    fn span(req: &axum::extract::Request) -> tracing::Span {
        tracing::info_span!(
            target: "ds_server::requests",
            "request",
            method = %req.method(),
            uri = %req.uri(),
        )
    }
    fn answered(resp: &axum::response::Response, latency: Duration, _: &tracing::Span) {
        tracing::info!(
            target: "ds_server::requests",
            status = resp.status().as_u16(),
            latency_ms = format_args!("{:.1}", latency.as_secs_f64() * 1000.0),
            "answered"
        );
    }
    tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(span as fn(&axum::extract::Request) -> tracing::Span)
        .on_request(())
        .on_response(answered as fn(&axum::response::Response, Duration, &tracing::Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

async fn sweep_loop(state: AppState) -> std::convert::Infallible {
    let period = state.config().sweep_interval.max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.store().sweep();
        // Compaction copies live data: off the runtime's threads. At most
        // one runs (the check is false while one does).
        if state.store().compaction_due() {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.store().compact());
        }
    }
}

/// An in-process server on 127.0.0.1 (for tests and the harness).
pub struct RunningServer {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Stops accepting, ends live reads, and waits (bounded) for the drain.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts a server with `config` on 127.0.0.1:0.
pub async fn spawn(config: Config) -> std::io::Result<RunningServer> {
    let state = AppState::new(config).map_err(std::io::Error::other)?;
    spawn_with_state(state).await
}

/// Starts a server for an existing state on 127.0.0.1:0.
pub async fn spawn_with_state(state: AppState) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok(RunningServer {
        addr,
        url: format!("http://{addr}"),
        stop: Some(stop),
        task: Some(task),
    })
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(super::count(0, "stream", "streams"), "0 streams");
        assert_eq!(super::count(1, "stream", "streams"), "1 stream");
        assert_eq!(super::count(2, "record", "records"), "2 records");
    }
}
