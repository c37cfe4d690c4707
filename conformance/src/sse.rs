//! SSE reading for §5.8 cases: events are parsed as the WHATWG
//! EventSource parser does (fields, comments, dispatch on a blank line,
//! the trailing LF of the data buffer dropped), so what a case sees is what
//! a browser's EventSource would see. The parser is linear in the bytes
//! received: multi-MiB catch-ups of short lines (hundreds of thousands of
//! `data:` lines) parse in well under a second even unoptimised.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::client::Ctx;
use crate::failure::Failure;

#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// Event type (`data`, `control`, or whatever the server sent).
    pub event: String,
    pub data: String,
}

impl SseEvent {
    /// Control events carry a JSON object (§5.8).
    pub fn control(&self) -> Option<serde_json::Map<String, Value>> {
        if self.event != "control" {
            return None;
        }
        match serde_json::from_str(&self.data) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }
}

/// How a stream's data events carry its data (§5.8).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    /// The data as UTF-8 text.
    Text,
    /// Standard base64 (binary streams, `stream-sse-data-encoding: base64`).
    Base64,
    /// JSON: one message, or an array of messages (a batch, §5.8 MAY).
    Json,
}

/// What one data event carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Bytes(Vec<u8>),
    /// The event's JSON value as sent (an array may be a batch or one
    /// array-valued message: the caller decides).
    Json(Value),
}

/// The one SSE data-event decoder: cases and the model both use it. `Err`
/// says what the data is instead (for the caller's violation message).
pub fn decode_data(data: &str, encoding: Encoding) -> Result<Payload, String> {
    match encoding {
        Encoding::Text => Ok(Payload::Bytes(data.as_bytes().to_vec())),
        Encoding::Base64 => decode_base64(data).map(Payload::Bytes),
        Encoding::Json => serde_json::from_str(data)
            .map(Payload::Json)
            .map_err(|e| format!("not JSON ({e}): {:?}", preview_text(data))),
    }
}

/// The bytes a data event of a binary stream carries (§5.8: standard
/// base64; the line breaks between multi-line `data:` fields are not part
/// of it).
fn decode_base64(data: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let text: String = data.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    let alphabet_ok = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !text.len().is_multiple_of(4) || !alphabet_ok {
        return Err(format!(
            "not standard base64 with a length multiple of 4: {:?}",
            preview_text(&text)
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|err| format!("not valid base64 ({err}): {:?}", preview_text(&text)))
}

/// The first 80 characters of `s`, for messages.
fn preview_text(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<SseEvent, String>> + Send>>;

/// An open SSE response.
pub struct SseSession {
    ctx: Ctx,
    exchange: usize,
    pub status: u16,
    pub headers: HeaderMap,
    stream: Option<EventStream>,
    /// Every event received so far, in order.
    pub events: Vec<SseEvent>,
    /// The server closed the connection (or it failed).
    pub ended: bool,
    pub error: Option<String>,
}

impl SseSession {
    pub(crate) fn new(
        ctx: Ctx,
        exchange: usize,
        status: u16,
        headers: HeaderMap,
        resp: reqwest::Response,
    ) -> SseSession {
        let mut after_cr = false;
        let mut parser = Parser::default();
        let stream = resp
            .bytes_stream()
            .map(move |chunk| match chunk {
                Ok(b) => parser
                    .feed(&lf_line_ends(&b, &mut after_cr))
                    .into_iter()
                    .map(Ok)
                    .collect::<Vec<_>>(),
                Err(e) => vec![Err(crate::client::error_chain(&e))],
            })
            .flat_map(futures::stream::iter);
        SseSession {
            ctx,
            exchange,
            status,
            headers,
            stream: Some(Box::pin(stream)),
            events: Vec::new(),
            ended: false,
            error: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// Next event, or None if the connection ended or `wait` elapsed.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let stream = self.stream.as_mut()?;
        match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => None,
            Ok(None) => {
                self.finish(None);
                None
            }
            Ok(Some(Err(e))) => {
                self.finish(Some(e));
                None
            }
            Ok(Some(Ok(e))) => {
                // The event re-serialised as SSE (one data line per line),
                // so transcripts and snapshots show what a reader received.
                // (At most 1 MiB of it: the transcript keeps no more.)
                let mut end = e.data.len().min(1 << 20);
                while !e.data.is_char_boundary(end) {
                    end -= 1;
                }
                let shown = format!(
                    "event: {}\ndata: {}\n\n",
                    e.event,
                    e.data[..end].replace('\n', "\ndata: ")
                );
                self.ctx.update(self.exchange, |x| x.stream_more(&shown));
                self.events.push(e.clone());
                Some(e)
            }
        }
    }

    fn finish(&mut self, error: Option<String>) {
        self.ended = true;
        self.stream = None;
        if let Some(e) = &error {
            let note = format!("[connection error: {e}]");
            self.ctx.update(self.exchange, |x| x.stream_more(&note));
        } else {
            self.ctx.update(self.exchange, |x| {
                x.stream_more("[connection closed by server]")
            });
        }
        self.error = error;
    }

    /// Read events until `done(events)` holds, the connection ends, or
    /// `within` elapses. Returns whether `done` held.
    pub async fn read_until(
        &mut self,
        within: Duration,
        done: impl Fn(&[SseEvent]) -> bool,
    ) -> bool {
        // `within` bounds a silence, not the whole read: while events keep
        // arriving the deadline moves (a long catch-up parsed by a slow,
        // loaded client is not a slow server), up to 4 × `within` in all.
        let now = tokio::time::Instant::now();
        let cap = now + within * 4;
        let mut deadline = now + within;
        loop {
            if done(&self.events) {
                return true;
            }
            let now = tokio::time::Instant::now();
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() || self.ended {
                return false;
            }
            if self.next(left).await.is_none() && !self.ended {
                return done(&self.events);
            }
            deadline = (tokio::time::Instant::now() + within).min(cap);
        }
    }

    /// Wait up to `within` for the server to close the connection,
    /// collecting events meanwhile. Returns whether it closed.
    pub async fn wait_closed(&mut self, within: Duration) -> bool {
        self.read_until(within, |_| false).await;
        self.ended
    }

    /// Control events received so far.
    pub fn controls(&self) -> Vec<serde_json::Map<String, Value>> {
        self.events.iter().filter_map(SseEvent::control).collect()
    }

    /// Data events received so far.
    pub fn data_events(&self) -> Vec<&SseEvent> {
        self.events.iter().filter(|e| e.event == "data").collect()
    }

    /// Fail with `req` unless the HTTP status is `code`.
    pub fn expect(&self, code: u16, req: &str) -> Result<(), Failure> {
        if self.status != code {
            return Err(Failure::new(
                Some(req),
                format!("SSE request: expected status {code}, got {}", self.status),
            ));
        }
        Ok(())
    }
}

/// Last control event whose `streamClosed` is true, if any.
pub fn closed_control(events: &[SseEvent]) -> bool {
    events
        .iter()
        .filter_map(SseEvent::control)
        .any(|c| c.get("streamClosed") == Some(&Value::Bool(true)))
}

/// The WHATWG "event stream interpretation" over input whose line ends are
/// all LF (see [`lf_line_ends`]): complete lines are consumed as they
/// arrive; a partial line waits in `buf` for the rest.
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
    started: bool,
    event: String,
    data: String,
}

impl Parser {
    /// Consume `bytes`; return the events they complete.
    fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        if !self.started {
            // A leading UTF-8 BOM is skipped (once the first bytes are in).
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                return out;
            }
            self.started = true;
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                start = 3;
            }
        }
        while let Some(n) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&self.buf[start..start + n]).into_owned();
            start += n + 1;
            if let Some(e) = self.line(&line) {
                out.push(e);
            }
        }
        self.buf.drain(..start);
        out
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            // Dispatch: nothing if the data buffer is empty; the type
            // defaults to `message`; the last LF of the data is dropped.
            let event = std::mem::take(&mut self.event);
            let mut data = std::mem::take(&mut self.data);
            if data.is_empty() {
                return None;
            }
            data.pop();
            let event = if event.is_empty() {
                "message".to_string()
            } else {
                event
            };
            return Some(SseEvent { event, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            // `id` and `retry` change no event a case looks at.
            _ => {}
        }
        None
    }
}

/// Rewrite CRLF and lone CR line ends as LF, carrying across chunks
/// whether the last byte was a CR (whose LF, if it comes, is dropped).
///
/// The SSE format ends lines with CRLF, CR or LF, and CR and LF never occur
/// inside a line, so this changes no field. It lets an event that ends with
/// a CR at the end of what the server has sent so far be dispatched at
/// once: the parser underneath would otherwise wait for the next byte to
/// see whether it is an LF, which on a live connection may never come.
pub(crate) fn lf_line_ends(chunk: &[u8], after_cr: &mut bool) -> bytes::Bytes {
    let mut out = Vec::with_capacity(chunk.len());
    for &b in chunk {
        match b {
            b'\n' if *after_cr => {}
            b'\r' => out.push(b'\n'),
            _ => out.push(b),
        }
        *after_cr = b == b'\r';
    }
    bytes::Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::{lf_line_ends, Parser, SseEvent};

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parser_follows_the_event_stream_rules() {
        let mut p = Parser::default();
        let text = "\u{feff}: comment\nevent: data\ndata: a\ndata:b\ndata\n\n\
                    data:  two spaces\nid: 7\nretry: 10\n\nevent: x\n\n\
                    event: control\ndata: {}\n\nevent: data\ndata: unfinished\n";
        // Byte by byte: splits land everywhere, inside the BOM too.
        let got: Vec<SseEvent> = text.as_bytes().iter().flat_map(|b| p.feed(&[*b])).collect();
        assert_eq!(
            got,
            vec![
                ev("data", "a\nb\n"),
                ev("message", " two spaces"),
                ev("control", "{}"),
            ]
        );
        // The unfinished event is not dispatched; a blank line finishes it.
        assert_eq!(p.feed(b"\n"), vec![ev("data", "unfinished")]);
    }

    #[test]
    fn line_ends_become_lf_across_chunks() {
        let mut cr = false;
        let chunks: [&[u8]; 4] = [b"a\r\nb\r", b"\nc\r", b"\r", b"d\n\n"];
        let out: Vec<u8> = chunks
            .iter()
            .flat_map(|c| lf_line_ends(c, &mut cr).to_vec())
            .collect();
        assert_eq!(out, b"a\nb\nc\n\nd\n\n");
    }
}
