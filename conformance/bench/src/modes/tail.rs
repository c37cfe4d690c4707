//! Tail-read cost vs stream length (§5.6): for each length L, a stream of
//! L appends; then repeated GETs (one connection, closed loop) at the offset
//! of its last message, each of which must return exactly that message.
//! The stream's full length is read back once to check it. The reads of
//! the different lengths alternate in batches (the machine's load drifts).

use std::time::Instant;

use anyhow::{ensure, Result};
use bytes::Bytes;
use serde_json::json;

use super::{fill, ratio};
use crate::http::Conn;
use crate::ops;
use crate::progress::say;
use crate::report::Report;
use crate::stats::{fmt_us, Samples};
use crate::Ctx;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Stream lengths in messages.
    #[arg(long, default_value = "1000,1000000", value_parser = crate::parse_list)]
    pub lengths: crate::List,
    #[arg(long, default_value = "64", value_parser = crate::parse_bytes)]
    pub size: u64,
    /// Tail reads timed per length.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Connections used to build the streams.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
}

/// Reads `samples` times at `offset` of `path` (expecting `want`); returns
/// the latencies, and how many answers differed from `want`.
pub async fn time_reads(
    conn: &mut Conn,
    path: &str,
    offset: &str,
    want: &Bytes,
    samples: usize,
) -> Result<(Samples, usize)> {
    let mut lat = Samples::default();
    let mut wrong = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let r = ops::read_at(conn, path, offset).await?;
        lat.push(t.elapsed());
        if r.body != *want {
            wrong += 1;
        }
    }
    Ok((lat, wrong))
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    ensure!(
        a.lengths.0.iter().all(|&l| l >= 1),
        "--lengths must be at least 1"
    );
    ensure!(
        a.samples >= 1 && a.size >= 1,
        "--samples and --size must be at least 1"
    );
    let mut r = Report::new("tail");
    let mut conn = Conn::open(&ctx.target).await?;
    // Every stream first, then the reads: batches alternate between the
    // lengths, so a change in the machine's load hits all of them alike.
    let mut streams = Vec::new();
    for &len in &a.lengths.0 {
        let path = ctx.target.path(&ctx.name("tail", len));
        ops::create(&mut conn, &path, ops::OCTET, &[]).await?;
        fill(
            ctx,
            &path,
            ops::OCTET,
            Bytes::from(vec![b'x'; a.size as usize]),
            len - 1,
            a.connections,
        )
        .await?;
        let tail = ops::tail_offset(&mut conn, &path).await?;
        let last = Bytes::from(vec![b'y'; a.size as usize]);
        ops::append(&mut conn, &path, ops::OCTET, last.clone(), &[]).await?;
        // Warm up (first touch of a cold store).
        time_reads(&mut conn, &path, &tail, &last, 20.min(a.samples)).await?;
        streams.push((len, path, tail, last, Samples::default(), 0));
    }
    say(
        ctx.quiet,
        format!(
            "{} tail reads per length, in {BATCHES} alternating batches",
            a.samples
        ),
    );
    for b in 0..BATCHES {
        let n = a.samples * (b + 1) / BATCHES - a.samples * b / BATCHES;
        for (_, path, tail, last, lat, wrong) in &mut streams {
            let (l, w) = time_reads(&mut conn, path, tail, last, n).await?;
            lat.extend(l);
            *wrong += w;
        }
    }
    let mut first = None;
    for (len, path, _, _, mut lat, wrong) in streams {
        let m = lat.summary();
        r.figure(
            &format!("tail_read_{len}"),
            serde_json::to_value(m)?,
            format!(
                "{len} messages: mean {}  p50 {}  p99 {}",
                fmt_us(m.mean_us),
                fmt_us(m.p50_us as f64),
                fmt_us(m.p99_us as f64)
            ),
        );
        r.check(format!("{len} messages: every tail read returned exactly the last message ({wrong} did not)"), wrong == 0);
        let got = super::read_back(&ctx.target, std::slice::from_ref(&path), 1, false).await?;
        r.check(
            format!(
                "{len} messages: stream holds {got} bytes (expected {})",
                len * a.size
            ),
            got == len * a.size,
        );
        match first {
            None => first = Some(m),
            Some(f) => {
                let rm = ratio(m.mean_us, f.mean_us);
                let rp = ratio(m.p50_us as f64, f.p50_us as f64);
                r.figure(
                    &format!("tail_ratio_{len}_vs_{}", a.lengths.0[0]),
                    json!({"mean": rm, "p50": rp}),
                    format!(
                        "{rm:.2}x mean, {rp:.2}x p50 (vs {} messages)",
                        a.lengths.0[0]
                    ),
                );
            }
        }
    }
    ctx.report_process(&mut r, "end");
    Ok(r)
}

/// Timed reads are taken in this many batches per stream, alternating.
pub const BATCHES: usize = 10;
