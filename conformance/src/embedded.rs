//! The zero-setup target: the reference server started in-process on
//! 127.0.0.1:0 (only through its public `spawn()` API; no protocol code is
//! shared with the harness).

use std::time::Duration;

/// Long-poll timeout the embedded server is started with.
pub const LONG_POLL_TIMEOUT_MS: u64 = 1000;

pub struct Embedded {
    server: ds_reference_server::RunningServer,
}

impl Embedded {
    /// Stream root under a prefix, so prefix handling is exercised too.
    pub fn stream_root(&self) -> String {
        format!("{}/v1/stream", self.server.url)
    }
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

pub async fn start(store: &str) -> Result<Embedded, String> {
    if store != "memory" {
        return Err(format!("embedded store {store:?} is not supported yet"));
    }
    let config = ds_reference_server::Config {
        long_poll_timeout: Duration::from_millis(LONG_POLL_TIMEOUT_MS),
        // Small chunks so catch-up chunking is exercised with small payloads.
        max_chunk_bytes: 64 * 1024,
        ..Default::default()
    };
    let server = ds_reference_server::spawn(config)
        .await
        .map_err(|e| format!("cannot start the embedded reference server: {e}"))?;
    Ok(Embedded { server })
}

/// Restart command for the embedded file store (not available in-process).
pub fn restart_cmd() -> Option<String> {
    None
}
