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

use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant, Sleep};

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
        lifetime: Box::pin(sleep_until(Instant::now() + app.config().sse_max_duration)),
        changed,
        shutdown: app.shutdown_signal(),
        pos: first.from,
        announced: false,
    };
    // The body is the session itself, polled by the connection's task: no
    // task and no channel per reader, one wake-up per delivery.
    let frames = futures::stream::unfold(
        (session, Next::Have(first)),
        |(mut session, next)| async move {
            let (frame, next) = session.next_frame(next).await?;
            Some((Ok::<_, std::convert::Infallible>(frame), (session, next)))
        },
    );
    let body = Body::from_stream(frames);
    let mut res = (StatusCode::OK, body).into_response();
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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
    /// The connection's lifetime (§10.2): one timer for the whole session,
    /// not one registered and removed per wait.
    lifetime: Pin<Box<Sleep>>,
    changed: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    /// Where the next event starts.
    pos: u64,
    /// An event (data or control) was sent.
    announced: bool,
}

/// What the session does next.
enum Next {
    /// Send what this read found.
    Have(ReadResult),
    /// Read on at once (the last event stopped short of the tail).
    ReadNow,
    /// Wait for a change of the stream.
    Wait,
    /// The stream closed and its last event was sent.
    Done,
}

impl Session {
    /// The next frame, and what to do after it; `None` ends the body (the
    /// stream closed, was deleted, the lifetime or the server ended).
    async fn next_frame(&mut self, mut next: Next) -> Option<(Bytes, Next)> {
        loop {
            let r = match next {
                Next::Have(r) => r,
                Next::Done => return None,
                Next::ReadNow => self.read()?,
                Next::Wait => {
                    tokio::select! {
                        res = self.changed.changed() => res.ok()?,
                        _ = &mut self.lifetime => return None,
                        _ = self.shutdown.wait_for(|s| *s) => return None,
                    }
                    self.read()?
                }
            };
            if !r.is_empty() {
                let (payload, pos) = self.encode(&r);
                let up_to_date = pos == r.tail;
                let closed = r.closed && up_to_date;
                let mut frame = data_event(&payload);
                frame.push_str(&self.control(pos, up_to_date, closed));
                self.pos = pos;
                self.announced = true;
                let then = match (closed, up_to_date) {
                    (true, _) => Next::Done,
                    (false, true) => Next::Wait,
                    (false, false) => Next::ReadNow,
                };
                return Some((Bytes::from(frame), then));
            } else if r.closed {
                let frame = self.control(self.pos, true, true);
                return Some((Bytes::from(frame), Next::Done));
            } else if !self.announced {
                self.announced = true;
                let frame = self.control(self.pos, true, false);
                return Some((Bytes::from(frame), Next::Wait));
            }
            next = Next::Wait;
        }
    }

    fn read(&self) -> Option<ReadResult> {
        read::chunk(&self.stream, ReadFrom::At(Offset(self.pos)), self.budget).ok()
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
