//! What one server shares between requests: configuration, the store, the
//! subscription service and the shutdown signal that ends live reads.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::{Config, StartError};
use crate::store::ttl::Clock;
use crate::store::Store;
use crate::subscriptions::{self, Subscriptions};

/// Shared state of one server: configuration, store, shutdown signal.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    config: Config,
    store: Store,
    subscriptions: Subscriptions,
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
            Some(dir) => Store::open_with(
                clock,
                dir,
                crate::durable::LogOptions {
                    compact_min_bytes: config.compact_min_bytes,
                    ..Default::default()
                },
            )
            .map_err(|source| StartError::DataDir {
                dir: dir.clone(),
                source,
            })?,
        };
        let webhook_ca_pem = match &config.webhook_ca {
            None => None,
            Some(path) => {
                let fail = |reason: String| StartError::WebhookCa {
                    path: path.clone(),
                    reason,
                };
                let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) if !certs.is_empty() => Some(pem),
                    Ok(_) => return Err(fail("no PEM certificate in the file".into())),
                    Err(e) => return Err(fail(e.to_string())),
                }
            }
        };
        let settings = subscriptions::Settings {
            root: config.stream_root_prefix(),
            webhooks: config.webhooks,
            allow_local_webhooks: config.allow_local_webhooks,
            service_token: config.service_token.clone(),
            webhook_timeout: config.webhook_timeout,
            max_deliveries: 32,
            webhook_ca_pem,
        };
        let subscriptions =
            Subscriptions::open(settings, config.data_dir.as_deref()).map_err(|source| {
                StartError::Subscriptions {
                    dir: config.data_dir.clone().unwrap_or_default(),
                    source,
                }
            })?;
        Ok(AppState {
            inner: Arc::new(Shared {
                config,
                store,
                subscriptions,
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

    pub fn subscriptions(&self) -> &Subscriptions {
        &self.inner.subscriptions
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
