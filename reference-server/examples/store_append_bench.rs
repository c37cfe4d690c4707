//! In-process cost of the memory store's append path (no HTTP): APPENDS
//! appends of SIZE-byte bodies spread over STREAMS streams, timed per
//! append, and the process's resident growth per payload byte afterwards.
//! A profiling aid for the store (`perf record` this example); the HTTP
//! figures and the issue 18 ratios come from `scripts/bench.sh`.
//!
//! `cargo run --release -p ds-reference-server --example store_append_bench -- [APPENDS] [SIZE] [STREAMS]`

use std::time::Instant;

use bytes::Bytes;
use ds_reference_server::store::ttl::Clock;
use ds_reference_server::store::{AppendRequest, CreateRequest, Payload, Store};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let appends: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    let size: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let streams: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1)
        .max(1);
    let rss_before = rss_bytes();
    {
        let store = Store::new(Clock::System);
        let paths: Vec<String> = (0..streams).map(|i| format!("/bench/s{i}")).collect();
        for p in &paths {
            let req = CreateRequest {
                path: p.clone(),
                content_type: Some("application/octet-stream".into()),
                ..CreateRequest::default()
            };
            store
                .create(req)
                .applied()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let (started, cpu_started) = (Instant::now(), cpu_ns());
        for i in 0..appends {
            // A fresh body per append, as a request's would be.
            let body = Bytes::from(vec![b'x'; size]);
            let req = AppendRequest {
                essence: Some("application/octet-stream".into()),
                payload: Payload::Bytes(body),
                close: false,
                stream_seq: None,
                producer: None,
            };
            store
                .append(&paths[i % streams], req)
                .applied()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let ns = started.elapsed().as_nanos() as f64 / appends as f64;
        let cpu = cpu_ns().saturating_sub(cpu_started) as f64 / appends as f64;
        let rss = rss_bytes().saturating_sub(rss_before);
        println!(
            "{streams:6} streams: {ns:6.0} ns/append ({cpu:6.0} ns of CPU), resident growth {:.2}x payload",
            rss as f64 / (appends * size) as f64
        );
    }
    Ok(())
}

/// CPU time of this (single) thread so far, from /proc/self/schedstat (0
/// where unavailable): on a shared machine it moves far less than wall time.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident set size from /proc/self/statm (0 where unavailable).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}
