//! One crash: let the load run, kill the target at a seeded moment (after a
//! random delay, or right after the n-th acknowledgement so the kill lands
//! close to an ack), make sure it is down, stop the clients, restart it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::load::Load;
use crate::case::Failure;
use crate::client::Ctx;

/// Kill the target while the load runs; returns once it is down and every
/// client of the round has been told to stop. The caller joins the clients.
pub async fn kill_during_load(ctx: &Ctx, load: &Arc<Load>) -> Result<(), Failure> {
    let round = load.round();
    let mut rng = load.rng("kill");
    let base = load.acks();
    let started = Instant::now();
    let how = match rng.random_range(0..3) {
        0 => {
            let ms = rng.random_range(30..700);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            format!("after {ms} ms")
        }
        mode => {
            let n = rng.random_range(1..120);
            let extra_us = if mode == 1 {
                0
            } else {
                rng.random_range(0..3000)
            };
            while load.acks() < base + n && started.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_micros(300)).await;
            }
            tokio::time::sleep(Duration::from_micros(extra_us)).await;
            format!(
                "{extra_us} us after the {n}th acknowledgement of the round ({} ms in)",
                started.elapsed().as_millis()
            )
        }
    };
    load.hist.mark(round, format!("KILL {how}"));
    ctx.note(format!("round {round}: kill {how}"));
    ctx.kill().await?;
    load.set_stopped(true);
    wait_down(ctx, load).await
}

/// The kill command returned: the target must stop answering (a kill
/// command that does nothing would make every check pass vacuously).
async fn wait_down(ctx: &Ctx, load: &Load) -> Result<(), Failure> {
    for _ in 0..40 {
        let r = load
            .ctx
            .head("probe-after-kill")
            .untracked()
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        if r.is_err() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = ctx;
    Err(Failure::setup_error(
        "the kill command returned, but the target still answers 2 s later: check --kill-cmd",
    ))
}

/// Restart the target and let clients send again.
pub async fn restart(ctx: &Ctx, load: &Load) -> Result<(), Failure> {
    ctx.restart().await?;
    load.hist.mark(load.round(), "RESTARTED");
    load.set_stopped(false);
    Ok(())
}
