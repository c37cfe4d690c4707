//! The zero-setup target: the reference server started in-process on
//! 127.0.0.1:0 (only through its public `AppState`/`serve()` API; no
//! protocol code is shared with the harness). With the file store, the
//! durability group restarts it in-process on the same port and data dir.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::client::RestartHook;

/// Long-poll timeout the embedded server is started with.
pub const LONG_POLL_TIMEOUT_MS: u64 = 1000;

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

struct Inner {
    addr: SocketAddr,
    config: ds_reference_server::Config,
    running: Mutex<Option<Running>>,
    data_dir: Option<PathBuf>,
}

pub struct Embedded {
    inner: Arc<Inner>,
}

impl Embedded {
    /// Stream root under a prefix, so prefix handling is exercised too.
    pub fn stream_root(&self) -> String {
        format!("http://{}/v1/stream", self.inner.addr)
    }

    /// Restart in-process (same port, same data dir): only meaningful for
    /// the file store, so only offered there.
    pub fn restart_hook(&self) -> Option<RestartHook> {
        self.inner.data_dir.as_ref()?;
        let inner = self.inner.clone();
        Some(Arc::new(move || {
            let inner = inner.clone();
            Box::pin(async move {
                stop(&inner).await;
                let listener = bind_again(inner.addr).await?;
                let running = start_on(listener, inner.config.clone())?;
                *inner.running.lock().await = Some(running);
                Ok(())
            })
        }))
    }

    pub async fn stop(self) {
        stop(&self.inner).await;
        if let Some(dir) = &self.inner.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn stop(inner: &Inner) {
    if let Some(r) = inner.running.lock().await.take() {
        let _ = r.stop.send(());
        let abort = r.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), r.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// The port was just released; rebinding may need a moment.
async fn bind_again(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let mut last = String::new();
    for _ in 0..50 {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("cannot rebind {addr}: {last}"))
}

fn start_on(
    listener: tokio::net::TcpListener,
    config: ds_reference_server::Config,
) -> Result<Running, String> {
    let state = ds_reference_server::AppState::new(config)
        .map_err(|e| format!("cannot start the reference server: {e}"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(ds_reference_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok(Running { stop, task })
}

/// Start the reference server with the `memory` or `file` store.
pub async fn start(store: &str) -> Result<Embedded, String> {
    start_with(store, None).await
}

/// As `start`, with pull-wake claims requiring `Authorization: Bearer
/// <service_token>` when one is given (the zero-config run does, so its
/// service-token case runs).
pub async fn start_with(store: &str, service_token: Option<String>) -> Result<Embedded, String> {
    let data_dir = match store {
        "memory" => None,
        "file" => {
            let dir = std::env::temp_dir().join(format!(
                "ds-conformance-embedded-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            Some(dir)
        }
        other => return Err(format!("unknown embedded store {other:?} (memory or file)")),
    };
    let config = ds_reference_server::Config {
        long_poll_timeout: Duration::from_millis(LONG_POLL_TIMEOUT_MS),
        // Small chunks so catch-up chunking is exercised with small payloads.
        max_chunk_bytes: 64 * 1024,
        data_dir: data_dir.clone(),
        // Subscriptions (§6/§7) with webhook receivers on 127.0.0.1, so the
        // zero-config run can exercise them; the stream root matches
        // `stream_root()` (the server's default, given explicitly).
        stream_root: "/v1/stream".into(),
        webhooks: true,
        allow_local_webhooks: true,
        service_token,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let running = start_on(listener, config.clone())?;
    Ok(Embedded {
        inner: Arc::new(Inner {
            addr,
            config,
            running: Mutex::new(Some(running)),
            data_dir,
        }),
    })
}
