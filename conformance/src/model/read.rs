//! Checking reads (§5.6 catch-up, §5.7 long-poll, §5.8 SSE, §9.1 JSON):
//! whatever chunking the server chose, the data from a start position is
//! exactly the stream's suffix, offsets name the positions reached, and
//! up-to-date / closed signals appear where the spec demands.

use serde_json::Value;

use crate::sse::{Encoding, Payload};

use super::op::{Kind, Path};
use super::stream::{Data, Stream};
use super::{
    expect_flag, expect_media, require, status_in, Mode, Model, Obs, Outcome, ReadPlan, Slot,
    SseObs, Violation,
};

/// Decode one response body of a stream of `kind` into data.
fn decode(kind: Kind, body: &[u8], what: &str) -> Result<Data, Violation> {
    match kind {
        Kind::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) => Ok(Data::Json(items)),
            Ok(other) => Err(Violation::new(
                "PROP-JSON-MODE",
                format!("{what}: JSON read returned {other}, not an array of messages"),
            )),
            Err(e) => Err(Violation::new(
                "PROP-JSON-MODE",
                format!(
                    "{what}: JSON read body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(body)
                ),
            )),
        },
        _ => Ok(Data::Bytes(body.to_vec())),
    }
}

/// `got` must be exactly the stream's data at `pos`.
fn same_slice(
    s: &Stream,
    pos: usize,
    got: &Data,
    req: &'static str,
    what: &str,
) -> Result<(), Violation> {
    let want = s.data.suffix(pos).prefix(got.len());
    if &want != got || pos + got.len() > s.tail() {
        return Err(Violation::new(
            req,
            format!(
                "{what}: data at position {pos} is {}, the acknowledged writes say {}",
                got.show(),
                s.data.suffix(pos).show()
            ),
        ));
    }
    Ok(())
}

impl Model {
    pub(super) fn check_read(
        &mut self,
        path: Path,
        rp: &ReadPlan,
        outcome: &Outcome,
        what: &str,
    ) -> Result<(), Violation> {
        let first = match outcome {
            Outcome::One(o) => o.status,
            Outcome::Chunks(v) => v.first().map_or(0, |o| o.status),
            Outcome::Sse(s) => s.status,
        };
        let Some(s) = self.live_or_gone(path, first, "PROP-READ-CONTENT", what)? else {
            return Ok(());
        };
        let req = if s.fork.is_some() {
            "PROP-FORK-READ"
        } else {
            "PROP-READ-CONTENT"
        };
        let mut s = s;
        let r = match outcome {
            Outcome::One(o) => check_chunks(&mut s, rp, std::slice::from_ref(o), req, what),
            Outcome::Chunks(v) => check_chunks(&mut s, rp, v, req, what),
            Outcome::Sse(o) => check_sse(&mut s, rp, o, req, what),
        };
        // Offsets learned during the read stay known even when it failed.
        self.slots.insert(path, Slot::Live(s));
        r
    }
}

fn check_chunks(
    s: &mut Stream,
    rp: &ReadPlan,
    chunks: &[Obs],
    req: &'static str,
    what: &str,
) -> Result<(), Violation> {
    let live = "PROP-LIVE-IMMEDIATE";
    let mut pos = rp.start;
    for (i, obs) in chunks.iter().enumerate() {
        let long_poll = i == 0 && rp.mode == Mode::LongPoll;
        let what = format!("{what} (response {} of the read)", i + 1);
        let what = what.as_str();
        if long_poll && obs.status == 204 {
            if !(pos == s.tail() && s.closed) {
                return Err(Violation::new(
                    live,
                    format!("{what}: long-poll answered 204 although data at position {pos} exists (tail {})", s.tail()),
                ));
            }
            expect_flag(obs, "stream-closed", true, live, what)?;
            expect_flag(obs, "stream-up-to-date", true, live, what)?;
            let tok = require(obs, "stream-next-offset", live, what)?.to_string();
            return s.learn(pos, &tok, what);
        }
        status_in(obs.status, &[200], if long_poll { live } else { req }, what)?;
        expect_media(obs, s.kind, req, what)?;
        let tok = require(obs, "stream-next-offset", req, what)?.to_string();
        let got = decode(s.kind, &obs.body, what)?;
        if rp.token == "now" && i == 0 && !got.is_empty() {
            return Err(Violation::new(
                req,
                format!("{what}: offset=now returned data {}", got.show()),
            ));
        }
        same_slice(s, pos, &got, req, what)?;
        pos += got.len();
        s.learn(pos, &tok, what)?;
        if long_poll {
            // §5.6/§5.7: required for live modes, but servers MAY omit it
            // when the response carries Stream-Closed: true.
            if !obs.flag("stream-closed") {
                require(obs, "stream-cursor", live, what)?;
            }
            // `-1` on an empty closed stream: 204 is what §5.7 asks for at
            // the tail; an empty 200 carrying the EOF signal is tolerated
            // for the sentinel (it reads as catch-up from the beginning).
            let sentinel_eof = rp.token == "-1" && s.closed && s.tail() == 0;
            if got.is_empty() && !(sentinel_eof && obs.flag("stream-up-to-date")) {
                return Err(Violation::new(
                    live,
                    format!("{what}: long-poll 200 with no data"),
                ));
            }
        }
        if obs.flag("stream-up-to-date") {
            if pos != s.tail() {
                return Err(Violation::new(
                    req,
                    format!(
                        "{what}: Stream-Up-To-Date at position {pos} but data up to {} was acknowledged: missing {}",
                        s.tail(),
                        s.data.suffix(pos).show()
                    ),
                ));
            }
            return expect_flag(obs, "stream-closed", s.closed, req, what);
        }
        if pos == s.tail() {
            return Err(Violation::new(
                req,
                format!("{what}: response reaches the tail but lacks Stream-Up-To-Date: true"),
            ));
        }
        if got.is_empty() {
            return Err(Violation::new(
                req,
                format!("{what}: empty chunk without Stream-Up-To-Date (a reader would loop)"),
            ));
        }
    }
    Err(Violation::new(
        req,
        format!("{what}: reading from position {} never reached Stream-Up-To-Date (stopped at {pos} of {})", rp.start, s.tail()),
    ))
}

fn check_sse(
    s: &mut Stream,
    rp: &ReadPlan,
    o: &SseObs,
    req: &'static str,
    what: &str,
) -> Result<(), Violation> {
    let live = "PROP-SSE-IMMEDIATE";
    status_in(o.status, &[200], live, what)?;
    let ct = o.headers.get("content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if ct.as_deref() != Some("text/event-stream") {
        return Err(Violation::new(
            live,
            format!("{what}: SSE Content-Type {ct:?}"),
        ));
    }
    if s.kind == Kind::Bytes
        && o.headers
            .get("stream-sse-data-encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
            != Some("base64")
    {
        return Err(Violation::new(
            live,
            format!("{what}: binary stream over SSE without stream-sse-data-encoding: base64"),
        ));
    }
    let mut pos = rp.start;
    for (event, data) in &o.events {
        match event.as_str() {
            "data" => {
                let encoding = match s.kind {
                    Kind::Bytes => Encoding::Base64,
                    Kind::Text => Encoding::Text,
                    Kind::Json => Encoding::Json,
                };
                let got = match crate::sse::decode_data(data, encoding) {
                    Ok(Payload::Bytes(b)) => Data::Bytes(b),
                    // §5.8: a JSON data event MAY batch messages as an
                    // array, so an array event is either a batch or one
                    // message that is itself an array (a server that does
                    // not batch).
                    Ok(Payload::Json(Value::Array(items))) => {
                        let batch = Data::Json(items.clone());
                        let whole = Data::Json(vec![Value::Array(items)]);
                        if same_slice(s, pos, &batch, req, what).is_err()
                            && s.data.suffix(pos).prefix(1) == whole
                        {
                            whole
                        } else {
                            batch
                        }
                    }
                    Ok(Payload::Json(v)) => Data::Json(vec![v]),
                    Err(why) => {
                        let req = if s.kind == Kind::Json {
                            "PROP-JSON-MODE"
                        } else {
                            live
                        };
                        return Err(Violation::new(
                            req,
                            format!("{what}: SSE data event is {why}"),
                        ));
                    }
                };
                if rp.token == "now" && !got.is_empty() {
                    return Err(Violation::new(
                        req,
                        format!("{what}: SSE from now sent existing data {}", got.show()),
                    ));
                }
                same_slice(s, pos, &got, req, what)?;
                pos += got.len();
            }
            "control" => {
                let Ok(Value::Object(c)) = serde_json::from_str::<Value>(data) else {
                    return Err(Violation::new(
                        live,
                        format!("{what}: control event is not a JSON object: {data:?}"),
                    ));
                };
                let Some(tok) = c.get("streamNextOffset").and_then(Value::as_str) else {
                    return Err(Violation::new(
                        live,
                        format!("{what}: control event lacks streamNextOffset: {data}"),
                    ));
                };
                s.learn(pos, tok, what)?;
                let closed = c.get("streamClosed") == Some(&Value::Bool(true));
                let up = c.get("upToDate") == Some(&Value::Bool(true)) || closed;
                if !closed && c.get("streamCursor").and_then(Value::as_str).is_none() {
                    return Err(Violation::new(
                        live,
                        format!(
                            "{what}: control event of an open stream lacks streamCursor: {data}"
                        ),
                    ));
                }
                if closed && !s.closed {
                    return Err(Violation::new(
                        req,
                        format!("{what}: streamClosed on an open stream"),
                    ));
                }
                if up {
                    if pos != s.tail() {
                        return Err(Violation::new(
                            req,
                            format!(
                                "{what}: SSE up to date at position {pos}, missing {}",
                                s.data.suffix(pos).show()
                            ),
                        ));
                    }
                    if s.closed && !closed {
                        return Err(Violation::new(
                            live,
                            format!("{what}: SSE reached the tail of a closed stream without streamClosed: {data}"),
                        ));
                    }
                    if closed && !o.ended {
                        return Err(Violation::new(
                            live,
                            format!("{what}: SSE connection stayed open after streamClosed"),
                        ));
                    }
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    Err(Violation::new(
        live,
        format!("{what}: SSE from position {} never reported upToDate/streamClosed (reached {pos} of {})", rp.start, s.tail()),
    ))
}
