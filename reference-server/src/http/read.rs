//! §5.6 catch-up reads, §5.7 long-poll, §8 `offset=now`, §9.1.5 JSON
//! responses and §10.1 caching (ETag, If-None-Match, Cache-Control, cursors).
//!
//! Reads from a well-formed offset beyond the tail are a 400: such an offset
//! was never minted for this stream.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::time::{sleep_until, Instant};

use super::error::ApiError;
use super::headers::{Live, ReadQuery};
use super::names as n;
use super::{cursor, set, set_next_offset, sse};
use crate::store::offsets::{Offset, ReadFrom};
use crate::store::stream::Stream;
use crate::store::{json, read, ReadResult};
use crate::AppState;

/// Cache policy for immutable data chunks (§10.1).
const CACHEABLE: &str = "public, max-age=60, stale-while-revalidate=300";

pub async fn stream_get(app: AppState, path: String, req: Request) -> Result<Response, ApiError> {
    let q = ReadQuery::parse(req.uri().query())?;
    match q.live {
        Live::No => catch_up(app, path, q, req.headers()).await,
        Live::LongPoll => long_poll(app, path, q).await,
        Live::Sse => sse::stream_sse(app, path, q).await,
    }
}

async fn catch_up(
    app: AppState,
    path: String,
    q: ReadQuery,
    req: &HeaderMap,
) -> Result<Response, ApiError> {
    let stream = app.store().open_for_read(&path).durable().await?;
    let from = q.offset.unwrap_or(ReadFrom::Start);
    let r = read::chunk(&stream, from, app.config().max_chunk_bytes)?;
    if from == ReadFrom::Now {
        // §8: never data, never an ETag, never cached.
        let mut res = body_response(&stream, &r, StatusCode::OK);
        set(res.headers_mut(), CACHE_CONTROL, "no-store");
        return Ok(res);
    }
    let etag = etag(&stream, &r);
    if if_none_match(req, &etag) {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        set(res.headers_mut(), ETAG, &etag);
        set(res.headers_mut(), CACHE_CONTROL, cache_control(&r));
        return Ok(res);
    }
    let mut res = body_response(&stream, &r, StatusCode::OK);
    set(res.headers_mut(), ETAG, &etag);
    set(res.headers_mut(), CACHE_CONTROL, cache_control(&r));
    Ok(res)
}

async fn long_poll(app: AppState, path: String, q: ReadQuery) -> Result<Response, ApiError> {
    let from = q
        .offset
        .ok_or_else(|| ApiError::bad("long-poll requires an offset"))?;
    let stream = app.store().open_for_read(&path).durable().await?;
    let cursor = cursor::next(q.cursor.as_deref(), app.store().clock().now());
    let budget = app.config().max_chunk_bytes;
    let deadline = Instant::now() + app.config().long_poll_timeout;
    let mut changed = stream.subscribe();
    let mut shutdown = app.shutdown_signal();
    let mut r = read::chunk(&stream, from, budget)?;
    // `now` resolves once, at request start (§8).
    let at = ReadFrom::At(Offset(r.from));
    loop {
        if !r.is_empty() {
            let mut res = body_response(&stream, &r, StatusCode::OK);
            let etag = etag(&stream, &r);
            let headers = res.headers_mut();
            set(headers, ETAG, &etag);
            set(headers, CACHE_CONTROL, CACHEABLE);
            set(headers, n::STREAM_CURSOR, &cursor);
            return Ok(res);
        }
        if r.closed {
            return Ok(no_content(&r, None));
        }
        tokio::select! {
            res = changed.changed() => { if res.is_err() { return Ok(no_content(&r, Some(&cursor))); } }
            _ = sleep_until(deadline) => return Ok(no_content(&r, Some(&cursor))),
            _ = shutdown.wait_for(|s| *s) => return Ok(no_content(&r, Some(&cursor))),
        }
        r = read::chunk(&stream, at, budget)?;
    }
}

/// §5.7 204: caught up (and possibly at a closed tail).
fn no_content(r: &ReadResult, cursor: Option<&str>) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let headers = res.headers_mut();
    set_next_offset(headers, r.tail);
    set(headers, n::STREAM_UP_TO_DATE, "true");
    if r.closed {
        set(headers, n::STREAM_CLOSED, "true");
    } else if let Some(c) = cursor {
        set(headers, n::STREAM_CURSOR, c);
    }
    set(headers, CACHE_CONTROL, "no-store");
    res
}

/// A 200 carrying the read's data and its position headers.
fn body_response(stream: &Arc<Stream>, r: &ReadResult, status: StatusCode) -> Response {
    let body = match &r.pieces[..] {
        _ if r.json => Body::from(json::frame(&r.pieces)),
        // One piece (a packed chunk, one read from disk) goes out as is.
        [one] => Body::from(one.clone()),
        pieces => Body::from(pieces.concat()),
    };
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    let content_type = stream.lock().config.content_type.clone();
    set(headers, CONTENT_TYPE, &content_type);
    set_next_offset(headers, r.next);
    if r.up_to_date() {
        set(headers, n::STREAM_UP_TO_DATE, "true");
    }
    if r.closed_at_end() {
        set(headers, n::STREAM_CLOSED, "true");
    }
    res
}

/// §10.1: data chunks never change, so they are cacheable; an empty answer
/// at the tail can change (new data, closure), so it is not.
fn cache_control(r: &ReadResult) -> &'static str {
    if r.is_empty() {
        "no-store"
    } else {
        CACHEABLE
    }
}

/// `"<stream id>:<start>:<end>[:c]"`: the range plus closure (§10.1).
fn etag(stream: &Stream, r: &ReadResult) -> String {
    let closed = if r.closed { ":c" } else { "" };
    format!(
        "\"{}:{}:{}{closed}\"",
        stream.id,
        Offset(r.from),
        Offset(r.next)
    )
}

fn if_none_match(req: &HeaderMap, etag: &str) -> bool {
    req.get_all("if-none-match").iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
        })
    })
}
