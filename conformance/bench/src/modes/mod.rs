//! One module per benchmark mode, plus what several of them share.

pub mod append;
pub mod catchup;
pub mod ceiling;
pub mod churn;
pub mod fanout;
pub mod fork;
pub mod tail;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;

use crate::http::{Conn, Target};
use crate::ops;
use crate::progress::{say, Progress};
use crate::Ctx;

/// Creates `paths` over `conns` connections (setup: an error stops the run).
pub async fn create_all(
    ctx: &Ctx,
    paths: &[String],
    content_type: &str,
    conns: usize,
) -> Result<()> {
    if paths.len() > 1 {
        say(ctx.quiet, format!("creating {} streams", paths.len()));
    }
    let progress = Progress::start(
        "create",
        "streams",
        ctx.pid,
        ctx.quiet || paths.len() < 1000,
    );
    let paths = Arc::new(paths.to_vec());
    let conns = conns.clamp(1, paths.len().max(1));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (paths, target, ct, count) = (
            paths.clone(),
            ctx.target.clone(),
            content_type.to_string(),
            progress.count.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            for p in paths.iter().skip(c).step_by(conns) {
                ops::create(&mut conn, p, &ct, &[]).await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    progress.finish().await;
    Ok(())
}

/// Appends `count` copies of `body` to `path` over `conns` connections
/// (building long streams; order between them does not matter).
pub async fn fill(
    ctx: &Ctx,
    path: &str,
    content_type: &str,
    body: Bytes,
    count: u64,
    conns: usize,
) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    say(
        ctx.quiet,
        format!(
            "appending {count} messages of {} bytes to {path}",
            body.len()
        ),
    );
    let progress = Progress::start("fill", "appends", ctx.pid, ctx.quiet);
    let conns = (conns as u64).clamp(1, count);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let n = count / conns + u64::from(c < count % conns);
        let (target, path, ct, body, done) = (
            ctx.target.clone(),
            path.to_string(),
            content_type.to_string(),
            body.clone(),
            progress.count.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            for _ in 0..n {
                ops::append(&mut conn, &path, &ct, body.clone(), &[]).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    progress.finish().await;
    Ok(())
}

/// Bytes of every stream in `paths`, read back over `conns` connections;
/// with `json`, the number of messages instead.
pub async fn read_back(target: &Target, paths: &[String], conns: usize, json: bool) -> Result<u64> {
    let paths = Arc::new(paths.to_vec());
    let conns = conns.clamp(1, paths.len().max(1));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (paths, target) = (paths.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let mut total = 0u64;
            for p in paths.iter().skip(c).step_by(conns) {
                let mut msgs = 0u64;
                let r = ops::read_all(&mut conn, p, "-1", |b| {
                    if json {
                        msgs += ops::json_messages(b)?;
                    }
                    Ok(())
                })
                .await?;
                total += if json { msgs } else { r.bytes };
            }
            anyhow::Ok(total)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total)
}

/// `count` bytes of `fill`, marked with `tag` at the start (so different
/// messages differ).
pub fn payload(size: usize, tag: u64) -> Bytes {
    let mut v = vec![b'a' + (tag % 26) as u8; size];
    let t = format!("{tag:x}");
    for (d, s) in v.iter_mut().zip(t.bytes()) {
        *d = s;
    }
    Bytes::from(v)
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        f64::NAN
    } else {
        a / b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_sized_and_tagged() {
        assert_eq!(payload(64, 0).len(), 64);
        assert_ne!(payload(64, 1), payload(64, 2));
        assert_eq!(payload(2, 0xabcdef).as_ref(), b"ab");
        assert_eq!(&payload(8, 255)[..2], b"ff");
    }
}
