//! §5 HTTP operations. Every path under the root is a stream URL:
//!
//! | method  | handler                          | spec        |
//! |---------|----------------------------------|-------------|
//! | PUT     | `create::stream_put`             | §5.1, §4.2  |
//! | POST    | `append::stream_post`            | §5.2, §5.3  |
//! | GET     | `read::stream_get` (+ `sse`)     | §5.6-§5.8   |
//! | HEAD    | `head_delete::stream_head`       | §5.5        |
//! | DELETE  | `head_delete::stream_delete`     | §5.4        |
//! | OPTIONS | CORS preflight in `cors`         | §12.7       |
//!
//! `{stream-root}/__ds/...` goes to `subscriptions::routes` first (§6).
//! Anything else is a 405. Handlers are thin: parse and validate, one store
//! operation, map the outcome.

mod append;
mod cors;
mod create;
mod cursor;
pub mod error;
mod head_delete;
pub mod headers;
pub mod names;
mod read;
mod sse;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::{Bytes, BytesMut};
use futures::future::Either;
use futures::{FutureExt, StreamExt};
use std::future::Future;

use crate::AppState;
use error::ApiError;

/// The protocol router: one dispatcher for every path (for tests that
/// drive the app as an axum `Router`; `serve` runs [`service`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .fallback(|State(app): State<AppState>, req: Request| handle(app, req))
        .with_state(state)
}

/// The protocol as a plain tower service: what `serve` runs. The same
/// answers as [`router`] without axum's routing layer, which has no path to
/// match here but cost a tenth of an append's CPU (path lookup, a boxed
/// handler cloned per request, the original URI copied into extensions).
pub fn service(state: AppState) -> Service {
    Service(state)
}

/// See [`service`].
#[derive(Clone)]
pub struct Service(AppState);

impl tower_service::Service<Request> for Service {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        Box::pin(handle(self.0.clone(), req).map(Ok))
    }
}

/// Every request: a CORS preflight, or an operation; then the headers of
/// §12.7 on whatever the answer is, and what axum's router adds to an
/// answer (so [`router`] and [`service`] answer alike): a `Content-Length`
/// for a body of known size, and no body on a HEAD.
///
/// Combinators, not an `async fn`: its future is the operation's plus a
/// flag, where an `async fn` would also hold its own copy of the request
/// (every request's future is moved whole into its box: 2,304 bytes
/// before, the size of `operation`'s 1,808 now).
pub fn handle(app: AppState, req: Request) -> impl Future<Output = Response> + Send + 'static {
    let head = req.method() == Method::HEAD;
    let answer = if req.method() == Method::OPTIONS {
        Either::Left(std::future::ready(cors::preflight(req.headers())))
    } else {
        Either::Right(operation(app, req))
    };
    answer.map(move |res| finish(res, head))
}

/// The part of [`handle`] after the answer.
fn finish(mut res: Response, head: bool) -> Response {
    cors::stamp(res.headers_mut());
    if !res
        .headers()
        .contains_key(axum::http::header::CONTENT_LENGTH)
    {
        if let Some(size) = axum::body::HttpBody::size_hint(res.body()).exact() {
            let value = match size {
                0 => HeaderValue::from_static("0"),
                n => HeaderValue::from(n),
            };
            res.headers_mut()
                .insert(axum::http::header::CONTENT_LENGTH, value);
        }
    }
    if head {
        *res.body_mut() = Body::empty();
    }
    res
}

async fn operation(app: AppState, req: Request) -> Response {
    // §6: the reserved control prefix is routed before stream operations.
    let control = crate::subscriptions::routes::control_rest(
        &app.subscriptions().settings().root,
        req.uri().path(),
    )
    .map(str::to_string);
    if let Some(rest) = control {
        // Boxed: the largest handler future, and a rare one. Inline, every
        // request's future would be its size, and is moved (copied) whole.
        return Box::pin(crate::subscriptions::routes::handle(app, rest, req)).await;
    }
    let path = headers::stream_path(req.uri());
    let result = match *req.method() {
        Method::GET => read::stream_get(app, path, req).await,
        Method::HEAD => head_delete::stream_head(app, path).await,
        Method::PUT => create::stream_put(app, path, req).await,
        Method::POST => append::stream_post(app, path, req).await,
        Method::DELETE => head_delete::stream_delete(app, path).await,
        _ => Err(ApiError::MethodNotAllowed),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Reads a request body, refusing (413) anything over `limit` without
/// buffering past it.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad("could not read the request body"))?;
        total += chunk.len();
        if total > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        if chunks.is_empty() && declared == Some(chunk.len() as u64) {
            // The whole declared body in one piece (a small append): no
            // list, no waiting for the end of a body already complete.
            return Ok(Bytes::copy_from_slice(&chunk));
        }
        chunks.push(chunk);
    }
    // The body is always copied into an allocation of its own size: a chunk
    // from hyper is a view into its connection read buffer, and storing the
    // view would keep that whole buffer (kilobytes) alive for every small
    // append (measured: 1.5 GB resident for 20 MB of 64-byte appends).
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => Bytes::copy_from_slice(&chunks[0]),
        _ => {
            let mut buf = BytesMut::with_capacity(total);
            for c in chunks {
                buf.extend_from_slice(&c);
            }
            buf.freeze()
        }
    })
}

/// Sets `Stream-Next-Offset` (every successful write and read answer).
fn set_next_offset(headers: &mut HeaderMap, tail: u64) {
    let offset = crate::store::offsets::Offset(tail);
    match offset.token() {
        Some(text) => {
            if let Ok(v) = HeaderValue::from_bytes(&text) {
                headers.insert(names::STREAM_NEXT_OFFSET, v);
            }
        }
        None => set(headers, names::STREAM_NEXT_OFFSET, &offset.to_string()),
    }
}

/// Inserts a header whose value we produced ourselves.
fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
