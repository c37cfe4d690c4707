//! The webhook receiver inside the harness (§7.1): an HTTP server on
//! 127.0.0.1:0 (or `--webhook-listen`), reachable by the target at its own
//! address or `--webhook-public-url`. Each case opens mailboxes
//! (`/hook/<n>`); every POST to one is recorded with its exact raw body
//! and answered as the case decides (at once by a standing policy, or
//! held until the case replies).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};

/// How a delivery is answered.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// 3xx: the Location header.
    pub location: Option<String>,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::json(200, "{}")
    }
    pub fn done() -> Reply {
        Reply::json(200, r#"{"done":true}"#)
    }
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            location: None,
        }
    }
    pub fn redirect(location: &str) -> Reply {
        Reply {
            status: 307,
            body: String::new(),
            location: Some(location.to_string()),
        }
    }
}

/// One webhook request as it arrived.
pub struct Delivery {
    pub at: Instant,
    pub wall: SystemTime,
    pub headers: HeaderMap,
    /// The exact body bytes (signatures are over these).
    pub raw: Bytes,
    reply: Option<oneshot::Sender<Reply>>,
}

impl Delivery {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.raw).ok()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
    /// Answer a held delivery (no-op if a standing policy answered it).
    /// False when the server had already given up on the request.
    pub fn reply(mut self, r: Reply) -> bool {
        match self.reply.take() {
            Some(tx) => tx.send(r).is_ok(),
            None => false,
        }
    }
    /// Is the server still waiting for this delivery's answer?
    pub fn held(&self) -> bool {
        self.reply.is_some()
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(Reply::ok());
        }
    }
}

struct Slot {
    tx: mpsc::UnboundedSender<Delivery>,
    /// Answer at once with this (None: hold until the case replies).
    policy: Option<Reply>,
}

#[derive(Default)]
struct Shared {
    slots: Mutex<HashMap<u64, Slot>>,
}

pub struct Receiver {
    shared: Arc<Shared>,
    base: String,
    next: AtomicU64,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Bind `listen` (default 127.0.0.1:0) and serve until the process ends.
    pub async fn start(
        listen: Option<SocketAddr>,
        public_url: Option<String>,
    ) -> Result<Receiver, String> {
        let addr = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot bind the webhook receiver on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/hook/{n}", axum::routing::any(hook))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base = match public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        };
        Ok(Receiver {
            shared,
            base,
            next: AtomicU64::new(1),
            _task: task,
        })
    }

    /// The URL the target must use to reach path `p` of the receiver.
    pub fn url(&self, p: &str) -> String {
        format!("{}/{}", self.base, p.trim_start_matches('/'))
    }

    pub fn mailbox(self: &Arc<Self>) -> Mailbox {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared.slots.lock().unwrap().insert(
            n,
            Slot {
                tx,
                policy: Some(Reply::ok()),
            },
        );
        Mailbox {
            n,
            receiver: self.clone(),
            rx: tokio::sync::Mutex::new(rx),
        }
    }
}

/// The deliveries to one webhook URL.
pub struct Mailbox {
    n: u64,
    receiver: Arc<Receiver>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
}

impl Mailbox {
    pub fn url(&self) -> String {
        self.receiver.url(&format!("hook/{}", self.n))
    }
    /// Answer every later delivery at once with `r`; None: hold each one
    /// until the case replies (or drops it: 200 `{}`).
    pub fn set_policy(&self, r: Option<Reply>) {
        if let Some(s) = self.receiver.shared.slots.lock().unwrap().get_mut(&self.n) {
            s.policy = r;
        }
    }
    /// The next delivery within `within`.
    pub async fn next(&self, within: Duration) -> Option<Delivery> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }
    /// Every delivery that already arrived, without waiting.
    pub async fn drain(&self) -> Vec<Delivery> {
        let mut rx = self.rx.lock().await;
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            out.push(d);
        }
        out
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.receiver.shared.slots.lock().unwrap().remove(&self.n);
    }
}

/// Longest a held delivery waits for the case's answer.
const HOLD_LIMIT: Duration = Duration::from_secs(30);

async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(n): Path<u64>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let (tx, policy) = {
        let slots = shared.slots.lock().unwrap();
        match slots.get(&n) {
            // A mailbox whose case has ended: gone.
            None => return StatusCode::GONE.into_response(),
            Some(s) => (s.tx.clone(), s.policy.clone()),
        }
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    let delivery = Delivery {
        at: Instant::now(),
        wall: SystemTime::now(),
        headers,
        raw,
        reply: if policy.is_some() {
            None
        } else {
            Some(reply_tx)
        },
    };
    let _ = tx.send(delivery);
    let reply = match policy {
        Some(r) => r,
        None => tokio::time::timeout(HOLD_LIMIT, reply_rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(Reply::ok),
    };
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
        [("content-type", "application/json")],
        reply.body,
    )
        .into_response();
    if let Some(loc) = reply.location {
        if let Ok(v) = loc.parse() {
            resp.headers_mut().insert("location", v);
        }
    }
    resp
}
