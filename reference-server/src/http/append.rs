//! §5.2 append, §5.2.1 idempotent producers and §5.3 close (POST).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::headers as h;
use super::names as n;
use super::{read_body, set, set_next_offset};
use crate::store::{content_type, json, AppendRequest, Appended, Payload};
use crate::AppState;

pub async fn stream_post(app: AppState, path: String, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    // One pass over the names; a plain append has none of these headers.
    let found = h::AppendHeaders::gather(headers);
    let (close, producer, stream_seq) = if found.is_plain() {
        (false, None, None)
    } else {
        (found.closed(), found.producer()?, found.stream_seq()?)
    };
    // A missing or deleted stream is answered before its body is uploaded.
    app.store().find(&path).durable().await?;
    let body = read_body(headers, body, app.config().max_body_bytes).await?;
    let essence = if body.is_empty() {
        // §5.2: a close-only request is never judged by its Content-Type.
        None
    } else {
        match h::content_type(headers)? {
            Some((_, essence)) => Some(essence),
            None => return Err(ApiError::bad("Content-Type is required with a body")),
        }
    };
    if body.is_empty() && !close {
        return Err(ApiError::bad("empty body requires Stream-Closed: true"));
    }
    let payload = match &essence {
        None => Payload::Empty,
        Some(e) if content_type::is_json(e) => Payload::Json(json::flatten(&body, false)),
        Some(_) => Payload::Bytes(body),
    };
    let with_body = !payload.is_empty();
    let with_producer = producer.is_some();
    let outcome = app
        .store()
        .append(
            &path,
            AppendRequest {
                essence,
                payload,
                close,
                stream_seq,
                producer,
            },
        )
        .durable()
        .await?;
    if with_body {
        // §7: pending work for subscriptions linking this stream.
        app.subscriptions()
            .stream_written(app.store(), &path, false);
    }

    let (status, tail, closed, echo) = match outcome {
        Appended::Done {
            tail,
            closed,
            producer,
        } => {
            // §5.2.1: a producer's new data is 200; plain appends and
            // close-only requests are 204.
            let status = if with_producer && with_body {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            };
            (status, tail, closed, producer)
        }
        Appended::Duplicate {
            tail,
            closed,
            epoch,
            seq,
        } => (StatusCode::NO_CONTENT, tail, closed, Some((epoch, seq))),
        Appended::AlreadyClosed { tail } => (StatusCode::NO_CONTENT, tail, true, None),
    };
    let mut res = status.into_response();
    let out = res.headers_mut();
    set_next_offset(out, tail);
    if closed {
        set(out, n::STREAM_CLOSED, "true");
    }
    if let Some((epoch, seq)) = echo {
        out.insert(n::PRODUCER_EPOCH, HeaderValue::from(epoch));
        out.insert(n::PRODUCER_SEQ, HeaderValue::from(seq));
    }
    Ok(res)
}
