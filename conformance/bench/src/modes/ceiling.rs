//! The machine's HTTP ceiling for this load generator: closed-loop requests
//! to a path whose answer needs no store work (by default a stream that does
//! not exist, answered 404), over C connections. Every answer must carry the
//! expected status.
//!
//! By default a GET with no body. `--method POST --size 64` sends what
//! `append` sends (the same method, body size and Content-Type), so that
//! against a server that reads and discards the body (the no-op server of
//! scripts/bench.sh) it measures the HTTP cost of an append-shaped request
//! with no store behind it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http::Method;

use crate::http::Conn;
use crate::progress::{say, Progress};
use crate::report::Report;
use crate::stats::{fmt_us, Samples};
use crate::Ctx;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Path to request (default: a missing stream under the root).
    #[arg(long)]
    pub path: Option<String>,
    /// Request method (GET, POST, ...).
    #[arg(long, default_value = "GET")]
    pub method: Method,
    /// Bytes of request body (`x`s, as `append` sends); 0: no body and no
    /// Content-Type.
    #[arg(long, default_value = "0", value_parser = crate::parse_bytes)]
    pub size: u64,
    /// Content-Type sent with a body.
    #[arg(long, default_value = crate::ops::OCTET)]
    pub content_type: String,
    /// Status every answer must have.
    #[arg(long, default_value_t = 404)]
    pub status: u16,
}

pub async fn run(ctx: &Ctx, a: &Args) -> Result<Report> {
    anyhow::ensure!(
        a.connections >= 1 && a.duration > 0.0,
        "--connections and --duration must be positive"
    );
    let path = a
        .path
        .clone()
        .unwrap_or_else(|| ctx.target.path(&ctx.name("missing", 0)));
    let body = Bytes::from(vec![b'x'; a.size as usize]);
    say(
        ctx.quiet,
        format!(
            "{} {path}{} x {} connections, {:.0} s",
            a.method,
            if a.size > 0 {
                format!(" ({} bytes of {})", a.size, a.content_type)
            } else {
                String::new()
            },
            a.connections,
            a.duration
        ),
    );
    let progress = Progress::start("ceiling", "requests", ctx.pid, ctx.quiet);
    let cpu0 = ctx.cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(a.duration);
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let (target, path, done, errs, want) = (
            ctx.target.clone(),
            path.clone(),
            progress.count.clone(),
            progress.errors.clone(),
            a.status,
        );
        let (method, body, ct) = (a.method.clone(), body.clone(), a.content_type.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let mut lat = Samples::default();
            let mut n = 0u64;
            let mut other = None;
            let ct_header = [("content-type", ct.as_str())];
            while Instant::now() < deadline {
                let t = Instant::now();
                let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &ct_header };
                match conn
                    .send(method.clone(), &path, headers, body.clone())
                    .await
                {
                    Ok(r) if r.status.as_u16() == want => {
                        lat.push(t.elapsed());
                        n += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        errs.fetch_add(1, Ordering::Relaxed);
                        other.get_or_insert(format!("status {}", r.status));
                    }
                    Err(e) => {
                        errs.fetch_add(1, Ordering::Relaxed);
                        other.get_or_insert(format!("{e:#}"));
                        conn = Conn::open(&target).await?;
                    }
                }
            }
            anyhow::Ok((n, lat, other, Instant::now()))
        }));
    }
    let (mut n, mut lat, mut other, mut last) = (0u64, Samples::default(), None, started);
    for t in tasks {
        let (k, l, o, d) = t.await??;
        n += k;
        lat.extend(l);
        other = other.or(o);
        last = last.max(d);
    }
    let errors = progress.errors.load(Ordering::Relaxed);
    progress.finish().await;
    let rate = n as f64 / last.duration_since(started).as_secs_f64();
    let m = lat.summary();
    let mut r = Report::new("ceiling");
    r.data(
        "params",
        serde_json::json!({"connections": a.connections, "method": a.method.as_str(),
               "size": a.size, "duration_s": a.duration}),
    );
    ctx.report_cpu(&mut r, cpu0, n + errors, "request");
    r.figure("requests_per_s", rate, format!("{rate:.0} requests/s"));
    r.figure(
        "latency",
        serde_json::to_value(m)?,
        format!(
            "p50 {}  p99 {}  max {}",
            fmt_us(m.p50_us as f64),
            fmt_us(m.p99_us as f64),
            fmt_us(m.max_us as f64)
        ),
    );
    ctx.report_process(&mut r, "end");
    r.check(
        format!(
            "every answer was {} ({errors} others{})",
            a.status,
            other.map(|o| format!("; first: {o}")).unwrap_or_default()
        ),
        errors == 0,
    );
    r.check(format!("{n} requests answered"), n > 0);
    Ok(r)
}
