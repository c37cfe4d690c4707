//! §4 Durability, §4.1, §4.2, §5.2.1 end to end: `ds-server --data-dir` is
//! SIGKILLed at random moments (default 20 times) while concurrent plain
//! writers, idempotent producers and a fork writer append over HTTP, then
//! restarted on the same directory. After every restart:
//!
//! - every acknowledged append is present exactly once and in order, and
//!   nothing is there that was never sent or only partly written;
//! - offsets are unchanged: reading from an acknowledged `Stream-Next-Offset`
//!   returns exactly the data after that append;
//! - a producer's unanswered request, retried after the restart, lands
//!   exactly once (200 if it was lost, 204 if it had been persisted);
//! - the closed stream is still closed, the soft-deleted fork source still
//!   answers 410 and its fork still reads the inherited data;
//! - what any client was shown survives, even when the request that caused it
//!   was still unanswered: a churner creates, closes and deletes streams one
//!   after another while an observer keeps asking HEAD and appending to the
//!   current one; a stream the observer saw exist still exists, one it saw
//!   closed (HEAD or a 409) is still closed, one it saw vanish stays gone.
//!
//! `cargo run --release -p ds-reference-server --example http_crash_check -- --server target/release/ds-server [--kills N]`
//! (see `scripts/crash-check.sh`). Everything runs on 127.0.0.1 with a
//! temporary data directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use rand::Rng;
use reqwest::{Client, StatusCode};

const PLAIN_WRITERS: usize = 8;
const PRODUCERS: usize = 4;

struct Server {
    child: Child,
    url: String,
}

fn start(bin: &Path, dir: &Path) -> anyhow::Result<Server> {
    let mut child = Command::new(bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--long-poll-timeout-ms",
            "500",
        ])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let url = loop {
        let line = lines
            .next()
            .context("ds-server exited before listening")??;
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Server { child, url })
}

#[derive(Default, Debug)]
struct Writer {
    next: u64,
    acked: Vec<u64>,
    /// Sent, but the answer was lost in the kill: may or may not be there.
    unknown: Vec<u64>,
    /// `Stream-Next-Offset` of the last acknowledged append.
    last_offset: Option<(u64, String)>,
}

#[derive(Default, Debug)]
struct Producer {
    next_seq: u64,
    /// A request whose answer was lost: retried with the same seq.
    in_flight: bool,
    duplicates_after_restart: u64,
}

async fn plain_writer(
    c: Client,
    url: String,
    path: &'static str,
    tag: String,
    mut w: Writer,
) -> anyhow::Result<Writer> {
    loop {
        let i = w.next;
        w.next += 1;
        let res = c
            .post(format!("{url}{path}"))
            .header("content-type", "text/plain")
            .body(format!("{tag}:{i};"))
            .send()
            .await;
        match res {
            Ok(r) if r.status() == StatusCode::NO_CONTENT || r.status() == StatusCode::OK => {
                let off = header(r.headers(), "stream-next-offset")?;
                w.acked.push(i);
                w.last_offset = Some((i, off));
            }
            Ok(r) => bail!("{path}: append answered {}", r.status()),
            Err(_) => {
                w.unknown.push(i);
                return Ok(w);
            }
        }
    }
}

async fn producer(c: Client, url: String, k: usize, mut p: Producer) -> anyhow::Result<Producer> {
    let mut first = true;
    loop {
        let seq = p.next_seq;
        let res = c
            .post(format!("{url}/prod"))
            .header("content-type", "text/plain")
            .header("producer-id", format!("p{k}"))
            .header("producer-epoch", "0")
            .header("producer-seq", seq.to_string())
            .body(format!("p{k}:{seq};"))
            .send()
            .await;
        match res {
            Ok(r) if r.status() == StatusCode::OK => {}
            Ok(r) if r.status() == StatusCode::NO_CONTENT && first && p.in_flight => {
                p.duplicates_after_restart += 1;
            }
            Ok(r) => bail!("producer p{k} seq {seq}: answered {}", r.status()),
            Err(_) => {
                p.in_flight = true;
                return Ok(p);
            }
        }
        p.in_flight = false;
        p.next_seq += 1;
        first = false;
    }
}

/// One step of the lifecycle churner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Close,
    Delete,
}

/// What clients were shown about the churned streams `/life-N` in one
/// round (between two kills).
#[derive(Default, Debug)]
struct Shown {
    alive: BTreeSet<u64>,
    closed: BTreeSet<u64>,
    gone: BTreeSet<u64>,
    /// The churner's request whose answer was lost in the kill.
    unanswered: Option<(u64, Op)>,
}

/// Creates, closes and deletes `/life-N` for N = `current`, `current`+1...
async fn churner(
    c: Client,
    url: String,
    current: Arc<AtomicU64>,
    shown: Arc<Mutex<Shown>>,
) -> anyhow::Result<()> {
    let mark = |f: &dyn Fn(&mut Shown)| f(&mut shown.lock().unwrap_or_else(|e| e.into_inner()));
    loop {
        let n = current.load(Ordering::SeqCst);
        let life = format!("{url}/life-{n}");
        for op in [Op::Create, Op::Close, Op::Delete] {
            let req = match op {
                Op::Create => c.put(&life).header("content-type", "text/plain"),
                Op::Close => c.post(&life).header("stream-closed", "true"),
                Op::Delete => c.delete(&life),
            };
            let want = if op == Op::Create {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            };
            match req.send().await {
                Ok(r) if r.status() == want => mark(&|s| {
                    match op {
                        Op::Create => s.alive.insert(n),
                        Op::Close => s.closed.insert(n),
                        Op::Delete => s.gone.insert(n),
                    };
                }),
                Ok(r) => bail!("/life-{n}: {op:?} answered {}", r.status()),
                Err(_) => {
                    mark(&|s| s.unanswered = Some((n, op)));
                    return Ok(());
                }
            }
        }
        current.fetch_add(1, Ordering::SeqCst);
    }
}

/// Keeps asking HEAD of the churner's current stream and appending to it,
/// recording what it is shown.
async fn observer(
    c: Client,
    url: String,
    current: Arc<AtomicU64>,
    shown: Arc<Mutex<Shown>>,
) -> anyhow::Result<()> {
    let mut seen_alive = BTreeSet::new();
    loop {
        let n = current.load(Ordering::SeqCst);
        let life = format!("{url}/life-{n}");
        let Ok(head) = c.head(&life).send().await else {
            return Ok(());
        };
        let closed = head
            .headers()
            .get("stream-closed")
            .is_some_and(|v| v == "true");
        let status = head.status();
        let Ok(post) = c
            .post(&life)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
        else {
            return Ok(());
        };
        let mut s = shown.lock().unwrap_or_else(|e| e.into_inner());
        match status {
            StatusCode::OK => {
                seen_alive.insert(n);
                s.alive.insert(n);
                if closed {
                    s.closed.insert(n);
                }
            }
            StatusCode::NOT_FOUND if seen_alive.contains(&n) => {
                s.gone.insert(n);
            }
            StatusCode::NOT_FOUND => {}
            other => bail!("HEAD /life-{n}: {other}"),
        }
        match post.status() {
            StatusCode::NO_CONTENT => {
                seen_alive.insert(n);
                s.alive.insert(n);
            }
            StatusCode::CONFLICT => {
                s.alive.insert(n);
                s.closed.insert(n);
            }
            StatusCode::NOT_FOUND if seen_alive.contains(&n) => {
                s.gone.insert(n);
            }
            StatusCode::NOT_FOUND => {}
            other => bail!("POST /life-{n}: {other}"),
        }
    }
}

/// After a restart: every churned stream of the round is as clients were
/// shown. Returns how many streams were checked.
async fn verify_shown(c: &Client, url: &str, shown: &Shown) -> anyhow::Result<usize> {
    let all: BTreeSet<u64> = shown.alive.iter().chain(&shown.gone).copied().collect();
    for &n in &all {
        let head = c.head(format!("{url}/life-{n}")).send().await?;
        let status = head.status();
        let closed = head
            .headers()
            .get("stream-closed")
            .is_some_and(|v| v == "true");
        let deleting = shown.unanswered == Some((n, Op::Delete));
        if shown.gone.contains(&n) {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "/life-{n} was shown deleted, yet answers {status} after the restart"
            );
            continue;
        }
        if deleting && status == StatusCode::NOT_FOUND {
            continue;
        }
        ensure!(
            status == StatusCode::OK,
            "/life-{n} was shown to exist, yet answers {status} after the restart"
        );
        ensure!(
            closed || !shown.closed.contains(&n),
            "/life-{n} was shown closed, yet is open after the restart"
        );
    }
    Ok(all.len())
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> anyhow::Result<String> {
    Ok(h.get(name)
        .with_context(|| format!("no {name}"))?
        .to_str()?
        .to_string())
}

/// Reads a stream from `offset` to its tail; returns the bytes and whether
/// the tail is closed.
async fn read_from(
    c: &Client,
    url: &str,
    path: &str,
    offset: &str,
) -> anyhow::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut offset = offset.to_string();
    loop {
        let r = c.get(format!("{url}{path}?offset={offset}")).send().await?;
        ensure!(r.status() == StatusCode::OK, "GET {path}: {}", r.status());
        let next = header(r.headers(), "stream-next-offset")?;
        let done = r.headers().contains_key("stream-up-to-date");
        let closed = r
            .headers()
            .get("stream-closed")
            .is_some_and(|v| v == "true");
        out.extend_from_slice(&r.bytes().await?);
        if done {
            return Ok((out, closed));
        }
        offset = next;
    }
}

/// Splits `tag:i;` tokens; fails on anything partial or foreign.
fn tokens(data: &[u8]) -> anyhow::Result<Vec<(String, u64)>> {
    let text = std::str::from_utf8(data).context("stream is not UTF-8")?;
    ensure!(
        text.is_empty() || text.ends_with(';'),
        "partial data at the tail: {:?}",
        &text[text.len().saturating_sub(20)..]
    );
    text.split_terminator(';')
        .map(|t| {
            let (tag, i) = t
                .split_once(':')
                .with_context(|| format!("foreign data {t:?}"))?;
            Ok((
                tag.to_string(),
                i.parse().with_context(|| format!("foreign data {t:?}"))?,
            ))
        })
        .collect()
}

/// Acknowledged appends exactly once, in order; nothing never sent.
fn check_writer(name: &str, seen: &[u64], w: &Writer) -> anyhow::Result<()> {
    ensure!(
        seen.windows(2).all(|p| p[0] < p[1]),
        "{name}: duplicate or reordered appends {seen:?}"
    );
    for i in &w.acked {
        ensure!(
            seen.binary_search(i).is_ok(),
            "{name}: acknowledged append {i} is missing"
        );
    }
    for i in seen {
        ensure!(
            w.acked.contains(i) || w.unknown.contains(i),
            "{name}: append {i} was never sent"
        );
    }
    Ok(())
}

struct World {
    plain: Vec<Writer>,
    fork: Writer,
    producers: Vec<Producer>,
}

impl World {
    /// Appends acknowledged so far, by every writer.
    fn acked(&self) -> u64 {
        let writers = self.plain.iter().chain([&self.fork]);
        writers.map(|w| w.acked.len() as u64).sum::<u64>()
            + self.producers.iter().map(|p| p.next_seq).sum::<u64>()
    }
}

async fn verify(c: &Client, url: &str, world: &World) -> anyhow::Result<u64> {
    let (data, _) = read_from(c, url, "/plain", "-1").await?;
    let mut per: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (tag, i) in tokens(&data)? {
        per.entry(tag).or_default().push(i);
    }
    let mut records = 0;
    for (w, writer) in world.plain.iter().enumerate() {
        let name = format!("w{w}");
        let seen = per.remove(&name).unwrap_or_default();
        records += seen.len() as u64;
        check_writer(&name, &seen, writer)?;
        if let Some((i, off)) = &writer.last_offset {
            let (after, _) = read_from(c, url, "/plain", off).await?;
            ensure!(
                data.ends_with(&after),
                "{name}: data after offset {off} differs"
            );
            let before = &data[..data.len() - after.len()];
            ensure!(
                before.ends_with(format!("{name}:{i};").as_bytes()),
                "{name}: offset {off} moved"
            );
        }
    }
    ensure!(per.is_empty(), "/plain: unknown writers {:?}", per.keys());

    let (data, _) = read_from(c, url, "/prod", "-1").await?;
    let mut per: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (tag, i) in tokens(&data)? {
        per.entry(tag).or_default().push(i);
    }
    for (k, p) in world.producers.iter().enumerate() {
        let seen = per.remove(&format!("p{k}")).unwrap_or_default();
        records += seen.len() as u64;
        ensure!(
            seen.iter().enumerate().all(|(n, s)| *s == n as u64),
            "producer p{k}: not exactly once in order: {seen:?}"
        );
        let n = seen.len() as u64;
        ensure!(
            n == p.next_seq || (p.in_flight && n == p.next_seq + 1),
            "producer p{k}: {n} batches stored, {} acknowledged",
            p.next_seq
        );
    }

    let (data, _) = read_from(c, url, "/fork", "-1").await?;
    let own = data
        .strip_prefix(b"base;".as_slice())
        .context("fork lost its inherited data")?;
    let seen: Vec<u64> = tokens(own)?.into_iter().map(|(_, i)| i).collect();
    records += seen.len() as u64;
    check_writer("fork", &seen, &world.fork)?;

    let head = c.head(format!("{url}/src")).send().await?;
    ensure!(
        head.status() == StatusCode::GONE,
        "soft-deleted source answers {}",
        head.status()
    );
    let (data, closed) = read_from(c, url, "/closed", "-1").await?;
    ensure!(
        closed && data == b"final",
        "closed stream lost its closure or data"
    );
    Ok(records)
}

async fn setup(c: &Client, url: &str) -> anyhow::Result<()> {
    let put = |path: &str| {
        c.put(format!("{url}{path}"))
            .header("content-type", "text/plain")
    };
    for path in ["/plain", "/prod"] {
        ensure!(put(path).send().await?.status() == StatusCode::CREATED);
    }
    ensure!(put("/src").body("base;").send().await?.status() == StatusCode::CREATED);
    let fork = put("/fork")
        .header("stream-forked-from", "/src")
        .send()
        .await?;
    ensure!(
        fork.status() == StatusCode::CREATED,
        "fork: {}",
        fork.status()
    );
    ensure!(c.delete(format!("{url}/src")).send().await?.status() == StatusCode::NO_CONTENT);
    let closed = put("/closed")
        .header("stream-closed", "true")
        .body("final")
        .send()
        .await?;
    ensure!(closed.status() == StatusCode::CREATED);
    Ok(())
}

async fn run(bin: PathBuf, dir: PathBuf, kills: usize) -> anyhow::Result<()> {
    let c = Client::builder().timeout(Duration::from_secs(10)).build()?;
    let mut world = World {
        plain: (0..PLAIN_WRITERS).map(|_| Writer::default()).collect(),
        fork: Writer::default(),
        producers: (0..PRODUCERS).map(|_| Producer::default()).collect(),
    };
    let mut acked_total = 0u64;
    let current = Arc::new(AtomicU64::new(0));
    let mut shown = Shown::default();
    let mut shown_checked = 0usize;
    for round in 0..=kills {
        let mut server = start(&bin, &dir)?;
        let url = server.url.clone();
        if round == 0 {
            setup(&c, &url).await?;
        } else {
            let records = verify(&c, &url, &world)
                .await
                .with_context(|| format!("after kill {round}"))?;
            let churned = verify_shown(&c, &url, &shown)
                .await
                .with_context(|| format!("after kill {round}"))?;
            shown_checked += churned;
            println!("restart {round:2}: {records} appends recovered, every acknowledged one exactly once, offsets, closure, fork and soft-delete intact; {churned} churned streams as clients were shown");
            // The next round churns fresh streams.
            current.fetch_add(1, Ordering::SeqCst);
        }
        if round == kills {
            server.child.kill()?;
            server.child.wait()?;
            break;
        }
        let before = world.acked();
        let plain: Vec<_> = std::mem::take(&mut world.plain)
            .into_iter()
            .enumerate()
            .map(|(w, st)| {
                tokio::spawn(plain_writer(
                    c.clone(),
                    url.clone(),
                    "/plain",
                    format!("w{w}"),
                    st,
                ))
            })
            .collect();
        let fork = tokio::spawn(plain_writer(
            c.clone(),
            url.clone(),
            "/fork",
            "f".into(),
            std::mem::take(&mut world.fork),
        ));
        let producers: Vec<_> = std::mem::take(&mut world.producers)
            .into_iter()
            .enumerate()
            .map(|(k, st)| tokio::spawn(producer(c.clone(), url.clone(), k, st)))
            .collect();
        let seen = Arc::new(Mutex::new(Shown::default()));
        let churn = tokio::spawn(churner(
            c.clone(),
            url.clone(),
            current.clone(),
            seen.clone(),
        ));
        let watch = tokio::spawn(observer(
            c.clone(),
            url.clone(),
            current.clone(),
            seen.clone(),
        ));
        let pause = rand::rng().random_range(100..600);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        server.child.kill()?;
        server.child.wait()?;
        for t in plain {
            world.plain.push(t.await??);
        }
        world.fork = fork.await??;
        churn.await??;
        watch.await??;
        shown = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
        for t in producers {
            world.producers.push(t.await??);
        }
        let after = world.acked();
        acked_total = after;
        println!(
            "kill    {:2}: SIGKILL after {pause} ms, {} appends acknowledged in this round",
            round + 1,
            after - before
        );
    }
    let dups: u64 = world
        .producers
        .iter()
        .map(|p| p.duplicates_after_restart)
        .sum();
    println!("ok: {kills} kills, {acked_total} acknowledged appends verified; {dups} producer retries after a restart were deduplicated (204); {shown_checked} churned streams checked against what clients were shown");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut bin = PathBuf::from("target/release/ds-server");
    let mut kills = 20;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" => bin = args.next().context("--server PATH")?.into(),
            "--kills" => kills = args.next().context("--kills N")?.parse()?,
            other => bail!("unknown argument {other:?} (use --server PATH, --kills N)"),
        }
    }
    let dir = std::env::temp_dir().join(format!("ds-http-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(run(bin, dir.clone(), kills));
    let _ = std::fs::remove_dir_all(&dir);
    result
}
