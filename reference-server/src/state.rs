//! What one server shares between requests: configuration, the store, and
//! the shutdown signal that ends live reads.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::{Config, StartError};
use crate::store::ttl::Clock;
use crate::store::Store;

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

    /// Tells live reads to end (the server is shutting down).
    pub(crate) fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}
