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
    /// How often expired streams are swept (lazy expiry covers the gaps).
    pub sweep_interval: Duration,
    /// After a shutdown signal, how long in-flight responses may take to
    /// finish (a client that stops reading an SSE response would otherwise
    /// hold the server up forever).
    pub shutdown_grace: Duration,
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
            shutdown_grace: Duration::from_secs(5),
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
}
