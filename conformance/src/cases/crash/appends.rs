//! §4, §5.2, §5.2.1, §8, §9.1 under crashes: plain writers, a `Stream-Seq`
//! writer and pipelined idempotent producers append concurrently to byte
//! and JSON streams while readers follow them; the target is killed at a
//! seeded moment, restarted, the clients resend what a client library
//! resends, and every stream is checked against everything the clients
//! were told, for `--crash-rounds` rounds on the same streams.

use std::sync::Arc;

use super::history::Violation;
use super::load::{check_stream, Kind, Load, Reader, Tracked, Writer};
use super::rounds::{join, kill_during_load, restart, run_rounds, start, Checked, Workload};
use crate::case::{case, register, CaseResult, Failure};
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
    run_rounds(&ctx, Appends::default()).await
}

/// The streams of the layout and their clients (created in round 1).
#[derive(Default)]
struct Appends {
    streams: Vec<Tracked>,
    writers: Vec<Writer>,
    readers: Vec<Reader>,
}

impl Workload for Appends {
    async fn round(&mut self, ctx: &Ctx, load: &Arc<Load>, round: u32) -> Checked {
        if round == 1 {
            (self.streams, self.writers, self.readers) = create(load).await?;
        }
        let (writers, readers) = (&mut self.writers, &mut self.readers);
        let wt = start(load, writers);
        let rt = start(load, readers);
        let killed = kill_during_load(ctx, load).await;
        join(wt, writers).await?;
        join(rt, readers).await?;
        killed?;
        restart(ctx, load).await?;
        futures::future::join_all(writers.iter_mut().map(|w| w.retry(load))).await;
        let mut violations: Vec<Violation> = writers.iter().filter_map(Writer::odd).collect();
        let mut rng = load.rng("check");
        for (t, r) in self.streams.iter_mut().zip(readers.iter()) {
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
        Ok((
            format!("{acked} appends acknowledged in all, every stream checked"),
            violations,
        ))
    }
}

/// Create the streams of the layout with their clients.
async fn create(load: &Arc<Load>) -> Result<(Vec<Tracked>, Vec<Writer>, Vec<Reader>), Failure> {
    let (mut streams, mut writers, mut readers) = (Vec::new(), Vec::new(), Vec::new());
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
    Ok((streams, writers, readers))
}

register![acked_appends_survive_kills];
