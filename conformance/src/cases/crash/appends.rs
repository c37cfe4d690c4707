//! §4, §5.2, §5.2.1, §8, §9.1 under crashes: plain writers, a `Stream-Seq`
//! writer and pipelined idempotent producers append concurrently to byte
//! and JSON streams while readers follow them; the target is killed at a
//! seeded moment, restarted, the clients resend what a client library
//! resends, and every stream is checked against everything the clients
//! were told, for `--crash-rounds` rounds on the same streams.

use std::sync::Arc;

use super::history::{failure, Violation};
use super::load::{check_stream, Kind, Load, Reader, Tracked, Writer};
use super::rounds::{kill_during_load, restart};
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;

/// One stream of the workload: (name, JSON?, writers as (tag, kind)).
type StreamLayout = (&'static str, bool, Vec<(&'static str, Kind)>);

/// The streams and their writers.
fn layout() -> Vec<StreamLayout> {
    let p = |w| Kind::Producer { window: w };
    vec![
        (
            "bytes",
            false,
            vec![
                ("w0", Kind::Plain),
                ("w1", Kind::Plain),
                ("w2", Kind::Plain),
            ],
        ),
        ("json", true, vec![("j0", Kind::Plain), ("j1", Kind::Plain)]),
        ("seq", false, vec![("s0", Kind::Seq)]),
        (
            "prod",
            false,
            vec![("p0", p(3)), ("p1", p(3)), ("p2", p(1)), ("p3", p(4))],
        ),
        ("prod-json", true, vec![("pj0", p(2)), ("pj1", p(3))]),
    ]
}

/// Acknowledged appends are there exactly once, in order, at the offsets
/// they were acknowledged with; unacknowledged ones at most once and whole;
/// producer and `Stream-Seq` resends after a restart are deduplicated;
/// what readers were shown never changes.
#[case(
    "DUR-DATA",
    "DUR-OFFSETS",
    "STREAM-ORDER",
    "CRASH-APPEND-ATOMIC",
    "DUR-PRODUCER",
    "DUR-SEQ",
    "CRASH-SHOWN-STICKS"
)]
pub async fn acked_appends_survive_kills(ctx: Ctx) -> CaseResult {
    let load = Load::new(&ctx);
    let result = run(&ctx, &load).await;
    load.ctx.cleanup().await;
    result
}

async fn run(ctx: &Ctx, load: &Arc<Load>) -> CaseResult {
    let mut streams = Vec::new();
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (name, json, ws) in layout() {
        let ct = if json {
            "application/json"
        } else {
            "application/octet-stream"
        };
        load.ctx
            .put(name)
            .ct(ct)
            .send()
            .await?
            .expect(201, "CREATE-NEW-201")?;
        streams.push(Tracked::new(name, json));
        readers.push(Reader::new(name, json));
        for (tag, kind) in ws {
            writers.push(Writer::new(tag, name, json, kind));
        }
    }
    let rounds = ctx.run().control.crash_rounds;
    for round in 1..=rounds {
        load.round.store(round, std::sync::atomic::Ordering::SeqCst);
        let wt: Vec<_> = writers
            .drain(..)
            .map(|w| tokio::spawn(w.run(load.clone())))
            .collect();
        let rt: Vec<_> = readers
            .drain(..)
            .map(|r| tokio::spawn(r.run(load.clone())))
            .collect();
        let killed = kill_during_load(ctx, load).await;
        for t in wt {
            writers.push(
                t.await
                    .map_err(|e| crate::Failure::setup_error(format!("writer task: {e}")))?,
            );
        }
        for t in rt {
            readers.push(
                t.await
                    .map_err(|e| crate::Failure::setup_error(format!("reader task: {e}")))?,
            );
        }
        killed?;
        restart(ctx, load).await?;
        futures::future::join_all(writers.iter_mut().map(|w| w.retry(load))).await;
        let mut violations: Vec<Violation> = writers.iter().filter_map(Writer::odd).collect();
        let mut rng = load.rng("check");
        for (t, r) in streams.iter_mut().zip(&readers) {
            let ws: Vec<(&Writer, Option<u64>)> = writers
                .iter()
                .filter(|w| w.stream == t.name)
                .map(|w| (w, None))
                .collect();
            if let Err(v) = check_stream(load, t, &ws, Some(r), &mut rng).await? {
                violations.push(v);
            }
        }
        let acked: usize = writers.iter().map(|w| w.acked_offsets().len()).sum();
        ctx.note(format!(
            "round {round}: {} requests so far, {acked} appends acknowledged in all, every stream checked",
            load.hist.len()
        ));
        if !violations.is_empty() {
            // MUST-level first: the failure is scored at the first one.
            violations.sort_by_key(|v| v.requirement == "DUR-PRODUCER");
            return Err(failure(
                ctx,
                &load.hist,
                round,
                &violations[0],
                violations.len() - 1,
            ));
        }
    }
    Ok(())
}

register![acked_appends_survive_kills];
