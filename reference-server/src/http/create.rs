//! §5.1 create (PUT) and §4.2 fork creation.

use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HOST, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::headers as h;
use super::names as n;
use super::{read_body, set, set_next_offset};
use crate::store::CreateRequest;
use crate::AppState;

pub async fn stream_put(app: AppState, path: String, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let content_type = h::content_type(headers)?.map(|(value, _)| value.to_string());
    let expiry = h::expiry(headers)?;
    let fork = h::fork(headers)?;
    let closed = h::closed_flag(headers);
    let body = read_body(headers, body, app.config().max_body_bytes).await?;
    let (created, info) = app
        .store()
        .create(CreateRequest {
            path: path.clone(),
            content_type,
            expiry,
            closed,
            body,
            fork,
        })
        .durable()
        .await?;
    if created {
        // §6.2: a new stream matching a pattern is linked before its data.
        app.subscriptions().stream_written(app.store(), &path, true);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut res = status.into_response();
    let out = res.headers_mut();
    if created {
        let host = h::text(headers, &HOST)
            .ok()
            .flatten()
            .unwrap_or("localhost");
        set(out, LOCATION, &format!("http://{host}{}", parts.uri.path()));
    }
    set(out, CONTENT_TYPE, &info.content_type);
    set_next_offset(out, info.tail);
    if info.closed {
        set(out, n::STREAM_CLOSED, "true");
    }
    Ok(res)
}
