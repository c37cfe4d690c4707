//! Live fan-out (§5.7 long-poll, §5.8 SSE): N long-poll and N SSE readers
//! (one connection each) spread over S text streams; W writers append one
//! record `r<round>;` to every stream each round. Each delivery is timed
//! from its append's acknowledgement (the writer's answer) to its arrival
//! at the reader; a delivery that arrives before the writer has the answer
//! (the server fans out before its reply reaches the writer) is timed from
//! the moment the append was sent instead (an upper bound: it was made
//! somewhere in between), and counted apart as `early`. Every reader must see every round exactly once, in order.
//! With --pid also the target's memory per idle SSE connection and per
//! waiting long-poll.
//!
//! Pacing: `--pace settle` (the default) sends a round only once every
//! reader got the previous one (or `--round-timeout-ms` passed, which is
//! reported), then waits `--interval-ms`: the figure is one append's
//! fan-out latency. `--pace fixed` appends every `--interval-ms` whatever
//! the readers got: once a round's deliveries take longer than the
//! interval a backlog builds, and the figure measures saturation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::Notify;
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
    /// How rounds are spaced: `settle` waits until every reader got the
    /// previous round, then --interval-ms; `fixed` appends every
    /// --interval-ms (saturation once a round outlasts the interval).
    #[arg(long, value_enum, default_value = "settle")]
    pub pace: Pace,
    /// Milliseconds between rounds (`settle`: after the previous round
    /// reached every reader).
    #[arg(long, default_value_t = 250)]
    pub interval_ms: u64,
    /// `settle`: how long a round may take to reach every reader before the
    /// next is sent anyway (reported as a timed-out round).
    #[arg(long, default_value_t = 30_000)]
    pub round_timeout_ms: u64,
    /// Writer connections.
    #[arg(long, default_value_t = 4)]
    pub writers: usize,
    /// Seconds readers may take after the last round.
    #[arg(long, default_value_t = 30)]
    pub grace: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    Settle,
    Fixed,
}

impl Pace {
    fn name(self) -> &'static str {
        match self {
            Pace::Settle => "settle",
            Pace::Fixed => "fixed",
        }
    }
}

/// How many readers got each round; `settle` writers wait on it. Only the
/// readers that were ready (connected and waiting) when the rounds started
/// are waited for: one that never connected would otherwise hold every
/// round until its timeout.
struct Pacer {
    /// Readers started (ready or not).
    readers: u64,
    /// (rounds started, readers ready before that): the paced readers.
    joined: std::sync::Mutex<(bool, u64)>,
    /// How many readers a round must reach; set by `start`.
    expected: AtomicU64,
    got: Vec<AtomicU64>,
    settled: Notify,
}

impl Pacer {
    fn new(readers: u64, rounds: u32) -> Pacer {
        Pacer {
            readers,
            joined: std::sync::Mutex::new((false, 0)),
            expected: AtomicU64::new(readers),
            got: (0..rounds).map(|_| AtomicU64::new(0)).collect(),
            settled: Notify::new(),
        }
    }

    /// A reader is connected and waiting; true if the rounds will wait for
    /// it (it became ready before `start`).
    fn ready(&self) -> bool {
        let mut j = self.joined.lock().expect("lock");
        if !j.0 {
            j.1 += 1;
        }
        !j.0
    }

    /// The rounds start: from now on they wait only for the readers that
    /// were ready. Returns how many readers were not (excluded).
    fn start(&self) -> u64 {
        let mut j = self.joined.lock().expect("lock");
        j.0 = true;
        self.expected.store(j.1, Ordering::Release);
        self.readers.saturating_sub(j.1)
    }

    /// A paced reader got `round` (the others' deliveries are not counted).
    fn delivered(&self, round: u32) {
        if let Some(c) = self.got.get(round as usize) {
            if c.fetch_add(1, Ordering::AcqRel) + 1 >= self.expected.load(Ordering::Acquire) {
                self.settled.notify_waiters();
            }
        }
    }

    fn done(&self, round: u32) -> bool {
        self.got[round as usize].load(Ordering::Acquire) >= self.expected.load(Ordering::Acquire)
    }

    /// Waits until every reader got `round`; false if `until` came first.
    async fn wait(&self, round: u32, until: Instant) -> bool {
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.done(round) {
                return true;
            }
            if timeout_at(until.into(), notified).await.is_err() {
                return self.done(round);
            }
        }
    }
}

/// One reader's deliveries: (round, arrival), plus what went wrong.
#[derive(Default)]
struct Got {
    stream: usize,
    deliveries: Vec<(u32, Instant)>,
    reconnects: u64,
    /// TCP connections the reader opened (1 if it never lost its own).
    connections: u64,
    error: Option<String>,
    /// Ready before the rounds started: the pacer waits for it.
    paced: bool,
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

    // Readers get until the last round plus the grace period (settle: the
    // longest the rounds may take).
    let per_round = match a.pace {
        Pace::Fixed => a.interval_ms,
        Pace::Settle => a.interval_ms + a.round_timeout_ms,
    };
    let plan = Duration::from_millis(per_round * a.rounds as u64);
    let pacer = Arc::new(Pacer::new(a.long_poll + a.sse, a.rounds));
    let settle = Duration::from_millis(1000 + (a.long_poll + a.sse) / 4);
    let far = Instant::now() + Duration::from_secs(600) + plan;
    let deadline = Arc::new(std::sync::Mutex::new(far));
    let ready = Arc::new(AtomicU64::new(0));

    say(
        ctx.quiet,
        format!("opening {} SSE readers over {} streams", a.sse, a.streams),
    );
    let spawn = |n: u64, kind: Kind| -> Vec<tokio::task::JoinHandle<Got>> {
        (0..n as usize)
            .map(|i| {
                let r = Reader {
                    target: ctx.target.clone(),
                    path: paths[i % s].clone(),
                    stream: i % s,
                    rounds: a.rounds,
                    ready: ready.clone(),
                    deadline: deadline.clone(),
                    pacer: pacer.clone(),
                };
                tokio::spawn(r.run(kind))
            })
            .collect()
    };
    let sse = spawn(a.sse, Kind::Sse);
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
    let lp = spawn(a.long_poll, Kind::LongPoll);
    wait_ready(
        &ready,
        a.long_poll,
        Duration::from_secs(60 + a.long_poll / 100),
    )
    .await;
    tokio::time::sleep(settle).await;
    let rss3 = ctx.rss_kib();
    ctx.report_process(&mut r, "idle_readers");

    let pacing = match a.pace {
        Pace::Fixed => format!("fixed: one append per stream every {} ms, whatever the readers got (a backlog measures saturation)", a.interval_ms),
        Pace::Settle => format!("settle: each round once every reader got the previous one, then {} ms (timeout {} ms)", a.interval_ms, a.round_timeout_ms),
    };
    say(ctx.quiet, format!("{} rounds, {pacing}", a.rounds));
    let not_ready = pacer.start();
    if not_ready > 0 {
        say(
            ctx.quiet,
            format!("{not_ready} readers are not ready; the rounds do not wait for them"),
        );
    }
    let progress = Progress::start("fanout", "appends", ctx.pid, ctx.quiet);
    let cpu0 = ctx.cpu();
    let t0 = Instant::now();
    *deadline.lock().expect("lock") = t0 + plan + Duration::from_secs(a.grace);
    let mut writers = Vec::new();
    for w in 0..a.writers.min(s) {
        let (t, p, n, e, pacer) = (
            ctx.target.clone(),
            paths.clone(),
            progress.count.clone(),
            progress.errors.clone(),
            pacer.clone(),
        );
        let (nw, rounds, every, pace, round_timeout) = (
            a.writers.min(s),
            a.rounds,
            Duration::from_millis(a.interval_ms),
            a.pace,
            Duration::from_millis(a.round_timeout_ms),
        );
        writers.push(tokio::spawn(async move {
            let mut conn = Conn::open(&t).await?;
            let mut acks = Vec::new();
            let mut first_error = None;
            let mut timed_out = Vec::new();
            for round in 0..rounds {
                match pace {
                    Pace::Fixed => tokio::time::sleep_until((t0 + every * round).into()).await,
                    Pace::Settle if round > 0 => {
                        if !pacer.wait(round - 1, Instant::now() + round_timeout).await {
                            timed_out.push(round - 1);
                        }
                        tokio::time::sleep(every).await;
                    }
                    Pace::Settle => {}
                }
                for st in (w..p.len()).step_by(nw) {
                    let body = Bytes::from(format!("r{round:06};"));
                    let sent = Instant::now();
                    match ops::append(&mut conn, &p[st], ops::TEXT, body, &[]).await {
                        Ok(_) => {
                            let acked = Instant::now();
                            acks.push((st, round, Sent { sent, acked }));
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
            anyhow::Ok((acks, first_error, timed_out))
        }));
    }
    let mut acked = vec![None; s * a.rounds as usize];
    let mut write_error = None;
    let mut timed_out = std::collections::BTreeSet::new();
    for w in writers {
        let (acks, e, late) = w.await??;
        for (st, round, sent) in acks {
            acked[st * a.rounds as usize + round as usize] = Some(sent);
        }
        write_error = write_error.or(e);
        timed_out.extend(late);
    }
    {
        // Readers that wait again from now on get only the grace period.
        let mut d = deadline.lock().expect("lock");
        *d = (*d).min(Instant::now() + Duration::from_secs(a.grace));
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
    let delivered: u64 = results.iter().map(|t| t.latency.len() as u64).sum();
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let us = c1.saturating_sub(c0).as_secs_f64() * 1e6 / delivered.max(1) as f64;
        r.figure(
            "target_cpu_us_per_delivery",
            us,
            format!("{us:.1} µs of target CPU per delivery, appends and re-polls included ({delivered} deliveries)"),
        );
    }
    let missing_acks = acked.iter().filter(|x| x.is_none()).count();
    r.figure("pace", a.pace.name(), pacing);
    r.figure(
        "readers_not_ready",
        not_ready,
        format!(
            "{not_ready} of {} readers were not connected and waiting when the rounds started; {}",
            a.long_poll + a.sse,
            match a.pace {
                Pace::Settle => "rounds did not wait for them (they are still checked below)",
                Pace::Fixed => "they are still checked below",
            }
        ),
    );
    if a.pace == Pace::Settle {
        r.figure(
            "rounds_timed_out",
            timed_out.len(),
            format!(
                "{} of {} rounds did not reach every reader within {} ms{}",
                timed_out.len(),
                a.rounds.saturating_sub(1),
                a.round_timeout_ms,
                if timed_out.is_empty() {
                    String::new()
                } else {
                    format!(" (rounds {timed_out:?}): their successors were sent into a backlog")
                }
            ),
        );
    }
    for mut t in results {
        if t.readers == 0 {
            continue;
        }
        let (name, n) = (t.name, t.readers);
        let m = t.latency.summary();
        r.figure(
            &format!("{name}_delivery"),
            serde_json::to_value(m)?,
            format!(
                "{n} readers: ack->delivery p50 {}  p99 {}  max {}  ({} deliveries; {} early: arrived before the ack reached the writer, timed from the append's send; {} reconnects, {} new connections)",
                fmt_us(m.p50_us as f64),
                fmt_us(m.p99_us as f64),
                fmt_us(m.max_us as f64),
                m.count,
                t.early,
                t.reconnects,
                t.connections.saturating_sub(n as u64),
            ),
        );
        r.data(&format!("{name}_early"), t.early);
        r.data(&format!("{name}_reconnects"), t.reconnects);
        r.data(&format!("{name}_connections"), t.connections);
        r.check(
            format!(
                "{name}: every reader got rounds 0..{} once each, in order ({} of {n} did not; {} reader errors{})",
                a.rounds,
                t.incomplete,
                t.errors,
                t.first_error.map(|e| format!("; first: {e}")).unwrap_or_default()
            ),
            t.incomplete == 0 && t.errors == 0,
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
    r.data("params", json!({"long_poll": a.long_poll, "sse": a.sse, "streams": a.streams, "rounds": a.rounds, "interval_ms": a.interval_ms, "pace": a.pace.name(), "round_timeout_ms": a.round_timeout_ms}));
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
        let mut per_reader = |key: &str, n: u64, from: u64, to: u64, what: &str| {
            if n > 0 {
                let per = to.saturating_sub(from) as f64 * 1024.0 / n as f64;
                r.figure(
                    key,
                    per,
                    format!(
                        "{:.1} KiB per {what} ({} -> {})",
                        per / 1024.0,
                        mib(from),
                        mib(to)
                    ),
                );
            }
        };
        per_reader(
            "rss_per_idle_sse_bytes",
            a.sse,
            r1,
            r2,
            "idle SSE connection",
        );
        per_reader(
            "rss_per_long_poll_bytes",
            a.long_poll,
            r2,
            r3,
            "waiting long-poll",
        );
    }
    ctx.report_process(&mut r, "end");
    Ok(r)
}

/// One kind of readers, joined.
struct Tally {
    name: &'static str,
    readers: usize,
    /// Delivery latencies, from each append's acknowledgement (early ones
    /// from its send).
    latency: Samples,
    /// Deliveries that arrived before the ack reached the writer.
    early: u64,
    /// Readers that missed a round, or got one twice or out of order.
    incomplete: u64,
    errors: u64,
    reconnects: u64,
    connections: u64,
    first_error: Option<String>,
}

/// When one append was sent and when its acknowledgement reached the writer.
#[derive(Clone, Copy)]
struct Sent {
    sent: Instant,
    acked: Instant,
}

impl Sent {
    /// A delivery's latency, and whether it was early: from the ack, or
    /// (when it arrived before the writer had the ack) from the send.
    fn latency(&self, at: Instant) -> (Duration, bool) {
        match at.checked_duration_since(self.acked) {
            Some(d) => (d, false),
            None => (at.saturating_duration_since(self.sent), true),
        }
    }
}

async fn tally(
    name: &'static str,
    tasks: Vec<tokio::task::JoinHandle<Got>>,
    acked: &[Option<Sent>],
    rounds: u32,
) -> Tally {
    let mut t = Tally::new(name, tasks.len());
    for task in tasks {
        let g = task.await.unwrap_or_else(|e| Got {
            error: Some(format!("reader task: {e}")),
            ..Got::default()
        });
        t.add(g, acked, rounds);
    }
    t
}

impl Tally {
    /// An empty tally for `readers` readers of one kind.
    fn new(name: &'static str, readers: usize) -> Tally {
        Tally {
            name,
            readers,
            latency: Samples::default(),
            early: 0,
            incomplete: 0,
            errors: 0,
            reconnects: 0,
            connections: 0,
            first_error: None,
        }
    }

    /// One reader's deliveries.
    fn add(&mut self, g: Got, acked: &[Option<Sent>], rounds: u32) {
        let t = self;
        t.reconnects += g.reconnects;
        t.connections += g.connections;
        if let Some(e) = g.error {
            t.errors += 1;
            t.first_error.get_or_insert(e);
        }
        if !g.deliveries.iter().map(|d| d.0).eq(0..rounds) {
            t.incomplete += 1;
        }
        for (round, at) in g.deliveries {
            if round >= rounds {
                continue;
            }
            if let Some(Some(sent)) = acked.get(g.stream * rounds as usize + round as usize) {
                let (d, early) = sent.latency(at);
                t.latency.push(d);
                t.early += u64::from(early);
            }
        }
    }
}

/// What every reader task is given.
struct Reader {
    target: Target,
    path: String,
    stream: usize,
    rounds: u32,
    ready: Arc<AtomicU64>,
    deadline: Arc<std::sync::Mutex<Instant>>,
    pacer: Arc<Pacer>,
}

impl Reader {
    /// Connected and waiting: counts towards `wait_ready`, and towards the
    /// pacer's readers if the rounds have not started yet.
    fn connected(&self, g: &mut Got) {
        self.ready.fetch_add(1, Ordering::Relaxed);
        g.paced = self.pacer.ready();
    }

    fn got(&self, g: &mut Got, round: u32, at: Instant) {
        g.deliveries.push((round, at));
        if g.paced {
            self.pacer.delivered(round);
        }
    }
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

#[derive(Clone, Copy)]
enum Kind {
    LongPoll,
    Sse,
}

impl Reader {
    /// Reads until every round arrived (or the deadline): its deliveries,
    /// and what went wrong.
    async fn run(self, kind: Kind) -> Got {
        let mut g = Got {
            stream: self.stream,
            ..Got::default()
        };
        let result = match kind {
            Kind::LongPoll => long_poll_reader(&self, &mut g).await,
            Kind::Sse => sse_reader(&self, &mut g).await,
        };
        g.error = result.err().map(|e| format!("{e:#}"));
        g
    }
}

async fn long_poll_reader(r: &Reader, g: &mut Got) -> Result<()> {
    let (path, rounds, deadline) = (&r.path, r.rounds, &r.deadline);
    let mut conn = Conn::open(&r.target).await?;
    r.connected(g);
    let (mut offset, mut cursor) = ("-1".to_string(), None::<String>);
    while g.deliveries.len() < rounds as usize {
        let mut url = format!("{path}?offset={}&live=long-poll", encode_query(&offset));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", encode_query(c)));
        }
        let Ok(resp) = timeout_at(
            current(deadline),
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
                    r.got(g, round, at);
                }
            }
            204 => {}
            s => bail!("long-poll answered {s}"),
        }
        offset = ops::next_offset(&resp, path)?;
        cursor = resp.header("stream-cursor").map(str::to_string);
        g.reconnects = conn.opened - 1;
        g.connections = conn.opened;
    }
    Ok(())
}

async fn sse_reader(r: &Reader, g: &mut Got) -> Result<()> {
    let (path, rounds, deadline) = (&r.path, r.rounds, &r.deadline);
    let mut conn = Conn::open(&r.target).await?;
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
            r.connected(g);
            first = false;
        } else {
            g.reconnects += 1;
        }
        let mut body = resp.into_body();
        let mut parser = SseParser::default();
        loop {
            let Ok(frame) = timeout_at(current(deadline), body.frame()).await else {
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
                            r.got(g, round, at);
                        }
                    }
                    "control" => {
                        let v: serde_json::Value =
                            serde_json::from_str(&ev.data).context("control event is not JSON")?;
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
        // The body ended (the server ends SSE responses now and then,
        // §10.2): resume from the last control event's offset on the
        // same keep-alive connection (`conn` opens a new one only if
        // the server closed it, after letting go of the old one).
        g.connections = conn.opened;
    }
    g.connections = conn.opened;
    Ok(())
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

    #[tokio::test]
    async fn pacer_settles_once_every_reader_got_the_round() {
        let p = Pacer::new(2, 3);
        let soon = || Instant::now() + Duration::from_millis(30);
        assert!(!p.wait(0, soon()).await, "nobody got round 0 yet");
        p.delivered(0);
        assert!(!p.wait(0, soon()).await, "one of two readers");
        p.delivered(1);
        p.delivered(7); // beyond the run: ignored
        let p = Arc::new(p);
        let waiter = tokio::spawn({
            let p = p.clone();
            async move { p.wait(0, Instant::now() + Duration::from_secs(10)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.delivered(0);
        assert!(waiter.await.unwrap(), "the second reader settles round 0");
        assert!(!p.done(1) && !p.done(2));
    }

    #[tokio::test]
    async fn pacer_waits_only_for_readers_ready_when_the_rounds_start() {
        // Three readers started; two connected before the rounds, one not.
        let p = Pacer::new(3, 2);
        assert!(p.ready());
        assert!(p.ready());
        assert_eq!(p.start(), 1, "one reader was not ready");
        assert!(!p.ready(), "a reader ready after the start is not paced");
        p.delivered(0);
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(!p.wait(0, soon).await, "one of the two ready readers");
        p.delivered(0);
        // The third reader never connects: the round must settle without
        // it, well before a round timeout.
        let t = Instant::now();
        assert!(p.wait(0, t + Duration::from_secs(10)).await);
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!p.done(1));
    }

    #[test]
    fn early_deliveries_are_timed_from_the_send_and_counted() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let sent = Sent {
            sent: t0,
            acked: t0 + ms(10),
        };
        assert_eq!(sent.latency(t0 + ms(15)), (ms(5), false));
        assert_eq!(sent.latency(t0 + ms(4)), (ms(4), true));
        let mut t = Tally::new("sse", 1);
        let g = Got {
            deliveries: vec![(0, t0 + ms(4)), (1, t0 + ms(30))],
            ..Got::default()
        };
        let second = Sent {
            sent: t0 + ms(20),
            acked: t0 + ms(22),
        };
        t.add(g, &[Some(sent), Some(second)], 2);
        assert_eq!(t.early, 1);
        assert_eq!(t.incomplete, 0);
        let m = t.latency.summary();
        assert_eq!(m.count, 2);
        // 4 ms (from the send, not 0) and 8 ms (from the ack).
        assert_eq!((m.p50_us, m.max_us), (4000, 8000), "{m:?}");
    }

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
