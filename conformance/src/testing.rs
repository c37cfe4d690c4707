//! Helpers for the harness's own tests: start the reference app in-process
//! (the one way the tests do: [`reference_app`] wrapped in whatever
//! middleware a test needs, then [`serve`]), run a subset of the catalog
//! against a URL and get each case's raw result (used to prove that checks
//! bite on deliberately broken servers).

use std::sync::Arc;
use std::time::Duration;

use crate::client::Session;
use crate::failure::Failure;
use crate::runner::run_case;

/// An app served on 127.0.0.1 until dropped.
pub struct Served {
    pub addr: std::net::SocketAddr,
    /// `http://ADDR/v1/stream`: the reference app's stream root.
    pub root: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reference server's settings with its long-poll timeout set to
/// `long_poll_ms` (and 64 KiB chunks, so chunking shows with small data).
pub fn config(long_poll_ms: u64) -> ds_reference_server::Config {
    ds_reference_server::Config {
        long_poll_timeout: Duration::from_millis(long_poll_ms),
        max_chunk_bytes: 64 * 1024,
        ..Default::default()
    }
}

/// The reference app (memory store, the given settings).
pub fn reference_app(config: ds_reference_server::Config) -> axum::Router {
    ds_reference_server::app(ds_reference_server::AppState::new(config).expect("state"))
}

/// A listener on a fresh 127.0.0.1 port.
pub async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
}

/// Serve `app` on `listener` until the returned handle is dropped.
pub fn serve_on(listener: tokio::net::TcpListener, app: axum::Router) -> Served {
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served {
        addr,
        root: format!("http://{addr}/v1/stream"),
        task,
    }
}

/// Serve `app` on a fresh 127.0.0.1 port until the returned handle is dropped.
pub async fn serve(app: axum::Router) -> Served {
    serve_on(listener().await, app)
}

/// Result of one case against a target.
#[derive(Debug)]
pub struct Ran {
    pub id: String,
    pub result: Result<(), Failure>,
    pub transcript: String,
}

impl Ran {
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

/// Run every case whose id starts with one of `prefixes` against `root`,
/// concurrently. `long_poll_ms` is the target's long-poll timeout.
pub async fn run_prefixes(root: &str, prefixes: &[&str], long_poll_ms: u64) -> Vec<Ran> {
    run_on(Arc::new(test_session(root, long_poll_ms)), prefixes).await
}

/// A session for tests: `root`, the given long-poll timeout, 60 s per case.
pub fn test_session(root: &str, long_poll_ms: u64) -> Session {
    let mut session = Session::new(root).expect("valid test target URL");
    session.target.long_poll_timeout = Duration::from_millis(long_poll_ms);
    session.run.case_timeout = Duration::from_secs(60);
    session
}

/// Run the cases matching `prefixes` in a prepared session.
pub async fn run_on(session: Arc<Session>, prefixes: &[&str]) -> Vec<Ran> {
    let cases: Vec<_> = crate::cases::all()
        .into_iter()
        .filter(|c| prefixes.iter().any(|p| c.id.starts_with(p)))
        .collect();
    assert!(!cases.is_empty(), "no case matches {prefixes:?}");
    let runs = cases.into_iter().map(|case| {
        let session = session.clone();
        async move {
            let (result, ctx, _) = run_case(&case, session).await;
            let transcript = ctx
                .transcript()
                .iter()
                .map(|e| e.render())
                .collect::<Vec<_>>()
                .join("\n");
            Ran {
                id: case.id.clone(),
                result,
                transcript,
            }
        }
    });
    futures::future::join_all(runs).await
}

/// A bite check, built in one expression: which target, which cases, which
/// verdict. `bite(root).case(id).fails_with(req).await` runs the case `id`
/// against `root` and panics unless it failed on requirement `req`;
/// `.area(prefix)` adds every case under `prefix` to the run (for a control:
/// `bite(root).area("append::").passes().await`); `.each(&[(id, req), ..])`
/// checks several cases of one run. Every asserted failure is recorded with
/// [`record_bite`], so `scripts/bite-coverage.sh` sees it.
pub struct Bite {
    session: Session,
    prefixes: Vec<String>,
    subject: Option<String>,
}

/// A bite check against `root` (long-poll timeout 500 ms, 60 s per case).
pub fn bite(root: &str) -> Bite {
    Bite::in_session(test_session(root, 500))
}

/// What a bite found: the case's failure and its transcript.
#[derive(Debug)]
pub struct Bitten {
    pub failure: Failure,
    pub transcript: String,
}

impl Bite {
    /// A bite check in a prepared session (restart hooks, seeds, budgets).
    pub fn in_session(session: Session) -> Bite {
        Bite {
            session,
            prefixes: Vec::new(),
            subject: None,
        }
    }

    /// The target's long-poll timeout (default 500 ms).
    pub fn long_poll(mut self, ms: u64) -> Self {
        self.session.target.long_poll_timeout = Duration::from_millis(ms);
        self
    }

    /// Also run every case whose id starts with `prefix`.
    pub fn area(mut self, prefix: &str) -> Self {
        self.prefixes.push(prefix.to_string());
        self
    }

    /// The case the verdict is about (run with any `area`).
    pub fn case(mut self, id: &str) -> Self {
        self.prefixes.push(id.to_string());
        self.subject = Some(id.to_string());
        self
    }

    async fn run(self, also: &[&str]) -> Vec<Ran> {
        let mut prefixes: Vec<&str> = self.prefixes.iter().map(String::as_str).collect();
        prefixes.extend_from_slice(also);
        run_on(Arc::new(self.session), &prefixes).await
    }

    fn subject(&self) -> String {
        self.subject
            .clone()
            .expect("name the case first: bite(..).case(id)")
    }

    /// The case failed with a verdict on requirement `req`.
    pub async fn fails_with(self, req: &str) -> Bitten {
        self.fails_with_one_of(&[req]).await
    }

    /// The case failed with a verdict on one of `reqs` (for breaks that a
    /// case may catch on either of two rules).
    pub async fn fails_with_one_of(self, reqs: &[&str]) -> Bitten {
        let id = self.subject();
        let runs = self.run(&[]).await;
        bitten(&runs, &id, reqs)
    }

    /// Each `(case id, requirement)`: the case failed on that requirement,
    /// in one run of all of them (plus any `area`).
    pub async fn each(self, expected: &[(&str, &str)]) -> Vec<Bitten> {
        assert!(self.subject.is_none(), "each() names its own cases");
        let ids: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
        let runs = self.run(&ids).await;
        expected
            .iter()
            .map(|(id, req)| bitten(&runs, id, &[req]))
            .collect()
    }

    /// The case ended `inconclusive` on requirement `req`: timing left
    /// what it observes open every time it looked, so it gave no verdict
    /// (never a failure of the target). Not a bite (nothing is recorded);
    /// returns the inconclusive result.
    pub async fn inconclusive_on(self, req: &str) -> Failure {
        let id = self.subject();
        let runs = self.run(&[]).await;
        let ran = runs
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("case {id} did not run"));
        match &ran.result {
            Err(f)
                if f.kind == crate::failure::FailureKind::Inconclusive
                    && f.requirement.as_deref() == Some(req) =>
            {
                f.clone()
            }
            other => panic!(
                "case {id}: expected inconclusive on {req}, got {other:?}\n{}",
                ran.transcript
            ),
        }
    }

    /// Control: every case run (the `case`, every case under each `area`)
    /// passed. An inconclusive result (the case could not be sure of an
    /// order of events on a slow or loaded machine) is no failure of the
    /// server: it is printed, not a panic.
    pub async fn passes(self) {
        let subject = self.subject.clone();
        let runs = self.run(&[]).await;
        if let Some(id) = subject {
            assert!(runs.iter().any(|r| r.id == id), "case {id} did not run");
        }
        for ran in &runs {
            match &ran.result {
                Ok(()) => {}
                Err(f) if f.kind == crate::failure::FailureKind::Inconclusive => {
                    eprintln!("case {} was inconclusive (not a failure): {f}", ran.id);
                }
                Err(f) => panic!("case {} failed: {f}\n{}", ran.id, ran.transcript),
            }
        }
    }
}

/// Panic unless the case `id` ran and failed with a verdict on one of
/// `reqs`; records the bite.
fn bitten(runs: &[Ran], id: &str, reqs: &[&str]) -> Bitten {
    let ran = runs
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("case {id} did not run"));
    let failure = match &ran.result {
        Ok(()) => panic!(
            "case {id} passed against a server that breaks its rule:\n{}",
            ran.transcript
        ),
        Err(f) if f.kind == crate::failure::FailureKind::Inconclusive => panic!(
            "case {id} was only inconclusive against a server that breaks its rule (a bite must be a verdict): {f}\n{}",
            ran.transcript
        ),
        Err(f) => f.clone(),
    };
    let req = failure.requirement.as_deref().unwrap_or("-");
    assert!(
        reqs.contains(&req),
        "case {id} failed on {req}, not on {reqs:?} (another reason): {failure}\n{}",
        ran.transcript
    );
    record_bite(id, req);
    Bitten {
        failure,
        transcript: ran.transcript.clone(),
    }
}

/// Environment variable naming the file where bite tests record which case
/// they proved able to fail (`scripts/bite-coverage.sh`).
pub const BITE_LOG_ENV: &str = "DS_BITE_LOG";

/// Append `case<TAB>requirement` to the `DS_BITE_LOG` file, if set: a bite
/// test made `case` fail on `requirement` against a broken server.
fn record_bite(case: &str, requirement: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os(BITE_LOG_ENV) else {
        return;
    };
    // The third column names the test (libtest runs each test on a thread
    // named after it), so a record can be traced back to its bite.
    let test = std::thread::current().name().unwrap_or("-").to_string();
    let line = format!("{case}\t{requirement}\t{test}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("cannot record the bite in {}: {e}", path.to_string_lossy());
    }
}
