//! §4 Durability crash check of the record log: a child process appends
//! with acknowledgements (16 concurrent writers, printing `ack W SEQ` only
//! after each append's fsync) and is SIGKILLed at a random moment; the
//! parent reopens the log and checks that every acknowledged record is
//! present exactly once, in each writer's order, with its exact content,
//! and that nothing partial is visible. Repeated `--kills` times on the
//! same directory (segments rotate at 256 KiB, so kills land around
//! rotations too).
//!
//! `cargo run --release -p ds-reference-server --example crash_writer -- --kills 20`
//!
//! SIGKILL ends the process, not the machine: the kernel still holds every
//! byte that `write` accepted. To model a power cut as well, after each kill
//! the parent cuts the last segment at a random byte past the end of the
//! last acknowledged record (data never synced may be lost, possibly mid
//! record), and recovery must cut the torn record away. Segments are
//! preallocated (zeros past the last record), so the loss is modelled three
//! ways at random: the file is cut (its size change was lost), the
//! unsynced bytes revert to the zeros under them, or only a run of them
//! reverts and later unsynced pages survive (written out of order).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use ds_reference_server::durable::{Log, LogOptions};
use rand::Rng;

const WRITERS: u64 = 16;

fn options() -> LogOptions {
    LogOptions {
        segment_bytes: 256 << 10,
        ..LogOptions::default()
    }
}

/// Deterministic content of record `(w, seq)`: a header and 1..=4000
/// filler bytes, so a partial or mixed-up record cannot pass the check.
fn payload(w: u64, seq: u64) -> Vec<u8> {
    let mut x = (w << 40 ^ seq).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    let len = 1 + (x % 4000) as usize;
    let mut p = format!("{w}:{seq}:").into_bytes();
    p.extend((0..len).map(|i| b'a' + ((x as usize + i) % 26) as u8));
    p
}

fn parse(p: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(p).ok()?;
    let mut it = s.splitn(3, ':');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Reopens the log and returns, per writer, the sequence numbers in log
/// order; fails on any record that is not exactly what was written.
fn recover(dir: &Path) -> anyhow::Result<(HashMap<u64, Vec<u64>>, bool)> {
    let mut seen: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut bad = None;
    let (log, rec) = Log::open(dir, options(), |loc, p| {
        match parse(p) {
            Some((w, seq)) if p == payload(w, seq).as_slice() => {
                seen.entry(w).or_default().push(seq)
            }
            _ => bad = Some(loc),
        }
        Ok(())
    })?;
    drop(log);
    if let Some(loc) = bad {
        bail!("record at {loc:?} is not a record that was written");
    }
    Ok((seen, rec.truncated.is_some()))
}

/// Simulates losing unsynced data: cuts the last segment at a random
/// point past `durable_end`. Returns how many bytes were cut.
fn tear_unsynced_tail(
    dir: &Path,
    durable_end: (u64, u64),
    rng: &mut impl Rng,
) -> anyhow::Result<u64> {
    let mut last = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let id: Option<u64> = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok());
        if let Some(id) = id.filter(|_| path.extension().is_some_and(|e| e == "seg")) {
            if last.as_ref().is_none_or(|(l, _)| id > *l) {
                last = Some((id, path));
            }
        }
    }
    let Some((id, path)) = last else { return Ok(0) };
    let bytes = std::fs::read(&path)?;
    // Everything after the last non-zero byte is preallocated zeros.
    let len = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1);
    let floor = match id.cmp(&durable_end.0) {
        std::cmp::Ordering::Less => bail!("last segment {id} is before acknowledged data"),
        std::cmp::Ordering::Equal => durable_end.1,
        std::cmp::Ordering::Greater => 0,
    };
    if len <= floor {
        return Ok(0);
    }
    let cut = rng.random_range(floor..len);
    let file = std::fs::OpenOptions::new().write(true).open(&path)?;
    match rng.random_range(0..3) {
        0 => file.set_len(cut)?,
        1 => file.write_all_at(&vec![0u8; (len - cut) as usize], cut)?,
        _ => {
            let hole = rng.random_range(1..=len - cut);
            file.write_all_at(&vec![0u8; hole as usize], cut)?
        }
    }
    Ok(len - cut)
}

fn child(dir: &Path) -> anyhow::Result<()> {
    let (seen, _) = recover(dir)?;
    let (log, _) = Log::open(dir, options(), |_, _| Ok(()))?;
    let log = Arc::new(log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()?;
    println!("ready");
    rt.block_on(async {
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let log = log.clone();
                let mut seq = seen.get(&w).map_or(0, |v| v.len() as u64);
                tokio::spawn(async move {
                    loop {
                        let loc = log.append(payload(w, seq)).await.expect("append");
                        let end = loc.offset + u64::from(loc.len);
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {w} {seq} {} {end}", loc.segment).expect("stdout");
                        out.flush().expect("stdout");
                        seq += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("writer task");
        }
    });
    Ok(())
}

fn parent(dir: &Path, kills: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut acked: HashMap<u64, u64> = HashMap::new();
    let mut rng = rand::rng();
    let (mut total_acks, mut truncations) = (0u64, 0usize);
    // (segment, end offset) of the furthest acknowledged record so far.
    let mut durable_end = (0u64, 0u64);
    for round in 1..=kills {
        let mut child = Command::new(&exe)
            .arg("--child")
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .context("spawn child")?;
        let mut lines = BufReader::new(child.stdout.take().context("child stdout")?).lines();
        ensure!(
            lines.next().transpose()?.as_deref() == Some("ready"),
            "child did not start"
        );
        let pause = Duration::from_millis(rng.random_range(5..400));
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in lines.map_while(Result::ok) {
                let f: Vec<u64> = line
                    .split(' ')
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if let [w, s, seg, end] = f[..] {
                    acks.push((w, s, (seg, end)));
                }
            }
            acks
        });
        let started = Instant::now();
        std::thread::sleep(pause);
        child.kill().context("SIGKILL")?;
        child.wait()?;
        let acks = reader.join().expect("reader thread");
        total_acks += acks.len() as u64;
        for (w, s, end) in &acks {
            let e = acked.entry(*w).or_insert(0);
            *e = (*e).max(s + 1);
            durable_end = durable_end.max(*end);
        }
        let tore = tear_unsynced_tail(dir, durable_end, &mut rng)?;
        let (seen, truncated) = recover(dir)?;
        truncations += usize::from(truncated);
        let mut records = 0;
        for w in 0..WRITERS {
            let seqs = seen.get(&w).map(Vec::as_slice).unwrap_or_default();
            records += seqs.len();
            for (i, s) in seqs.iter().enumerate() {
                ensure!(
                    *s == i as u64,
                    "writer {w}: record {i} has seq {s} (duplicate, gap or reorder)"
                );
            }
            let need = acked.get(&w).copied().unwrap_or(0);
            ensure!(
                seqs.len() as u64 >= need,
                "writer {w}: {need} records acknowledged, only {} recovered",
                seqs.len()
            );
        }
        println!(
            "round {round:2}: killed after {:4} ms, {:5} acks this round, {records} records recovered, all acknowledged present; {}",
            started.elapsed().as_millis(),
            acks.len(),
            match (tore, truncated) {
                (0, _) => "no unsynced tail to tear".to_string(),
                (n, true) => format!("tore {n} unsynced bytes, recovery cut the torn record"),
                (n, false) => format!("tore {n} unsynced bytes at a record boundary"),
            }
        );
    }
    let segments = std::fs::read_dir(dir)?.count();
    println!("ok: {kills} kills, {total_acks} acknowledged appends verified, {segments} segments, {truncations} truncated tails");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir] = args.as_slice() {
        if flag == "--child" {
            return child(Path::new(dir));
        }
    }
    let mut kills = 20;
    let mut dir: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kills" => kills = it.next().context("--kills N")?.parse()?,
            "--dir" => dir = Some(it.next().context("--dir DIR")?.into()),
            other => bail!("unknown argument {other:?} (use --kills N, --dir DIR)"),
        }
    }
    let (dir, temp) = match dir {
        Some(d) => (d, false),
        None => (
            std::env::temp_dir().join(format!("ds-crash-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let result = parent(&dir, kills);
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}
