//! The clients of a crash round and what they remember: writers (plain,
//! `Stream-Seq`, idempotent producers with pipelining), readers, and the
//! checks of a stream's content against what the clients were told.
//!
//! Every append carries a self-describing record: `[tag.i.pad]` on byte
//! streams, messages `{"t":tag,"i":i,"k":k,"n":n,"p":pad}` (a batch of `n`)
//! on JSON streams. So the checker can tell whose append each byte is, spot
//! one stored twice or torn, and compare it with exactly what was sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::history::{Event, History, Violation};
use crate::case::Failure;
use crate::client::{Ctx, Req, Resp};

/// Per-request budget while the target is up: an answer this late is
/// treated like a lost one (the client gives up and retries later).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What all clients of a case share: the context they send through (its
/// transcript is not the case's: the case notes only the excerpt that
/// explains a failure), the history, and the round's stop signal.
pub struct Load {
    pub ctx: Ctx,
    pub hist: History,
    pub round: AtomicU32,
    stop: AtomicBool,
    acks: AtomicU64,
    pub seed: u64,
}

impl Load {
    pub fn new(ctx: &Ctx) -> Arc<Load> {
        Arc::new(Load {
            ctx: Ctx::new(ctx.session(), ctx.case_id()),
            hist: History::default(),
            round: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            acks: AtomicU64::new(0),
            seed: ctx.run().seed ^ crate::runner::stable_hash(ctx.case_id()),
        })
    }
    pub fn round(&self) -> u32 {
        self.round.load(Ordering::SeqCst)
    }
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    pub fn set_stopped(&self, v: bool) {
        self.stop.store(v, Ordering::SeqCst);
    }
    /// Appends acknowledged so far (the kill may be timed on them).
    pub fn acks(&self) -> u64 {
        self.acks.load(Ordering::SeqCst)
    }
    /// A seeded RNG for one purpose in one round.
    pub fn rng(&self, purpose: &str) -> StdRng {
        StdRng::seed_from_u64(
            self.seed ^ crate::runner::stable_hash(purpose) ^ (self.round() as u64) << 48,
        )
    }

    /// Send `req`, record it in the history; `None` when no answer came
    /// (the target died under it, or it took longer than 10 s).
    pub async fn send(&self, client: &str, stream: &str, what: String, req: Req) -> Option<Resp> {
        let sent_ms = self.hist.now_ms();
        let result = req.timeout(REQUEST_TIMEOUT).send().await;
        let done_ms = self.hist.now_ms();
        let outcome = match &result {
            Ok(r) => {
                if r.status < 300 {
                    self.acks.fetch_add(1, Ordering::SeqCst);
                }
                let mut o = r.status.to_string();
                for h in [
                    "stream-next-offset",
                    "stream-closed",
                    "producer-seq",
                    "producer-expected-seq",
                ] {
                    if let Some(v) = r.header(h) {
                        o.push_str(&format!(" {h}={v}"));
                    }
                }
                o
            }
            Err(e) => format!("NO ANSWER ({})", first_line(&e.message)),
        };
        self.hist.push(Event {
            round: self.round(),
            sent_ms,
            done_ms,
            client: client.to_string(),
            stream: stream.to_string(),
            what,
            outcome,
        });
        result.ok()
    }

    /// A checker's read from `offset` to the tail, recorded in the history.
    pub async fn read(
        &self,
        stream: &str,
        offset: &str,
        json: bool,
        req: &str,
    ) -> Result<Content, Failure> {
        let sent_ms = self.hist.now_ms();
        let r = self.ctx.read_all(stream, offset, req).await;
        let outcome = match &r {
            Ok(all) => format!(
                "{} bytes, {} messages, tail {}{}",
                all.bytes.len(),
                all.messages.len(),
                all.tail().unwrap_or("?"),
                if all.closed { ", closed" } else { "" }
            ),
            Err(f) => format!("FAILED ({})", first_line(&f.message)),
        };
        self.hist.push(Event {
            round: self.round(),
            sent_ms,
            done_ms: self.hist.now_ms(),
            client: "checker".into(),
            stream: stream.to_string(),
            what: format!("GET offset={offset} (read to the tail)"),
            outcome,
        });
        let all = r?;
        Ok(Content {
            data: if json {
                Data::Msgs(all.messages)
            } else {
                Data::Bytes(all.bytes)
            },
            tail: all.offsets.last().cloned().unwrap_or_default(),
            closed: all.closed,
        })
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A stream's data: bytes, or JSON messages (§9.1).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Bytes(Vec<u8>),
    Msgs(Vec<Value>),
}

impl Data {
    pub fn empty(json: bool) -> Data {
        if json {
            Data::Msgs(Vec::new())
        } else {
            Data::Bytes(Vec::new())
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Data::Bytes(b) => b.len(),
            Data::Msgs(m) => m.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The data from position `from` on (bytes or messages).
    pub fn tail_from(&self, from: usize) -> Data {
        match self {
            Data::Bytes(b) => Data::Bytes(b.get(from..).unwrap_or_default().to_vec()),
            Data::Msgs(m) => Data::Msgs(m.get(from..).unwrap_or_default().to_vec()),
        }
    }
    pub fn starts_with(&self, other: &Data) -> bool {
        match (self, other) {
            (Data::Bytes(a), Data::Bytes(b)) => a.starts_with(b),
            (Data::Msgs(a), Data::Msgs(b)) => a.starts_with(b),
            (_, o) => o.is_empty() && self.is_empty(),
        }
    }
    pub fn extend(&mut self, more: &Data) {
        match (self, more) {
            (Data::Bytes(a), Data::Bytes(b)) => a.extend_from_slice(b),
            (Data::Msgs(a), Data::Msgs(b)) => a.extend_from_slice(b),
            _ => {}
        }
    }
    /// A short description of where `self` and `other` first differ.
    pub fn diff(&self, other: &Data) -> String {
        let at = match (self, other) {
            (Data::Bytes(a), Data::Bytes(b)) => a.iter().zip(b).take_while(|(x, y)| x == y).count(),
            (Data::Msgs(a), Data::Msgs(b)) => a.iter().zip(b).take_while(|(x, y)| x == y).count(),
            _ => 0,
        };
        format!(
            "lengths {} vs {}, first difference at position {at}: {} vs {}",
            self.len(),
            other.len(),
            self.preview(at),
            other.preview(at)
        )
    }
    fn preview(&self, at: usize) -> String {
        match self {
            Data::Bytes(b) => format!(
                "{:?}",
                String::from_utf8_lossy(&b[at.min(b.len())..(at + 40).min(b.len())])
            ),
            Data::Msgs(m) => m.get(at).map_or("(end)".to_string(), |v| v.to_string()),
        }
    }
}

/// A read to the tail.
#[derive(Debug, Clone)]
pub struct Content {
    pub data: Data,
    pub tail: String,
    pub closed: bool,
}

/// One record found in a stream: whose append, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Rec {
    pub tag: String,
    pub i: u64,
    /// Position of its first and one past its last byte / message.
    pub start: usize,
    pub end: usize,
}

/// Split a stream's data into records; `Err` describes torn or foreign data.
pub fn records(data: &Data) -> Result<Vec<Rec>, String> {
    match data {
        Data::Bytes(b) => byte_records(b),
        Data::Msgs(m) => msg_records(m),
    }
}

fn byte_records(b: &[u8]) -> Result<Vec<Rec>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    let show =
        |from: usize| String::from_utf8_lossy(&b[from..(from + 60).min(b.len())]).into_owned();
    while at < b.len() {
        if b[at] != b'[' {
            return Err(format!(
                "bytes that are no client's record at position {at}: {:?}",
                show(at)
            ));
        }
        let Some(len) = b[at..].iter().position(|&c| c == b']') else {
            return Err(format!(
                "a torn record at position {at} (no end): {:?}",
                show(at)
            ));
        };
        let token = &b[at + 1..at + len];
        let text = std::str::from_utf8(token).map_err(|_| format!("non-UTF-8 record at {at}"))?;
        let mut parts = text.splitn(3, '.');
        let (tag, i) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if tag.is_empty() || text.contains('[') || parts.next().is_none() {
            return Err(format!(
                "a torn or mixed record at position {at}: {:?}",
                show(at)
            ));
        }
        let i: u64 = i
            .parse()
            .map_err(|_| format!("a torn record at position {at}: {:?}", show(at)))?;
        out.push(Rec {
            tag: tag.to_string(),
            i,
            start: at,
            end: at + len + 1,
        });
        at += len + 1;
    }
    Ok(out)
}

fn msg_records(m: &[Value]) -> Result<Vec<Rec>, String> {
    let mut out: Vec<Rec> = Vec::new();
    let mut want_k = 0;
    for (pos, v) in m.iter().enumerate() {
        let (Some(t), Some(i), Some(k), Some(n)) = (
            v["t"].as_str(),
            v["i"].as_u64(),
            v["k"].as_u64(),
            v["n"].as_u64(),
        ) else {
            return Err(format!("message {pos} is no client's record: {v}"));
        };
        if k == 0 {
            if want_k != 0 {
                return Err(format!(
                    "a torn batch before message {pos}: {} of its messages are missing",
                    out.last().map_or(0, |r| r.end - r.start)
                ));
            }
            out.push(Rec {
                tag: t.to_string(),
                i,
                start: pos,
                end: pos + 1,
            });
        } else {
            let ok = out
                .last()
                .is_some_and(|r| r.tag == t && r.i == i && k == want_k);
            if !ok {
                return Err(format!("a torn or mixed batch at message {pos}: {v}"));
            }
            out.last_mut().unwrap().end = pos + 1;
        }
        want_k = if k + 1 == n { 0 } else { k + 1 };
    }
    if want_k != 0 {
        return Err("the last batch is torn (some of its messages are missing)".into());
    }
    Ok(out)
}

/// How a writer writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Plain POSTs, one at a time, never retried (not idempotent).
    Plain,
    /// POSTs with `Stream-Seq`, resent with the same value after a crash.
    Seq,
    /// An idempotent producer (`Producer-Id`, epoch 0, `Producer-Seq` per
    /// batch), `window` batches in flight, retried with the same
    /// (id, epoch, seq) after a crash.
    Producer { window: usize },
}

/// What became of one append.
#[derive(Debug, Clone, PartialEq)]
pub enum St {
    /// Not sent yet, or (producers) refused as a sequence gap: send again.
    Pending,
    InFlight,
    /// Sent, but the answer was lost: may or may not be stored.
    Unknown,
    /// The server said it is stored (2xx, or a duplicate answer on a retry).
    Acked {
        status: u16,
        offset: Option<String>,
        at_ms: u64,
    },
    /// Refused (409 closed, 410, 404): the client was told it is not stored.
    Refused {
        status: u16,
        at_ms: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub body: Vec<u8>,
    pub msgs: Vec<Value>,
    pub sent_ms: u64,
    pub state: St,
    /// Status of the resend after a restart, if one was needed.
    pub retry: Option<u16>,
    /// This append also closes the stream (`Stream-Closed: true`).
    pub close: bool,
    /// Times a producer sent it again after a sequence-gap answer.
    pub resends: u32,
    /// An attempt's answer was lost: that attempt may be stored, so no
    /// later refusal (e.g. 409 closed once the stream closed) says it is
    /// not. Stays set when a gap answer makes the batch pending again (a
    /// pipelined batch can overtake the lost one and be answered before
    /// the lost one is stored).
    pub lost: bool,
    /// How many of the writer's first batches were acknowledged when this
    /// one was last sent: the server cannot rightly expect a seq below it.
    pub floor: u64,
}

/// An answer that no correct server gives at that point.
#[derive(Debug, Clone)]
pub struct Odd {
    pub i: u64,
    pub status: u16,
    pub body: String,
    /// The requirement the answer breaks, when not the writer's usual one.
    pub requirement: Option<&'static str>,
}

#[derive(Debug)]
pub struct Writer {
    pub tag: String,
    pub stream: String,
    pub json: bool,
    pub kind: Kind,
    pub batches: Vec<Batch>,
    /// Stopped for good: the stream was shown closed, gone or deleted.
    pub done: Option<u16>,
    pub odd: Vec<Odd>,
    /// Send the closing append after this many batches (producers).
    pub close_after: Option<usize>,
    /// Most records a round may write (keeps data bounded).
    pub max_per_round: usize,
}

impl Writer {
    pub fn new(tag: &str, stream: &str, json: bool, kind: Kind) -> Writer {
        Writer {
            tag: tag.to_string(),
            stream: stream.to_string(),
            json,
            kind,
            batches: Vec::new(),
            done: None,
            odd: Vec::new(),
            close_after: None,
            max_per_round: 300,
        }
    }

    fn ct(&self) -> &'static str {
        if self.json {
            "application/json"
        } else {
            "application/octet-stream"
        }
    }

    /// The next batch's body: mostly small, sometimes several pages (so a
    /// kill can land in the middle of writing it).
    fn make_batch(&mut self, rng: &mut StdRng) -> u64 {
        let i = self.batches.len() as u64;
        let pad_len = match rng.random_range(0..100) {
            0..85 => rng.random_range(0..40),
            85..98 => rng.random_range(40..600),
            _ => rng.random_range(4096..12_000),
        };
        const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let pad: String = (0..pad_len)
            .map(|k| ALPHA[(k + i as usize) % ALPHA.len()] as char)
            .collect();
        let (body, msgs) = if self.json {
            let n = rng.random_range(1..=3u64);
            let msgs: Vec<Value> = (0..n)
                .map(|k| {
                    let p = if k == 0 { pad.as_str() } else { "" };
                    json!({"t": self.tag, "i": i, "k": k, "n": n, "p": p})
                })
                .collect();
            let body = if n == 1 {
                msgs[0].to_string()
            } else {
                Value::Array(msgs.clone()).to_string()
            };
            (body.into_bytes(), msgs)
        } else {
            (format!("[{}.{i}.{pad}]", self.tag).into_bytes(), Vec::new())
        };
        self.batches.push(Batch {
            body,
            msgs,
            sent_ms: 0,
            state: St::Pending,
            retry: None,
            close: false,
            resends: 0,
            floor: 0,
            lost: false,
        });
        i
    }

    fn request(&self, load: &Load, i: u64) -> (Req, String) {
        let b = &self.batches[i as usize];
        let mut req = load
            .ctx
            .post(&self.stream)
            .ct(self.ct())
            .body(b.body.clone());
        let mut what = format!("POST [{}.{i}] {} bytes", self.tag, b.body.len());
        match &self.kind {
            Kind::Plain => {}
            Kind::Seq => {
                let s = seq_value(i);
                req = req.seq(&s);
                what.push_str(&format!(" Stream-Seq={s}"));
            }
            Kind::Producer { .. } => {
                req = req.producer(&self.tag, 0, i);
                what.push_str(&format!(" Producer-Id={} epoch=0 seq={i}", self.tag));
            }
        }
        if b.close {
            req = req.closed();
            what.push_str(" Stream-Closed=true");
        }
        (req, what)
    }

    /// Settle batch `i` with the answer `r`; returns false when the writer
    /// must stop (answer lost, or the stream is closed or gone).
    fn settle(&mut self, load: &Load, i: u64, r: Option<Resp>, retry: bool) -> bool {
        let now = load.hist.now_ms();
        let is_producer = matches!(self.kind, Kind::Producer { .. });
        let b = &mut self.batches[i as usize];
        let Some(r) = r else {
            b.state = St::Unknown;
            b.lost = true;
            return false;
        };
        // A resend of a batch whose earlier answer was lost is a retry,
        // even if a gap answer made it pending again meanwhile.
        let retry = retry || b.lost;
        if retry {
            b.retry = Some(r.status);
        }
        // A producer's 204 is a duplicate: its Stream-Next-Offset is the
        // current tail, not where that batch ended.
        let offset = r
            .header("stream-next-offset")
            .filter(|_| !(is_producer && r.status == 204));
        match r.status {
            200 | 201 | 204 => {
                b.state = St::Acked {
                    status: r.status,
                    offset,
                    at_ms: now,
                };
                true
            }
            // A Stream-Seq resend refused as already used: the first
            // attempt was stored (that is what the client concludes).
            409 if retry && self.kind == Kind::Seq && !r.closed() => {
                b.state = St::Acked {
                    status: 409,
                    offset: None,
                    at_ms: now,
                };
                true
            }
            // Pipelined batches may arrive out of order: send again once
            // the earlier ones are answered, as producer clients do.
            409 if is_producer && !r.closed() && r.has("producer-expected-seq") => {
                let expected: Option<u64> = r
                    .header("producer-expected-seq")
                    .and_then(|v| v.trim().parse().ok());
                // The server expects a seq it already acknowledged: it
                // forgot the producer's state (§5.2.1, persistent stores).
                let forgot = expected.is_some_and(|e| e < self.batches[i as usize].floor);
                if let Some(e) = expected.filter(|&e| e < i) {
                    // What the server expects was evidently not stored.
                    if let Some(eb) = self.batches.get_mut(e as usize) {
                        if eb.state == St::Unknown {
                            eb.state = St::Pending;
                        }
                    }
                }
                let b = &mut self.batches[i as usize];
                b.resends += 1;
                if expected.is_some_and(|e| e < i) && !forgot && b.resends < 100 {
                    b.state = St::Pending;
                    true
                } else {
                    // After a lost answer a refusal says nothing about the
                    // first attempt (it may be stored): unknown, not refused.
                    b.state = if retry {
                        St::Unknown
                    } else {
                        St::Refused {
                            status: 409,
                            at_ms: now,
                        }
                    };
                    self.odd.push(Odd {
                        i,
                        status: r.status,
                        body: format!(
                            "Producer-Expected-Seq {}: {}",
                            expected.map_or("?".into(), |e| e.to_string()),
                            r.text()
                        ),
                        requirement: forgot.then_some("DUR-PRODUCER"),
                    });
                    false
                }
            }
            // Refused: the stream is closed, soft-deleted or gone. After a
            // lost answer this says nothing about the first attempt (a
            // stored batch is refused the same way once the stream closed).
            409 | 404 | 410 if r.status != 409 || r.closed() => {
                b.state = if retry {
                    St::Unknown
                } else {
                    St::Refused {
                        status: r.status,
                        at_ms: now,
                    }
                };
                self.done = Some(r.status);
                false
            }
            other => {
                // 400 "a new epoch starts at seq 0" for a producer whose
                // earlier batches of this epoch were acknowledged: the
                // server forgot its state (§5.2.1, persistent stores).
                let forgot = is_producer && other == 400 && b.floor > 0;
                self.odd.push(Odd {
                    i,
                    status: other,
                    body: r.text(),
                    requirement: forgot.then_some("DUR-PRODUCER"),
                });
                b.state = if retry {
                    St::Unknown
                } else {
                    St::Refused {
                        status: other,
                        at_ms: now,
                    }
                };
                false
            }
        }
    }

    /// Write until the round stops, an answer is lost, or the stream is
    /// shown closed or gone (or, for a closing producer, until it closed).
    pub async fn run(mut self, load: Arc<Load>) -> Writer {
        let mut rng = load.rng(&format!("writer {}", self.tag));
        let start = self.batches.len();
        let window = match self.kind {
            Kind::Producer { window } => window.max(1),
            _ => 1,
        };
        let mut inflight = FuturesUnordered::new();
        let mut healthy = true;
        loop {
            // A producer's first batch establishes its epoch: pipeline only
            // once one was acknowledged (a new epoch must start at seq 0).
            let window = if self
                .batches
                .iter()
                .any(|b| matches!(b.state, St::Acked { .. }))
            {
                window
            } else {
                1
            };
            while healthy && self.done.is_none() && !load.stopped() && inflight.len() < window {
                let Some(i) = self.next_to_send(&mut rng, start) else {
                    break;
                };
                let (req, what) = self.request(&load, i);
                let floor = self.acked_prefix();
                let b = &mut self.batches[i as usize];
                b.floor = floor;
                b.state = St::InFlight;
                b.sent_ms = load.hist.now_ms();
                let (load2, tag, stream) = (load.clone(), self.tag.clone(), self.stream.clone());
                inflight.push(async move { (i, load2.send(&tag, &stream, what, req).await) });
            }
            let Some((i, r)) = inflight.next().await else {
                break;
            };
            if !self.settle(&load, i, r, false) {
                healthy = false;
            }
        }
        self
    }

    fn acked_prefix(&self) -> u64 {
        self.batches
            .iter()
            .take_while(|b| matches!(b.state, St::Acked { .. }))
            .count() as u64
    }

    /// The lowest batch to (re)send now, creating a new one if none waits.
    fn next_to_send(&mut self, rng: &mut StdRng, start: usize) -> Option<u64> {
        if let Some(p) = self.batches.iter().position(|b| b.state == St::Pending) {
            // A gap-refused batch goes again only once all before it are answered.
            let blocked = self.batches[..p]
                .iter()
                .any(|b| matches!(b.state, St::InFlight | St::Pending));
            return (!blocked).then_some(p as u64);
        }
        if self.batches.iter().any(|b| b.close) {
            return None;
        }
        if self.batches.len() - start >= self.max_per_round {
            return None;
        }
        if let Some(n) = self.close_after {
            if self.batches.len() >= n {
                if self.batches.iter().any(|b| b.state == St::InFlight) {
                    return None;
                }
                let i = self.make_batch(rng);
                self.batches[i as usize].close = true;
                return Some(i);
            }
        }
        Some(self.make_batch(rng))
    }

    /// After a restart: resend what a real client library resends — a
    /// producer every batch whose answer was lost or that still waits
    /// (same id, epoch and seq), a `Stream-Seq` writer its lost append
    /// (same value). Plain appends are not idempotent: never resent.
    pub async fn retry(&mut self, load: &Load) {
        if self.kind == Kind::Plain {
            return;
        }
        for i in 0..self.batches.len() as u64 {
            if !matches!(self.batches[i as usize].state, St::Unknown | St::Pending) {
                continue;
            }
            let was_unknown = self.batches[i as usize].state == St::Unknown;
            let (req, what) = self.request(load, i);
            self.batches[i as usize].floor = self.acked_prefix();
            let r = load
                .send(&self.tag, &self.stream, format!("{what} (retry)"), req)
                .await;
            if !self.settle(load, i, r, was_unknown) {
                return;
            }
        }
    }

    /// Check the records this stream holds against what this writer was
    /// told. With `cutoff` (a fork's inherited data) only the appends
    /// acknowledged before that moment must be there.
    pub fn check(&self, recs: &[Rec], data: &Data, cutoff: Option<u64>) -> Result<(), Violation> {
        let v = |req: &'static str, msg: String| {
            Err(Violation::on(req, &self.stream, msg).by(&self.tag))
        };
        let mine: Vec<&Rec> = recs.iter().filter(|r| r.tag == self.tag).collect();
        let mut count: BTreeMap<u64, usize> = BTreeMap::new();
        for r in &mine {
            let Some(b) = self.batches.get(r.i as usize) else {
                return v(
                    "CRASH-APPEND-ATOMIC",
                    format!(
                        "{} holds a record {}.{} that {} never sent",
                        self.stream, self.tag, r.i, self.tag
                    ),
                );
            };
            let stored = match data {
                Data::Bytes(d) => {
                    Data::Bytes(d[r.start..r.end].to_vec()) == Data::Bytes(b.body.clone())
                }
                Data::Msgs(m) => m[r.start..r.end] == b.msgs[..],
            };
            if !stored {
                return v(
                    "CRASH-APPEND-ATOMIC",
                    format!("append {}.{} is stored altered or partial", self.tag, r.i),
                );
            }
            *count.entry(r.i).or_default() += 1;
        }
        for (&i, &n) in &count {
            if n > 1 {
                let b = &self.batches[i as usize];
                return match (&self.kind, b.retry) {
                    (Kind::Producer { .. }, Some(200)) => v(
                        "DUR-PRODUCER",
                        format!(
                            "producer {} seq {i}: the batch's first answer was lost in the crash, and its retry after the restart (same id, epoch 0, seq {i}) was answered 200 and stored again: {n} copies. The server kept the data but lost the producer state that dedups the retry (§5.2.1 Atomicity)",
                            self.tag
                        ),
                    ),
                    (Kind::Seq, Some(s)) if s < 300 => v(
                        "DUR-SEQ",
                        format!(
                            "Stream-Seq {}: the append's first answer was lost in the crash, its resend after the restart with the same Stream-Seq was accepted ({s}) although the first one was stored: {n} copies",
                            seq_value(i)
                        ),
                    ),
                    _ => v(
                        "CRASH-APPEND-ATOMIC",
                        format!("append {}.{i} (sent once) is stored {n} times", self.tag),
                    ),
                };
            }
        }
        let order: Vec<u64> = mine.iter().map(|r| r.i).collect();
        if let Some(w) = order.windows(2).find(|w| w[0] > w[1]) {
            return v(
                "STREAM-ORDER",
                format!(
                    "{}'s appends are stored out of order: {} before {} (each was sent only after the previous one was answered)",
                    self.tag, w[0], w[1]
                ),
            );
        }
        for (i, b) in self.batches.iter().enumerate() {
            let present = count.contains_key(&(i as u64));
            match &b.state {
                St::Acked { at_ms, .. } if cutoff.is_some_and(|c| *at_ms >= c) => {}
                St::Acked { status, .. } if !present => {
                    let how = match (b.retry, status) {
                        (Some(_), 409) => "its resend was refused as a Stream-Seq already used (409), i.e. the first attempt was stored".to_string(),
                        (Some(s), _) => format!("its retry after the restart was answered {s}"),
                        (None, s) => format!("it was acknowledged ({s})"),
                    };
                    return v(
                        "DUR-DATA",
                        format!("append {}.{i} is missing although {how}", self.tag),
                    );
                }
                St::Refused { status, .. } if present => {
                    return v(
                        "CRASH-SHOWN-STICKS",
                        format!(
                            "append {}.{i} was refused ({status}: not stored) yet it is in the stream",
                            self.tag
                        ),
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Acknowledged appends with their `Stream-Next-Offset`.
    pub fn acked_offsets(&self) -> Vec<(u64, String)> {
        self.batches
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match &b.state {
                St::Acked {
                    offset: Some(o), ..
                } => Some((i as u64, o.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn odd(&self) -> Option<Violation> {
        let o = self.odd.first()?;
        let req = o.requirement.unwrap_or(match self.kind {
            Kind::Plain => "APPEND-204",
            Kind::Seq => "SEQ-INCREASING-ACCEPTED",
            Kind::Producer { .. } => "PROD-SEQ-NEXT",
        });
        Some(
            Violation::on(
                req,
                &self.stream,
                format!(
                    "{}'s append {} was answered {} ({}), which no correct server answers here",
                    self.tag,
                    o.i,
                    o.status,
                    crate::transcript::preview(o.body.as_bytes(), 120)
                ),
            )
            .by(&self.tag),
        )
    }
}

/// `Stream-Seq` of a writer's i-th append: fixed width, so byte order is
/// numeric order (§5.2).
pub fn seq_value(i: u64) -> String {
    format!("{i:012}")
}

/// A reader following a stream with catch-up reads during the load; what
/// it was shown must survive every crash.
#[derive(Debug)]
pub struct Reader {
    pub stream: String,
    pub view: Data,
    /// (offset, how much of `view` preceded it): re-read after restarts.
    pub marks: Vec<(String, usize)>,
    pub at: String,
    pub gone: bool,
}

impl Reader {
    pub fn new(stream: &str, json: bool) -> Reader {
        Reader {
            stream: stream.to_string(),
            view: Data::empty(json),
            marks: Vec::new(),
            at: "-1".into(),
            gone: false,
        }
    }

    pub async fn run(mut self, load: Arc<Load>) -> Reader {
        while !load.stopped() && !self.gone {
            let req = load.ctx.get(&self.stream).offset(&self.at);
            let what = format!("GET offset={}", self.at);
            let Some(r) = load.send("reader", &self.stream, what, req).await else {
                break;
            };
            if matches!(r.status, 404 | 410) {
                self.gone = true;
                break;
            }
            let Some(next) = r.header("stream-next-offset").filter(|_| r.status == 200) else {
                break;
            };
            let got = if crate::client::is_json(&r) {
                match serde_json::from_slice::<Value>(&r.body) {
                    Ok(Value::Array(m)) => Data::Msgs(m),
                    _ => break,
                }
            } else {
                Data::Bytes(r.body.to_vec())
            };
            if got.is_empty() && next == self.at {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            }
            self.view.extend(&got);
            self.marks.push((next.clone(), self.view.len()));
            self.at = next;
        }
        self
    }
}

/// Everything the checker knows about one stream across rounds.
#[derive(Debug)]
pub struct Tracked {
    pub name: String,
    pub json: bool,
    /// The longest data any client was shown (prefix-stable forever).
    pub shown: Data,
    pub shown_by: String,
}

impl Tracked {
    pub fn new(name: &str, json: bool) -> Tracked {
        Tracked {
            name: name.to_string(),
            json,
            shown: Data::empty(json),
            shown_by: String::new(),
        }
    }

    /// What `who` was shown: the longer of the two views wins (the other
    /// must be its prefix, checked on the next read).
    pub fn saw(&mut self, data: &Data, who: &str) -> Result<(), Violation> {
        let (long, short) = if data.len() >= self.shown.len() {
            (data, &self.shown)
        } else {
            (&self.shown, data)
        };
        if !long.starts_with(short) {
            return Err(Violation::on(
                "DUR-OFFSETS",
                &self.name,
                format!(
                    "{who} was shown data that contradicts what {} was shown earlier at the same positions ({})",
                    self.shown_by,
                    long.diff(short)
                ),
            ));
        }
        if data.len() >= self.shown.len() {
            self.shown = data.clone();
            self.shown_by = who.to_string();
        }
        Ok(())
    }
}

/// Full check of one stream after a restart: read it, split it into
/// records, check every writer, re-read from a sample of acknowledged and
/// reader offsets. Returns the content read.
pub async fn check_stream(
    load: &Load,
    t: &mut Tracked,
    writers: &[(&Writer, Option<u64>)],
    reader: Option<&Reader>,
    rng: &mut StdRng,
) -> Result<Result<Content, Violation>, Failure> {
    let c = load.read(&t.name, "-1", t.json, "DUR-DATA").await?;
    let recs = match records(&c.data) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Err(Violation::on(
                "CRASH-APPEND-ATOMIC",
                &t.name,
                format!("{}: {e}", t.name),
            )))
        }
    };
    if let Some(r) = recs
        .iter()
        .find(|r| !writers.iter().any(|(w, _)| w.tag == r.tag))
    {
        return Ok(Err(Violation::on(
            "CRASH-APPEND-ATOMIC",
            &t.name,
            format!(
                "{} holds a record {}.{} of a writer that never wrote to it",
                t.name, r.tag, r.i
            ),
        )));
    }
    for (w, cutoff) in writers {
        if let Err(v) = w.check(&recs, &c.data, *cutoff) {
            return Ok(Err(v));
        }
    }
    if let Some(r) = reader {
        if let Err(v) = t.saw(&r.view, "the reader (during the load)") {
            return Ok(Err(v));
        }
    }
    if let Err(v) = t.saw(&c.data, "the checker (after the restart)") {
        let mut v = v;
        v.message = format!(
            "data shown before the crash is not there after it: {}",
            v.message
        );
        return Ok(Err(v));
    }
    if c.data.len() < t.shown.len() {
        return Ok(Err(Violation::on(
            "DUR-OFFSETS",
            &t.name,
            format!(
                "{} was shown {} units of data before the crash; after it the stream holds {}",
                t.shown_by,
                t.shown.len(),
                c.data.len()
            ),
        )));
    }
    // Offsets minted before the crash still address the same data.
    let mut probes: Vec<(String, usize, String)> = Vec::new();
    for (w, _) in writers.iter().filter(|(_, cutoff)| cutoff.is_none()) {
        let acked = w.acked_offsets();
        let mut pick: Vec<&(u64, String)> = acked.iter().rev().take(1).collect();
        for _ in 0..2 {
            if !acked.is_empty() {
                pick.push(&acked[rng.random_range(0..acked.len())]);
            }
        }
        for (i, off) in pick {
            let Some(r) = recs.iter().find(|r| r.tag == w.tag && r.i == *i) else {
                continue;
            };
            probes.push((off.clone(), r.end, format!("{}'s append {i}", w.tag)));
        }
    }
    if let Some(r) = reader {
        for _ in 0..3 {
            if !r.marks.is_empty() {
                let (off, at) = &r.marks[rng.random_range(0..r.marks.len())];
                probes.push((off.clone(), *at, "a reader's chunk".into()));
            }
        }
    }
    for (off, at, whose) in probes {
        let got = load.read(&t.name, &off, t.json, "DUR-OFFSETS").await?;
        let want = c.data.tail_from(at);
        if got.data != want {
            return Ok(Err(Violation::on(
                "DUR-OFFSETS",
                &t.name,
                format!(
                    "reading from offset {off} (the Stream-Next-Offset of {whose}, minted before the crash) does not return the data after it: {}",
                    got.data.diff(&want)
                ),
            )));
        }
    }
    Ok(Ok(c))
}

#[cfg(test)]
mod tests {
    //! The writer's bookkeeping driven by a scripted history (no server):
    //! `settle` gets exactly the answers a real round once produced.

    use super::*;
    use crate::client::Session;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    fn load() -> Arc<Load> {
        let session = Session::new("http://127.0.0.1:9/streams").unwrap();
        Load::new(&Ctx::new(Arc::new(session), "crash::load_test"))
    }

    fn resp(status: u16, headers: &[(&str, &str)]) -> Option<Resp> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Some(Resp {
            status,
            headers: map,
            body: bytes::Bytes::new(),
            exchange: 0,
            elapsed: Duration::ZERO,
        })
    }

    /// A producer writer with batches pc.0..pc.`n`-1 made (not yet sent).
    fn producer(n: usize) -> Writer {
        let mut w = Writer::new("pc", "s", false, Kind::Producer { window: 2 });
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..n {
            w.make_batch(&mut rng);
        }
        w
    }

    /// The stream as the checker reads it after the restart: the bodies
    /// of batches `stored`, in order.
    fn stored(w: &Writer, stored: &[usize]) -> (Vec<Rec>, Data) {
        let bytes: Vec<u8> = stored
            .iter()
            .flat_map(|&i| w.batches[i].body.clone())
            .collect();
        let data = Data::Bytes(bytes);
        (records(&data).unwrap(), data)
    }

    /// What `retry` passes for a batch it resends after the restart.
    fn resend_is_retry(w: &Writer, i: u64) -> bool {
        w.batches[i as usize].state == St::Unknown
    }

    /// The history behind ef9b311: pc.1's answer is lost in the kill;
    /// pc.2, pipelined, overtakes it and is answered 409
    /// Producer-Expected-Seq: 1, which makes pc.1 pending again; after
    /// the restart pc.1 is resent and answered 409 Stream-Closed (the
    /// stream was closed after pc.1 was stored). pc.1 is in the stream:
    /// that is no refusal of a stored append, so no CRASH-SHOWN-STICKS.
    #[test]
    fn a_lost_batch_made_pending_by_a_gap_answer_is_never_refused_by_its_resend() {
        let load = load();
        let mut w = producer(3);
        assert!(w.settle(&load, 0, resp(200, &[("stream-next-offset", "a")]), false));
        // pc.1 and pc.2 in flight; the kill takes pc.1's answer.
        assert!(!w.settle(&load, 1, None, false));
        assert_eq!(w.batches[1].state, St::Unknown);
        // pc.2 arrived first: the server expects seq 1.
        assert!(w.settle(
            &load,
            2,
            resp(409, &[("producer-expected-seq", "1")]),
            false
        ));
        assert_eq!(
            w.batches[1].state,
            St::Pending,
            "the gap answer re-queues pc.1"
        );
        // After the restart: the resend of pc.1 finds the stream closed.
        let retry = resend_is_retry(&w, 1);
        assert!(
            !retry,
            "pc.1 is pending, so `retry` resends it as a first send"
        );
        let closed = resp(409, &[("stream-closed", "true")]);
        assert!(!w.settle(&load, 1, closed, retry));
        let (recs, data) = stored(&w, &[0, 1]);
        if let Err(v) = w.check(&recs, &data, None) {
            panic!(
                "a correct store judged wrong: {} {}",
                v.requirement, v.message
            );
        }
        assert!(
            !matches!(w.batches[1].state, St::Refused { .. }),
            "pc.1's first attempt may be stored: its resend's 409 is no refusal, got {:?}",
            w.batches[1].state
        );
        assert_eq!(w.batches[1].retry, Some(409), "recorded as a retry");
    }

    /// The control: a batch whose answer was never lost and that was
    /// refused as closed is "not stored"; found in the stream, it breaks
    /// CRASH-SHOWN-STICKS (the fix above must not hide this).
    #[test]
    fn a_batch_refused_without_a_lost_answer_yet_stored_breaks_shown_sticks() {
        let load = load();
        let mut w = producer(2);
        assert!(w.settle(&load, 0, resp(200, &[("stream-next-offset", "a")]), false));
        let closed = resp(409, &[("stream-closed", "true")]);
        assert!(!w.settle(&load, 1, closed, false));
        assert!(matches!(
            w.batches[1].state,
            St::Refused { status: 409, .. }
        ));
        let (recs, data) = stored(&w, &[0, 1]);
        let v = w.check(&recs, &data, None).unwrap_err();
        assert_eq!(v.requirement, "CRASH-SHOWN-STICKS", "{}", v.message);
    }
}
