//! The one place subscriptions touch the stream store: listing streams,
//! reading a stream's (durable) tail, and appending a JSON wake event to a
//! pull-wake wake stream. The HTTP stream handlers report creates, appends
//! and deletes through `Subscriptions::stream_written` / `stream_deleted`.

use bytes::Bytes;

use crate::store::stream::Info;
use crate::store::{content_type, json, AppendRequest, Payload, Store};

/// Live stream paths (absolute, as the store keys them).
pub fn list(store: &Store) -> Vec<String> {
    store.live_paths()
}

/// The stream's durable tail position; `None` when there is no live stream.
pub fn tail(store: &Store, abs: &str) -> Option<u64> {
    info(store, abs).map(|i| i.tail)
}

/// HEAD metadata (durable view) of a live stream.
fn info(store: &Store, abs: &str) -> Option<Info> {
    let s = store.find(abs).applied().ok()?;
    store.info(&s).applied().ok()
}

/// Appends one JSON event to the stream at `abs` (a JSON stream gets it as
/// one message; any other gets its bytes and a newline), once durable.
pub async fn append_event(
    store: &Store,
    abs: &str,
    event: &serde_json::Value,
) -> Result<(), String> {
    let info = info(store, abs).ok_or_else(|| "no such stream".to_string())?;
    let essence = content_type::essence(&info.content_type)
        .unwrap_or_else(|| content_type::DEFAULT.to_string());
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let payload = if content_type::is_json(&essence) {
        Payload::Json(json::flatten(&Bytes::from(body), false))
    } else {
        let mut b = body;
        b.push(b'\n');
        Payload::Bytes(Bytes::from(b))
    };
    store
        .append(
            abs,
            AppendRequest {
                essence: Some(essence),
                payload,
                close: false,
                stream_seq: None,
                producer: None,
            },
        )
        .durable()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
