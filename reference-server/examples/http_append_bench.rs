//! §5.2 append throughput over HTTP (not a timed test): W concurrent
//! writers of 64-byte appends, each to its own stream, for a fixed time
//! against a running server; prints appends/s. Used to compare
//! `ds-server --data-dir` with the memory store.
//!
//! `cargo run --release -p ds-reference-server --example http_append_bench -- URL [WRITERS] [SECONDS] [--one-stream]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .context("usage: URL [WRITERS] [SECONDS] [--one-stream]")?
        .clone();
    let writers: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let secs: f64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let one_stream = args.iter().any(|a| a == "--one-stream");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let c = reqwest::Client::new();
        let run = rand::random::<u32>();
        let path = |w: usize| format!("{url}/bench-{run}-{}", if one_stream { 0 } else { w });
        for w in 0..if one_stream { 1 } else { writers } {
            let r = c
                .put(path(w))
                .header("content-type", "application/octet-stream")
                .send()
                .await?;
            ensure!(r.status().is_success(), "create: {}", r.status());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let (c, stop, count, p) = (c.clone(), stop.clone(), count.clone(), path(w));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r = c
                            .post(&p)
                            .header("content-type", "application/octet-stream")
                            .body(vec![b'x'; 64])
                            .send()
                            .await?;
                        ensure!(r.status().is_success(), "append: {}", r.status());
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await??;
        }
        let n = count.load(Ordering::Relaxed) as f64;
        println!(
            "{writers} writers, {}: {:.0} appends/s",
            if one_stream {
                "one stream"
            } else {
                "one stream each"
            },
            n / started.elapsed().as_secs_f64()
        );
        Ok(())
    })
}
