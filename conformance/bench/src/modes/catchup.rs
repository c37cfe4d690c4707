//! Catch-up read throughput (§5.6): one long stream written in order on one
//! connection, then read from the start by R readers, following
//! `Stream-Next-Offset` until `Stream-Up-To-Date`, several passes. Every
//! pass must return exactly the bytes written (length and digest).

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use super::payload;
use crate::http::Conn;
use crate::ops;
use crate::progress::{say, Progress};
use crate::report::Report;
use crate::stats::Digest;
use crate::Ctx;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Total bytes in the stream.
    #[arg(long, default_value = "64MiB", value_parser = crate::parse_bytes)]
    pub bytes: u64,
    /// Bytes per append while building it.
    #[arg(long, default_value = "4KiB", value_parser = crate::parse_bytes)]
    pub size: u64,
    /// Concurrent readers (one connection each).
    #[arg(long, default_value_t = 1)]
    pub readers: usize,
    /// Passes per reader.
    #[arg(long, default_value_t = 3)]
    pub passes: usize,
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    anyhow::ensure!(
        a.size >= 1 && a.bytes >= a.size,
        "--bytes must be at least --size (>= 1)"
    );
    anyhow::ensure!(
        a.readers >= 1 && a.passes >= 1,
        "--readers and --passes must be at least 1"
    );
    let path = ctx.target.path(&ctx.name("catchup", 0));
    let mut conn = Conn::open(&ctx.target).await?;
    ops::create(&mut conn, &path, ops::OCTET, &[]).await?;
    let n = a.bytes / a.size;
    say(
        ctx.quiet,
        format!(
            "writing {n} appends of {} bytes ({:.1} MiB)",
            a.size,
            (n * a.size) as f64 / 1048576.0
        ),
    );
    let progress = Progress::start("write", "appends", ctx.pid, ctx.quiet);
    let mut want = Digest::default();
    for i in 0..n {
        let body = payload(a.size as usize, i);
        want.write(&body);
        ops::append(&mut conn, &path, ops::OCTET, body, &[]).await?;
        progress
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    progress.finish().await;
    let total = n * a.size;

    say(
        ctx.quiet,
        format!("{} readers x {} passes", a.readers, a.passes),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.readers {
        let (target, path, passes) = (ctx.target.clone(), path.clone(), a.passes);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let mut out = Vec::new();
            for _ in 0..passes {
                let mut h = Digest::default();
                let t = Instant::now();
                let got = ops::read_all(&mut conn, &path, "-1", |b| {
                    h.write(b);
                    Ok(())
                })
                .await?;
                out.push((got.bytes, got.requests, h, t.elapsed()));
            }
            anyhow::Ok(out)
        }));
    }
    let mut passes = Vec::new();
    for t in tasks {
        passes.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let read: u64 = passes.iter().map(|p| p.0).sum();
    let mbps = read as f64 / elapsed / 1e6;
    let mut r = Report::new("catchup");
    r.figure(
        "mb_per_s",
        mbps,
        format!("{mbps:.1} MB/s ({} readers together)", a.readers),
    );
    let mut per_pass: Vec<f64> = passes
        .iter()
        .map(|p| p.0 as f64 / p.3.as_secs_f64() / 1e6)
        .collect();
    per_pass.sort_by(f64::total_cmp);
    let median = per_pass[per_pass.len() / 2];
    r.figure(
        "mb_per_s_per_reader_median",
        median,
        format!("{median:.1} MB/s per reader (median pass)"),
    );
    let reqs = passes[0].1;
    r.figure(
        "requests_per_pass",
        reqs,
        format!(
            "{reqs} GETs per pass ({:.0} KiB per answer)",
            total as f64 / reqs as f64 / 1024.0
        ),
    );
    r.data(
        "params",
        json!({"bytes": total, "size": a.size, "readers": a.readers, "passes": a.passes}),
    );
    ctx.report_process(&mut r, "end");
    let bad = passes
        .iter()
        .filter(|p| p.0 != total || p.2 != want)
        .count();
    r.check(
        format!(
            "{} passes each read back the {total} bytes written, in order (digest), {bad} did not",
            passes.len()
        ),
        bad == 0,
    );
    Ok(r)
}
