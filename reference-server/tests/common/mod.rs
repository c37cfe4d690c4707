//! Shared by the in-process HTTP test files: one request through the app,
//! its answer read whole. (Each test file uses a different subset.)
#![allow(dead_code)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use tower::ServiceExt;

pub const TEXT: (&str, &[u8]) = ("content-type", b"text/plain");
pub const JSON: (&str, &[u8]) = ("content-type", b"application/json");

pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Res {
    pub fn h(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Sends one request (headers may repeat and carry any visible bytes; a
/// `host` is added unless given) and reads the whole answer, which must
/// come within 5 s.
pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Res {
    let mut req = Request::builder().method(method).uri(uri);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", "example.test");
    }
    for (k, v) in headers {
        req = req.header(*k, HeaderValue::from_bytes(v).unwrap());
    }
    let req = req.body(Body::from(body.to_vec())).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(5), async {
        let res = app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Res {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    })
    .await;
    res.unwrap_or_else(|_| panic!("{method} {uri}: no answer within 5 s"))
}
