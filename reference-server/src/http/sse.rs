//! §5.8 SSE reads (and §8 `offset=now&live=sse`): data events, a control
//! event after each, base64 for binary content types, closure, and a
//! connection lifetime of about `sse_max_duration` (§10.2).
//!
//! Framing is written by hand so that any payload arrives byte-exact at a
//! WHATWG event-source client: a client strips one space after `data:`, so
//! a line that starts with a space is written as `data: ` + line and every
//! other line as `data:` + line (the compact form some clients and the
//! official suite match textually); payload text is split on CRLF, CR and
//! LF (the client rejoins lines with LF), and an empty last line is still
//! emitted so a trailing newline survives.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_stream::wrappers::ReceiverStream;

use super::error::ApiError;
use super::headers::ReadQuery;
use super::names as n;
use super::{cursor, set};
use crate::store::offsets::{Offset, ReadFrom};
use crate::store::stream::Stream;
use crate::store::{content_type, json, read, ReadResult};
use crate::AppState;

/// How a stream's data is carried in `data` events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Text,
    Json,
    Base64,
}

pub async fn stream_sse(app: AppState, path: String, q: ReadQuery) -> Result<Response, ApiError> {
    let from = q
        .offset
        .ok_or_else(|| ApiError::bad("SSE requires an offset"))?;
    let stream = app.store().open_for_read(&path).durable().await?;
    let budget = app.config().max_chunk_bytes;
    let changed = stream.subscribe();
    let first = read::chunk(&stream, from, budget)?;
    let essence = stream.lock().config.essence.clone();
    let encoding = if content_type::is_json(&essence) {
        Encoding::Json
    } else if content_type::is_sse_text(&essence) {
        Encoding::Text
    } else {
        Encoding::Base64
    };
    let session = Session {
        stream,
        cursor: cursor::next(q.cursor.as_deref(), app.store().clock().now()),
        encoding,
        budget,
        deadline: Instant::now() + app.config().sse_max_duration,
        changed,
        shutdown: app.shutdown_signal(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(session.run(first, tx));

    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>));
    let mut res = (StatusCode::OK, body).into_response();
    let headers = res.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    if encoding == Encoding::Base64 {
        set(headers, n::SSE_DATA_ENCODING, "base64");
    }
    Ok(res)
}

struct Session {
    stream: Arc<Stream>,
    cursor: String,
    encoding: Encoding,
    budget: usize,
    deadline: Instant,
    changed: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl Session {
    async fn run(mut self, first: ReadResult, tx: mpsc::Sender<Bytes>) {
        let mut r = first;
        let mut pos = r.from;
        let mut announced = false;
        loop {
            if !r.is_empty() {
                let (payload, next) = self.encode(&r);
                let up_to_date = next == r.tail;
                let closed = r.closed && up_to_date;
                let mut frame = data_event(&payload);
                frame.push_str(&self.control(next, up_to_date, closed));
                if tx.send(Bytes::from(frame)).await.is_err() || closed {
                    return;
                }
                pos = next;
                announced = true;
                if !up_to_date {
                    match read::chunk(&self.stream, ReadFrom::At(Offset(pos)), self.budget) {
                        Ok(next_read) => r = next_read,
                        Err(_) => return,
                    }
                    continue;
                }
            } else if r.closed {
                let _ = tx.send(Bytes::from(self.control(pos, true, true))).await;
                return;
            } else if !announced {
                announced = true;
                if tx
                    .send(Bytes::from(self.control(pos, true, false)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            tokio::select! {
                res = self.changed.changed() => if res.is_err() { return },
                _ = sleep_until(self.deadline) => return,
                _ = tx.closed() => return,
                _ = self.shutdown.wait_for(|s| *s) => return,
            }
            match read::chunk(&self.stream, ReadFrom::At(Offset(pos)), self.budget) {
                Ok(next_read) => r = next_read,
                Err(_) => return,
            }
        }
    }

    /// The event text for a read, and the position it reaches. A text
    /// payload cut by the budget inside a UTF-8 sequence or right after a CR
    /// stops before it.
    fn encode(&self, r: &ReadResult) -> (String, u64) {
        match self.encoding {
            Encoding::Json => (
                String::from_utf8_lossy(&json::frame(&r.pieces)).into_owned(),
                r.next,
            ),
            Encoding::Base64 => {
                let bytes = concat(&r.pieces);
                (
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                    r.next,
                )
            }
            Encoding::Text => {
                let bytes = concat(&r.pieces);
                let mut keep = bytes.len();
                if r.next < r.tail {
                    if let Err(e) = std::str::from_utf8(&bytes) {
                        if e.error_len().is_none() && e.valid_up_to() > 0 {
                            keep = e.valid_up_to();
                        }
                    }
                    // An event ending in CR whose LF opens the next event
                    // would reach the client as two line breaks: hold the
                    // CR back so CRLF stays in one event.
                    if keep > 1 && bytes[keep - 1] == b'\r' {
                        keep -= 1;
                    }
                }
                let next = r.next - (bytes.len() - keep) as u64;
                (String::from_utf8_lossy(&bytes[..keep]).into_owned(), next)
            }
        }
    }

    fn control(&self, next: u64, up_to_date: bool, closed: bool) -> String {
        let mut c = serde_json::Map::new();
        c.insert("streamNextOffset".into(), Offset(next).to_string().into());
        if !closed {
            c.insert("streamCursor".into(), self.cursor.clone().into());
        }
        if up_to_date {
            c.insert("upToDate".into(), true.into());
        }
        if closed {
            c.insert("streamClosed".into(), true.into());
        }
        format!("event: control\ndata:{}\n\n", serde_json::Value::Object(c))
    }
}

fn concat(pieces: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pieces.iter().map(Bytes::len).sum());
    for p in pieces {
        out.extend_from_slice(p);
    }
    out
}

/// One `data` event; see the module comment for the line rules.
fn data_event(payload: &str) -> String {
    let mut out = String::with_capacity(payload.len() + 32);
    out.push_str("event: data\n");
    for line in lines(payload) {
        out.push_str(if line.starts_with(' ') {
            "data: "
        } else {
            "data:"
        });
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Splits on CRLF, CR and LF, keeping empty lines (including a last one).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal WHATWG event-stream parser for the data field.
    fn parse_data(event: &str) -> String {
        let mut data = String::new();
        for line in event.split('\n') {
            if let Some(v) = line.strip_prefix("data") {
                let v = v.strip_prefix(':').unwrap_or(v);
                let v = v.strip_prefix(' ').unwrap_or(v);
                data.push_str(v);
                data.push('\n');
            }
        }
        data.pop();
        data
    }

    #[test]
    fn framing_round_trips_through_a_whatwg_parser() {
        for payload in [
            "plain",
            " leading space",
            "a\nb",
            "trailing\n",
            "\n\nx\n\n",
            "",
            "  ",
            "data: inside",
            ":colon",
        ] {
            assert_eq!(parse_data(&data_event(payload)), payload, "{payload:?}");
        }
    }

    #[test]
    fn carriage_returns_become_line_breaks() {
        assert_eq!(parse_data(&data_event("a\r\nb\rc")), "a\nb\nc");
        assert!(!data_event("a\rb").contains('\r'));
    }
}
