//! Read cost through a fork chain vs its depth (§4.2): for each depth D, a
//! base stream of B messages, then D forks each of the previous one at its
//! tail, each with P messages of its own. On the last fork: tail reads of
//! its last message, and full catch-up reads (cost per byte, since deeper
//! chains hold more bytes). Every read is checked against what was written.
//! The chains are built first; their reads then alternate in batches.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use bytes::Bytes;
use serde_json::json;

use super::tail::BATCHES;
use super::{payload, ratio};
use crate::http::Conn;
use crate::ops;
use crate::progress::say;
use crate::report::Report;
use crate::stats::{fmt_us, Digest, Samples};
use crate::Ctx;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Chain depths (forks of forks).
    #[arg(long, default_value = "1,100", value_parser = crate::parse_list)]
    pub depths: crate::List,
    /// Messages in the base stream (large, so the chains' total sizes are
    /// alike and per-byte costs compare).
    #[arg(long, default_value_t = 10000)]
    pub base: u64,
    /// Messages appended to each fork.
    #[arg(long, default_value_t = 10)]
    pub per_fork: u64,
    #[arg(long, default_value = "64", value_parser = crate::parse_bytes)]
    pub size: u64,
    /// Tail reads timed per depth.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Full catch-up reads timed per depth.
    #[arg(long, default_value_t = 20)]
    pub passes: usize,
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    ensure!(
        a.depths.0.iter().all(|&d| d >= 1),
        "--depths must be at least 1"
    );
    ensure!(
        a.per_fork >= 1 && a.size >= 1 && a.samples >= 1 && a.passes >= 1,
        "--per-fork, --size, --samples, --passes must be at least 1"
    );
    let mut r = Report::new("fork");
    let mut conn = Conn::open(&ctx.target).await?;
    // Every chain first, then the reads: batches alternate between the
    // depths, so a change in the machine's load hits all of them alike.
    let mut chains = Vec::new();
    for &depth in &a.depths.0 {
        say(ctx.quiet, format!("building a fork chain of depth {depth}"));
        let mut want = Digest::default();
        let mut tag = 0u64;
        let mut path = ctx.target.path(&ctx.name(&format!("fork{depth}"), 0));
        ops::create(&mut conn, &path, ops::OCTET, &[]).await?;
        for _ in 0..a.base {
            let b = payload(a.size as usize, tag);
            tag += 1;
            want.write(&b);
            ops::append(&mut conn, &path, ops::OCTET, b, &[]).await?;
        }
        let mut tail = String::new();
        let mut last = Bytes::new();
        for d in 1..=depth {
            let fork = ctx.target.path(&ctx.name(&format!("fork{depth}"), d));
            ops::create(
                &mut conn,
                &fork,
                ops::OCTET,
                &[("stream-forked-from", &path)],
            )
            .await?;
            path = fork;
            for j in 0..a.per_fork {
                if d == depth && j + 1 == a.per_fork {
                    tail = ops::tail_offset(&mut conn, &path).await?;
                }
                let b = payload(a.size as usize, tag);
                tag += 1;
                want.write(&b);
                last = b.clone();
                ops::append(&mut conn, &path, ops::OCTET, b, &[]).await?;
            }
        }
        super::tail::time_reads(&mut conn, &path, &tail, &last, 20.min(a.samples)).await?;
        chains.push(Chain {
            depth,
            path,
            tail,
            last,
            want,
            total: tag * a.size,
            lat: Samples::default(),
            wrong: 0,
            bad: 0,
            catchup: Duration::ZERO,
        });
    }
    say(
        ctx.quiet,
        format!(
            "{} tail reads and {} catch-ups per depth, alternating",
            a.samples, a.passes
        ),
    );
    let batches = BATCHES.min(a.passes.max(1));
    for b in 0..batches {
        let n = a.samples * (b + 1) / batches - a.samples * b / batches;
        let passes = a.passes * (b + 1) / batches - a.passes * b / batches;
        for c in &mut chains {
            let (l, w) = super::tail::time_reads(&mut conn, &c.path, &c.tail, &c.last, n).await?;
            c.lat.extend(l);
            c.wrong += w;
            let started = Instant::now();
            for _ in 0..passes {
                let mut h = Digest::default();
                let got = ops::read_all(&mut conn, &c.path, "-1", |b| {
                    h.write(b);
                    Ok(())
                })
                .await?;
                if got.bytes != c.total || h != c.want {
                    c.bad += 1;
                }
            }
            c.catchup += started.elapsed();
        }
    }
    let mut first: Option<(f64, f64)> = None;
    for mut c in chains {
        let (depth, total) = (c.depth, c.total);
        let m = c.lat.summary();
        r.check(
            format!(
                "depth {depth}: every tail read returned exactly the last message ({} did not)",
                c.wrong
            ),
            c.wrong == 0,
        );
        let per_mib = c.catchup.as_micros() as f64 / a.passes as f64 / (total as f64 / 1048576.0);
        r.check(format!("depth {depth}: {} catch-up reads each returned the {total} bytes written in order ({} did not)", a.passes, c.bad), c.bad == 0);
        r.figure(
            &format!("depth_{depth}"),
            json!({"tail_read": m, "catchup_us_per_mib": per_mib, "bytes": total}),
            format!(
                "tail read mean {} p50 {} p99 {}; catch-up {} per MiB ({} KiB)",
                fmt_us(m.mean_us),
                fmt_us(m.p50_us as f64),
                fmt_us(m.p99_us as f64),
                fmt_us(per_mib),
                total / 1024
            ),
        );
        match first {
            None => first = Some((m.mean_us, per_mib)),
            Some((t0, c0)) => {
                let (rt, rc) = (ratio(m.mean_us, t0), ratio(per_mib, c0));
                r.figure(
                    &format!("ratio_depth_{depth}_vs_{}", a.depths.0[0]),
                    json!({"tail_read_mean": rt, "catchup_per_byte": rc}),
                    format!(
                        "{rt:.2}x tail read, {rc:.2}x catch-up per byte (vs depth {})",
                        a.depths.0[0]
                    ),
                );
            }
        }
    }
    ctx.report_process(&mut r, "end");
    Ok(r)
}

/// One chain under test and what its reads measured.
struct Chain {
    depth: u64,
    path: String,
    tail: String,
    last: Bytes,
    want: Digest,
    total: u64,
    lat: Samples,
    wrong: usize,
    bad: usize,
    catchup: Duration,
}
