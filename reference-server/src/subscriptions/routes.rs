//! §6 routing: `{stream-root}/__ds/...` is matched before any stream
//! operation. Control routes:
//!
//! | method | path under `{stream-root}/__ds`           | spec  |
//! |--------|-------------------------------------------|-------|
//! | GET    | `/jwks.json`                              | §6.5  |
//! | PUT    | `/subscriptions/:id`                      | §6.2  |
//! | GET    | `/subscriptions/:id`                      | §6.3  |
//! | DELETE | `/subscriptions/:id`                      | §6.3  |
//! | POST   | `/subscriptions/:id/streams`              | §6.4  |
//! | DELETE | `/subscriptions/:id/streams/:path`        | §6.4  |
//! | POST   | `/subscriptions/:id/callback`             | §7.1  |
//! | POST   | `/subscriptions/:id/claim`, `/ack`, `/release` | §7.2 |
//!
//! Any other path whose first root-relative segment is `__ds` (also when
//! percent-encoded) is a 404 naming the reservation: no application stream
//! can be created, read or written there. Errors are JSON
//! `{"error": {"code", "message", ...}}`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::config::{self, Kind};
use super::SubError;
use crate::AppState;

/// Largest accepted control request body.
const MAX_BODY: usize = 64 * 1024;

/// If the raw request path is under `{root}/__ds`, the rest after `__ds`.
pub fn control_rest<'a>(root: &str, raw_path: &'a str) -> Option<&'a str> {
    let after = raw_path.strip_prefix(root)?.strip_prefix('/')?;
    let (first, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    // Every stream request passes here: a segment with nothing escaped is
    // compared as it is.
    let reserved = if first.contains('%') {
        percent_decode_str(first).decode_utf8().ok()? == "__ds"
    } else {
        first == "__ds"
    };
    reserved.then_some(rest)
}

fn decode(s: &str) -> Result<String, SubError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| super::bad("path is not valid percent-encoded UTF-8"))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl IntoResponse for SubError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status, &self.body());
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            if let Some(allow) = self.extra_allow() {
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    res.headers_mut().insert(header::ALLOW, v);
                }
            }
        }
        res
    }
}

impl SubError {
    fn extra_allow(&self) -> Option<String> {
        self.extra
            .get("allow")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn method_not_allowed(allow: &str) -> SubError {
    let mut e = SubError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("allowed here: {allow}"),
    );
    e.extra.insert("allow".into(), allow.into());
    e
}

fn no_content() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `http://host` of the request (callback and JWKS URLs are built on it).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn body(req: Request) -> Result<(HeaderMap, bytes::Bytes), SubError> {
    let (parts, body) = req.into_parts();
    let bytes = crate::http::read_body(&parts.headers, body, MAX_BODY)
        .await
        .map_err(|_| {
            SubError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("control request bodies are limited to {MAX_BODY} bytes"),
            )
        })?;
    Ok((parts.headers, bytes))
}

/// Handles a request under `{root}/__ds`; `rest` is the raw path after it.
pub async fn handle(app: AppState, rest: String, req: Request<Body>) -> Response {
    match route(app, &rest, req).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn route(app: AppState, rest: &str, req: Request<Body>) -> Result<Response, SubError> {
    let subs = app.subscriptions();
    let store = app.store();
    let method = req.method().clone();
    if rest == "/jwks.json" {
        return match method {
            Method::GET | Method::HEAD => {
                let mut res = json_response(StatusCode::OK, &subs.keys().jwks());
                let h = res.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/jwk-set+json"),
                );
                h.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                );
                Ok(res)
            }
            _ => Err(method_not_allowed("GET, HEAD")),
        };
    }
    let Some(sub_rest) = rest.strip_prefix("/subscriptions/") else {
        return Err(SubError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such control route; stream paths whose first segment is __ds are \
             reserved for Durable Streams control APIs (§6)",
        ));
    };
    let (raw_id, action) = match sub_rest.find('/') {
        Some(i) => (&sub_rest[..i], &sub_rest[i + 1..]),
        None => (sub_rest, ""),
    };
    let id = config::subscription_id(&decode(raw_id)?)?;
    match action {
        "" => match method {
            Method::PUT => {
                let (headers, b) = body(req).await?;
                let (created, shown) = subs.create(store, &id, &b, &base_url(&headers))?;
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(json_response(status, &shown))
            }
            Method::GET => Ok(json_response(
                StatusCode::OK,
                &subs.get(&id, &base_url(req.headers()))?,
            )),
            Method::DELETE => {
                subs.delete(&id)?;
                Ok(no_content())
            }
            _ => Err(method_not_allowed("GET, PUT, DELETE")),
        },
        "streams" => match method {
            Method::POST => {
                let (_, b) = body(req).await?;
                subs.add_streams(store, &id, &b)?;
                Ok(no_content())
            }
            _ => Err(method_not_allowed("POST")),
        },
        "callback" | "ack" | "release" | "claim" => {
            if method != Method::POST {
                return Err(method_not_allowed("POST"));
            }
            let (headers, b) = body(req).await?;
            let token = bearer(&headers);
            match action {
                "callback" => Ok(json_response(
                    StatusCode::OK,
                    &subs.acknowledge(store, &id, token, &b, Kind::Webhook)?,
                )),
                "ack" => Ok(json_response(
                    StatusCode::OK,
                    &subs.acknowledge(store, &id, token, &b, Kind::PullWake)?,
                )),
                "release" => {
                    subs.release(store, &id, token, &b)?;
                    Ok(no_content())
                }
                _ => Ok(json_response(
                    StatusCode::OK,
                    &subs.claim(store, &id, token, &b)?,
                )),
            }
        }
        other => match other.strip_prefix("streams/") {
            Some(raw_path) => match method {
                Method::DELETE => {
                    subs.remove_stream(store, &id, &decode(raw_path)?)?;
                    Ok(no_content())
                }
                _ => Err(method_not_allowed("DELETE")),
            },
            None => Err(SubError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no subscription action {other:?}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::control_rest;

    #[test]
    fn control_paths_are_recognised_under_the_root_only() {
        assert_eq!(control_rest("/v1/stream", "/v1/stream/__ds"), Some(""));
        assert_eq!(
            control_rest("/v1/stream", "/v1/stream/__ds/jwks.json"),
            Some("/jwks.json")
        );
        assert_eq!(
            control_rest("/v1/stream", "/v1/stream/%5F%5Fds/x"),
            Some("/x")
        );
        assert_eq!(control_rest("/v1/stream", "/v1/stream/__dsx/y"), None);
        assert_eq!(control_rest("/v1/stream", "/v1/stream/a/__ds"), None);
        assert_eq!(control_rest("/v1/stream", "/other/__ds"), None);
        assert_eq!(control_rest("", "/__ds/jwks.json"), Some("/jwks.json"));
    }
}
