//! §5.8 Read Stream - Live (SSE) and §10.2: framing and encodings as a
//! WHATWG client sees them, control events, live delivery, closure,
//! `offset=now` (§8) and resuming.

use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value};

use crate::case::{case, Case, Failure};
use crate::sse::{SseEvent, SseSession};

mod bytes;
mod control;
mod format;
mod live;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "sse::format::content_type_is_event_stream",
            &["SSE-CONTENT-TYPE"],
            format::content_type_is_event_stream,
        ),
        case(
            "sse::format::text_types_are_not_base64",
            &["SSE-TEXT-UTF8"],
            format::text_types_are_not_base64,
        ),
        case(
            "sse::format::other_types_are_base64",
            &["SSE-BASE64-HEADER", "SSE-BASE64-VALID"],
            format::other_types_are_base64,
        ),
        case(
            "sse::format::json_data_is_array",
            &["SSE-JSON-ARRAY"],
            format::json_data_is_array,
        ),
        case(
            "sse::format::missing_offset_is_400",
            &["SSE-OFFSET-REQUIRED"],
            format::missing_offset_is_400,
        ),
        case(
            "sse::format::missing_stream_is_404",
            &["SSE-404"],
            format::missing_stream_is_404,
        ),
        case(
            "sse::bytes::text_lines_exact",
            &["SSE-TEXT-EXACT"],
            bytes::text_lines_exact,
        ),
        case(
            "sse::bytes::text_cr_crlf_as_lf",
            &["SSE-TEXT-EXACT"],
            bytes::text_cr_crlf_as_lf,
        ),
        case(
            "sse::bytes::binary_every_byte_value",
            &["SSE-BINARY-EXACT", "SSE-BASE64-VALID"],
            bytes::binary_every_byte_value,
        ),
        case(
            "sse::bytes::from_minted_offset",
            &["SSE-TEXT-EXACT"],
            bytes::from_minted_offset,
        ),
        case(
            "sse::control::after_every_data_event",
            &["SSE-CONTROL-AFTER-DATA", "SSE-CONTROL-OFFSET"],
            control::after_every_data_event,
        ),
        case(
            "sse::control::fields_when_caught_up",
            &[
                "SSE-CONTROL-OFFSET",
                "SSE-CONTROL-CURSOR",
                "SSE-CONTROL-UP-TO-DATE",
                "CURSOR-DECIMAL",
            ],
            control::fields_when_caught_up,
        ),
        case(
            "sse::control::echoed_cursor_advances",
            &["CURSOR-ADVANCE"],
            control::echoed_cursor_advances,
        ),
        case(
            "sse::control::empty_stream_caught_up",
            &["SSE-CONTROL-UP-TO-DATE", "SSE-CONTROL-OFFSET"],
            control::empty_stream_caught_up,
        ),
        case(
            "sse::bytes::large_text_crlf",
            &["SSE-TEXT-EXACT"],
            bytes::large_text_crlf,
        ),
        case(
            "sse::bytes::large_binary_exact",
            &["SSE-BINARY-EXACT", "SSE-BASE64-VALID"],
            bytes::large_binary_exact,
        ),
        case(
            "sse::live::final_append_on_close",
            &["SSE-LIVE", "SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION"],
            live::final_append_on_close,
        ),
        case(
            "sse::live::every_reader_receives",
            &["SSE-LIVE"],
            live::every_reader_receives,
        ),
        case(
            "sse::live::append_delivered",
            &["SSE-LIVE", "SSE-CONTROL-AFTER-DATA"],
            live::append_delivered,
        ),
        case(
            "sse::live::binary_append_delivered",
            &["SSE-LIVE", "SSE-BINARY-EXACT"],
            live::binary_append_delivered,
        ),
        case(
            "sse::live::close_ends_connection",
            &["SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION"],
            live::close_ends_connection,
        ),
        case(
            "sse::live::closed_stream_from_start",
            &["SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION"],
            live::closed_stream_from_start,
        ),
        case(
            "sse::live::closed_at_tail_at_once",
            &["SSE-CLOSED-AT-TAIL"],
            live::closed_at_tail_at_once,
        ),
        case(
            "sse::live::now_skips_history",
            &["SSE-NOW", "SSE-LIVE"],
            live::now_skips_history,
        ),
        case(
            "sse::live::now_on_closed_stream",
            &["SSE-CLOSED-AT-TAIL", "SSE-NOW"],
            live::now_on_closed_stream,
        ),
        case(
            "sse::live::resume_from_control_offsets",
            &["SSE-RESUME"],
            live::resume_from_control_offsets,
        ),
    ]
}

/// Bound for things the server should do at once (deliver, close).
pub(super) const PROMPT: Duration = Duration::from_secs(5);

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
