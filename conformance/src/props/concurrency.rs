//! Concurrency property (§5.2, §5.2.1, §5.7, §5.8, §8): idempotent
//! producers (with retries) and plain writers append to one JSON stream at
//! the same time while long-poll and SSE readers follow it. Afterwards every
//! acknowledged batch is stored exactly once and contiguously, each writer's
//! batches in order, acknowledged offsets are unique and sort in stream
//! order, and every reader saw exactly the final content.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::case::{CaseResult, Failure};
use crate::client::Ctx;
use crate::{check, check_eq, fail};

const ONCE: &str = "PROP-CONCURRENT-EXACTLY-ONCE";
const OFFSETS: &str = "PROP-CONCURRENT-OFFSETS";
const READERS: &str = "PROP-CONCURRENT-READERS";

/// One acknowledged batch.
#[derive(Clone, Debug)]
struct Ack {
    writer: String,
    batch: u64,
    size: usize,
    token: String,
}

fn batch_body(writer: &str, batch: u64, size: usize) -> Vec<u8> {
    let msgs: Vec<Value> = (0..size)
        .map(|m| json!({"w": writer, "b": batch, "m": m}))
        .collect();
    serde_json::to_vec(&msgs).unwrap_or_default()
}

async fn producer(
    ctx: Ctx,
    id: String,
    batches: u64,
    sizes: Vec<usize>,
    retries: Vec<bool>,
) -> Result<Vec<Ack>, Failure> {
    let mut acks = Vec::new();
    for b in 0..batches {
        let size = sizes[b as usize];
        let body = batch_body(&id, b, size);
        let r = ctx
            .post("s")
            .ct("application/json")
            .producer(&id, 0, b)
            .body(body.clone())
            .send()
            .await?;
        r.expect(200, ONCE)?;
        check_eq!(
            r.header("producer-seq"),
            Some(b.to_string()),
            ONCE,
            "{id}: Producer-Seq of batch {b}"
        );
        acks.push(Ack {
            writer: id.clone(),
            batch: b,
            size,
            token: r.next_offset(ONCE)?,
        });
        if retries[b as usize] {
            let r = ctx
                .post("s")
                .ct("application/json")
                .producer(&id, 0, b)
                .body(body)
                .send()
                .await?;
            r.expect(204, ONCE)?;
        }
    }
    Ok(acks)
}

async fn writer(
    ctx: Ctx,
    id: String,
    batches: u64,
    sizes: Vec<usize>,
) -> Result<Vec<Ack>, Failure> {
    let mut acks = Vec::new();
    for b in 0..batches {
        let size = sizes[b as usize];
        let r = ctx
            .post("s")
            .ct("application/json")
            .body(batch_body(&id, b, size))
            .send()
            .await?;
        r.expect(204, ONCE)?;
        acks.push(Ack {
            writer: id.clone(),
            batch: b,
            size,
            token: r.next_offset(ONCE)?,
        });
    }
    Ok(acks)
}

fn messages(body: &[u8]) -> Result<Vec<Value>, Failure> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(v)) => Ok(v),
        _ => fail!(
            READERS,
            "JSON read is not an array: {}",
            String::from_utf8_lossy(body)
        ),
    }
}

/// Follow with long-polls from the start until the stream is closed.
async fn long_poll_reader(ctx: Ctx, deadline: Instant) -> Result<Vec<Value>, Failure> {
    let (mut at, mut seen) = ("-1".to_string(), Vec::new());
    while Instant::now() < deadline {
        let r = ctx.get("s").offset(&at).long_poll().send().await?;
        r.expect_any(&[200, 204], READERS)?;
        let next = r.next_offset(READERS)?;
        if at != "-1" {
            check!(
                next >= at,
                OFFSETS,
                "long-poll offset went backwards: {at:?} then {next:?}"
            );
        }
        if r.status == 200 {
            seen.extend(messages(&r.body)?);
        }
        if r.closed() && r.up_to_date() {
            return Ok(seen);
        }
        at = next;
    }
    fail!(
        READERS,
        "long-poll reader did not reach the closed tail in time (saw {} messages)",
        seen.len()
    )
}

/// Follow with SSE from the start (reconnecting where the server ends the
/// response early) until `streamClosed`.
async fn sse_reader(ctx: Ctx, deadline: Instant) -> Result<Vec<Value>, Failure> {
    let (mut at, mut seen) = ("-1".to_string(), Vec::new());
    while Instant::now() < deadline {
        let mut s = ctx.get("s").offset(&at).live("sse").sse().await?;
        s.expect(200, READERS)?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(ev) = s.next(left).await else { break };
            if ev.event == "data" {
                match serde_json::from_str::<Value>(&ev.data) {
                    Ok(Value::Array(v)) => seen.extend(v),
                    Ok(v) => seen.push(v),
                    Err(e) => fail!(READERS, "SSE data event is not JSON ({e}): {:?}", ev.data),
                }
            } else if let Some(c) = ev.control() {
                if let Some(n) = c.get("streamNextOffset").and_then(Value::as_str) {
                    at = n.to_string();
                }
                if c.get("streamClosed") == Some(&Value::Bool(true)) {
                    return Ok(seen);
                }
            }
        }
    }
    fail!(
        READERS,
        "SSE reader did not see streamClosed in time (saw {} messages)",
        seen.len()
    )
}

/// Concurrent producers, writers and live readers on one stream.
pub async fn writers_and_readers(ctx: Ctx) -> CaseResult {
    let mut rng = rand::rngs::StdRng::seed_from_u64(ctx.run().seed ^ 0xc0ffee);
    let (n_prod, n_plain) = (rng.random_range(2..=3usize), 2usize);
    let batches: u64 = rng.random_range(4..=7);
    let r = ctx.put("s").ct("application/json").send().await?;
    r.expect(201, ONCE)?;
    let deadline = Instant::now() + Duration::from_secs(20) + ctx.long_poll_timeout() * 2;
    let mut readers = Vec::new();
    for _ in 0..2 {
        readers.push(tokio::spawn(long_poll_reader(ctx.clone(), deadline)));
    }
    let sse = tokio::spawn(sse_reader(ctx.clone(), deadline));
    let mut writes = Vec::new();
    for w in 0..n_prod + n_plain {
        let sizes: Vec<usize> = (0..batches).map(|_| rng.random_range(1..=3)).collect();
        let retries: Vec<bool> = (0..batches).map(|_| rng.random_bool(0.3)).collect();
        let c = ctx.clone();
        writes.push(tokio::spawn(async move {
            if w < n_prod {
                producer(c, format!("cp{w}"), batches, sizes, retries).await
            } else {
                writer(c, format!("cw{w}"), batches, sizes).await
            }
        }));
    }
    let mut acks = Vec::new();
    for w in writes {
        acks.extend(
            w.await
                .map_err(|e| Failure::no_answer(format!("writer panicked: {e}")))??,
        );
    }
    let r = ctx.post("s").closed().send().await?;
    r.expect(204, ONCE)?;
    let all = ctx.read_all("s", "-1", ONCE).await?;
    check!(
        all.closed,
        ONCE,
        "final read of the closed stream lacks Stream-Closed"
    );
    check_final(&all.messages, &acks)?;
    // Reading from every acknowledged offset yields what followed that batch.
    let ends = batch_ends(&all.messages, &acks);
    for (a, end) in acks.iter().zip(&ends) {
        let rest = ctx.read_all("s", &a.token, OFFSETS).await?;
        check_eq!(
            rest.messages,
            all.messages[*end..].to_vec(),
            OFFSETS,
            "read from the offset acknowledging {}/{}",
            a.writer,
            a.batch
        );
    }
    for (i, h) in readers.into_iter().chain(std::iter::once(sse)).enumerate() {
        let seen = h
            .await
            .map_err(|e| Failure::no_answer(format!("reader panicked: {e}")))??;
        let kind = if i < 2 { "long-poll" } else { "SSE" };
        check_eq!(
            seen,
            all.messages,
            READERS,
            "{kind} reader's messages vs the final content"
        );
    }
    Ok(())
}

fn key(v: &Value) -> (String, u64, u64) {
    (
        v["w"].as_str().unwrap_or("").to_string(),
        v["b"].as_u64().unwrap_or(u64::MAX),
        v["m"].as_u64().unwrap_or(u64::MAX),
    )
}

/// Index just past each acknowledged batch in the final content.
fn batch_ends(msgs: &[Value], acks: &[Ack]) -> Vec<usize> {
    acks.iter()
        .map(|a| {
            msgs.iter()
                .position(|m| key(m) == (a.writer.clone(), a.batch, 0))
                .map_or(0, |i| i + a.size)
        })
        .collect()
}

fn check_final(msgs: &[Value], acks: &[Ack]) -> CaseResult {
    let total: usize = acks.iter().map(|a| a.size).sum();
    check_eq!(
        msgs.len(),
        total,
        ONCE,
        "messages stored vs messages acknowledged"
    );
    for a in acks {
        let at: Vec<usize> = msgs
            .iter()
            .enumerate()
            .filter(|(_, m)| key(m).0 == a.writer && key(m).1 == a.batch)
            .map(|(i, _)| i)
            .collect();
        check_eq!(
            at.len(),
            a.size,
            ONCE,
            "copies of {}/{} in the stream",
            a.writer,
            a.batch
        );
        for (k, i) in at.iter().enumerate() {
            check!(
                key(&msgs[*i]).2 == k as u64 && *i == at[0] + k,
                ONCE,
                "batch {}/{} is not stored contiguously in order (indices {at:?})",
                a.writer,
                a.batch
            );
        }
    }
    // Each writer's batches in order; acknowledged offsets unique and sorted in stream order.
    let ends = batch_ends(msgs, acks);
    let mut order: Vec<(usize, &Ack)> = ends.iter().copied().zip(acks).collect();
    order.sort_by_key(|(e, _)| *e);
    for w in order.windows(2) {
        let ((_, a), (_, b)) = (w[0], w[1]);
        check!(a.token < b.token, OFFSETS, "offset {:?} acknowledging {}/{} does not sort before {:?} acknowledging the later {}/{}", a.token, a.writer, a.batch, b.token, b.writer, b.batch);
    }
    let mut last: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (_, a) in &order {
        if let Some(prev) = last.insert(a.writer.as_str(), a.batch) {
            check!(
                prev < a.batch,
                ONCE,
                "{} batch {} stored after batch {prev}",
                a.writer,
                a.batch
            );
        }
    }
    Ok(())
}
