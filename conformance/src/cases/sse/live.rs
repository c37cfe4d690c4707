//! §5.8 live behaviour: delivery of appends to a connected reader, closure
//! (final control, then the server closes), `offset=now` (§8), and
//! reconnecting from a control event's `streamNextOffset`.

use super::{
    catch_up, decode_events, flag, last_control, next_offset, read_bytes, Encoding, PROMPT,
};
use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, close, create_with};
use crate::client::Ctx;
use crate::sse::SseSession;
use crate::{check, check_eq, fail};

/// The session ends with a control event saying `streamClosed: true`
/// (with `final_offset`) and the server closes the connection.
async fn expect_eof(s: &mut SseSession, final_offset: &str) -> CaseResult {
    // A long history may still be arriving on a loaded machine: the last
    // event is judged once the connection ended, a streamClosed control
    // arrived, or no new data event came for PROMPT. While new data events
    // keep coming (up to 6 x PROMPT in all, well inside the case's budget) the
    // history is still being delivered: no verdict. (Each read below stops
    // at STEP of silence, or 4 x STEP while events arrive.)
    const STEP: std::time::Duration = std::time::Duration::from_secs(1);
    let judging = 6 * PROMPT;
    let saw_closed = |s: &SseSession| {
        s.events
            .iter()
            .any(|e| e.control().is_some_and(|c| flag(&c, "streamClosed")))
    };
    let started = std::time::Instant::now();
    let mut seen = s.data_events().len();
    let mut quiet_since = std::time::Instant::now();
    let mut closed;
    let settled = loop {
        closed = s.wait_closed(STEP).await;
        if closed || saw_closed(s) {
            break true;
        }
        let data = s.data_events().len();
        if data != seen {
            seen = data;
            quiet_since = std::time::Instant::now();
        } else if quiet_since.elapsed() >= PROMPT {
            break true;
        }
        if started.elapsed() >= judging {
            break false;
        }
    };
    if !settled {
        return Err(crate::case::Failure::inconclusive(
            "SSE-CLOSED-CONTROL",
            format!(
                "events of the closed stream were still arriving after {} s ({} so far); the final control event could not be judged",
                judging.as_secs(),
                s.events.len()
            ),
        ));
    }
    if !closed {
        // The server has PROMPT to close the connection after its last event.
        closed = s.wait_closed(PROMPT).await;
    }
    // The streamClosed control is the final event: nothing may follow it
    // (a server flagging every control of a closed stream sends data after).
    if let Some(i) = s
        .events
        .iter()
        .position(|e| e.control().is_some_and(|c| flag(&c, "streamClosed")))
    {
        check!(
            i + 1 == s.events.len(),
            "SSE-CLOSE-CONNECTION",
            "{} event(s) followed the control event with streamClosed: true (event #{i}); the first: {:?}",
            s.events.len() - i - 1,
            s.events[i + 1]
        );
    }
    let last = s.events.last().cloned();
    let Some(c) = last.as_ref().and_then(|e| e.control()) else {
        fail!(
            "SSE-CLOSED-CONTROL",
            "the last event on a closed stream is not a control event: {last:?}"
        );
    };
    check!(
        flag(&c, "streamClosed"),
        "SSE-CLOSED-CONTROL",
        "the final control event lacks streamClosed: true: {}",
        serde_json::Value::Object(c.clone())
    );
    check_eq!(
        next_offset(&c)?,
        final_offset,
        "SSE-CLOSED-CONTROL",
        "streamNextOffset of the final control event"
    );
    check!(
        closed,
        "SSE-CLOSE-CONNECTION",
        "the server kept the SSE connection open {} s after the streamClosed control event",
        PROMPT.as_secs()
    );
    Ok(())
}

/// A reader that has caught up receives a later append as a data event
/// followed by a control event with the new tail, `upToDate: true` and a
/// `streamCursor`.
#[case(
    "SSE-LIVE",
    "SSE-CONTROL-AFTER-DATA",
    "SSE-CONTROL-OFFSET",
    "SSE-CONTROL-UP-TO-DATE",
    "SSE-CONTROL-CURSOR"
)]
pub async fn append_delivered(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "history\n", "SSE-LIVE").await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-LIVE")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let tail = append(&ctx, "s", "text/plain", "live line\n\n", "SSE-LIVE").await?;
    let expected = "history\nlive line\n\n";
    let arrived = read_bytes(&mut s, Encoding::Text, expected.len()).await;
    let got = decode_events(&s.events, Encoding::Text)?;
    check!(
        arrived,
        "SSE-LIVE",
        "the append was not delivered within {} s (received {:?})",
        PROMPT.as_secs(),
        String::from_utf8_lossy(&got)
    );
    check_eq!(
        String::from_utf8_lossy(&got),
        expected,
        "SSE-LIVE",
        "history plus live data"
    );
    let c = last_control(&s).expect("read_bytes ends on a control");
    check_eq!(
        next_offset(&c)?,
        tail,
        "SSE-CONTROL-OFFSET",
        "streamNextOffset after the live data"
    );
    // Caught up again after the live data: the control says so (not only
    // the first control of the connection), with a cursor (stream open).
    check!(
        flag(&c, "upToDate"),
        "SSE-CONTROL-UP-TO-DATE",
        "the control event after the live data (all there is) lacks upToDate: true: {}",
        serde_json::Value::Object(c.clone())
    );
    check!(
        matches!(c.get("streamCursor"), Some(serde_json::Value::String(_))),
        "SSE-CONTROL-CURSOR",
        "the control event after the live data (stream open) lacks a string streamCursor: {}",
        serde_json::Value::Object(c.clone())
    );
    Ok(())
}

/// Live delivery on a binary stream: base64 data events that decode to
/// the appended bytes.
#[case("SSE-LIVE", "SSE-BINARY-EXACT")]
pub async fn binary_append_delivered(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    create_with(&ctx, "s", ct, vec![0u8, 1, 2], "SSE-LIVE").await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-LIVE")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let live: Vec<u8> = (0..=255u8).rev().collect();
    append(&ctx, "s", ct, live.clone(), "SSE-LIVE").await?;
    let arrived = read_bytes(&mut s, Encoding::Base64, 3 + live.len()).await;
    check!(
        arrived,
        "SSE-LIVE",
        "the binary append was not delivered within {} s",
        PROMPT.as_secs()
    );
    let got = decode_events(&s.events, Encoding::Base64)?;
    check!(
        got == [vec![0u8, 1, 2], live].concat(),
        "SSE-BINARY-EXACT",
        "decoded live binary data differs: {got:?}"
    );
    Ok(())
}

/// Closing the stream while a reader is connected: a final control event
/// with `streamClosed: true`, then the server closes the connection.
#[case("SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION")]
pub async fn close_ends_connection(ctx: Ctx) -> CaseResult {
    create_with(
        &ctx,
        "s",
        "text/plain",
        "before close",
        "SSE-CLOSED-CONTROL",
    )
    .await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-CLOSED-CONTROL")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let tail = close(&ctx, "s", "SSE-CLOSED-CONTROL").await?;
    expect_eof(&mut s, &tail).await
}

/// SSE on an already closed stream from the start: the data, a final
/// control with `streamClosed: true` (on no earlier control), then the
/// connection closes.
#[case("SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION", "SSE-TEXT-EXACT")]
pub async fn closed_stream_from_start(ctx: Ctx) -> CaseResult {
    // Large enough to span several events on a server with smallish chunks,
    // so the controls before the last one are seen too.
    let history = "all the lines\n".repeat(24 * 1024);
    create_with(
        &ctx,
        "s",
        "text/plain",
        history.clone(),
        "SSE-CLOSED-CONTROL",
    )
    .await?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .closed()
        .body("data")
        .send()
        .await?;
    r.expect_any(&[200, 204], "SSE-CLOSED-CONTROL")?;
    let tail = r.next_offset("SSE-CLOSED-CONTROL")?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-CLOSED-CONTROL")?;
    expect_eof(&mut s, &tail).await?;
    let got = decode_events(&s.events, Encoding::Text)?;
    check!(
        String::from_utf8_lossy(&got) == format!("{history}data"),
        "SSE-TEXT-EXACT",
        "data of the closed stream: {} bytes arrived, {} expected",
        got.len(),
        history.len() + 4
    );
    Ok(())
}

/// Connecting at the tail of a closed stream: at once a control event with
/// `streamClosed` and `upToDate`, no data, then the connection closes.
#[case("SSE-CLOSED-AT-TAIL")]
pub async fn closed_at_tail_at_once(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "finished", "SSE-CLOSED-AT-TAIL").await?;
    let tail = close(&ctx, "s", "SSE-CLOSED-AT-TAIL").await?;
    let s = ctx.get("s").offset(&tail).live("sse").sse().await?;
    closed_tail_session(s, &tail).await
}

/// `offset=now` on a closed stream behaves as connecting at its tail.
#[case("SSE-CLOSED-AT-TAIL", "SSE-NOW")]
pub async fn now_on_closed_stream(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "finished", "SSE-CLOSED-AT-TAIL").await?;
    let tail = close(&ctx, "s", "SSE-CLOSED-AT-TAIL").await?;
    let s = ctx.get("s").offset("now").live("sse").sse().await?;
    closed_tail_session(s, &tail).await
}

async fn closed_tail_session(mut s: SseSession, tail: &str) -> CaseResult {
    s.expect(200, "SSE-CLOSED-AT-TAIL")?;
    let closed = s.wait_closed(PROMPT).await;
    check!(
        s.data_events().is_empty(),
        "SSE-CLOSED-AT-TAIL",
        "data events at the tail of a closed stream: {:?}",
        s.data_events()
    );
    let Some(c) = s.events.first().and_then(|e| e.control()) else {
        fail!(
            "SSE-CLOSED-AT-TAIL",
            "first event is not a control event: {:?}",
            s.events.first()
        );
    };
    check!(
        flag(&c, "streamClosed") && flag(&c, "upToDate"),
        "SSE-CLOSED-AT-TAIL",
        "the control event at the tail of a closed stream must say streamClosed: true and upToDate: true: {}",
        serde_json::Value::Object(c.clone())
    );
    check_eq!(
        next_offset(&c)?,
        tail,
        "SSE-CLOSED-AT-TAIL",
        "streamNextOffset at the closed tail"
    );
    check!(
        closed,
        "SSE-CLOSED-AT-TAIL",
        "the server did not close the connection within {} s",
        PROMPT.as_secs()
    );
    Ok(())
}

/// `offset=now`: the first control event has the tail offset and
/// `upToDate: true`, no historical data comes, later appends do.
#[case("SSE-NOW", "SSE-LIVE")]
pub async fn now_skips_history(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "old history", "SSE-NOW").await?;
    let tail = append(&ctx, "s", "text/plain", " and more", "SSE-NOW").await?;
    let mut s = ctx.get("s").offset("now").live("sse").sse().await?;
    s.expect(200, "SSE-NOW")?;
    s.read_until(PROMPT, |evs| evs.iter().any(|e| e.event == "control"))
        .await;
    // The first control event; any data event before it carries nothing
    // (an empty batch is no history, as for an empty stream).
    let Some(at) = s.events.iter().position(|e| e.event == "control") else {
        fail!(
            "SSE-NOW",
            "no control event within {} s of connecting with offset=now (events: {:?})",
            PROMPT.as_secs(),
            s.events
        );
    };
    let before = decode_events(&s.events[..at], Encoding::Text)?;
    check!(
        before.is_empty(),
        "SSE-NOW",
        "offset=now sent historical data before its first control event: {:?}",
        String::from_utf8_lossy(&before)
    );
    let first = s.events[at].clone();
    let Some(c) = first.control() else {
        fail!(
            "SSE-NOW",
            "first control event of an offset=now session is not a JSON object: {first:?}"
        );
    };
    check_eq!(
        next_offset(&c)?,
        tail,
        "SSE-NOW",
        "streamNextOffset of the first control event"
    );
    check!(
        flag(&c, "upToDate"),
        "SSE-NOW",
        "first control event of offset=now lacks upToDate: true"
    );
    append(&ctx, "s", "text/plain", "new", "SSE-LIVE").await?;
    let arrived = read_bytes(&mut s, Encoding::Text, 3).await;
    let got = decode_events(&s.events, Encoding::Text)?;
    check!(
        arrived,
        "SSE-LIVE",
        "the append after connecting with offset=now was not delivered within {} s",
        PROMPT.as_secs()
    );
    check_eq!(
        String::from_utf8_lossy(&got),
        "new",
        "SSE-NOW",
        "data delivered after offset=now (no history)"
    );
    Ok(())
}

/// Reconnecting from any control event's `streamNextOffset` continues
/// exactly where that control event stood: no gap, no duplicate.
#[case("SSE-RESUME")]
pub async fn resume_from_control_offsets(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "one\n", "SSE-RESUME").await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-RESUME")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let mut full = "one\n".to_string();
    for p in ["two\n", "three\n"] {
        append(&ctx, "s", "text/plain", p, "SSE-RESUME").await?;
        full.push_str(p);
        check!(
            read_bytes(&mut s, Encoding::Text, full.len()).await,
            "SSE-LIVE",
            "append {p:?} was not delivered within {} s",
            PROMPT.as_secs()
        );
    }
    // Where each control event stood: its offset and the bytes before it.
    let mut points = Vec::new();
    let mut seen = 0usize;
    for e in &s.events {
        if e.event == "data" {
            seen += e.data.len();
        } else if let Some(c) = e.control() {
            let o = next_offset(&c)?;
            if points
                .last()
                .map(|(p, _): &(String, usize)| p != &o)
                .unwrap_or(true)
            {
                points.push((o, seen));
            }
        }
    }
    drop(s);
    append(&ctx, "s", "text/plain", "four\n", "SSE-RESUME").await?;
    full.push_str("four\n");
    for (offset, before) in points {
        let mut r = ctx.get("s").offset(&offset).live("sse").sse().await?;
        r.expect(200, "SSE-RESUME")?;
        catch_up(&mut r, "SSE-RESUME").await?;
        let got = decode_events(&r.events, Encoding::Text)?;
        check_eq!(
            String::from_utf8_lossy(&got),
            full[before..],
            "SSE-RESUME",
            "data after reconnecting at streamNextOffset {offset:?}"
        );
    }
    Ok(())
}

/// A reader at the tail when a final append closes the stream gets that
/// data, then the control event with `streamClosed: true`, then EOF.
#[case("SSE-LIVE", "SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION")]
pub async fn final_append_on_close(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "start|", "SSE-LIVE").await?;
    let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
    s.expect(200, "SSE-LIVE")?;
    catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
    let r = ctx
        .post("s")
        .ct("text/plain")
        .closed()
        .body("last")
        .send()
        .await?;
    r.expect_any(&[200, 204], "SSE-CLOSED-CONTROL")?;
    let tail = r.next_offset("SSE-CLOSED-CONTROL")?;
    expect_eof(&mut s, &tail).await?;
    let got = decode_events(&s.events, Encoding::Text)?;
    check_eq!(
        String::from_utf8_lossy(&got),
        "start|last",
        "SSE-LIVE",
        "data including the final append"
    );
    Ok(())
}

/// Several readers connected to one stream each receive an append.
#[case("SSE-LIVE")]
pub async fn every_reader_receives(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "h|", "SSE-LIVE").await?;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut s = ctx.get("s").offset("-1").live("sse").sse().await?;
        s.expect(200, "SSE-LIVE")?;
        catch_up(&mut s, "SSE-CONTROL-UP-TO-DATE").await?;
        readers.push(s);
    }
    append(&ctx, "s", "text/plain", "shared", "SSE-LIVE").await?;
    for (i, s) in readers.iter_mut().enumerate() {
        read_bytes(s, Encoding::Text, "h|shared".len()).await;
        let got = decode_events(&s.events, Encoding::Text)?;
        check_eq!(
            String::from_utf8_lossy(&got),
            "h|shared",
            "SSE-LIVE",
            "data seen by reader #{i} of 3"
        );
    }
    Ok(())
}

register![
    final_append_on_close,
    every_reader_receives,
    append_delivered,
    binary_append_delivered,
    close_ends_connection,
    closed_stream_from_start,
    closed_at_tail_at_once,
    now_skips_history,
    now_on_closed_stream,
    resume_from_control_offsets,
];
