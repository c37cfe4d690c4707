//! §12.7 browser security headers on every response, and CORS so a browser
//! can send every request header of §13.2 and read every response header.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, HEAD, OPTIONS";
const ALLOW_HEADERS: &str = "Content-Type, If-None-Match, Authorization, Stream-TTL, \
Stream-Expires-At, Stream-Seq, Stream-Cursor, Stream-Next-Offset, Stream-Up-To-Date, \
Stream-Closed, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset, \
Webhook-Signature, Producer-Id, Producer-Epoch, Producer-Seq";
const EXPOSE_HEADERS: &str = "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, \
Stream-Closed, Stream-TTL, Stream-Expires-At, ETag, Location, Content-Type, Producer-Epoch, \
Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, stream-sse-data-encoding";

/// Parsed once: a name given as a string is parsed and validated on every
/// insert, and these go on every response.
static CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

/// Stamps the headers on every response (preflights included).
pub fn stamp(h: &mut HeaderMap) {
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        CROSS_ORIGIN_RESOURCE_POLICY.clone(),
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The answer to an `OPTIONS` request (any path).
pub fn preflight(req: &HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static(ALLOW_METHODS),
    );
    // Echo what the browser asked for on top of the protocol's list, so
    // extension headers (§11) work too.
    let allow = match req
        .get("access-control-request-headers")
        .and_then(|v| v.to_str().ok())
    {
        Some(extra) if !extra.trim().is_empty() => {
            HeaderValue::from_str(&format!("{ALLOW_HEADERS}, {extra}"))
                .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS))
        }
        _ => HeaderValue::from_static(ALLOW_HEADERS),
    };
    h.insert("access-control-allow-headers", allow);
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_sets_the_four_keeps_the_rest_and_overrides_a_handlers_copy() {
        let mut h = HeaderMap::new();
        h.insert("stream-next-offset", HeaderValue::from_static("7"));
        h.append("vary", HeaderValue::from_static("a"));
        h.append("vary", HeaderValue::from_static("b"));
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("x"));
        stamp(&mut h);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
        assert_eq!(h["access-control-expose-headers"], EXPOSE_HEADERS);
        assert_eq!(h.get_all("access-control-allow-origin").iter().count(), 1);
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["stream-next-offset"], "7");
        let vary: Vec<_> = h.get_all("vary").iter().collect();
        assert_eq!(vary, ["a", "b"]);
        assert_eq!(h.len(), 7);
        // Stamping twice changes nothing.
        let once = h.clone();
        stamp(&mut h);
        assert_eq!(h, once);
    }
}
