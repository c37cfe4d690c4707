//! §6/§7 durability end to end: `ds-server --data-dir` is SIGKILLed at
//! random moments (default 20 times) while an appender writes to four
//! streams, a pull-wake worker claims, heartbeats and acks them, and an
//! observer reads the subscription; then it is restarted on the same
//! directory. After every restart:
//!
//! - no acked offset is behind one a client was shown (an answered ack, or
//!   an `acked_offset` in a GET): cursors never move backwards;
//! - every successful claim has a larger generation than all before it
//!   (no wake or generation is reused after a crash);
//! - the subscription, its links and the signing key's `kid` are intact.
//!
//! `cargo run --release -p ds-reference-server --example subs_crash_check -- --server target/release/ds-server [--kills N]`
//! (see `scripts/crash-check.sh`). Everything runs on 127.0.0.1 with a
//! temporary data directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use rand::Rng;
use reqwest::Client;
use serde_json::{json, Value};

const STREAMS: [&str; 4] = ["ev/a", "ev/b", "ev/c", "ev/d"];

fn start(bin: &Path, dir: &Path) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
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
            break format!("{}/v1/stream", url.trim());
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, url))
}

/// What clients were shown.
#[derive(Default, Debug, Clone)]
struct Seen {
    /// Highest acked offset per stream that a client saw (answered ack or
    /// GET); offsets of this server compare as fixed-width strings.
    acked: BTreeMap<String, String>,
    last_generation: u64,
    claims: u64,
    acks: u64,
}

impl Seen {
    fn saw(&mut self, path: &str, offset: &str) {
        let e = self.acked.entry(path.to_string()).or_default();
        if offset > e.as_str() {
            *e = offset.to_string();
        }
    }
}

async fn send(
    c: &Client,
    method: &str,
    url: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Option<(u16, Value)> {
    let mut r = c.request(method.parse().ok()?, url);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let res = r.send().await.ok()?;
    let status = res.status().as_u16();
    let bytes = res.bytes().await.ok()?;
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn appender(c: Client, root: String) {
    let mut i = 0u64;
    loop {
        let path = STREAMS[(i % 4) as usize];
        let ok = c
            .post(format!("{root}/{path}"))
            .header("content-type", "text/plain")
            .body(format!("{i};"))
            .send()
            .await
            .is_ok();
        if !ok {
            return;
        }
        i += 1;
    }
}

async fn worker(c: Client, sub: String, seen: Arc<Mutex<Seen>>) -> anyhow::Result<()> {
    loop {
        let Some((status, claim)) = send(
            &c,
            "POST",
            &format!("{sub}/claim"),
            Some(json!({"worker": "w"})),
            None,
        )
        .await
        else {
            return Ok(());
        };
        match status {
            200 => {}
            409 => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            s => bail!("claim answered {s}: {claim}"),
        }
        let generation = claim["generation"].as_u64().context("generation")?;
        {
            let mut s = seen.lock().unwrap();
            ensure!(
                generation > s.last_generation,
                "claim got generation {generation} after {} was answered",
                s.last_generation
            );
            s.last_generation = generation;
            s.claims += 1;
        }
        let token = claim["token"].as_str().context("token")?.to_string();
        let acks: Vec<Value> = claim["streams"]
            .as_array()
            .context("streams")?
            .iter()
            .map(|s| json!({"stream": s["path"], "offset": s["tail_offset"]}))
            .collect();
        let base = json!({"wake_id": claim["wake_id"], "generation": generation});
        // A heartbeat, then the acks with done.
        let Some((hb, _)) = send(
            &c,
            "POST",
            &format!("{sub}/ack"),
            Some(base.clone()),
            Some(&token),
        )
        .await
        else {
            return Ok(());
        };
        ensure!(hb == 200 || hb == 409, "heartbeat answered {hb}");
        let mut done = base.clone();
        done["acks"] = Value::Array(acks.clone());
        done["done"] = Value::Bool(true);
        let Some((st, body)) =
            send(&c, "POST", &format!("{sub}/ack"), Some(done), Some(&token)).await
        else {
            return Ok(());
        };
        match st {
            200 => {
                let mut s = seen.lock().unwrap();
                s.acks += 1;
                for a in &acks {
                    s.saw(
                        a["stream"].as_str().unwrap_or(""),
                        a["offset"].as_str().unwrap_or(""),
                    );
                }
            }
            409 => {} // the lease expired meanwhile (1 s): fenced, nothing applied
            s => bail!("ack answered {s}: {body}"),
        }
    }
}

async fn observer(c: Client, sub: String, seen: Arc<Mutex<Seen>>) -> anyhow::Result<()> {
    loop {
        // What was shown before this GET was sent: an ack answered while
        // the GET is in flight may legitimately be newer than its answer.
        let before = seen.lock().unwrap().acked.clone();
        let Some((st, body)) = send(&c, "GET", &sub, None, None).await else {
            return Ok(());
        };
        ensure!(st == 200, "GET subscription answered {st}");
        {
            let mut s = seen.lock().unwrap();
            for l in body["streams"].as_array().context("streams")? {
                let path = l["path"].as_str().unwrap_or("");
                let acked = l["acked_offset"].as_str().unwrap_or("");
                if let Some(prev) = before.get(path) {
                    ensure!(
                        acked >= prev.as_str(),
                        "{path}: acked {acked} went back from {prev}"
                    );
                }
                s.saw(path, acked);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn check(c: &Client, root: &str, seen: &Seen, kid: &str) -> anyhow::Result<()> {
    let sub = format!("{root}/__ds/subscriptions/c");
    let (st, body) = send(c, "GET", &sub, None, None)
        .await
        .context("GET after restart")?;
    ensure!(st == 200, "subscription lost after restart ({st})");
    for path in STREAMS {
        let l = body["streams"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["path"] == path))
            .with_context(|| format!("link {path} lost"))?;
        let acked = l["acked_offset"].as_str().unwrap_or("");
        if let Some(prev) = seen.acked.get(path) {
            ensure!(
                acked >= prev.as_str(),
                "{path}: acked {acked} is behind {prev}, which a client was shown"
            );
        }
    }
    let (_, jwks) = send(c, "GET", &format!("{root}/__ds/jwks.json"), None, None)
        .await
        .context("jwks")?;
    ensure!(
        jwks["keys"][0]["kid"] == kid,
        "signing key changed across the restart"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let bin = PathBuf::from(arg("--server").context("--server PATH is required")?);
    let kills: u32 = arg("--kills").map_or(Ok(20), |k| k.parse())?;
    let dir = std::env::temp_dir().join(format!("ds-subs-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let c = Client::builder().timeout(Duration::from_secs(10)).build()?;
    let (mut child, root) = start(&bin, &dir)?;
    let put = |p: &str, ct: &str| {
        c.put(format!("{root}/{p}"))
            .header("content-type", ct.to_string())
            .send()
    };
    put("wake/c", "application/json").await?;
    for s in STREAMS {
        put(s, "text/plain").await?;
    }
    let sub = format!("{root}/__ds/subscriptions/c");
    let (st, _) = send(&c, "PUT", &sub, Some(json!({"type": "pull-wake", "pattern": "ev/*", "wake_stream": "wake/c", "lease_ttl_ms": 1000})), None)
        .await
        .context("create subscription")?;
    ensure!(st == 201, "create subscription answered {st}");
    let (_, jwks) = send(&c, "GET", &format!("{root}/__ds/jwks.json"), None, None)
        .await
        .context("jwks")?;
    let kid = jwks["keys"][0]["kid"].as_str().context("kid")?.to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut root = root;
    for round in 0..kills {
        let tasks = vec![
            tokio::spawn({
                let (c, r) = (c.clone(), root.clone());
                async move {
                    appender(c, r).await;
                    Ok(())
                }
            }),
            tokio::spawn(worker(
                c.clone(),
                format!("{root}/__ds/subscriptions/c"),
                seen.clone(),
            )),
            tokio::spawn(observer(
                c.clone(),
                format!("{root}/__ds/subscriptions/c"),
                seen.clone(),
            )),
        ];
        let wait = rand::rng().random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.kill()?;
        child.wait()?;
        for t in tasks {
            t.await??;
        }
        let (next, url) = start(&bin, &dir)?;
        child = next;
        root = url;
        let s = seen.lock().unwrap().clone();
        check(&c, &root, &s, &kid)
            .await
            .with_context(|| format!("after kill {}", round + 1))?;
        println!(
            "kill {}: ok ({} claims, {} acks answered so far, generation {})",
            round + 1,
            s.claims,
            s.acks,
            s.last_generation
        );
    }
    child.kill()?;
    child.wait()?;
    let s = seen.lock().unwrap();
    ensure!(
        s.acks > 0,
        "no ack was ever answered: the check proved nothing"
    );
    println!("subscriptions crash check: {kills} kills, {} claims, {} acks: every cursor and generation held", s.claims, s.acks);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
