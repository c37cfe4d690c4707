//! Durable Streams reference server: the protocol of `PROTOCOL.md` (§4, §5,
//! §8, §9, §10, §12.7) over an in-memory store, or with `--data-dir` a
//! durable one (the same store, journaled).
//!
//! - `config`: tunables and start-up errors.
//! - `durable`: the record log, group commit, recovery and replay (§4).
//! - `http`: the axum app, one thin handler per operation.
//! - `store`: streams, offsets, producers, JSON mode, forks and expiry;
//!   `store::persist` wires it to `durable`.

pub mod config;
pub mod durable;
pub mod http;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{Config, StartError};
use store::ttl::Clock;
use store::Store;

/// Shared state of one server: configuration, store, shutdown signal.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    config: Config,
    store: Store,
    shutdown: watch::Sender<bool>,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, StartError> {
        Self::with_clock(config, Clock::System)
    }

    /// Like `new`, with an injected clock (tests of expiry).
    pub fn with_clock(config: Config, clock: Clock) -> Result<Self, StartError> {
        let store = match &config.data_dir {
            None => Store::new(clock),
            Some(dir) => Store::open(clock, dir).map_err(|source| StartError::DataDir {
                dir: dir.clone(),
                source,
            })?,
        };
        Ok(AppState {
            inner: Arc::new(Shared {
                config,
                store,
                shutdown: watch::Sender::new(false),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Resolves once the server is shutting down, so live reads end early.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
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
        signal_state.inner.shutdown.send_replace(true);
    };
    // The sweeper runs inside this future (not a spawned task), so aborting
    // or finishing `serve` stops it too.
    let sweeper = sweep_loop(state.clone());
    let grace = state.config().shutdown_grace;
    let mut stopping = state.shutdown_signal();
    let drain_limit = async move {
        if stopping.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(signal);
    tokio::select! {
        result = server => result,
        () = drain_limit => {
            tracing::warn!("shutdown: gave up on responses still in flight after {grace:?}");
            Ok(())
        }
        never = sweeper => match never {},
    }
}

async fn sweep_loop(state: AppState) -> std::convert::Infallible {
    let period = state.config().sweep_interval.max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.store().sweep();
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
