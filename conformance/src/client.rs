//! The fluent HTTP client every case uses: run-scoped stream URLs, recorded
//! transcripts (replayable as curl), and cleanup of what a case created.
//! Offsets are opaque tokens: this module never builds or parses one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde::Serialize;

use crate::failure::Failure;
use crate::transcript::Exchange;

/// Where the server under test is and how to talk to it: all a request
/// needs. Everything else about a run lives in [`RunConfig`].
pub struct Target {
    /// Stream root URL (any path prefix), without a trailing slash.
    pub root: Url,
    /// Extra headers sent with every request (authentication).
    pub headers: Vec<(String, String)>,
    /// The target's long-poll timeout (hint): how long a 204 may take.
    pub long_poll_timeout: Duration,
    /// Subscriptions (§6–7): receiver address, public URL, timer slack,
    /// claim credentials; and what the target turned out to support.
    pub subs: crate::subs::SubsSettings,
    pub http: reqwest::Client,
    /// Every resource the run created (a 2xx PUT), whoever sent it: checked
    /// at the end of the run for leftovers (see [`Ledger`]).
    pub ledger: Ledger,
    /// [`Target::secrets`], worked out at the first request (when the
    /// headers and the service token are configured), not for every one.
    secrets: std::sync::OnceLock<Vec<(String, String)>>,
}

/// The choices of one run that are not about the server: its identity,
/// seed, budgets, artifacts, and control of the target's process.
pub struct RunConfig {
    /// Unique per run: every case works under `{root}/{run_id}/{case}/`.
    pub run_id: String,
    /// Seed for randomised cases and properties (printed on every run).
    pub seed: u64,
    /// Budget for a single case.
    pub case_timeout: Duration,
    /// Property budget: sequences per property and steps per sequence.
    pub prop_cases: u32,
    pub prop_max_steps: usize,
    /// Where failure artifacts (replay scripts) are written.
    pub artifacts_dir: std::path::PathBuf,
    /// Restarting and killing the target (durability and crash groups).
    pub control: Control,
}

/// How the harness takes the target down and brings it back.
pub struct Control {
    /// Shell command that restarts the target and returns when it is ready.
    pub restart_cmd: Option<String>,
    /// Shell command that kills the target abruptly (crash checks).
    pub kill_cmd: Option<String>,
    /// In-process restart (the embedded file store); wins over `restart_cmd`.
    pub restart_hook: Option<RestartHook>,
    /// In-process kill (tests); wins over `kill_cmd`.
    pub kill_hook: Option<RestartHook>,
    /// Crash group: kill/restart rounds per case.
    pub crash_rounds: u32,
    /// Longest a restart or kill command may run.
    pub command_timeout: Duration,
    /// Cases that take the target away hold this exclusively; every other
    /// case of the session holds it shared, so no case sees the target go
    /// away under it (sessions against other targets are not held up).
    pub(crate) gate: tokio::sync::RwLock<()>,
}

/// One run against one target: what every case context shares.
pub struct Session {
    pub target: Target,
    pub run: RunConfig,
}

/// What the run created on the target and what it deleted, recorded by the
/// client layer for every request (no URL layout assumed: URLs as sent).
/// At the end of the run every URL is HEADed; one still answering 2xx is a
/// leftover (see [`Leftover`]).
#[derive(Default)]
pub struct Ledger {
    entries: Mutex<std::collections::BTreeMap<String, LedgerEntry>>,
}

#[derive(Clone, Debug)]
struct LedgerEntry {
    /// The case whose request created it (the last creation).
    case: String,
    /// The target acknowledged a DELETE (2xx) after the last creation.
    delete_acked: bool,
}

/// A resource the run created that still exists after the run.
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    pub url: String,
    pub case: String,
    /// The HEAD status at the end of the run.
    pub status: u16,
    /// The target had acknowledged a DELETE of it (2xx): it broke DELETE
    /// (§4.4/§10): this fails the run. Otherwise a warning only (a case
    /// left it, or the cleanup's DELETE was refused).
    pub delete_acknowledged: bool,
}

impl Ledger {
    fn created(&self, url: &str, case: &str) {
        self.entries.lock().unwrap().insert(
            url.to_string(),
            LedgerEntry {
                case: case.to_string(),
                delete_acked: false,
            },
        );
    }
    fn deleted(&self, url: &str) {
        if let Some(e) = self.entries.lock().unwrap().get_mut(url) {
            e.delete_acked = true;
        }
    }
    /// How many resources the run created.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Target {
    /// HEAD everything the run created (a few at a time); the ones still
    /// there are leftovers. A HEAD without an answer is not a leftover (the
    /// run cannot tell), a 404/410 is gone, any 2xx still exists.
    pub async fn leftovers(&self) -> Vec<Leftover> {
        use futures::StreamExt;
        let entries: Vec<(String, LedgerEntry)> = self
            .ledger
            .entries
            .lock()
            .unwrap()
            .iter()
            .map(|(u, e)| (u.clone(), e.clone()))
            .collect();
        let heads = futures::stream::iter(entries)
            .map(|(url, e)| async move {
                let mut req = self.http.head(&url).timeout(Duration::from_secs(10));
                for (k, v) in &self.headers {
                    req = req.header(k, v);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => Some(Leftover {
                        url,
                        case: e.case,
                        status: r.status().as_u16(),
                        delete_acknowledged: e.delete_acked,
                    }),
                    _ => None,
                }
            })
            .buffer_unordered(8);
        let mut out: Vec<Leftover> = heads.filter_map(|x| async { x }).collect().await;
        out.sort_by(|a, b| a.url.cmp(&b.url));
        out
    }
}

/// Restarts the target in-process and resolves once it serves again.
pub type RestartHook = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

impl Control {
    /// Can the durability group run (a restart command or hook is set)?
    pub fn can_restart(&self) -> bool {
        self.restart_hook.is_some() || self.restart_cmd.is_some()
    }
    /// Can the crash checks run (a kill command is set)?
    pub fn can_kill(&self) -> bool {
        self.kill_hook.is_some() || self.kill_cmd.is_some()
    }
}

impl RunConfig {
    /// Defaults: a fresh run id and seed, 60 s per case, 200 property
    /// sequences of up to 24 steps, no restart or kill.
    pub fn new() -> RunConfig {
        let run_id = format!(
            "dsc-{}-{:04x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            rand::random::<u16>()
        );
        RunConfig {
            run_id,
            seed: rand::random::<u64>() >> 12,
            case_timeout: Duration::from_secs(60),
            prop_cases: 200,
            prop_max_steps: 24,
            artifacts_dir: std::env::temp_dir().join("ds-conformance"),
            control: Control {
                restart_cmd: None,
                kill_cmd: None,
                restart_hook: None,
                kill_hook: None,
                crash_rounds: 10,
                command_timeout: Duration::from_secs(120),
                gate: tokio::sync::RwLock::new(()),
            },
        }
    }

    /// Time budget of one case: crash cases get a minute per round.
    pub fn case_budget(&self, needs: crate::case::Needs) -> Duration {
        match needs {
            crate::case::Needs::KillAndRestart => self
                .case_timeout
                .max(Duration::from_secs(60) * self.control.crash_rounds.max(1)),
            _ => self.case_timeout,
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig::new()
    }
}

impl Session {
    /// A session against `root` with default run settings.
    pub fn new(root: &str) -> Result<Session, String> {
        Ok(Session {
            target: Target::new(root)?,
            run: RunConfig::new(),
        })
    }
}

impl Target {
    /// The credentials the user configured, each with the placeholder
    /// transcripts record instead (see `transcript::redact`): values of
    /// `--header`s that look like credentials, and `--service-token`.
    /// Worked out once, at the first call: configure `headers` and
    /// `subs.service_token` before the first request.
    pub fn secrets(&self) -> &[(String, String)] {
        self.secrets.get_or_init(|| self.find_secrets())
    }

    fn find_secrets(&self) -> Vec<(String, String)> {
        let sensitive = |name: &str| {
            let n = name.to_ascii_lowercase();
            ["auth", "cookie", "key", "token", "secret", "session"]
                .iter()
                .any(|w| n.contains(w))
        };
        let mut out: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| sensitive(k))
            .map(|(k, v)| {
                let var: String = "DS_"
                    .chars()
                    .chain(k.chars().map(|c| match c {
                        c if c.is_ascii_alphanumeric() => c.to_ascii_uppercase(),
                        _ => '_',
                    }))
                    .collect();
                (
                    v.clone(),
                    crate::transcript::credential_placeholder(&var, "--header"),
                )
            })
            .collect();
        if let Some(t) = &self.subs.service_token {
            out.push((
                t.clone(),
                crate::transcript::credential_placeholder("DS_SERVICE_TOKEN", "--service-token"),
            ));
        }
        // Longest first, so a secret containing another is replaced whole.
        out.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        out
    }

    pub fn new(root: &str) -> Result<Target, String> {
        Self::with_tls(root, false)
    }

    /// `insecure`: accept any certificate (`--insecure`, self-signed test
    /// servers); otherwise the system's roots decide.
    pub fn with_tls(root: &str, insecure: bool) -> Result<Target, String> {
        let trimmed = root.trim_end_matches('/');
        let root = Url::parse(trimmed).map_err(|e| format!("invalid target URL {root:?}: {e}"))?;
        if !matches!(root.scheme(), "http" | "https") {
            return Err(format!("target URL must be http(s): {root}"));
        }
        if root.query().is_some() || root.fragment().is_some() {
            return Err(format!(
                "target URL must not carry a query or fragment: {root}"
            ));
        }
        let http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(insecure)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(Target {
            root,
            headers: Vec::new(),
            long_poll_timeout: Duration::from_secs(30),
            subs: Default::default(),
            http,
            ledger: Ledger::default(),
            secrets: std::sync::OnceLock::new(),
        })
    }

    /// A request budget long enough for one long-poll round.
    pub fn request_timeout(&self) -> Duration {
        self.long_poll_timeout + Duration::from_secs(15)
    }
}

struct CtxInner {
    session: Arc<Session>,
    case_id: String,
    base: String,
    transcript: Mutex<Vec<Exchange>>,
    created: Mutex<Vec<String>>,
    artifacts: Mutex<Vec<String>>,
    findings: Mutex<Vec<Failure>>,
}

/// Per-case context: names streams, sends requests, records the transcript.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<CtxInner>,
}

impl Ctx {
    pub fn new(session: Arc<Session>, case_id: &str) -> Ctx {
        let slug: String = case_id
            .replace("::", ".")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = format!(
            "{}/{}/{}",
            session.target.root.as_str().trim_end_matches('/'),
            session.run.run_id,
            slug
        );
        Ctx {
            inner: Arc::new(CtxInner {
                session,
                case_id: case_id.to_string(),
                base,
                transcript: Mutex::new(Vec::new()),
                created: Mutex::new(Vec::new()),
                artifacts: Mutex::new(Vec::new()),
                findings: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn target(&self) -> &Target {
        &self.inner.session.target
    }
    /// This run's settings (seed, budgets, restart control).
    pub fn run(&self) -> &RunConfig {
        &self.inner.session.run
    }
    /// The shared session, for work that outlives this context (properties).
    pub fn session(&self) -> Arc<Session> {
        self.inner.session.clone()
    }
    pub fn case_id(&self) -> &str {
        &self.inner.case_id
    }
    pub fn long_poll_timeout(&self) -> Duration {
        self.inner.session.target.long_poll_timeout
    }

    /// Full URL of the case-scoped stream `name` (may contain `/`).
    pub fn url(&self, name: &str) -> String {
        format!("{}/{}", self.inner.base, name)
    }

    /// Stream-root-relative path of stream `name` (§6: subscription bodies
    /// name streams this way): the run and case prefix plus `name`.
    pub fn rel(&self, name: &str) -> String {
        let root = self
            .inner
            .session
            .target
            .root
            .as_str()
            .trim_end_matches('/');
        self.url(name)
            .strip_prefix(root)
            .unwrap_or(name)
            .trim_start_matches('/')
            .to_string()
    }

    /// The URL path of stream `name`, as `Stream-Forked-From` wants it.
    /// Derived from the target URL, so any prefix layout works.
    pub fn path(&self, name: &str) -> String {
        match Url::parse(&self.url(name)) {
            Ok(u) => u.path().to_string(),
            Err(_) => self.url(name),
        }
    }

    pub fn put(&self, name: &str) -> Req {
        self.request(Method::PUT, &self.url(name))
    }
    pub fn post(&self, name: &str) -> Req {
        self.request(Method::POST, &self.url(name))
    }
    pub fn get(&self, name: &str) -> Req {
        self.request(Method::GET, &self.url(name))
    }
    pub fn head(&self, name: &str) -> Req {
        self.request(Method::HEAD, &self.url(name))
    }
    pub fn delete(&self, name: &str) -> Req {
        self.request(Method::DELETE, &self.url(name))
    }
    pub fn options(&self, name: &str) -> Req {
        self.request(Method::OPTIONS, &self.url(name))
    }

    /// A request to an arbitrary URL (still recorded in the transcript).
    pub fn request(&self, method: Method, url: &str) -> Req {
        Req {
            ctx: self.clone(),
            method,
            url: url.to_string(),
            headers: Vec::new(),
            query: Vec::new(),
            raw_query: None,
            body: Vec::new(),
            timeout: None,
            track: true,
        }
    }

    /// Add a free-text line to the transcript (e.g. "sleeping 2s for TTL").
    pub fn note(&self, text: impl Into<String>) {
        self.inner
            .transcript
            .lock()
            .unwrap()
            .push(Exchange::note(text.into()));
    }

    /// Record a file written for this case (a replay script); the report
    /// lists it.
    pub fn add_artifact(&self, path: impl Into<String>) {
        self.inner.artifacts.lock().unwrap().push(path.into());
    }

    /// Record a finding and carry on: a SHOULD-level deviation (or a
    /// reading the spec leaves open) after which the case goes on to
    /// re-verify what must still hold. If the case then passes, the first
    /// finding is its result (scored at its requirement's level); if it
    /// fails, that failure wins and the findings are appended to it.
    pub fn finding(&self, f: Failure) {
        self.note(format!("finding (the case carries on): {f}"));
        self.inner.findings.lock().unwrap().push(f);
    }

    /// Combine the case's own result with the findings it recorded.
    pub fn with_findings(&self, result: Result<(), Failure>) -> Result<(), Failure> {
        let findings = std::mem::take(&mut *self.inner.findings.lock().unwrap());
        let also = |skip: usize| {
            findings
                .iter()
                .skip(skip)
                .map(|f| format!("\n(also found, the case carried on: {f})"))
                .collect::<String>()
        };
        match result {
            Ok(()) => match findings.first() {
                None => Ok(()),
                Some(first) => {
                    let mut f = first.clone();
                    f.message.push_str(&also(1));
                    Err(f)
                }
            },
            Err(mut f) => {
                f.message.push_str(&also(0));
                Err(f)
            }
        }
    }

    /// The files recorded with `add_artifact`.
    pub fn artifacts(&self) -> Vec<String> {
        self.inner.artifacts.lock().unwrap().clone()
    }

    pub fn transcript(&self) -> Vec<Exchange> {
        self.inner.transcript.lock().unwrap().clone()
    }

    pub(crate) fn record(&self, ex: Exchange) -> usize {
        let mut t = self.inner.transcript.lock().unwrap();
        t.push(ex);
        t.len() - 1
    }

    pub(crate) fn update(&self, idx: usize, f: impl FnOnce(&mut Exchange)) {
        if let Some(ex) = self.inner.transcript.lock().unwrap().get_mut(idx) {
            f(ex);
        }
    }

    fn remember(&self, url: &str) {
        let mut c = self.inner.created.lock().unwrap();
        if !c.iter().any(|u| u == url) {
            c.push(url.to_string());
        }
    }

    /// Delete every stream this case created, newest first (forks before
    /// their sources). Errors are ignored: cleanup is best effort.
    pub async fn cleanup(&self) {
        let urls: Vec<String> = self
            .inner
            .created
            .lock()
            .unwrap()
            .iter()
            .rev()
            .cloned()
            .collect();
        for url in urls {
            let mut req = self.inner.session.target.http.request(Method::DELETE, &url);
            for (k, v) in &self.inner.session.target.headers {
                req = req.header(k, v);
            }
            if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(5), req.send()).await {
                if r.status().is_success() {
                    self.inner.session.target.ledger.deleted(&url);
                }
            }
        }
    }

    /// Restart the target (`--restart-cmd` or the embedded hook) and wait
    /// until it is ready. The runner guarantees no other case runs meanwhile.
    /// A failing or hanging command is a setup error (exit 2).
    pub async fn restart(&self) -> Result<(), Failure> {
        let target = &self.inner.session.run.control;
        let started = Instant::now();
        let result = if let Some(hook) = &target.restart_hook {
            self.note("restart target (in-process)");
            hook().await
        } else if let Some(cmd) = &target.restart_cmd {
            self.note(format!(
                "restart target: sh -c {}",
                crate::transcript::shell_quote(cmd.as_bytes())
            ));
            crate::command::run("restart command", cmd, target.command_timeout).await
        } else {
            Err("no --restart-cmd given".to_string())
        };
        self.note(format!(
            "restart finished after {} ms",
            started.elapsed().as_millis()
        ));
        result.map_err(Failure::setup_error)
    }

    /// Kill the target abruptly (`--kill-cmd`); a failing or hanging
    /// command is a setup error (exit 2).
    pub async fn kill(&self) -> Result<(), Failure> {
        let target = &self.inner.session.run.control;
        if let Some(hook) = &target.kill_hook {
            self.note("kill target (in-process)");
            return hook().await.map_err(Failure::setup_error);
        }
        let Some(cmd) = &target.kill_cmd else {
            return Err(Failure::setup_error("no --kill-cmd given"));
        };
        self.note(format!(
            "kill target: sh -c {}",
            crate::transcript::shell_quote(cmd.as_bytes())
        ));
        crate::command::run("kill command", cmd, target.command_timeout)
            .await
            .map_err(Failure::setup_error)
    }

    /// Sleep, noting it in the transcript (replay scripts make the same
    /// wait).
    pub async fn sleep(&self, d: Duration) {
        let mut note = Exchange::note(format!("sleep {} ms", d.as_millis()));
        note.wait = Some(d);
        self.inner.transcript.lock().unwrap().push(note);
        tokio::time::sleep(d).await;
    }
}

/// A request under construction.
pub struct Req {
    ctx: Ctx,
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    query: Vec<(String, String)>,
    raw_query: Option<String>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    track: bool,
}

impl Req {
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Req {
        self.headers
            .push((name.to_string(), value.as_ref().as_bytes().to_vec()));
        self
    }
    /// A header value that need not be UTF-8 (bad-input cases).
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Req {
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }
    pub fn ct(self, content_type: &str) -> Req {
        self.header("Content-Type", content_type)
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }
    pub fn query(mut self, key: &str, value: impl AsRef<str>) -> Req {
        self.query
            .push((key.to_string(), value.as_ref().to_string()));
        self
    }
    /// Append a query string verbatim (no encoding), for malformed-input cases.
    pub fn raw_query(mut self, q: &str) -> Req {
        self.raw_query = Some(q.to_string());
        self
    }
    pub fn offset(self, offset: impl AsRef<str>) -> Req {
        self.query("offset", offset)
    }
    pub fn live(self, mode: &str) -> Req {
        self.query("live", mode)
    }
    pub fn long_poll(self) -> Req {
        self.live("long-poll")
    }
    pub fn cursor(self, cursor: impl AsRef<str>) -> Req {
        self.query("cursor", cursor)
    }
    /// `Stream-Closed: true`.
    pub fn closed(self) -> Req {
        self.header("Stream-Closed", "true")
    }
    pub fn ttl(self, secs: impl ToString) -> Req {
        self.header("Stream-TTL", secs.to_string())
    }
    pub fn expires_at(self, rfc3339: &str) -> Req {
        self.header("Stream-Expires-At", rfc3339)
    }
    pub fn seq(self, seq: &str) -> Req {
        self.header("Stream-Seq", seq)
    }
    /// The three idempotent-producer headers.
    pub fn producer(self, id: &str, epoch: u64, seq: u64) -> Req {
        self.header("Producer-Id", id)
            .header("Producer-Epoch", epoch.to_string())
            .header("Producer-Seq", seq.to_string())
    }
    /// `Stream-Forked-From` naming the case-scoped stream `source`.
    pub fn fork_of(self, source: &str) -> Req {
        let path = self.ctx.path(source);
        self.header("Stream-Forked-From", path)
    }
    pub fn fork_offset(self, offset: impl AsRef<str>) -> Req {
        self.header("Stream-Fork-Offset", offset)
    }
    pub fn fork_sub_offset(self, sub: impl ToString) -> Req {
        self.header("Stream-Fork-Sub-Offset", sub.to_string())
    }
    pub fn timeout(mut self, d: Duration) -> Req {
        self.timeout = Some(d);
        self
    }
    /// Do not delete this URL at cleanup even if the request creates it.
    pub fn untracked(mut self) -> Req {
        self.track = false;
        self
    }

    fn final_url(&self) -> Result<Url, Failure> {
        let mut url = Url::parse(&self.url)
            .map_err(|e| Failure::no_answer(format!("bad URL {}: {e}", self.url)))?;
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &self.query {
                pairs.append_pair(k, v);
            }
        }
        if let Some(raw) = &self.raw_query {
            let q = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{raw}"),
                _ => raw.clone(),
            };
            url.set_query(Some(&q));
        }
        Ok(url)
    }

    fn build(&self) -> Result<(reqwest::RequestBuilder, Exchange), Failure> {
        let target = &self.ctx.inner.session.target;
        let url = self.final_url()?;
        let mut rb = target.http.request(self.method.clone(), url.clone());
        let mut recorded = Vec::new();
        let secrets = target.secrets();
        for (k, v) in &target.headers {
            // A header the case sets itself (e.g. a claim token in
            // Authorization) replaces the run-wide one.
            if self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)) {
                continue;
            }
            rb = rb.header(k, v);
            recorded.push((k.clone(), crate::transcript::redact(v, secrets)));
        }
        for (k, v) in &self.headers {
            let value = reqwest::header::HeaderValue::from_bytes(v)
                .map_err(|e| Failure::no_answer(format!("header {k} cannot be sent: {e}")))?;
            rb = rb.header(k.as_str(), value);
            recorded.push((
                k.clone(),
                crate::transcript::redact(&String::from_utf8_lossy(v), secrets),
            ));
        }
        if !self.body.is_empty() || matches!(self.method, Method::POST | Method::PUT) {
            rb = rb.body(self.body.clone());
        }
        let ex = Exchange::request(self.method.as_str(), url.as_str(), recorded, &self.body);
        Ok((rb, ex))
    }

    /// Send and read the whole response body. A GET or HEAD whose
    /// connection was reset before any answer came (a server closing an
    /// idle kept-alive connection just as it was reused) is sent once more,
    /// as HTTP clients do for idempotent requests (RFC 9110 §9.2.2); both
    /// attempts are in the transcript.
    pub async fn send(self) -> Result<Resp, Failure> {
        let idempotent = matches!(self.method, Method::GET | Method::HEAD);
        let mut retried = false;
        loop {
            match self.send_once(idempotent && !retried).await {
                Err(None) => {
                    retried = true;
                    self.ctx.note(format!(
                        "{} {}: the connection was reset before any answer; sent once more (idempotent request)",
                        self.method, self.url
                    ));
                }
                Err(Some(f)) => return Err(f),
                Ok(r) => return Ok(r),
            }
        }
    }

    /// One attempt of [`Req::send`]; `Err(None)`: reset before any answer,
    /// and `may_retry` allowed another attempt.
    async fn send_once(&self, may_retry: bool) -> Result<Resp, Option<Failure>> {
        let (rb, ex) = self.build()?;
        let idx = self.ctx.record(ex);
        let timeout = self
            .timeout
            .unwrap_or_else(|| self.ctx.inner.session.target.request_timeout());
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, async {
            let resp = rb.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        })
        .await;
        let elapsed = started.elapsed();
        match result {
            Err(_) => {
                self.ctx.update(idx, |ex| {
                    ex.fail(
                        format!("no response within {} ms", timeout.as_millis()),
                        elapsed,
                    )
                });
                Err(Some(Failure::new(
                    None,
                    format!(
                        "{} {} got no response within {} ms",
                        self.method,
                        self.url,
                        timeout.as_millis()
                    ),
                )))
            }
            Ok(Err(e)) => {
                let before_answer = e.is_request();
                let e = error_chain(&e);
                self.ctx
                    .update(idx, |ex| ex.fail(format!("transport error: {e}"), elapsed));
                let reset = e.contains("reset by peer")
                    || e.contains("connection closed before message completed");
                if may_retry && before_answer && reset {
                    return Err(None);
                }
                Err(Some(Failure::no_answer(format!(
                    "{} {} failed: {e}",
                    self.method, self.url
                ))))
            }
            Ok(Ok((status, headers, body))) => {
                self.ctx
                    .update(idx, |ex| ex.respond(status, &headers, &body, elapsed));
                let ledger = &self.ctx.inner.session.target.ledger;
                if self.method == Method::PUT && (200..300).contains(&status) {
                    ledger.created(&self.url, &self.ctx.inner.case_id);
                    if self.track {
                        self.ctx.remember(&self.url);
                    }
                }
                if self.method == Method::DELETE && (200..300).contains(&status) {
                    ledger.deleted(&self.url);
                }
                Ok(Resp {
                    status,
                    headers,
                    body,
                    exchange: idx,
                    elapsed,
                })
            }
        }
    }

    /// Open an SSE connection (the body is consumed incrementally).
    pub async fn sse(self) -> Result<crate::sse::SseSession, Failure> {
        let (rb, ex) = self.build()?;
        let idx = self.ctx.record(ex);
        let started = Instant::now();
        let resp = tokio::time::timeout(Duration::from_secs(15), rb.send())
            .await
            .map_err(|_| {
                Failure::new(
                    None,
                    format!(
                        "GET {} (SSE) sent no response headers within 15 s",
                        self.url
                    ),
                )
            })?
            .map_err(|e| {
                Failure::no_answer(format!(
                    "GET {} (SSE) failed: {}",
                    self.url,
                    error_chain(&e)
                ))
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.ctx.update(idx, |ex| {
            ex.respond(status, &headers, b"", started.elapsed())
        });
        Ok(crate::sse::SseSession::new(
            self.ctx.clone(),
            idx,
            status,
            headers,
            resp,
        ))
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Index of this exchange in the case transcript.
    pub exchange: usize,
    pub elapsed: Duration,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
    pub fn has(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }
    /// Fail with `req` unless the status is `expected`.
    pub fn expect(&self, expected: u16, req: &str) -> Result<&Resp, Failure> {
        if self.status != expected {
            return Err(Failure::new(
                Some(req),
                format!(
                    "expected status {expected}, got {} (body: {})",
                    self.status,
                    crate::transcript::preview(&self.body, 200)
                ),
            ));
        }
        Ok(self)
    }
    /// Fail with `req` unless the status is one of `allowed`.
    pub fn expect_any(&self, allowed: &[u16], req: &str) -> Result<&Resp, Failure> {
        if !allowed.contains(&self.status) {
            return Err(Failure::new(
                Some(req),
                format!(
                    "expected status in {allowed:?}, got {} (body: {})",
                    self.status,
                    crate::transcript::preview(&self.body, 200)
                ),
            ));
        }
        Ok(self)
    }
    /// The header's value, or a failure naming `req` if it is missing.
    pub fn require(&self, name: &str, req: &str) -> Result<String, Failure> {
        self.header(name).ok_or_else(|| {
            Failure::new(
                Some(req),
                format!("response {} lacks the {name} header", self.status),
            )
        })
    }
    /// `Stream-Next-Offset`, required.
    pub fn next_offset(&self, req: &str) -> Result<String, Failure> {
        self.require("stream-next-offset", req)
    }
    /// `Stream-Closed: true` present (value compared case-insensitively).
    pub fn closed(&self) -> bool {
        self.header("stream-closed")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
    /// `Stream-Up-To-Date: true` present.
    pub fn up_to_date(&self) -> bool {
        self.header("stream-up-to-date")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Parse the body as JSON, failing with `req`.
    pub fn json(&self, req: &str) -> Result<serde_json::Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failure::new(
                Some(req),
                format!(
                    "body is not JSON ({e}): {}",
                    crate::transcript::preview(&self.body, 200)
                ),
            )
        })
    }
    /// Media type of Content-Type, lowercased, parameters dropped.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// Result of following a stream from an offset to its current tail.
#[derive(Debug, Clone, Serialize)]
pub struct ReadAll {
    pub bytes: Vec<u8>,
    /// For JSON streams: the messages of every chunk, concatenated.
    pub messages: Vec<serde_json::Value>,
    /// `Stream-Next-Offset` of each chunk, in order.
    pub offsets: Vec<String>,
    pub closed: bool,
    pub chunks: usize,
}

impl ReadAll {
    pub fn tail(&self) -> Option<&str> {
        self.offsets.last().map(String::as_str)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Ctx {
    /// Catch-up read from `offset`, following `Stream-Next-Offset` across
    /// chunks until `Stream-Up-To-Date`. Checks the per-chunk rules every
    /// reader relies on (§5.6): 200, next offset present and never
    /// decreasing, up-to-date and closed only on the last chunk.
    pub async fn read_all(&self, name: &str, offset: &str, req: &str) -> Result<ReadAll, Failure> {
        let mut out = ReadAll {
            bytes: Vec::new(),
            messages: Vec::new(),
            offsets: Vec::new(),
            closed: false,
            chunks: 0,
        };
        let mut at = offset.to_string();
        for _ in 0..100_000 {
            let r = self.get(name).offset(&at).send().await?;
            r.expect(200, req)?;
            let next = r.next_offset(req)?;
            out.chunks += 1;
            if is_json(&r) {
                match r.json(req)? {
                    serde_json::Value::Array(items) => out.messages.extend(items),
                    other => fail!(req, "JSON stream read did not return an array: {other}"),
                }
            }
            out.bytes.extend_from_slice(&r.body);
            if r.up_to_date() {
                out.closed = r.closed();
                out.offsets.push(next);
                return Ok(out);
            }
            // A SHOULD NOT (§5.6), so not under the caller's requirement.
            check!(
                !r.closed(),
                "READ-PARTIAL-NO-CLOSED",
                "Stream-Closed on a chunk that was not up to date (read at {at})"
            );
            check!(!r.body.is_empty(), req, "empty non-final chunk at offset {at} (no Stream-Up-To-Date): a reader would loop forever");
            check!(
                next != at,
                req,
                "Stream-Next-Offset did not advance past {at} on a non-final chunk"
            );
            out.offsets.push(next.clone());
            at = next;
        }
        fail!(
            req,
            "read from {offset} did not reach the tail after 100000 chunks"
        )
    }
}

/// An error with its causes ("error sending request: … : Connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// True when the response is `application/json` (JSON mode, §9.1).
pub fn is_json(r: &Resp) -> bool {
    r.media_type().as_deref() == Some("application/json")
}

use crate::{check, fail};
