//! Sustained churn: C workers loop create → append → fork → append to the
//! fork → delete the source (soft-deleted while the fork lives, §4.2) →
//! delete the fork, for a fixed time. Samples the target's RSS (--pid) and
//! the size of its data directory (--data-dir) as it goes: both should level
//! off when deleted streams' data is reclaimed. Every answer must be the
//! expected status, and every deleted stream must be gone afterwards.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;
use http::Method;
use serde_json::json;

use super::{mib, payload};
use crate::http::Conn;
use crate::ops;
use crate::progress::{say, Progress};
use crate::report::Report;
use crate::Ctx;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Appends per stream per cycle.
    #[arg(long, default_value_t = 10)]
    pub appends: u64,
    #[arg(long, default_value = "1KiB", value_parser = crate::parse_bytes)]
    pub size: u64,
    /// The target's data directory, to sample its size on disk.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seconds between samples.
    #[arg(long, default_value_t = 5.0)]
    pub every: f64,
}

/// Bytes allocated on disk under `dir` (like `du`).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in rd.flatten() {
        let Ok(m) = e.metadata() else { continue };
        total += m.blocks() * 512;
        if m.is_dir() {
            total += disk_usage(&e.path());
        }
    }
    total
}

async fn cycle(conn: &mut Conn, src: &str, fork: &str, size: usize, appends: u64) -> Result<()> {
    ops::create(conn, src, ops::OCTET, &[]).await?;
    for i in 0..appends {
        ops::append(conn, src, ops::OCTET, payload(size, i), &[]).await?;
    }
    ops::create(conn, fork, ops::OCTET, &[("stream-forked-from", src)]).await?;
    for i in 0..appends {
        ops::append(conn, fork, ops::OCTET, payload(size, i), &[]).await?;
    }
    for p in [src, fork] {
        let r = conn.send(Method::DELETE, p, &[], Bytes::new()).await?;
        if r.status != 204 && r.status != 200 {
            bail!("DELETE {p}: {}", r.status);
        }
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    anyhow::ensure!(
        a.connections >= 1 && a.duration > 0.0 && a.every > 0.0,
        "--connections, --duration, --every must be positive"
    );
    let sample = |t: f64| (t, ctx.rss_kib(), a.data_dir.as_deref().map(disk_usage));
    let mut samples = vec![sample(0.0)];
    say(
        ctx.quiet,
        format!("churn: {} workers for {:.0} s", a.connections, a.duration),
    );
    let progress = Progress::start("churn", "cycles", ctx.pid, ctx.quiet);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(a.duration);
    let mut tasks = Vec::new();
    for w in 0..a.connections {
        let (target, done, errs) = (
            ctx.target.clone(),
            progress.count.clone(),
            progress.errors.clone(),
        );
        let (names, size, appends) = (
            (ctx.name("churn", w), ctx.name("churnfork", w)),
            a.size as usize,
            a.appends,
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let (mut n, mut first, mut gone) = (0u64, None, Vec::new());
            while Instant::now() < deadline {
                let (src, fork) = (
                    target.path(&format!("{}-{n}", names.0)),
                    target.path(&format!("{}-{n}", names.1)),
                );
                match cycle(&mut conn, &src, &fork, size, appends).await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        if n % 50 == 0 {
                            gone.push(src);
                            gone.push(fork);
                        }
                    }
                    Err(e) => {
                        errs.fetch_add(1, Ordering::Relaxed);
                        first.get_or_insert(format!("{e:#}"));
                        conn = Conn::open(&target).await?;
                    }
                }
                n += 1;
            }
            anyhow::Ok((n, first, gone))
        }));
    }
    let mut next = started + Duration::from_secs_f64(a.every);
    while next < deadline {
        tokio::time::sleep_until(next.into()).await;
        samples.push(sample(started.elapsed().as_secs_f64()));
        next += Duration::from_secs_f64(a.every);
    }
    let (mut cycles, mut first, mut gone) = (0u64, None, Vec::new());
    for t in tasks {
        let (n, f, g) = t.await??;
        cycles += n;
        first = first.or(f);
        gone.extend(g);
    }
    let errors = progress.errors.load(Ordering::Relaxed);
    progress.finish().await;
    // Give an asynchronous reclaimer a moment, then the final sample.
    tokio::time::sleep(Duration::from_secs(2)).await;
    samples.push(sample(started.elapsed().as_secs_f64()));

    let mut r = Report::new("churn");
    let rate = cycles as f64 / a.duration;
    r.figure(
        "cycles_per_s",
        rate,
        format!(
            "{rate:.0} cycles/s ({cycles} cycles of 2 streams, {} appends each)",
            a.appends * 2
        ),
    );
    let shown: Vec<String> = samples
        .iter()
        .map(|(t, rss, disk)| {
            format!(
                "{t:.0}s: rss {} disk {}",
                rss.map(mib).unwrap_or("-".into()),
                disk.map(|d| mib(d / 1024)).unwrap_or("-".into())
            )
        })
        .collect();
    r.figure(
        "samples",
        json!(samples
            .iter()
            .map(|(t, rss, disk)| json!({"t": t, "rss_kib": rss, "disk_bytes": disk}))
            .collect::<Vec<_>>()),
        shown.join(" | "),
    );
    let mid = samples[samples.len() / 2];
    let end = *samples.last().expect("samples");
    if let (Some(m), Some(e)) = (mid.1, end.1) {
        r.figure(
            "rss_growth_second_half_kib",
            e as i64 - m as i64,
            format!(
                "{} KiB RSS growth over the second half",
                e as i64 - m as i64
            ),
        );
    }
    if let (Some(m), Some(e)) = (mid.2, end.2) {
        r.figure(
            "disk_growth_second_half_bytes",
            e as i64 - m as i64,
            format!(
                "{:.1} MiB disk growth over the second half (written in total about {:.0} MiB)",
                (e as f64 - m as f64) / 1048576.0,
                (cycles * a.appends * 2 * a.size) as f64 / 1048576.0
            ),
        );
    }
    r.check(
        format!(
            "no error answers ({errors}{})",
            first.map(|e| format!("; first: {e}")).unwrap_or_default()
        ),
        errors == 0,
    );
    let mut conn = Conn::open(&ctx.target).await?;
    let mut still = 0;
    for p in &gone {
        let st = conn.send(Method::HEAD, p, &[], Bytes::new()).await?.status;
        if st != 404 && st != 410 {
            still += 1;
        }
    }
    r.check(
        format!(
            "{} sampled deleted streams are gone (404/410); {still} are not",
            gone.len()
        ),
        still == 0,
    );
    ctx.report_process(&mut r, "end");
    Ok(r)
}
