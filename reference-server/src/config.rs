//! Server configuration (§5.6 chunk size, §5.7 long-poll timeout, §5.2 body
//! limit, §10.2 SSE connection lifetime, shutdown drain) and start-up errors.

use std::path::PathBuf;
use std::time::Duration;

/// Tunables of one server instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a long-poll waits for data before answering 204 (§5.7).
    pub long_poll_timeout: Duration,
    /// Largest catch-up response body (§5.6); JSON chunks end on message
    /// boundaries and always carry at least one message.
    pub max_chunk_bytes: usize,
    /// Largest accepted request body; larger appends are a 413.
    pub max_body_bytes: usize,
    /// SSE connections are closed after about this long (§10.2).
    pub sse_max_duration: Duration,
    /// Durable store directory; `None` keeps streams in memory.
    pub data_dir: Option<PathBuf>,
    /// How often expired streams are swept (lazy expiry covers the gaps)
    /// and the data directory is checked for compaction.
    pub sweep_interval: Duration,
    /// The data directory's journal is compacted once streams were removed
    /// and it grew by this many bytes (and by the last compaction's size).
    pub compact_min_bytes: u64,
    /// After a shutdown signal, how long in-flight responses may take to
    /// finish (a client that stops reading an SSE response would otherwise
    /// hold the server up forever).
    pub shutdown_grace: Duration,
    /// Path under which streams are addressed relative to the root (§6):
    /// `{stream_root}/__ds/...` is the reserved control prefix and
    /// subscription bodies name streams relative to it. Streams outside it
    /// keep working but cannot be subscribed to.
    pub stream_root: String,
    /// Webhook subscriptions (§7.1) are accepted only when on.
    pub webhooks: bool,
    /// Development exception of §6.2: `http://localhost` and
    /// `http://127.0.0.x` webhook URLs.
    pub allow_local_webhooks: bool,
    /// Bearer token a pull-wake `claim` must carry; `None` lets anyone claim.
    pub service_token: Option<String>,
    /// Whole-request limit of one webhook delivery.
    pub webhook_timeout: Duration,
    /// Extra PEM root certificates trusted for https webhooks, on top of
    /// the system's (e.g. a private CA, or a test receiver's self-signed
    /// certificate).
    pub webhook_ca: Option<PathBuf>,
}

impl Config {
    /// `stream_root` without a trailing slash (`""` for `/`).
    pub fn stream_root_prefix(&self) -> String {
        let r = self.stream_root.trim_end_matches('/');
        if r.is_empty() || r.starts_with('/') {
            r.to_string()
        } else {
            format!("/{r}")
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            long_poll_timeout: Duration::from_secs(30),
            max_chunk_bytes: 1024 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
            sse_max_duration: Duration::from_secs(60),
            data_dir: None,
            sweep_interval: Duration::from_secs(1),
            compact_min_bytes: 64 << 20,
            shutdown_grace: Duration::from_secs(5),
            stream_root: "/v1/stream".into(),
            webhooks: false,
            allow_local_webhooks: false,
            service_token: None,
            webhook_timeout: Duration::from_secs(10),
            webhook_ca: None,
        }
    }
}

/// Why a server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the data directory {dir}: {source}")]
    DataDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot use --webhook-ca {path}: {reason}")]
    WebhookCa { path: PathBuf, reason: String },
    #[error("cannot open the subscriptions log in {dir}: {source}")]
    Subscriptions {
        dir: PathBuf,
        source: std::io::Error,
    },
}
