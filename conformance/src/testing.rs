//! Helpers for the harness's own tests: run a subset of the catalog against
//! a URL and get each case's raw result (used to prove that checks bite on
//! deliberately broken servers).

use std::sync::Arc;
use std::time::Duration;

use crate::client::Session;
use crate::failure::Failure;
use crate::runner::run_case;

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

/// Panic unless the case `id` ran and failed; returns its failure (and
/// records the bite, see `record_bite`).
pub fn assert_fails<'a>(runs: &'a [Ran], id: &str) -> &'a Failure {
    let ran = runs
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("case {id} did not run"));
    match &ran.result {
        Err(f) if f.kind == crate::failure::FailureKind::Inconclusive => panic!(
            "case {id} was only inconclusive against a server that breaks its rule (a bite must be a verdict): {f}\n{}",
            ran.transcript
        ),
        Err(f) => {
            record_bite(id, f.requirement.as_deref().unwrap_or("-"));
            f
        }
        Ok(()) => panic!(
            "case {id} passed against a server that breaks its rule:\n{}",
            ran.transcript
        ),
    }
}

/// Panic unless the case `id` ran and passed.
pub fn assert_passes(runs: &[Ran], id: &str) {
    let ran = runs
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("case {id} did not run"));
    if let Err(f) = &ran.result {
        panic!("case {id} failed: {f}\n{}", ran.transcript);
    }
}

/// Environment variable naming the file where bite tests record which case
/// they proved able to fail (`scripts/bite-coverage.sh`).
pub const BITE_LOG_ENV: &str = "DS_BITE_LOG";

/// Append `case<TAB>requirement` to the `DS_BITE_LOG` file, if set: a bite
/// test made `case` fail on `requirement` against a broken server.
pub fn record_bite(case: &str, requirement: &str) {
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
