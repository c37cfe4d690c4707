//! §5 response codes: the one error type of the HTTP layer, mapped to a
//! status, the protocol headers that go with it, and a short plain-text
//! reason.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::names as n;
use crate::store::offsets::Offset;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body exceeds the size limit")]
    PayloadTooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError::BadRequest(msg.into())
    }

    fn status(&self) -> StatusCode {
        use StoreError as S;
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(e) => match e {
                S::NotFound | S::SourceNotFound => StatusCode::NOT_FOUND,
                S::Gone => StatusCode::GONE,
                S::StaleEpoch { .. } => StatusCode::FORBIDDEN,
                S::Json(_) | S::EpochSeqNotZero | S::OffsetBeyondTail | S::SubOffsetOvershoot => {
                    StatusCode::BAD_REQUEST
                }
                S::ConfigMismatch
                | S::PathBlocked
                | S::Closed { .. }
                | S::ContentTypeMismatch
                | S::SeqRegression
                | S::SeqGap { .. }
                | S::SourceGone => StatusCode::CONFLICT,
                // Not the client's fault: the disk failed (nothing acked).
                S::Storage => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut res = (status, format!("{self}\n")).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let mut put = |name: HeaderName, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        match self {
            ApiError::MethodNotAllowed => {
                put(
                    header::ALLOW,
                    "GET, HEAD, PUT, POST, DELETE, OPTIONS".into(),
                );
            }
            ApiError::Store(StoreError::Closed { tail }) => {
                put(n::STREAM_CLOSED, "true".into());
                put(n::STREAM_NEXT_OFFSET, Offset(tail).to_string());
            }
            ApiError::Store(StoreError::StaleEpoch { current }) => {
                put(n::PRODUCER_EPOCH, current.to_string());
            }
            ApiError::Store(StoreError::SeqGap { expected, received }) => {
                put(n::PRODUCER_EXPECTED_SEQ, expected.to_string());
                put(n::PRODUCER_RECEIVED_SEQ, received.to_string());
            }
            _ => {}
        }
        res
    }
}
