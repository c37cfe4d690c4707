//! How a §5.8 client reads a session: waiting to catch up, decoding data
//! events (UTF-8 text or base64, JSON arrays) and control event fields.

use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value};

use super::PROMPT;
use crate::case::Failure;
use crate::sse::{SseEvent, SseSession};

/// How data events are encoded on this stream.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Kind {
    Text,
    Base64,
}

fn control_flag(c: &Map<String, Value>, key: &str) -> bool {
    c.get(key) == Some(&Value::Bool(true))
}

/// The last control event says the reader is caught up (or at EOF).
pub(super) fn caught_up(events: &[SseEvent]) -> bool {
    events
        .iter()
        .rev()
        .find_map(SseEvent::control)
        .is_some_and(|c| control_flag(&c, "upToDate") || control_flag(&c, "streamClosed"))
}

/// Read until caught up, failing with `req` if that does not happen.
pub(super) async fn catch_up(s: &mut SseSession, req: &str) -> Result<(), Failure> {
    catch_up_within(s, req, PROMPT).await
}

/// `catch_up` with a longer bound, for multi-MiB streams.
pub(super) async fn catch_up_within(
    s: &mut SseSession,
    req: &str,
    within: Duration,
) -> Result<(), Failure> {
    if !s.read_until(within, caught_up).await {
        return Err(Failure::new(
            Some(req),
            format!(
                "no control event with upToDate: true within {} s ({} events, connection {})",
                within.as_secs(),
                s.events.len(),
                if s.ended { "closed" } else { "open" }
            ),
        ));
    }
    Ok(())
}

/// Read until the data events decode to at least `len` bytes and a control
/// follows them.
pub(super) async fn read_bytes(s: &mut SseSession, kind: Kind, len: usize) -> bool {
    s.read_until(PROMPT, |evs| {
        decode_events(evs, kind).is_ok_and(|b| b.len() >= len)
            && evs.last().is_some_and(|e| e.event == "control")
    })
    .await
}

/// The bytes of one data event: UTF-8 text, or base64 decoded.
pub(super) fn decode_one(e: &SseEvent, kind: Kind) -> Result<Vec<u8>, Failure> {
    match kind {
        Kind::Text => Ok(e.data.clone().into_bytes()),
        Kind::Base64 => {
            let text: String = e
                .data
                .chars()
                .filter(|c| *c != '\n' && *c != '\r')
                .collect();
            let alphabet_ok = text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
            if !text.len().is_multiple_of(4) || !alphabet_ok {
                return Err(Failure::new(
                    Some("SSE-BASE64-VALID"),
                    format!(
                        "data event is not standard base64 with a length multiple of 4: {:?}",
                        preview(&text)
                    ),
                ));
            }
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|err| {
                    Failure::new(
                        Some("SSE-BASE64-VALID"),
                        format!(
                            "data event is not valid base64 ({err}): {:?}",
                            preview(&text)
                        ),
                    )
                })
        }
    }
}

/// Every data event decoded and concatenated (JSON: the bytes of each
/// event's text; see `json_messages`).
pub(super) fn decode_events(events: &[SseEvent], kind: Kind) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.event == "data") {
        out.extend(decode_one(e, kind)?);
    }
    Ok(out)
}

/// JSON streams: the messages of every data event (each MUST be an array).
pub(super) fn json_messages(events: &[SseEvent]) -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.event == "data") {
        match serde_json::from_str::<Value>(&e.data) {
            Ok(Value::Array(items)) => out.extend(items),
            Ok(other) => {
                return Err(Failure::new(
                    Some("SSE-JSON-ARRAY"),
                    format!("JSON stream data event is not an array: {other}"),
                ))
            }
            Err(err) => {
                return Err(Failure::new(
                    Some("SSE-JSON-ARRAY"),
                    format!(
                        "JSON stream data event is not JSON ({err}): {:?}",
                        preview(&e.data)
                    ),
                ))
            }
        }
    }
    Ok(out)
}

fn preview(s: &str) -> String {
    s.chars().take(120).collect()
}

/// The last control event received.
pub(super) fn last_control(s: &SseSession) -> Option<Map<String, Value>> {
    s.controls().pop()
}

pub(super) fn flag(c: &Map<String, Value>, key: &str) -> bool {
    control_flag(c, key)
}

/// `streamNextOffset` of a control event, required (as a string).
pub(super) fn next_offset(c: &Map<String, Value>) -> Result<String, Failure> {
    match c.get("streamNextOffset") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        other => Err(Failure::new(
            Some("SSE-CONTROL-OFFSET"),
            format!(
                "control event without a string streamNextOffset (got {other:?}): {}",
                Value::Object(c.clone())
            ),
        )),
    }
}
