//! Deliberately broken servers for "the checks bite" tests: the reference
//! app behind a middleware that breaks exactly one rule by rewriting
//! requests or responses. Bound to 127.0.0.1:0, stopped on drop (started
//! through `ds_conformance::testing`, the one way tests start it).

pub mod replay;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use futures::StreamExt;

/// What the rewrite sees of the request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
}

type RewriteReq = Arc<dyn Fn(Request) -> Request + Send + Sync>;
type RewriteResp = Arc<dyn Fn(&Seen, Response) -> Response + Send + Sync>;

/// A deliberately broken server (the reference app behind a rewrite).
pub type Broken = ds_conformance::testing::Served;

pub use ds_conformance::testing::{config, listener, reference_app, serve, serve_on};

/// Serve the reference app with a request and/or response rewrite.
pub async fn spawn(
    config: ds_reference_server::Config,
    rewrite_req: Option<RewriteReq>,
    rewrite_resp: Option<RewriteResp>,
) -> Broken {
    let rq = rewrite_req.clone();
    let rs = rewrite_resp.clone();
    let app = reference_app(config).layer(middleware::from_fn(move |req: Request, next: Next| {
        let (rq, rs) = (rq.clone(), rs.clone());
        async move {
            let req = match &rq {
                Some(f) => f(req),
                None => req,
            };
            let seen = Seen {
                method: req.method().clone(),
                uri: req.uri().clone(),
                headers: req.headers().clone(),
            };
            let resp = next.run(req).await;
            match &rs {
                Some(f) => f(&seen, resp),
                None => resp,
            }
        }
    }));
    serve(app).await
}

/// A server that rewrites responses with `f`.
pub async fn with_response(
    f: impl Fn(&Seen, Response) -> Response + Send + Sync + 'static,
) -> Broken {
    spawn(config(500), None, Some(Arc::new(f))).await
}

/// A server that rewrites requests with `f` before the reference app sees them.
pub async fn with_request(f: impl Fn(Request) -> Request + Send + Sync + 'static) -> Broken {
    spawn(config(500), Some(Arc::new(f)), None).await
}

/// A server whose reference app never sees the request headers `names`.
pub async fn dropping_request_headers(names: &'static [&'static str]) -> Broken {
    with_request(move |mut req| {
        for name in names {
            req.headers_mut().remove(*name);
        }
        req
    })
    .await
}

/// A server whose answers lack the headers `names` wherever
/// `when(request, answer)`.
pub async fn dropping_response_headers(
    when: impl Fn(&Seen, &Response) -> bool + Send + Sync + 'static,
    names: &[&'static str],
) -> Broken {
    let names = names.to_vec();
    with_response(move |seen, mut resp| {
        if when(seen, &resp) {
            for name in &names {
                resp.headers_mut().remove(*name);
            }
        }
        resp
    })
    .await
}

/// A server whose answers carry `name: value` (replacing any such header)
/// wherever `when(request, answer)`.
pub async fn setting_response_header(
    when: impl Fn(&Seen, &Response) -> bool + Send + Sync + 'static,
    name: &'static str,
    value: &'static str,
) -> Broken {
    with_response(move |seen, mut resp| {
        if when(seen, &resp) {
            resp.headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        resp
    })
    .await
}

/// A server answering `code` instead wherever `when(request, answer)`.
pub async fn setting_status(
    when: impl Fn(&Seen, &Response) -> bool + Send + Sync + 'static,
    code: u16,
) -> Broken {
    with_response(move |seen, mut resp| {
        if when(seen, &resp) {
            set_status(&mut resp, code);
        }
        resp
    })
    .await
}

/// A server answering `to` instead of `from` to every `method` request.
pub async fn remapping_status(method: Method, from: u16, to: u16) -> Broken {
    setting_status(
        move |seen, resp| seen.method == method && resp.status() == from,
        to,
    )
    .await
}

/// Serve the reference app (long-poll timeout `long_poll_ms`) behind the
/// async middleware `f`, for breaks that must wait or keep state.
pub async fn with_middleware<F, Fut>(long_poll_ms: u64, f: F) -> Broken
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    serve(reference_app(config(long_poll_ms)).layer(middleware::from_fn(f))).await
}

/// The unmodified reference server (control group).
pub async fn reference() -> Broken {
    spawn(config(500), None, None).await
}

/// Read a whole response body (for rewrites that change bodies).
pub async fn body_bytes(resp: Response) -> (axum::http::response::Parts, bytes::Bytes) {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

pub fn rebuild(parts: axum::http::response::Parts, body: impl Into<Body>) -> Response {
    Response::from_parts(parts, body.into())
}

/// Rewrite every body frame of `resp` with `f`, as it streams.
pub fn map_frames(
    resp: Response,
    f: impl Fn(bytes::Bytes) -> bytes::Bytes + Send + Sync + 'static,
) -> Response {
    let (parts, body) = resp.into_parts();
    let mapped = body.into_data_stream().map(move |chunk| chunk.map(&f));
    Response::from_parts(parts, Body::from_stream(mapped))
}

/// Set a response's status.
pub fn set_status(resp: &mut Response, code: u16) {
    *resp.status_mut() = axum::http::StatusCode::from_u16(code).unwrap();
}

/// Is this a GET with `live=<mode>` in its query?
pub fn is_live(seen: &Seen, mode: &str) -> bool {
    seen.method == Method::GET
        && seen
            .uri
            .query()
            .unwrap_or("")
            .contains(&format!("live={mode}"))
}

/// Replace a request's query string by `query` (adding one if it had none).
pub fn set_query(req: &mut Request, query: &str) {
    let path = req.uri().path().to_string();
    *req.uri_mut() = format!("{path}?{query}").parse().expect("valid URI");
}

/// Rewrite a request's query string with `f`; requests without one pass
/// unchanged.
pub fn rewrite_query(mut req: Request, f: impl Fn(&str) -> String) -> Request {
    if let Some(q) = req.uri().query() {
        let q = f(q);
        set_query(&mut req, &q);
    }
    req
}

/// Replace a request body by `f(body)`, read lazily.
pub fn map_body(
    req: Request,
    f: impl FnOnce(bytes::Bytes) -> bytes::Bytes + Send + 'static,
) -> Request {
    let (mut parts, body) = req.into_parts();
    parts.headers.remove("content-length");
    let stream = futures::stream::once(async move {
        let b = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        Ok::<_, std::convert::Infallible>(f(b))
    });
    Request::from_parts(parts, Body::from_stream(stream))
}
