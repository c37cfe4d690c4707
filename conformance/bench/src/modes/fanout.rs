//! Live fan-out (§5.7 long-poll, §5.8 SSE): N long-poll and N SSE readers
//! (one connection each) spread over S text streams; W writers append one
//! record `r<round>;` to every stream each round. Each delivery is timed
//! from its append's acknowledgement (the writer's answer) to its arrival
//! at the reader. Every reader must see every round exactly once, in order.
//! With --pid also the target's memory per idle SSE connection and per
//! waiting long-poll.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::time::timeout_at;

use super::{create_all, mib};
use crate::http::{encode_query, header, Conn, Target};
use crate::ops;
use crate::progress::{say, Progress};
use crate::report::Report;
use crate::stats::{fmt_us, Samples};
use crate::Ctx;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Long-poll readers.
    #[arg(long, default_value = "100", value_parser = crate::parse_count)]
    pub long_poll: u64,
    /// SSE readers.
    #[arg(long, default_value = "100", value_parser = crate::parse_count)]
    pub sse: u64,
    /// Streams the readers are spread over (reader i reads stream i mod S).
    #[arg(long, default_value = "1", value_parser = crate::parse_count)]
    pub streams: u64,
    /// Rounds of appends (one to every stream per round).
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Milliseconds between rounds.
    #[arg(long, default_value_t = 250)]
    pub interval_ms: u64,
    /// Writer connections.
    #[arg(long, default_value_t = 4)]
    pub writers: usize,
    /// Seconds readers may take after the last round.
    #[arg(long, default_value_t = 30)]
    pub grace: u64,
}

/// One reader's deliveries: (round, arrival), plus what went wrong.
#[derive(Default)]
struct Got {
    stream: usize,
    deliveries: Vec<(u32, Instant)>,
    reconnects: u64,
    error: Option<String>,
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    anyhow::ensure!(
        a.streams >= 1 && a.rounds >= 1 && a.writers >= 1,
        "--streams, --rounds, --writers must be at least 1"
    );
    anyhow::ensure!(a.long_poll + a.sse >= 1, "need at least one reader");
    let limit = crate::procfs::raise_nofile();
    let need = a.long_poll + a.sse + a.writers as u64 + 64;
    if need > limit {
        bail!("{need} connections need more open files than this process may have ({limit}); raise `ulimit -n`");
    }
    let s = a.streams as usize;
    let paths: Vec<String> = (0..a.streams)
        .map(|i| ctx.target.path(&ctx.name("fan", i)))
        .collect();
    let mut r = Report::new("fanout");
    let rss0 = ctx.rss_kib();
    create_all(ctx, &paths, ops::TEXT, 32).await?;
    let rss1 = ctx.rss_kib();
    let paths = Arc::new(paths);

    // Readers get until the last round plus the grace period.
    let plan = Duration::from_millis(a.interval_ms * a.rounds as u64);
    let settle = Duration::from_millis(1000 + (a.long_poll + a.sse) / 4);
    let far = Instant::now() + Duration::from_secs(600) + plan;
    let deadline = Arc::new(std::sync::Mutex::new(far));
    let ready = Arc::new(AtomicU64::new(0));

    say(
        ctx.quiet,
        format!("opening {} SSE readers over {} streams", a.sse, a.streams),
    );
    let mut sse = Vec::new();
    for i in 0..a.sse as usize {
        let (t, p, rd, dl, rounds) = (
            ctx.target.clone(),
            paths.clone(),
            ready.clone(),
            deadline.clone(),
            a.rounds,
        );
        sse.push(tokio::spawn(async move {
            sse_reader(t, p[i % p.len()].clone(), i % p.len(), rounds, rd, dl).await
        }));
    }
    wait_ready(&ready, a.sse, Duration::from_secs(60 + a.sse / 100)).await;
    let sse_ready = ready.load(Ordering::Relaxed);
    tokio::time::sleep(settle).await;
    let rss2 = ctx.rss_kib();
    say(
        ctx.quiet,
        format!(
            "{sse_ready} SSE readers connected; opening {} long-poll readers",
            a.long_poll
        ),
    );
    ready.store(0, Ordering::Relaxed);
    let mut lp = Vec::new();
    for i in 0..a.long_poll as usize {
        let (t, p, rd, dl, rounds) = (
            ctx.target.clone(),
            paths.clone(),
            ready.clone(),
            deadline.clone(),
            a.rounds,
        );
        lp.push(tokio::spawn(async move {
            long_poll_reader(t, p[i % p.len()].clone(), i % p.len(), rounds, rd, dl).await
        }));
    }
    wait_ready(
        &ready,
        a.long_poll,
        Duration::from_secs(60 + a.long_poll / 100),
    )
    .await;
    tokio::time::sleep(settle).await;
    let rss3 = ctx.rss_kib();
    ctx.report_process(&mut r, "idle_readers");

    say(
        ctx.quiet,
        format!(
            "{} rounds, one append per stream every {} ms",
            a.rounds, a.interval_ms
        ),
    );
    let progress = Progress::start("fanout", "appends", ctx.pid, ctx.quiet);
    let cpu0 = ctx.cpu();
    let t0 = Instant::now();
    *deadline.lock().expect("lock") = t0 + plan + Duration::from_secs(a.grace);
    let mut writers = Vec::new();
    for w in 0..a.writers.min(s) {
        let (t, p, n, e) = (
            ctx.target.clone(),
            paths.clone(),
            progress.count.clone(),
            progress.errors.clone(),
        );
        let (nw, rounds, every) = (
            a.writers.min(s),
            a.rounds,
            Duration::from_millis(a.interval_ms),
        );
        writers.push(tokio::spawn(async move {
            let mut conn = Conn::open(&t).await?;
            let mut acks = Vec::new();
            let mut first_error = None;
            for round in 0..rounds {
                tokio::time::sleep_until((t0 + every * round).into()).await;
                for st in (w..p.len()).step_by(nw) {
                    let body = Bytes::from(format!("r{round:06};"));
                    match ops::append(&mut conn, &p[st], ops::TEXT, body, &[]).await {
                        Ok(_) => {
                            acks.push((st, round, Instant::now()));
                            n.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(err) => {
                            e.fetch_add(1, Ordering::Relaxed);
                            first_error.get_or_insert(format!("{err:#}"));
                            conn = Conn::open(&t).await?;
                        }
                    }
                }
            }
            anyhow::Ok((acks, first_error))
        }));
    }
    let mut acked = vec![None; s * a.rounds as usize];
    let mut write_error = None;
    for w in writers {
        let (acks, e) = w.await??;
        for (st, round, at) in acks {
            acked[st * a.rounds as usize + round as usize] = Some(at);
        }
        write_error = write_error.or(e);
    }
    let write_errors = progress.errors.load(Ordering::Relaxed);
    progress.finish().await;
    say(ctx.quiet, "waiting for every reader to get every round");

    let results = vec![
        tally("sse", sse, &acked, a.rounds).await,
        tally("long_poll", lp, &acked, a.rounds).await,
    ];
    // After every reader finished: the target's CPU for all deliveries.
    let cpu1 = ctx.cpu();
    let delivered: u64 = results.iter().map(|t| t.2.len() as u64).sum();
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let us = c1.saturating_sub(c0).as_secs_f64() * 1e6 / delivered.max(1) as f64;
        r.figure(
            "target_cpu_us_per_delivery",
            us,
            format!("{us:.1} µs of target CPU per delivery, appends and re-polls included ({delivered} deliveries)"),
        );
    }
    let missing_acks = acked.iter().filter(|x| x.is_none()).count();
    for (name, n, mut lat, early, incomplete, errors, reconnects, first) in results {
        if n == 0 {
            continue;
        }
        let m = lat.summary();
        r.figure(
            &format!("{name}_delivery"),
            serde_json::to_value(m)?,
            format!(
                "{n} readers: ack->delivery p50 {}  p99 {}  max {}  ({} deliveries, {early} before the ack reached the writer, {reconnects} reconnects)",
                fmt_us(m.p50_us as f64),
                fmt_us(m.p99_us as f64),
                fmt_us(m.max_us as f64),
                m.count
            ),
        );
        r.check(
            format!(
                "{name}: every reader got rounds 0..{} once each, in order ({incomplete} of {n} did not; {errors} reader errors{})",
                a.rounds,
                first.map(|e| format!("; first: {e}")).unwrap_or_default()
            ),
            incomplete == 0 && errors == 0,
        );
    }
    r.check(
        format!(
            "every append acknowledged ({write_errors} errors, {missing_acks} missing{})",
            write_error
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ),
        write_errors == 0 && missing_acks == 0,
    );
    r.data("params", json!({"long_poll": a.long_poll, "sse": a.sse, "streams": a.streams, "rounds": a.rounds, "interval_ms": a.interval_ms}));
    if let (Some(r0), Some(r1), Some(r2), Some(r3)) = (rss0, rss1, rss2, rss3) {
        let per_stream = r1.saturating_sub(r0) as f64 * 1024.0 / a.streams as f64;
        r.figure(
            "rss_per_stream_bytes",
            per_stream,
            format!(
                "{per_stream:.0} bytes per idle stream ({} -> {})",
                mib(r0),
                mib(r1)
            ),
        );
        if a.sse > 0 {
            let per = r2.saturating_sub(r1) as f64 * 1024.0 / a.sse as f64;
            r.figure(
                "rss_per_idle_sse_bytes",
                per,
                format!(
                    "{:.1} KiB per idle SSE connection ({} -> {})",
                    per / 1024.0,
                    mib(r1),
                    mib(r2)
                ),
            );
        }
        if a.long_poll > 0 {
            let per = r3.saturating_sub(r2) as f64 * 1024.0 / a.long_poll as f64;
            r.figure(
                "rss_per_long_poll_bytes",
                per,
                format!(
                    "{:.1} KiB per waiting long-poll ({} -> {})",
                    per / 1024.0,
                    mib(r2),
                    mib(r3)
                ),
            );
        }
    }
    ctx.report_process(&mut r, "end");
    Ok(r)
}

type Tally = (String, usize, Samples, u64, u64, u64, u64, Option<String>);

/// Joins one kind of readers: delivery latencies (from each append's ack),
/// deliveries before the ack, readers that missed rounds, reader errors,
/// reconnects and the first error.
async fn tally(
    name: &str,
    tasks: Vec<tokio::task::JoinHandle<Got>>,
    acked: &[Option<Instant>],
    rounds: u32,
) -> Tally {
    let (mut lat, mut early, mut incomplete, mut errors, mut reconnects, mut first) =
        (Samples::default(), 0u64, 0u64, 0u64, 0u64, None);
    let n = tasks.len();
    for t in tasks {
        let g = t.await.unwrap_or_else(|e| Got {
            error: Some(format!("reader task: {e}")),
            ..Got::default()
        });
        reconnects += g.reconnects;
        if let Some(e) = g.error {
            errors += 1;
            first.get_or_insert(e);
        }
        if !g.deliveries.iter().map(|d| d.0).eq(0..rounds) {
            incomplete += 1;
        }
        for (round, at) in g.deliveries {
            if round >= rounds {
                continue;
            }
            if let Some(Some(ack)) = acked.get(g.stream * rounds as usize + round as usize) {
                match at.checked_duration_since(*ack) {
                    Some(d) => lat.push(d),
                    None => {
                        early += 1;
                        lat.push_us(0);
                    }
                }
            }
        }
    }
    (
        name.to_string(),
        n,
        lat,
        early,
        incomplete,
        errors,
        reconnects,
        first,
    )
}

async fn wait_ready(ready: &AtomicU64, want: u64, max: Duration) {
    let until = Instant::now() + max;
    while ready.load(Ordering::Relaxed) < want && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn current(deadline: &std::sync::Mutex<Instant>) -> tokio::time::Instant {
    (*deadline.lock().expect("lock")).into()
}

/// `r000001;r000002;` → [1, 2].
pub fn parse_records(text: &str) -> Result<Vec<u32>> {
    text.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.strip_prefix('r')
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("unexpected record '{p}'"))
        })
        .collect()
}

async fn long_poll_reader(
    target: Target,
    path: String,
    stream: usize,
    rounds: u32,
    ready: Arc<AtomicU64>,
    deadline: Arc<std::sync::Mutex<Instant>>,
) -> Got {
    let mut g = Got {
        stream,
        ..Got::default()
    };
    let result: Result<()> = async {
        let mut conn = Conn::open(&target).await?;
        ready.fetch_add(1, Ordering::Relaxed);
        let (mut offset, mut cursor) = ("-1".to_string(), None::<String>);
        while g.deliveries.len() < rounds as usize {
            let mut url = format!("{path}?offset={}&live=long-poll", encode_query(&offset));
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={}", encode_query(c)));
            }
            let Ok(resp) = timeout_at(
                current(&deadline),
                conn.send(Method::GET, &url, &[], Bytes::new()),
            )
            .await
            else {
                bail!(
                    "deadline passed after {} of {rounds} rounds",
                    g.deliveries.len()
                );
            };
            let resp = resp?;
            let at = Instant::now();
            match resp.status.as_u16() {
                200 => {
                    let text = std::str::from_utf8(&resp.body).context("body is not UTF-8")?;
                    for round in parse_records(text)? {
                        g.deliveries.push((round, at));
                    }
                }
                204 => {}
                s => bail!("long-poll answered {s}"),
            }
            offset = ops::next_offset(&resp, &path)?;
            cursor = resp.header("stream-cursor").map(str::to_string);
            if conn.opened > 1 {
                g.reconnects = conn.opened - 1;
            }
        }
        Ok(())
    }
    .await;
    g.error = result.err().map(|e| format!("{e:#}"));
    g
}

async fn sse_reader(
    target: Target,
    path: String,
    stream: usize,
    rounds: u32,
    ready: Arc<AtomicU64>,
    deadline: Arc<std::sync::Mutex<Instant>>,
) -> Got {
    let mut g = Got {
        stream,
        ..Got::default()
    };
    let result: Result<()> = async {
        let mut conn = Conn::open(&target).await?;
        let mut offset = "-1".to_string();
        let mut first = true;
        while g.deliveries.len() < rounds as usize {
            let url = format!("{path}?offset={}&live=sse", encode_query(&offset));
            let resp = conn.start(Method::GET, &url, &[], Bytes::new()).await?;
            if resp.status() != 200 {
                bail!("SSE answered {}", resp.status());
            }
            if !header(resp.headers(), "content-type")
                .is_some_and(|c| c.starts_with("text/event-stream"))
            {
                bail!("SSE answer is not text/event-stream");
            }
            if first {
                ready.fetch_add(1, Ordering::Relaxed);
                first = false;
            } else {
                g.reconnects += 1;
            }
            let mut body = resp.into_body();
            let mut parser = SseParser::default();
            loop {
                let Ok(frame) = timeout_at(current(&deadline), body.frame()).await else {
                    bail!(
                        "deadline passed after {} of {rounds} rounds",
                        g.deliveries.len()
                    );
                };
                let Some(frame) = frame else { break }; // server closed: reconnect
                let frame = frame.context("reading the SSE body")?;
                let Some(chunk) = frame.data_ref() else {
                    continue;
                };
                let at = Instant::now();
                for ev in parser.feed(chunk) {
                    match ev.event.as_str() {
                        "data" => {
                            for round in parse_records(&ev.data)? {
                                g.deliveries.push((round, at));
                            }
                        }
                        "control" => {
                            let v: serde_json::Value = serde_json::from_str(&ev.data)
                                .context("control event is not JSON")?;
                            if let Some(o) = v.get("streamNextOffset").and_then(|o| o.as_str()) {
                                offset = o.to_string();
                            }
                            if v.get("streamClosed") == Some(&serde_json::Value::Bool(true)) {
                                bail!("stream closed unexpectedly");
                            }
                        }
                        _ => {}
                    }
                }
                if g.deliveries.len() >= rounds as usize {
                    break;
                }
            }
            // The body ended (the server closes SSE now and then, §5.8):
            // resume from the last control event's offset.
            conn = Conn::open(&target).await?;
        }
        Ok(())
    }
    .await;
    g.error = result.err().map(|e| format!("{e:#}"));
    g
}

/// One SSE event (its type and its data lines joined by `\n`).
#[derive(Debug, PartialEq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// Incremental SSE parser (events end at a blank line; `\n` or `\r\n`).
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(nl) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let mut line = &self.buf[start..start + nl];
            start += nl + 1;
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line);
            if line.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    out.push(Event {
                        event: if self.event.is_empty() {
                            "message".into()
                        } else {
                            std::mem::take(&mut self.event)
                        },
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                self.event.clear();
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                None => (line.to_string(), String::new()),
            };
            match field.as_str() {
                "event" => self.event = value,
                "data" => self.data.push(value),
                _ => {}
            }
        }
        self.buf.drain(..start);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        assert_eq!(parse_records("r000001;r000002;").unwrap(), vec![1, 2]);
        assert_eq!(parse_records("r000001;\nr000002;").unwrap(), vec![1, 2]);
        assert_eq!(parse_records("").unwrap(), Vec::<u32>::new());
        assert!(parse_records("x1;").is_err());
    }

    #[test]
    fn sse_events_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: data\ndata: r0000").is_empty());
        let ev = p.feed(b"01;\r\ndata: r000002;\n\n: comment\nevent:control\ndata:{\"a\":1}\n\n");
        assert_eq!(
            ev,
            vec![
                Event {
                    event: "data".into(),
                    data: "r000001;\nr000002;".into()
                },
                Event {
                    event: "control".into(),
                    data: "{\"a\":1}".into()
                },
            ]
        );
        assert_eq!(p.feed(b"data: x\n"), vec![]);
        assert_eq!(
            p.feed(b"\n"),
            vec![Event {
                event: "message".into(),
                data: "x".into()
            }]
        );
    }
}
