//! Running a sequence against the target: each step is planned by the
//! model, sent with the harness client under the sequence's own namespace,
//! recorded for the replay script, and checked by the model. After the
//! last step every stream is re-read from every offset minted for it.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use super::script::{Line, Script};
use crate::client::{Ctx, Req, Resp};
use crate::failure::Failure;
use crate::model::{Mode, Model, Obs, Op, Outcome, Plan, SseObs, Violation};

/// Why a sequence failed.
#[derive(Clone, Debug)]
pub enum StepFail {
    /// The server disagreed with the model at step `step` (None: final sweep).
    Model {
        step: Option<usize>,
        violation: Violation,
    },
    /// Transport problem: not a verdict.
    Setup(Failure),
}

impl std::fmt::Display for StepFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepFail::Model {
                step: Some(i),
                violation,
            } => {
                write!(
                    f,
                    "step {}: [{}] {}",
                    i + 1,
                    violation.requirement,
                    violation.message
                )
            }
            StepFail::Model {
                step: None,
                violation,
            } => write!(
                f,
                "final re-read: [{}] {}",
                violation.requirement, violation.message
            ),
            StepFail::Setup(e) => write!(f, "setup: {e}"),
        }
    }
}

static STATS: std::sync::Mutex<BTreeMap<String, u64>> = std::sync::Mutex::new(BTreeMap::new());

/// `DS_PROPS_STATS=1`: count (operation, status) pairs and print them at
/// the end of each property (to see what the generator reaches).
pub fn stats_enabled() -> bool {
    std::env::var_os("DS_PROPS_STATS").is_some()
}

/// Print and reset the counts.
pub fn print_stats(case_id: &str) {
    if stats_enabled() {
        let mut m = STATS.lock().unwrap();
        crate::errln!("--- {case_id}: operation -> status counts");
        for (k, v) in m.iter() {
            crate::errln!("{v:>6}  {k}");
        }
        m.clear();
    }
}

/// Most chunks a read follows before giving up (a server that never says
/// up-to-date).
const MAX_CHUNKS: usize = 200;
const SSE_WAIT: Duration = Duration::from_secs(3);

pub struct Exec {
    ctx: Ctx,
    prefix: String,
    pub model: Model,
    pub script: Script,
}

fn obs(headers: &HeaderMap, status: u16, body: &[u8]) -> Obs {
    let mut map = BTreeMap::new();
    for (k, v) in headers {
        map.entry(k.as_str().to_ascii_lowercase())
            .or_insert_with(|| String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    Obs {
        status,
        headers: map,
        body: body.to_vec(),
    }
}

fn resp_obs(r: &Resp) -> Obs {
    obs(&r.headers, r.status, &r.body)
}

impl Exec {
    /// A sequence whose streams live under `prefix/` of the case namespace.
    pub fn new(ctx: Ctx, prefix: String) -> Exec {
        Exec {
            ctx,
            prefix,
            model: Model::default(),
            script: Script::default(),
        }
    }

    fn name(&self, p: crate::model::Path) -> String {
        format!("{}/{}", self.prefix, p.name())
    }

    /// Run every step, then the final sweep.
    pub async fn run(&mut self, ops: &[Op]) -> Result<(), StepFail> {
        for (i, op) in ops.iter().enumerate() {
            self.step(op, &format!("step {}: {op:?}", i + 1))
                .await
                .map_err(|e| at(e, Some(i)))?;
        }
        for op in self.model.sweep() {
            self.step(&op, &format!("final re-read: {op:?}"))
                .await
                .map_err(|e| at(e, None))?;
        }
        Ok(())
    }

    async fn step(&mut self, op: &Op, comment: &str) -> Result<(), StepFail> {
        let plan = self.model.plan(op);
        let outcome = match &plan.read {
            None => Outcome::One(self.send(&plan, comment, Vec::new(), false).await?),
            Some(rp) if rp.mode == Mode::Sse => Outcome::Sse(self.sse(&plan, comment).await?),
            Some(rp) => {
                let mut q = vec![("offset".to_string(), rp.token.clone())];
                if rp.mode == Mode::LongPoll {
                    q.push(("live".into(), "long-poll".into()));
                }
                let mut chunks = vec![self.send(&plan, comment, q, false).await?];
                while chunks.len() < MAX_CHUNKS {
                    let last = chunks.last().expect("one chunk");
                    let at = match last.header("stream-next-offset") {
                        Some(t) if last.status == 200 && !last.flag("stream-up-to-date") => {
                            t.to_string()
                        }
                        _ => break,
                    };
                    let q = vec![("offset".to_string(), at)];
                    let c = self
                        .send(&plan, &format!("{comment} (next chunk)"), q, false)
                        .await?;
                    chunks.push(c);
                }
                Outcome::Chunks(chunks)
            }
        };
        if stats_enabled() {
            let status = match &outcome {
                Outcome::One(o) => o.status,
                Outcome::Chunks(v) => v[0].status,
                Outcome::Sse(o) => o.status,
            };
            let kind = format!("{op:?}");
            let kind = kind.split([' ', '{']).next().unwrap_or("").to_string();
            let detail = match op {
                Op::Produce { act, .. } => format!("{act:?}"),
                Op::Read { .. } => format!("{:?}", plan.read.as_ref().map(|r| r.mode)),
                Op::Fork { sub, .. } => format!("sub>0={}", *sub > 0),
                _ => String::new(),
            };
            *STATS
                .lock()
                .unwrap()
                .entry(format!("{kind} {detail} -> {status}"))
                .or_default() += 1;
        }
        self.model
            .check(op, &plan, &outcome)
            .map_err(|violation| StepFail::Model {
                step: None,
                violation,
            })
    }

    fn request(&self, plan: &Plan, query: &[(String, String)]) -> Req {
        let method = Method::from_bytes(plan.method.as_bytes()).unwrap_or(Method::GET);
        let mut req = self
            .ctx
            .request(method, &self.ctx.url(&self.name(plan.path)));
        for (k, v) in &plan.headers {
            req = req.header(k, v);
        }
        if let Some(src) = plan.fork_of {
            req = req.header("Stream-Forked-From", self.ctx.path(&self.name(src)));
        }
        for (k, v) in query {
            req = req.query(k, v);
        }
        req.body(plan.body.clone())
    }

    fn record(
        &mut self,
        plan: &Plan,
        comment: &str,
        query: Vec<(String, String)>,
        sse: bool,
        seen: Option<&Obs>,
    ) {
        let next = seen.and_then(|o| o.header("stream-next-offset").map(str::to_string));
        // Bodies of successful catch-up reads are compared by the script.
        let seen_body = seen
            .filter(|o| plan.method == "GET" && o.status == 200 && o.body.len() <= 16 << 10)
            .map(|o| o.body.clone());
        self.script.push(Line {
            comment: comment.to_string(),
            method: plan.method.to_string(),
            name: plan.path.name().to_string(),
            headers: plan.headers.clone(),
            fork_of: plan.fork_of.map(|p| p.name().to_string()),
            query,
            body: plan.body.clone(),
            sse,
            next_offset: next,
            seen_status: seen.map(|o| o.status),
            seen_body,
        });
    }

    async fn send(
        &mut self,
        plan: &Plan,
        comment: &str,
        query: Vec<(String, String)>,
        sse: bool,
    ) -> Result<Obs, StepFail> {
        let mut req = self.request(plan, &query);
        let live = query.iter().any(|(k, v)| k == "live" && v == "long-poll");
        if live {
            // Only issued where the answer is immediate; a hang is a bug.
            req = req.timeout(self.ctx.target().request_timeout());
        }
        let r = req.send().await.map_err(|f| {
            if f.is_no_answer() {
                StepFail::Setup(f)
            } else {
                StepFail::Model {
                    step: None,
                    violation: Violation::new(
                        if live {
                            "PROP-LIVE-IMMEDIATE"
                        } else {
                            "PROP-READ-CONTENT"
                        },
                        format!("{comment}: {}", f.message),
                    ),
                }
            }
        })?;
        let o = resp_obs(&r);
        self.record(plan, comment, query, sse, Some(&o));
        Ok(o)
    }

    async fn sse(&mut self, plan: &Plan, comment: &str) -> Result<SseObs, StepFail> {
        let rp = plan.read.as_ref().expect("read plan");
        let query = vec![
            ("offset".to_string(), rp.token.clone()),
            ("live".to_string(), "sse".to_string()),
        ];
        self.record(plan, comment, query.clone(), true, None);
        let mut s = self
            .request(plan, &query)
            .sse()
            .await
            .map_err(StepFail::Setup)?;
        let mut out = SseObs {
            status: s.status,
            headers: obs(&s.headers, s.status, b"").headers,
            ..Default::default()
        };
        if s.status != 200 {
            return Ok(out);
        }
        let done = |evs: &[crate::sse::SseEvent]| {
            evs.iter().filter_map(|e| e.control()).any(|c| {
                c.get("upToDate") == Some(&Value::Bool(true))
                    || c.get("streamClosed") == Some(&Value::Bool(true))
            })
        };
        s.read_until(SSE_WAIT, done).await;
        if crate::sse::closed_control(&s.events) {
            s.wait_closed(Duration::from_secs(2)).await;
        }
        out.events = s
            .events
            .iter()
            .map(|e| (e.event.clone(), e.data.clone()))
            .collect();
        out.ended = s.ended;
        Ok(out)
    }
}

fn at(e: StepFail, step: Option<usize>) -> StepFail {
    match e {
        StepFail::Model { violation, .. } => StepFail::Model { step, violation },
        other => other,
    }
}
