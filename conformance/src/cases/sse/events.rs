//! How a §5.8 client reads a session: waiting to catch up, decoding data
//! events (UTF-8 text or base64, JSON arrays) and control event fields.

use std::time::Duration;

use serde_json::{Map, Value};

use super::PROMPT;
use crate::case::Failure;
use crate::sse::{decode_data, Encoding, Payload, SseEvent, SseSession};

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
pub(super) async fn read_bytes(s: &mut SseSession, kind: Encoding, len: usize) -> bool {
    s.read_until(PROMPT, |evs| {
        decode_events(evs, kind).is_ok_and(|b| b.len() >= len)
            && evs.last().is_some_and(|e| e.event == "control")
    })
    .await
}

/// Every data event decoded (`Text` or `Base64`) and concatenated (JSON:
/// see `json_messages`).
pub(super) fn decode_events(events: &[SseEvent], kind: Encoding) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.event == "data") {
        match decode_data(&e.data, kind) {
            Ok(Payload::Bytes(b)) => out.extend(b),
            Ok(Payload::Json(v)) => out.extend(v.to_string().into_bytes()),
            Err(why) => {
                return Err(Failure::new(
                    Some("SSE-BASE64-VALID"),
                    format!("data event is {why}"),
                ))
            }
        }
    }
    Ok(out)
}

/// JSON streams: the messages of every data event, an array event read as
/// a batch.
pub(super) fn json_messages(events: &[SseEvent]) -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    for v in json_event_values(events)? {
        match v {
            Value::Array(items) => out.extend(items),
            // §5.8: batching into an array is a MAY; a lone value is one
            // message (callers whose messages are arrays use
            // `json_events_match`, which also reads an array as one).
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Whether the data events carry exactly `expected`, reading each array
/// event either as a batch (§5.8 MAY) or as one array-valued message.
pub(super) fn json_events_match(events: &[SseEvent], expected: &[Value]) -> Result<bool, Failure> {
    fn walk(values: &[Value], expected: &[Value]) -> bool {
        let Some((first, rest)) = values.split_first() else {
            return expected.is_empty();
        };
        if let Value::Array(items) = first {
            if expected.starts_with(items) && walk(rest, &expected[items.len()..]) {
                return true;
            }
        }
        expected.first() == Some(first) && walk(rest, &expected[1..])
    }
    Ok(walk(&json_event_values(events)?, expected))
}

/// Each JSON data event's value.
fn json_event_values(events: &[SseEvent]) -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.event == "data") {
        match decode_data(&e.data, Encoding::Json) {
            Ok(Payload::Json(v)) => out.push(v),
            Ok(Payload::Bytes(_)) => unreachable!("JSON decodes to a value"),
            Err(why) => {
                return Err(Failure::new(
                    Some("SSE-JSON-ARRAY"),
                    format!("JSON stream data event is {why}"),
                ))
            }
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(values: &[&str]) -> Vec<SseEvent> {
        values
            .iter()
            .map(|d| SseEvent {
                event: "data".into(),
                data: d.to_string(),
            })
            .collect()
    }

    #[test]
    fn json_events_may_be_batches_or_single_messages() {
        let expected = [
            json!({"a": 1}),
            json!({"b": 2}),
            json!([3, 4]),
            json!("five"),
        ];
        let batched = data(&[r#"[{"a":1}]"#, r#"[{"b":2},[3,4],"five"]"#]);
        let one_each = data(&[r#"{"a":1}"#, r#"{"b":2}"#, "[3,4]", r#""five""#]);
        let mixed = data(&[r#"{"a":1}"#, r#"[{"b":2},[3,4]]"#, r#""five""#]);
        for events in [&batched, &one_each, &mixed] {
            assert!(json_events_match(events, &expected).unwrap(), "{events:?}");
        }
        // [3,4] read as a batch of two is not the array-valued message,
        // and a lost or reordered message is caught either way.
        for wrong in [
            data(&[r#"[{"a":1},{"b":2},3,4,"five"]"#]),
            data(&[r#"{"a":1}"#, "[3,4]", r#"{"b":2}"#, r#""five""#]),
            data(&[r#"[{"a":1},{"b":2},[3,4]]"#]),
        ] {
            assert!(!json_events_match(&wrong, &expected).unwrap(), "{wrong:?}");
        }
        assert_eq!(
            json_messages(&one_each[..2]).unwrap(),
            vec![json!({"a": 1}), json!({"b": 2})]
        );
        assert!(json_events_match(&data(&["not json"]), &expected).is_err());
    }
}
