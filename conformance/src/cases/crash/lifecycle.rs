//! §4.1, §4.2, §5.2.1, §5.3, §5.4 under crashes: each round, fresh streams
//! go through their lifecycle while writers append to them — a fork is
//! created and appended to, its source DELETEd (soft-delete), a close races
//! plain appends and a producer, a producer closes with its final append,
//! a stream without forks is deleted — and the target is killed at a seeded
//! moment. After the restart the clients finish what they had in flight
//! (as a client library would), then every round so far is checked: what
//! any client was shown (a 2xx, a 409 with Stream-Closed, a 410, a 404
//! after DELETE, data read) holds, and nothing was accepted after a close
//! or a DELETE had been acknowledged.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::history::Violation;
use super::load::{check_stream, records, Kind, Load, Reader, St, Tracked, Writer};
use super::rounds::{join, kill_during_load, restart, run_rounds, start, Checked, Workload};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::{Ctx, Req, Resp};

const CT: &str = "application/octet-stream";

/// A lifecycle request (fork, delete, close) and what came of it.
#[derive(Debug, Clone, Default)]
struct Op {
    sent: bool,
    /// When it was first sent, and last sent (ms).
    first_ms: u64,
    sent_ms: u64,
    /// When the answer arrived (ms), and the answer.
    at_ms: u64,
    status: Option<u16>,
    offset: Option<String>,
}

impl Op {
    fn lost(&self) -> bool {
        self.status.is_none()
    }
    fn answered(&self, ok: &[u16]) -> bool {
        self.status.is_some_and(|s| ok.contains(&s))
    }
    async fn send(&mut self, load: &Load, client: &str, stream: &str, what: &str, req: Req) {
        self.sent_ms = load.hist.now_ms();
        if !self.sent {
            self.first_ms = self.sent_ms;
        }
        self.sent = true;
        let r: Option<Resp> = load.send(client, stream, what.to_string(), req).await;
        self.at_ms = load.hist.now_ms();
        self.status = r.as_ref().map(|r| r.status);
        self.offset = r.and_then(|r| r.header("stream-next-offset"));
    }
}

/// One round's streams and everything done to them.
struct Life {
    round: u32,
    src: String,
    fork: String,
    closing: String,
    pclose: String,
    doomed: String,
    writers: Vec<Writer>,
    readers: Vec<Reader>,
    fork_op: Op,
    del_src: Op,
    close: Op,
    del_doomed: Op,
    tracked: Vec<Tracked>,
}

impl Life {
    fn writer(&self, tag: &str) -> &Writer {
        self.writers
            .iter()
            .find(|w| w.tag == tag)
            .expect("known writer")
    }
    fn reader(&self, stream: &str) -> Option<&Reader> {
        self.readers.iter().find(|r| r.stream == stream)
    }
}

/// What clients were shown about a round's streams holds after every
/// later crash, and nothing was accepted after a close or DELETE was
/// acknowledged.
#[case(
    "DUR-CLOSED",
    "DUR-FORKS",
    "DUR-DELETE",
    "STREAM-CLOSED-MONOTONIC",
    "SOFTDEL-POST-410",
    "SOFTDEL-FORK-READS",
    "DELETE-GONE",
    "PROD-CLOSE-WITH-APPEND",
    "CRASH-SHOWN-STICKS"
)]
pub async fn shown_state_survives_kills(ctx: Ctx) -> CaseResult {
    run_rounds(&ctx, Lives(Vec::new())).await
}

/// Every round so far (each is checked again after every later crash).
struct Lives(Vec<Life>);

impl Workload for Lives {
    async fn round(&mut self, ctx: &Ctx, load: &Arc<Load>, round: u32) -> Checked {
        let life = setup(load, round).await?;
        let (mut life, killed) = load_and_kill(ctx, load, life).await?;
        killed?;
        restart(ctx, load).await?;
        let mut violations = finish(load, &mut life).await;
        self.0.push(life);
        let mut rng = load.rng("check");
        for life in self.0.iter_mut() {
            if let Some(v) = check(load, life, &mut rng).await? {
                violations.push(v);
            }
        }
        Ok((
            format!("the streams of rounds 1..={round} checked"),
            violations,
        ))
    }
}

async fn setup(load: &Arc<Load>, round: u32) -> Result<Life, Failure> {
    let n = |s: &str| format!("r{round}.{s}");
    let (src, fork, closing, pclose, doomed) =
        (n("src"), n("fork"), n("closing"), n("pclose"), n("doomed"));
    for s in [&src, &closing, &pclose, &doomed] {
        load.ctx
            .put(s)
            .ct(CT)
            .send()
            .await?
            .expect(201, "CREATE-NEW-201")?;
    }
    let mut rng = load.rng("lifecycle");
    let mut pz = Writer::new("pz", &pclose, false, Kind::Producer { window: 2 });
    pz.close_after = Some(rng.random_range(2..40));
    let writers = vec![
        Writer::new("wa", &src, false, Kind::Plain),
        Writer::new("wb", &src, false, Kind::Plain),
        Writer::new("wf", &fork, false, Kind::Plain),
        Writer::new("wc", &closing, false, Kind::Plain),
        Writer::new("wd", &closing, false, Kind::Plain),
        Writer::new("pc", &closing, false, Kind::Producer { window: 2 }),
        pz,
        Writer::new("wx", &doomed, false, Kind::Plain),
    ];
    Ok(Life {
        round,
        readers: vec![Reader::new(&src, false), Reader::new(&closing, false)],
        tracked: [&src, &fork, &closing, &pclose]
            .iter()
            .map(|s| Tracked::new(s, false))
            .collect(),
        src,
        fork,
        closing,
        pclose,
        doomed,
        writers,
        fork_op: Op::default(),
        del_src: Op::default(),
        close: Op::default(),
        del_doomed: Op::default(),
    })
}

fn sleep_ms(ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(ms))
}

/// Run the round's clients and lifecycle requests; kill the target under
/// them. Returns the round (every client joined) and the kill's result.
async fn load_and_kill(
    ctx: &Ctx,
    load: &Arc<Load>,
    mut life: Life,
) -> Result<(Life, CaseResult), Failure> {
    let mut rng = load.rng("lifecycle timing");
    let (t_fork, t_del, t_close, t_doom) = (
        rng.random_range(10..400),
        rng.random_range(0..300),
        rng.random_range(10..600),
        rng.random_range(10..600),
    );
    let fork_writer_idx = life.writers.iter().position(|w| w.tag == "wf").unwrap();
    let wf = life.writers.remove(fork_writer_idx);
    let tasks = start(load, &mut life.writers);
    let readers = start(load, &mut life.readers);
    // Fork the source, let the fork writer go, then delete the source.
    let driver = {
        let load = load.clone();
        let (src, fork) = (life.src.clone(), life.fork.clone());
        tokio::spawn(async move {
            let (mut fork_op, mut del) = (Op::default(), Op::default());
            sleep_ms(t_fork).await;
            if load.stopped() {
                return (fork_op, del, wf);
            }
            let req = load.ctx.put(&fork).fork_of(&src);
            fork_op
                .send(&load, "driver", &fork, "PUT (fork of src)", req)
                .await;
            if !fork_op.answered(&[200, 201]) {
                return (fork_op, del, wf);
            }
            let wf = tokio::spawn(wf.run(load.clone()));
            sleep_ms(t_del).await;
            if !load.stopped() {
                let req = load.ctx.delete(&src);
                del.send(&load, "driver", &src, "DELETE (it has a fork)", req)
                    .await;
            }
            let wf = wf.await.expect("fork writer task");
            (fork_op, del, wf)
        })
    };
    let closer = {
        let (load, closing) = (load.clone(), life.closing.clone());
        tokio::spawn(async move {
            let mut op = Op::default();
            sleep_ms(t_close).await;
            if !load.stopped() {
                let req = load.ctx.post(&closing).closed();
                op.send(
                    &load,
                    "closer",
                    &closing,
                    "POST Stream-Closed=true (close-only)",
                    req,
                )
                .await;
            }
            op
        })
    };
    let deleter = {
        let (load, doomed) = (load.clone(), life.doomed.clone());
        tokio::spawn(async move {
            let mut op = Op::default();
            sleep_ms(t_doom).await;
            if !load.stopped() {
                let req = load.ctx.delete(&doomed);
                op.send(&load, "deleter", &doomed, "DELETE (no forks)", req)
                    .await;
            }
            op
        })
    };
    let killed = kill_during_load(ctx, load).await;
    join(tasks, &mut life.writers).await?;
    join(readers, &mut life.readers).await?;
    let join = |e: tokio::task::JoinError| Failure::setup_error(format!("client task: {e}"));
    let (fork_op, del, wf) = driver.await.map_err(join)?;
    life.writers.push(wf);
    life.fork_op = fork_op;
    life.del_src = del;
    life.close = closer.await.map_err(join)?;
    life.del_doomed = deleter.await.map_err(join)?;
    Ok((life, killed))
}

/// After the restart: clients resend what they had in flight, and the
/// lifecycle steps the kill cut short are done now, so every round ends in
/// the same state (fork made, source soft-deleted, streams closed, doomed
/// stream deleted). Unexpected answers are violations.
async fn finish(load: &Arc<Load>, life: &mut Life) -> Vec<Violation> {
    let mut out = Vec::new();
    for w in life.writers.iter_mut() {
        w.retry(load).await;
    }
    // The closing producer finishes its batches and its closing append.
    if let Some(pz) = life.writers.iter_mut().find(|w| w.tag == "pz") {
        if pz.done.is_none()
            && !pz
                .batches
                .iter()
                .any(|b| b.close && matches!(b.state, St::Acked { .. }))
        {
            let w = std::mem::replace(pz, Writer::new("pz", "", false, Kind::Plain));
            *pz = w.run(load.clone()).await;
        }
    }
    if life.fork_op.lost() {
        let req = load.ctx.put(&life.fork).fork_of(&life.src);
        let what = if life.fork_op.sent {
            "PUT (fork of src, resent)"
        } else {
            "PUT (fork of src)"
        };
        life.fork_op
            .send(load, "driver", &life.fork, what, req)
            .await;
        if !life.fork_op.answered(&[200, 201]) {
            out.push(
                Violation::on(
                    "DUR-DATA",
                    &life.fork,
                    format!(
                        "forking {} (created 201 before the crash) after the restart was answered {:?}",
                        life.src, life.fork_op.status
                    ),
                )
                .also(&life.src),
            );
        }
    }
    if life.del_src.lost() {
        // A resend after a lost answer may find it already soft-deleted (410).
        let again = life.del_src.sent;
        let req = load.ctx.delete(&life.src);
        life.del_src
            .send(load, "driver", &life.src, "DELETE (it has a fork)", req)
            .await;
        let ok: &[u16] = if again { &[204, 410] } else { &[204] };
        if !life.del_src.answered(ok) {
            out.push(Violation::on(
                "SOFTDEL-DELETE-204",
                &life.src,
                format!(
                    "DELETE of {} (which has a fork) after the restart was answered {:?}",
                    life.src, life.del_src.status
                ),
            ));
        }
    }
    if life.close.lost() {
        let req = load.ctx.post(&life.closing).closed();
        life.close
            .send(
                load,
                "closer",
                &life.closing,
                "POST Stream-Closed=true (close-only)",
                req,
            )
            .await;
        if !life.close.answered(&[200, 204]) {
            out.push(Violation::on(
                "CLOSE-ONLY-IDEMPOTENT-204",
                &life.closing,
                format!(
                    "close-only POST after the restart was answered {:?}",
                    life.close.status
                ),
            ));
        }
    }
    if life.del_doomed.lost() {
        let again = life.del_doomed.sent;
        let req = load.ctx.delete(&life.doomed);
        life.del_doomed
            .send(load, "deleter", &life.doomed, "DELETE (no forks)", req)
            .await;
        let ok: &[u16] = if again { &[204, 404] } else { &[204] };
        if !life.del_doomed.answered(ok) {
            out.push(Violation::on(
                "DELETE-204",
                &life.doomed,
                format!(
                    "DELETE after the restart was answered {:?}",
                    life.del_doomed.status
                ),
            ));
        }
    }
    out.extend(life.writers.iter().filter_map(Writer::odd));
    out
}

/// Appends of `tags` acknowledged although sent after `after_ms` (when a
/// close or DELETE of their stream had been acknowledged).
fn accepted_after(life: &Life, tags: &[&str], after_ms: u64) -> Option<(String, u64, u16)> {
    tags.iter().find_map(|t| {
        let w = life.writer(t);
        w.batches
            .iter()
            .enumerate()
            .find_map(|(i, b)| match b.state {
                St::Acked { status, .. } if b.sent_ms > after_ms && b.retry.is_none() => {
                    Some((w.tag.clone(), i as u64, status))
                }
                _ => None,
            })
    })
}

async fn head(load: &Load, stream: &str) -> Result<Resp, Failure> {
    let req = load.ctx.head(stream);
    load.send("checker", stream, "HEAD".into(), req)
        .await
        .ok_or_else(|| Failure::setup_error(format!("HEAD {stream}: no answer after the restart")))
}

/// Everything about one round's streams that must hold now.
async fn check(
    load: &Load,
    life: &mut Life,
    rng: &mut rand::rngs::StdRng,
) -> Result<Option<Violation>, Failure> {
    let r = life.round;
    // What the source's reader was shown (the fork must inherit it).
    if let Some(view) = life.reader(&life.src).map(|x| x.view.clone()) {
        let src = life.src.clone();
        if let Some(t) = life.tracked.iter_mut().find(|t| t.name == src) {
            if let Err(v) = t.saw(&view, "the source's reader") {
                return Ok(Some(v));
            }
        }
    }
    // The source: soft-deleted (it has a fork), so 410, and nothing it
    // accepted after the DELETE was acknowledged.
    if life.del_src.answered(&[204, 410]) {
        if let Some((tag, i, s)) = accepted_after(life, &["wa", "wb"], life.del_src.at_ms) {
            return Ok(Some(
                Violation::on(
                    "SOFTDEL-POST-410",
                    &life.src,
                    format!(
                        "round {r}: {tag}'s append {i} to {} was sent after its DELETE had been acknowledged, yet answered {s} instead of 410",
                        life.src
                    ),
                )
                .by(&tag),
            ));
        }
        let h = head(load, &life.src).await?;
        if h.status != 410 {
            return Ok(Some(Violation::on(
                "DUR-FORKS",
                &life.src,
                format!(
                    "round {r}: {} was deleted while it had a fork (soft-delete acknowledged: {:?}), yet HEAD now answers {} instead of 410",
                    life.src, life.del_src.status, h.status
                ),
            ).also(&life.fork)));
        }
    }
    // The fork: the source's data up to the fork point, then its own.
    if life.fork_op.answered(&[200, 201]) {
        let cutoff = life.fork_op.first_ms;
        let idx = life
            .tracked
            .iter()
            .position(|t| t.name == life.fork)
            .unwrap();
        let src_shown = life
            .tracked
            .iter()
            .find(|t| t.name == life.src)
            .map(|t| t.shown.clone());
        let w = |tag: &str| {
            life.writers
                .iter()
                .find(|w| w.tag == tag)
                .expect("known writer")
        };
        let ws: Vec<(&Writer, Option<u64>)> = vec![
            (w("wa"), Some(cutoff)),
            (w("wb"), Some(cutoff)),
            (w("wf"), None),
        ];
        let c = match check_stream(load, &mut life.tracked[idx], &ws, None, rng).await? {
            Ok(c) => c,
            Err(mut v) => {
                if v.requirement == "DUR-DATA" && v.client.as_deref() != Some("wf") {
                    v.requirement = "SOFTDEL-FORK-READS";
                    v.message = format!("the fork lost inherited data: {}", v.message);
                }
                return Ok(Some(v.also(&life.src)));
            }
        };
        let recs = records(&c.data).unwrap_or_default();
        let split = recs
            .iter()
            .position(|x| x.tag == "wf")
            .unwrap_or(recs.len());
        if recs[split..].iter().any(|x| x.tag != "wf") {
            return Ok(Some(
                Violation::on(
                    "SOFTDEL-FORK-READS",
                    &life.fork,
                    format!(
                        "round {r}: the source's data appears after the fork's own appends in {}",
                        life.fork
                    ),
                )
                .also(&life.src),
            ));
        }
        let inherited_end = recs.get(split).map_or(c.data.len(), |x| x.start);
        let inherited = super::load::Data::Bytes(match &c.data {
            super::load::Data::Bytes(b) => b[..inherited_end].to_vec(),
            _ => Vec::new(),
        });
        if let Some(shown) = src_shown {
            if !(shown.starts_with(&inherited) || inherited.starts_with(&shown)) {
                return Ok(Some(Violation::on(
                    "SOFTDEL-FORK-READS",
                    &life.fork,
                    format!(
                        "round {r}: the fork's inherited data is not the source's data as readers of the source were shown it ({})",
                        inherited.diff(&shown)
                    ),
                ).also(&life.src)));
            }
        }
        if let Some(point) = life.fork_op.offset.clone() {
            let got = load.read(&life.fork, &point, false, "DUR-OFFSETS").await?;
            let want = c.data.tail_from(inherited_end);
            if got.data != want {
                return Ok(Some(Violation::on(
                    "DUR-OFFSETS",
                    &life.fork,
                    format!(
                        "round {r}: reading the fork from its creation offset {point} does not return exactly its own appends: {}",
                        got.data.diff(&want)
                    ),
                )));
            }
        }
    }
    // The closed stream: closed, its tail the offset the close reported,
    // nothing accepted after the close was acknowledged.
    if let Some(v) = check_closed(load, life, rng).await? {
        return Ok(Some(v));
    }
    // The deleted stream stays deleted.
    if life.del_doomed.answered(&[204, 404]) {
        if let Some((tag, i, s)) = accepted_after(life, &["wx"], life.del_doomed.at_ms) {
            return Ok(Some(Violation::on(
                "DELETE-GONE",
                &life.doomed,
                format!("round {r}: {tag}'s append {i} was sent after the stream's DELETE was acknowledged, yet answered {s}"),
            ).by(&tag)));
        }
        let h = head(load, &life.doomed).await?;
        if h.status != 404 {
            return Ok(Some(Violation::on(
                "DUR-DELETE",
                &life.doomed,
                format!(
                    "round {r}: {} was deleted (acknowledged {:?}), yet HEAD now answers {}",
                    life.doomed, life.del_doomed.status, h.status
                ),
            )));
        }
    }
    Ok(None)
}

async fn check_closed(
    load: &Load,
    life: &mut Life,
    rng: &mut rand::rngs::StdRng,
) -> Result<Option<Violation>, Failure> {
    let r = life.round;
    for (stream, tags) in [
        (life.closing.clone(), vec!["wc", "wd", "pc"]),
        (life.pclose.clone(), vec!["pz"]),
    ] {
        // When was it shown closed, and with which final offset?
        let (closed_at, final_offset) = if stream == life.closing {
            (
                life.close.answered(&[200, 204]).then_some(life.close.at_ms),
                life.close.offset.clone(),
            )
        } else {
            let pz = life.writer("pz");
            match pz.batches.iter().find(|b| b.close).map(|b| &b.state) {
                Some(St::Acked { at_ms, offset, .. }) => (Some(*at_ms), offset.clone()),
                _ => (None, None),
            }
        };
        let shown_409 = tags.iter().any(|t| life.writer(t).done == Some(409));
        if let Some(at) = closed_at {
            let others: Vec<&str> = tags.iter().copied().filter(|t| *t != "pz").collect();
            if let Some((tag, i, s)) = accepted_after(life, &others, at) {
                return Ok(Some(Violation::on(
                    "STREAM-CLOSED-MONOTONIC",
                    &stream,
                    format!("round {r}: {tag}'s append {i} was sent after {stream}'s close had been acknowledged, yet answered {s} instead of 409"),
                ).by(&tag)));
            }
        }
        let idx = life.tracked.iter().position(|t| t.name == stream).unwrap();
        let reader = life.readers.iter().find(|x| x.stream == stream);
        let ws: Vec<(&Writer, Option<u64>)> = life
            .writers
            .iter()
            .filter(|w| tags.contains(&w.tag.as_str()))
            .map(|w| (w, None))
            .collect();
        let c = match check_stream(load, &mut life.tracked[idx], &ws, reader, rng).await? {
            Ok(c) => c,
            Err(v) => return Ok(Some(v)),
        };
        if closed_at.is_some() || shown_409 {
            let h = head(load, &stream).await?;
            if !(h.status == 200 && h.closed() && c.closed) {
                let how = if closed_at.is_some() {
                    "its close was acknowledged"
                } else {
                    "an append was refused with 409 Stream-Closed"
                };
                return Ok(Some(Violation::on(
                    "DUR-CLOSED",
                    &stream,
                    format!(
                        "round {r}: {stream} was shown closed ({how}), yet now HEAD answers {} {} and a read to the tail {} Stream-Closed",
                        h.status,
                        if h.closed() { "with Stream-Closed" } else { "without Stream-Closed" },
                        if c.closed { "reports" } else { "lacks" }
                    ),
                )));
            }
        }
        if let Some(f) = final_offset.filter(|_| closed_at.is_some()) {
            if c.tail != f {
                return Ok(Some(Violation::on(
                    "STREAM-CLOSED-MONOTONIC",
                    &stream,
                    format!("round {r}: the close of {stream} reported the final offset {f}, but its tail is now {} (data was appended after the close)", c.tail),
                )));
            }
        }
    }
    Ok(None)
}

register![shown_state_survives_kills];
