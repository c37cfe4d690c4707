//! Append throughput (§5.2): C connections, each with one append in flight,
//! spread over S streams; plain bytes, idempotent-producer headers (§5.2.1)
//! or JSON messages (§9.1). Closed-loop (as fast as answers come) or
//! fixed-rate (`--rate`, latency measured from each append's scheduled time,
//! so a slow server cannot hide its queueing). Afterwards every stream is
//! read back: the bytes (or JSON messages) stored must equal what was
//! acknowledged.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use serde_json::json;

use super::{create_all, mib, read_back};
use crate::http::Conn;
use crate::ops;
use crate::progress::{say, Progress};
use crate::report::Report;
use crate::stats::{fmt_us, Samples};
use crate::Ctx;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// application/octet-stream bodies.
    Plain,
    /// Plain bodies with Producer-Id/Epoch/Seq (one producer per connection).
    Producer,
    /// application/json: each append one JSON string message.
    Json,
}

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Connections (each one append in flight).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Streams the appends are spread over (1 to 100000).
    #[arg(long, default_value = "1", value_parser = crate::parse_count)]
    pub streams: u64,
    /// Bytes per append (the body; for JSON the encoded message).
    #[arg(long, default_value = "64", value_parser = crate::parse_bytes)]
    pub size: u64,
    #[arg(long, value_enum, default_value = "plain")]
    pub kind: Kind,
    /// Seconds of appending.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Fixed rate in appends/s over all connections (omitted: closed-loop).
    #[arg(long)]
    pub rate: Option<f64>,
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    anyhow::ensure!(a.connections >= 1, "--connections must be at least 1");
    anyhow::ensure!(
        (1..=1_000_000).contains(&a.streams),
        "--streams must be 1..=1000000"
    );
    anyhow::ensure!(a.duration > 0.0, "--duration must be positive");
    anyhow::ensure!(a.rate.is_none_or(|r| r > 0.0), "--rate must be positive");
    let json = a.kind == Kind::Json;
    anyhow::ensure!(!json || a.size >= 2, "--size must be at least 2 for JSON");
    let ct = if json { ops::JSON } else { ops::OCTET };
    let body = if json {
        Bytes::from(format!("\"{}\"", "x".repeat(a.size as usize - 2)))
    } else {
        Bytes::from(vec![b'x'; a.size as usize])
    };

    let mut r = Report::new("append");
    let paths: Vec<String> = (0..a.streams)
        .map(|i| ctx.target.path(&ctx.name("a", i)))
        .collect();
    let rss0 = ctx.rss_kib();
    create_all(ctx, &paths, ct, a.connections.min(64)).await?;
    let rss1 = ctx.rss_kib();

    say(
        ctx.quiet,
        format!(
            "{} appends of {} bytes, {} connections, {} streams, {:.0} s{}",
            format!("{:?}", a.kind).to_lowercase(),
            a.size,
            a.connections,
            a.streams,
            a.duration,
            a.rate
                .map(|r| format!(", fixed rate {r}/s"))
                .unwrap_or_default()
        ),
    );
    let progress = Progress::start("append", "acked", ctx.pid, ctx.quiet);
    let cpu0 = ctx.cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(a.duration);
    let paths = std::sync::Arc::new(paths);
    let mut tasks = Vec::new();
    for c in 0..a.connections {
        let (target, paths, body, ct, done, errs) = (
            ctx.target.clone(),
            paths.clone(),
            body.clone(),
            ct.to_string(),
            progress.count.clone(),
            progress.errors.clone(),
        );
        let kind = a.kind;
        let per_conn_rate = a.rate.map(|r| r / a.connections as f64);
        let conns = a.connections;
        let producer = format!("bench-{}-c{c}", ctx.run);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let mut lat = Samples::default();
            let mut seqs: HashMap<usize, u64> = HashMap::new();
            let mut acked = 0u64;
            let mut first_error: Option<String> = None;
            let mut k = 0u64;
            // Stagger fixed-rate senders across the first interval.
            let offset =
                per_conn_rate.map(|r| Duration::from_secs_f64(c as f64 / conns as f64 / r));
            loop {
                let scheduled = match per_conn_rate {
                    Some(rate) => {
                        let at = started
                            + offset.unwrap_or_default()
                            + Duration::from_secs_f64(k as f64 / rate);
                        if at >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    None => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        now
                    }
                };
                let s = ((c as u64 + k * conns as u64) % paths.len() as u64) as usize;
                k += 1;
                let (seq_s, epoch) = (seqs.get(&s).copied().unwrap_or(0).to_string(), "0");
                let headers: Vec<(&str, &str)> = if kind == Kind::Producer {
                    vec![
                        ("producer-id", &producer),
                        ("producer-epoch", epoch),
                        ("producer-seq", &seq_s),
                    ]
                } else {
                    vec![]
                };
                match ops::append(&mut conn, &paths[s], &ct, body.clone(), &headers).await {
                    Ok(_) => {
                        lat.push(scheduled.elapsed());
                        acked += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                        *seqs.entry(s).or_insert(0) += 1;
                    }
                    Err(e) => {
                        errs.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                        // An answer that failed mid-request leaves the
                        // connection in doubt: start a new one.
                        conn = Conn::open(&target).await?;
                    }
                }
            }
            anyhow::Ok((acked, lat, first_error, Instant::now()))
        }));
    }
    let mut acked = 0u64;
    let mut lat = Samples::default();
    let mut first_error = None;
    let mut last_done = started;
    for t in tasks {
        let (n, l, e, done) = t.await??;
        acked += n;
        lat.extend(l);
        first_error = first_error.or(e);
        last_done = last_done.max(done);
    }
    let errors = progress.errors.load(Ordering::Relaxed);
    progress.finish().await;
    let elapsed = last_done.duration_since(started).as_secs_f64();
    let rss2 = ctx.rss_kib();
    let cpu_note = (cpu0, acked);

    let rate = acked as f64 / elapsed;
    let m = lat.summary();
    r.figure("appends_per_s", rate, format!("{rate:.0} appends/s"));
    r.figure(
        "mb_per_s",
        rate * a.size as f64 / 1e6,
        format!("{:.2} MB/s of payload", rate * a.size as f64 / 1e6),
    );
    r.figure(
        "latency",
        serde_json::to_value(m)?,
        format!(
            "p50 {}  p99 {}  p999 {}  max {}{}",
            fmt_us(m.p50_us as f64),
            fmt_us(m.p99_us as f64),
            fmt_us(m.p999_us as f64),
            fmt_us(m.max_us as f64),
            if a.rate.is_some() {
                " (from scheduled send)"
            } else {
                ""
            }
        ),
    );
    if let Some(target_rate) = a.rate {
        r.figure(
            "offered_rate",
            target_rate,
            format!("{target_rate:.0} appends/s offered"),
        );
    }
    r.data(
        "params",
        json!({"connections": a.connections, "streams": a.streams, "size": a.size,
               "kind": format!("{:?}", a.kind).to_lowercase(), "duration_s": a.duration, "rate": a.rate}),
    );
    if let (Some(r0), Some(r1), Some(r2)) = (rss0, rss1, rss2) {
        let per_stream = (r1.saturating_sub(r0) * 1024) as f64 / a.streams as f64;
        r.figure(
            "rss_per_stream_bytes",
            per_stream,
            format!(
                "{per_stream:.0} bytes of target RSS per created stream ({} -> {})",
                mib(r0),
                mib(r1)
            ),
        );
        let payload = acked as f64 * a.size as f64;
        let growth = (r2.saturating_sub(r1) * 1024) as f64;
        r.figure(
            "rss_growth_per_payload_byte",
            growth / payload.max(1.0),
            format!(
                "{:.2}x: target RSS grew {} for {:.1} MiB of payload",
                growth / payload.max(1.0),
                mib(r2.saturating_sub(r1)),
                payload / 1048576.0
            ),
        );
    }
    ctx.report_cpu(&mut r, cpu_note.0, cpu_note.1, "append");
    ctx.report_process(&mut r, "end");

    // Verification: read every stream back.
    say(ctx.quiet, format!("reading {} streams back", a.streams));
    let stored = read_back(&ctx.target, &paths, a.connections.min(64), json).await?;
    let expected = if json { acked } else { acked * a.size };
    r.check(
        format!(
            "no error answers ({errors} errors{})",
            first_error
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ),
        errors == 0,
    );
    r.check(
        format!(
            "{acked} acknowledged appends = {stored} {} read back (expected {expected})",
            if json { "JSON messages" } else { "bytes" }
        ),
        stored == expected,
    );
    r.check("at least one append acknowledged", acked > 0);
    Ok(r)
}
