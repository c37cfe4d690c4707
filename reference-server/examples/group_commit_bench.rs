//! §4 Durability benchmark of group commit: N concurrent appenders of
//! 64-byte records for a fixed time against the record log in a temporary
//! directory; prints appends/s, syncs and appends per sync for each N.
//!
//! `cargo run --release -p ds-reference-server --example group_commit_bench -- [SECONDS] [DIR]`
//! (DIR defaults to the system temp directory; use a directory on the disk
//! whose fsync cost you want to measure.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ds_reference_server::durable::{Log, LogOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2.0);
    let base = args
        .next()
        .map(Into::into)
        .unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()?;
    println!("writers  appends/s   syncs  appends/sync  (64-byte records, {secs} s each)");
    for writers in [1usize, 8, 32, 128] {
        let dir = base.join(format!("ds-bench-{}-{writers}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (log, _) = Log::open(&dir, LogOptions::default(), |_, _| Ok(()))?;
        let log = Arc::new(log);
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..writers)
                .map(|_| {
                    let (log, stop) = (log.clone(), stop.clone());
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            log.append(vec![b'x'; 64]).await.expect("append");
                        }
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                t.await.expect("writer");
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        let s = log.stats();
        println!(
            "{writers:7}  {:9.0}  {:6}  {:12.1}  (growing syncs {}, prealloc chunks {})",
            s.appends as f64 / elapsed,
            s.syncs,
            s.appends as f64 / s.syncs.max(1) as f64,
            s.growing_syncs,
            s.preallocations
        );
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
