//! The frame of a crash case: its rounds (each ends with a verdict on
//! what every client was told), the round's clients started and joined,
//! and one crash: let the load run, kill the target at a seeded moment
//! (after a random delay, or right after the n-th acknowledgement so the
//! kill lands close to an ack), make sure it is down, stop the clients,
//! restart it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinHandle;

use super::history::{failure, Violation};
use super::load::{Load, Reader, Writer};
use crate::case::{CaseResult, Failure};
use crate::client::Ctx;

/// What a round checked (noted on the case) and the violations it found.
pub type Checked = Result<(String, Vec<Violation>), Failure>;

/// What a crash case does each round.
pub trait Workload: Send {
    /// Round `round`: run the clients, kill and restart the target under
    /// them, check; returns what was checked (noted) and the violations.
    fn round(
        &mut self,
        ctx: &Ctx,
        load: &Arc<Load>,
        round: u32,
    ) -> impl Future<Output = Checked> + Send;
}

/// Run a crash case: `--crash-rounds` rounds of `work` on one [`Load`]
/// (whose streams are removed afterwards, whatever the outcome). The first
/// round with a violation fails the case, scored at a MUST-level one first.
pub async fn run_rounds(ctx: &Ctx, mut work: impl Workload) -> CaseResult {
    let load = Load::new(ctx);
    let mut result = Ok(());
    for n in 1..=ctx.run().control.crash_rounds {
        load.round.store(n, std::sync::atomic::Ordering::SeqCst);
        let (checked, mut violations) = match work.round(ctx, &load, n).await {
            Ok(r) => r,
            Err(f) => {
                result = Err(f);
                break;
            }
        };
        ctx.note(format!(
            "round {n}: {} requests so far; {checked}",
            load.hist.len()
        ));
        if !violations.is_empty() {
            violations.sort_by_key(|v| v.requirement == "DUR-PRODUCER");
            let others = violations.len() - 1;
            result = Err(failure(ctx, &load.hist, n, &violations[0], others));
            break;
        }
    }
    load.ctx.cleanup().await;
    result
}

/// A client of a round: runs until the round stops and hands itself back
/// with what it was told.
pub trait Client: Send + Sized + 'static {
    fn run(self, load: Arc<Load>) -> impl Future<Output = Self> + Send;
}

impl Client for Writer {
    fn run(self, load: Arc<Load>) -> impl Future<Output = Self> + Send {
        Writer::run(self, load)
    }
}

impl Client for Reader {
    fn run(self, load: Arc<Load>) -> impl Future<Output = Self> + Send {
        Reader::run(self, load)
    }
}

/// Start every client in `clients` (which is left empty) on its own task.
pub fn start<C: Client>(load: &Arc<Load>, clients: &mut Vec<C>) -> Vec<JoinHandle<C>> {
    clients
        .drain(..)
        .map(|c| tokio::spawn(c.run(load.clone())))
        .collect()
}

/// Wait for the clients [`start`]ed and put them back into `clients`.
pub async fn join<C>(tasks: Vec<JoinHandle<C>>, clients: &mut Vec<C>) -> Result<(), Failure> {
    for t in tasks {
        clients.push(
            t.await
                .map_err(|e| Failure::setup_error(format!("client task: {e}")))?,
        );
    }
    Ok(())
}

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
