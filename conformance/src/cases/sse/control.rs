//! §5.8 control events: one after every data event, with
//! `streamNextOffset`, `streamCursor` while open, `upToDate` when caught
//! up; §10.1 cursor rules for SSE.

use super::{catch_up, flag, last_control, next_offset, read_bytes, Encoding};
use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create, create_with};
use crate::client::Ctx;
use crate::{check, check_eq, fail};

/// Every data event is followed by a control event with a
/// `streamNextOffset` (and, the stream being open, a `streamCursor`), both
/// for history and for live appends.
#[case("SSE-CONTROL-AFTER-DATA", "SSE-CONTROL-OFFSET", "SSE-CONTROL-CURSOR")]
pub async fn after_every_data_event(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "SSE-CONTROL-AFTER-DATA").await?;
    for p in ["a\n", "b\n", "c\n"] {
        append(&ctx, "s", "text/plain", p, "SSE-CONTROL-AFTER-DATA").await?;
    }
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-CONTROL-AFTER-DATA")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    for p in ["d\n", "e\n"] {
        append(&ctx, "s", "text/plain", p, "SSE-CONTROL-AFTER-DATA").await?;
    }
    let total = "a\nb\nc\nd\ne\n".len();
    read_bytes(&mut s, Encoding::Text, total).await;
    let events = &s.events;
    check!(
        events.iter().any(|e| e.event == "data"),
        "SSE-CONTROL-AFTER-DATA",
        "no data event at all"
    );
    let mut last_offset: Option<String> = None;
    for (i, e) in events.iter().enumerate() {
        if e.event != "data" {
            continue;
        }
        match events.get(i + 1) {
            Some(next) if next.event == "control" => {
                let c = next.control().ok_or_else(|| {
                    crate::case::Failure::new(
                        Some("SSE-CONTROL-OFFSET"),
                        format!("control event data is not a JSON object: {:?}", next.data),
                    )
                })?;
                let o = next_offset(&c)?;
                check!(
                    matches!(c.get("streamCursor"), Some(serde_json::Value::String(_))),
                    "SSE-CONTROL-CURSOR",
                    "the control event after data event #{i} (stream open) lacks a string streamCursor: {}",
                    next.data
                );
                if let Some(prev) = &last_offset {
                    check!(
                        o.as_str() > prev.as_str(),
                        "SSE-CONTROL-OFFSET",
                        "streamNextOffset {o:?} after data event #{i} does not sort after the previous one {prev:?}"
                    );
                }
                last_offset = Some(o);
            }
            Some(next) => fail!(
                "SSE-CONTROL-AFTER-DATA",
                "data event #{i} is followed by a {:?} event, not a control event",
                next.event
            ),
            None => fail!(
                "SSE-CONTROL-AFTER-DATA",
                "data event #{i} (the last event within {} s) has no control event after it",
                super::PROMPT.as_secs()
            ),
        }
    }
    Ok(())
}

/// Caught up on an open stream, the control event has the tail offset,
/// `upToDate: true` and a decimal `streamCursor`.
#[case(
    "SSE-CONTROL-OFFSET",
    "SSE-CONTROL-CURSOR",
    "SSE-CONTROL-UP-TO-DATE",
    "CURSOR-DECIMAL"
)]
pub async fn fields_when_caught_up(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "SSE-CONTROL-OFFSET").await?;
    let tail = append(&ctx, "s", "text/plain", "y", "SSE-CONTROL-OFFSET").await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-CONTROL-OFFSET")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let controls = s.controls();
    check!(
        !controls.is_empty(),
        "SSE-CONTROL-OFFSET",
        "no control event"
    );
    for c in &controls {
        next_offset(c)?;
        match c.get("streamCursor") {
            Some(serde_json::Value::String(v)) => {
                crate::cases::longpoll::parse_cursor(v)?;
            }
            other => fail!(
                "SSE-CONTROL-CURSOR",
                "control event on an open stream has streamCursor {other:?}, expected a string"
            ),
        }
    }
    let last = last_control(&s).expect("controls is not empty");
    check!(
        flag(&last, "upToDate"),
        "SSE-CONTROL-UP-TO-DATE",
        "the control event after all data lacks upToDate: true"
    );
    check_eq!(
        next_offset(&last)?,
        tail,
        "SSE-CONTROL-OFFSET",
        "streamNextOffset when caught up vs the last append's offset"
    );
    check!(
        !flag(&last, "streamClosed"),
        "SSE-CONTROL-OFFSET",
        "control event of an open stream says streamClosed: true"
    );
    Ok(())
}

/// An SSE request echoing the current cursor gets control events with a
/// strictly greater `streamCursor`.
#[case("CURSOR-ADVANCE")]
pub async fn echoed_cursor_advances(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CURSOR-ADVANCE").await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "CURSOR-ADVANCE")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let first = cursor(&last_control(&s).expect("caught up"))?;
    drop(s);
    let mut s = ctx
        .get("s")
        .offset("-1")
        .live("sse")
        .cursor(first.to_string())
        .sse()
        .await?;
    s.expect(200, "CURSOR-ADVANCE")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let got = cursor(&last_control(&s).expect("caught up"))?;
    check!(
        got > first,
        "CURSOR-ADVANCE",
        "SSE echoing cursor {first} returned streamCursor {got}, not strictly greater"
    );
    Ok(())
}

fn cursor(c: &serde_json::Map<String, serde_json::Value>) -> Result<u128, crate::case::Failure> {
    match c.get("streamCursor") {
        Some(serde_json::Value::String(v)) => crate::cases::longpoll::parse_cursor(v),
        other => fail!(
            "SSE-CONTROL-CURSOR",
            "control event on an open stream has streamCursor {other:?}"
        ),
    }
}

/// An empty stream read from `-1` (text and binary): no data event, a
/// control event with the create's offset and `upToDate: true`.
#[case("SSE-CONTROL-UP-TO-DATE", "SSE-CONTROL-OFFSET")]
pub async fn empty_stream_caught_up(ctx: Ctx) -> CaseResult {
    for (name, ct) in [("t", "text/plain"), ("b", "application/octet-stream")] {
        let tail = create(&ctx, name, ct, "SSE-CONTROL-UP-TO-DATE")
            .await?
            .next_offset("SSE-CONTROL-OFFSET")?;
        let mut s = ctx.get(name).offset("-1").live("sse").sse().await?;
        s.expect(200, "SSE-CONTROL-UP-TO-DATE")?;
        catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
        check!(
            s.data_events().iter().all(|e| e.data.is_empty()),
            "SSE-CONTROL-UP-TO-DATE",
            "{ct} empty stream sent data: {:?}",
            s.data_events()
        );
        let c = last_control(&s).expect("caught up");
        check_eq!(
            next_offset(&c)?,
            tail,
            "SSE-CONTROL-OFFSET",
            "streamNextOffset of an empty {ct} stream"
        );
    }
    Ok(())
}

register![
    after_every_data_event,
    fields_when_caught_up,
    echoed_cursor_advances,
    empty_stream_caught_up,
];
