//! §5.5 HEAD (metadata, never renews a TTL) and §5.4 DELETE (with the
//! soft-delete of §4.2).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::names as n;
use super::{set, set_next_offset};
use crate::store::ttl::Expiry;
use crate::AppState;

pub async fn stream_head(app: AppState, path: String) -> Result<Response, ApiError> {
    let stream = app.store().find(&path).durable().await?;
    let info = app.store().info(&stream).durable().await?;
    let mut res = StatusCode::OK.into_response();
    let headers = res.headers_mut();
    set(headers, CONTENT_TYPE, &info.content_type);
    set_next_offset(headers, info.tail);
    match &info.expiry {
        Expiry::Never => {}
        Expiry::Ttl(secs) => set(headers, n::STREAM_TTL, &secs.to_string()),
        Expiry::At(d) => set(headers, n::STREAM_EXPIRES_AT, &d.text),
    }
    if info.closed {
        set(headers, n::STREAM_CLOSED, "true");
    }
    set(headers, CACHE_CONTROL, "no-store");
    Ok(res)
}

pub async fn stream_delete(app: AppState, path: String) -> Result<Response, ApiError> {
    app.store().delete(&path).durable().await?;
    app.subscriptions().stream_deleted(&path);
    Ok(StatusCode::NO_CONTENT.into_response())
}
