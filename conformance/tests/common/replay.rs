//! Lossy "durable stores" for the durability and crash bites: the
//! reference app runs behind a layer that logs every mutating request; a
//! "restart" builds a fresh app and replays the log through a filter, so a
//! filter decides what the store kept (everything, or everything but the
//! deletes, the closes, the producer headers...).

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::Router;
use tower::ServiceExt;

/// One request as the app received it.
#[derive(Clone)]
pub struct Logged {
    pub method: Method,
    pub uri: axum::http::Uri,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Logged {
    /// Read a whole request (its body included).
    pub async fn read(req: Request) -> Logged {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        Logged {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        }
    }

    /// Does it change state (and so belong in the log)?
    pub fn mutates(&self) -> bool {
        matches!(self.method, Method::PUT | Method::POST | Method::DELETE)
    }
}

/// A fresh reference app (memory store, default settings).
pub fn fresh() -> Router {
    super::reference_app(ds_reference_server::Config::default())
}

/// Send `l` to `router` and return its answer.
pub async fn forward(router: Router, l: &Logged) -> axum::response::Response {
    let mut req = Request::builder()
        .method(l.method.clone())
        .uri(l.uri.clone());
    for (k, v) in &l.headers {
        req = req.header(k, v);
    }
    router
        .oneshot(req.body(Body::from(l.body.clone())).unwrap())
        .await
        .unwrap()
}

/// A fresh app that has applied `log` in order: the state a store that
/// kept exactly `log` recovers.
pub async fn replay(log: &[Logged]) -> Router {
    let router = fresh();
    for l in log {
        forward(router.clone(), l).await;
    }
    router
}
