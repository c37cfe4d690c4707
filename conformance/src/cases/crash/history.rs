//! The history every crash check is judged on: each request a client sent,
//! when, and its answer or its absence (the target was killed under it),
//! plus the kills and restarts. A violation prints the part of the history
//! that concerns the streams involved, and a replay command.

use std::sync::Mutex;
use std::time::Instant;

use crate::case::Failure;
use crate::client::Ctx;

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Event {
    pub round: u32,
    /// Milliseconds since the case started: sent, answered (or given up).
    pub sent_ms: u64,
    pub done_ms: u64,
    /// Which client (writer tag, "driver", "reader", "checker") or "target".
    pub client: String,
    /// Case-relative stream name ("" for target-wide events).
    pub stream: String,
    pub what: String,
    pub outcome: String,
}

impl Event {
    fn line(&self) -> String {
        format!(
            "r{} {:>6}..{:<6} ms  {:<8} {:<14} {}  -> {}",
            self.round,
            self.sent_ms,
            self.done_ms,
            self.client,
            self.stream,
            self.what,
            self.outcome
        )
    }
}

pub struct History {
    started: Instant,
    events: Mutex<Vec<Event>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            started: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }
}

impl History {
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn push(&self, e: Event) {
        self.events.lock().unwrap().push(e);
    }

    /// A target-wide event (kill, restart).
    pub fn mark(&self, round: u32, what: impl Into<String>) {
        let now = self.now_ms();
        self.push(Event {
            round,
            sent_ms: now,
            done_ms: now,
            client: "target".into(),
            stream: String::new(),
            what: what.into(),
            outcome: "done".into(),
        });
    }

    pub fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// The events on `streams` (and the kills and restarts), in send order,
    /// at most `max` of them (the latest, with the first few kept).
    pub fn about(&self, streams: &[&str], client: Option<&str>, max: usize) -> Vec<String> {
        let mut picked: Vec<Event> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                e.stream.is_empty()
                    || (streams.contains(&e.stream.as_str())
                        && client.is_none_or(|c| {
                            e.client == c || !e.client.starts_with(['w', 'p', 's', 'j'])
                        }))
            })
            .cloned()
            .collect();
        picked.sort_by_key(|e| (e.sent_ms, e.done_ms));
        let total = picked.len();
        let mut lines = Vec::new();
        if total > max {
            let head = max / 5;
            lines.extend(picked[..head].iter().map(Event::line));
            lines.push(format!("... {} events omitted ...", total - max));
            lines.extend(picked[total - (max - head)..].iter().map(Event::line));
        } else {
            lines.extend(picked.iter().map(Event::line));
        }
        lines
    }

    /// Every event, one per line (written to the artifacts directory).
    pub fn render_all(&self) -> String {
        let mut events = self.events.lock().unwrap().clone();
        events.sort_by_key(|e| (e.sent_ms, e.done_ms));
        let mut s = String::new();
        for e in &events {
            s.push_str(&e.line());
            s.push('\n');
        }
        s
    }
}

pub use crate::failure::Violation;

/// Turn a violation into the case's failure: seed, round, the excerpt of
/// the history of the streams involved (also noted in the transcript), the
/// full history written to the artifacts directory, and a replay command.
pub fn failure(ctx: &Ctx, hist: &History, round: u32, v: &Violation, others: usize) -> Failure {
    let (t, run) = (ctx.target(), ctx.run());
    let streams: Vec<&str> = v.streams.iter().map(String::as_str).collect();
    let excerpt = hist.about(&streams, v.client.as_deref(), 80);
    for line in &excerpt {
        ctx.note(line.clone());
    }
    let dir = &run.artifacts_dir;
    let file = dir.join(format!(
        "{}-{}-history.txt",
        run.run_id,
        ctx.case_id().replace("::", ".")
    ));
    let written = std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&file, hist.render_all()))
        .map(|_| format!("full history ({} events): {}", hist.len(), file.display()))
        .unwrap_or_else(|e| format!("(could not write the full history: {e})"));
    let q = |s: &str| crate::transcript::shell_quote(s.as_bytes());
    let mut replay = format!(
        "ds-conformance --target {} --seed {} --crash-rounds {}",
        q(t.root.as_str()),
        run.seed,
        round + 1
    );
    if let Some(k) = &run.control.kill_cmd {
        replay.push_str(&format!(" --kill-cmd {}", q(k)));
    }
    if let Some(r) = &run.control.restart_cmd {
        replay.push_str(&format!(" --restart-cmd {}", q(r)));
    }
    replay.push_str(&format!(" --exact {}", ctx.case_id()));
    let more = if others > 0 {
        format!(" ({others} more violation(s) in this round, see the full history)")
    } else {
        String::new()
    };
    Failure::new(
        Some(v.requirement),
        format!(
            "{}{more}\nseed {}, round {} of {}; streams {}\nhistory of the streams involved (round, sent..answered ms, client, stream, request -> answer):\n  {}\n{written}\nreplay (same seed: same workload and kill schedule; the interleaving may differ): {replay}",
            v.message,
            run.seed,
            round,
            run.control.crash_rounds,
            v.streams.join(", "),
            excerpt.join("\n  "),
        ),
    )
}
