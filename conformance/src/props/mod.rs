//! Model-based properties (§4.1, §4.2, §5.1–§5.8, §8, §9.1): proptest
//! generates operation sequences, each runs against the target in a fresh
//! namespace and is checked step by step against `crate::model`; a failing
//! sequence is shrunk, replayed once more on the case's own context (so the
//! transcript shows exactly the minimal run) and written as a bash + curl
//! replay script under `--artifacts-dir`.

pub mod concurrency;
pub mod exec;
pub mod gen;
pub mod script;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::client::{Ctx, RunConfig, Session};
use crate::failure::{CaseResult, Failure};
use crate::model::Op;
pub use exec::{Exec, StepFail};
pub use gen::Family;

/// The proptest RNG for a property: the run seed mixed with the case id,
/// so each property draws its own sequences and `--seed` reproduces them.
pub(crate) fn rng(seed: u64, case_id: &str) -> TestRng {
    let h = crate::runner::stable_hash(case_id);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&h.to_le_bytes());
    bytes[16..24].copy_from_slice(&(seed ^ h).rotate_left(17).to_le_bytes());
    bytes[24..].copy_from_slice(&0x5eed_u64.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// The shrunk counterexample.
struct Found {
    ops: Vec<Op>,
    first: String,
    attempts: u32,
}

/// Generate, run and shrink on a blocking thread; each attempt drives the
/// async execution with `Handle::block_on` in its own namespace `p<n>/`.
fn search(
    handle: tokio::runtime::Handle,
    session: Arc<Session>,
    case_id: String,
    family: Family,
) -> Option<Found> {
    let shrink_budget = (session.run.case_timeout / 2).min(Duration::from_secs(30));
    let config = Config {
        cases: session.run.prop_cases.max(1),
        max_shrink_iters: 4096,
        max_shrink_time: shrink_budget.as_millis() as u32,
        failure_persistence: None,
        fork: false,
        timeout: 0,
        max_global_rejects: 1024,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(session.run.seed, &case_id));
    let strategy = gen::sequence(family, session.run.prop_max_steps);
    let attempts = AtomicU32::new(0);
    let first: Mutex<Option<String>> = Mutex::new(None);
    let result = runner.run(&strategy, |ops| {
        let n = attempts.fetch_add(1, Ordering::Relaxed);
        let ctx = Ctx::new(session.clone(), &case_id);
        let r = handle.block_on(async {
            let mut ex = Exec::new(ctx.clone(), format!("p{n}"));
            let r = ex.run(&ops).await;
            ctx.cleanup().await;
            r
        });
        r.map_err(|e| {
            let text = e.to_string();
            first.lock().unwrap().get_or_insert_with(|| text.clone());
            TestCaseError::fail(text)
        })
    });
    match result {
        Ok(()) => None,
        Err(TestError::Fail(_, ops)) => Some(Found {
            ops,
            first: first.lock().unwrap().clone().unwrap_or_default(),
            attempts: attempts.load(Ordering::Relaxed),
        }),
        Err(TestError::Abort(why)) => Some(Found {
            ops: Vec::new(),
            first: format!("proptest aborted: {why}"),
            attempts: attempts.load(Ordering::Relaxed),
        }),
    }
}

/// Readable numbered listing of a sequence.
pub fn listing(ops: &[Op]) -> String {
    ops.iter()
        .enumerate()
        .map(|(i, op)| format!("{:>2}. {op:?}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Write the replay script; returns its path.
pub(crate) fn write_script(run: &RunConfig, case_id: &str, body: &str) -> Result<String, String> {
    let slug = case_id.replace("::", ".");
    let dir = &run.artifacts_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{slug}-{}.sh", run.seed));
    std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
    }
    Ok(path.display().to_string())
}

/// Run the property `family` as the case `ctx`.
pub async fn check_property(ctx: Ctx, family: Family) -> CaseResult {
    let session = ctx.session();
    let case_id = ctx.case_id().to_string();
    let handle = tokio::runtime::Handle::current();
    let t2 = session.clone();
    let c2 = case_id.clone();
    let found = tokio::task::spawn_blocking(move || search(handle, t2, c2, family))
        .await
        .map_err(|e| Failure::no_answer(format!("property search panicked: {e}")))?;
    exec::print_stats(&case_id);
    let Some(found) = found else {
        ctx.note(format!(
            "{} sequences of up to {} steps agreed with the model (seed {})",
            session.run.prop_cases, session.run.prop_max_steps, session.run.seed
        ));
        return Ok(());
    };
    if found.ops.is_empty() {
        return Err(Failure::no_answer(found.first));
    }
    // Replay the minimal sequence on the case's own context.
    let mut ex = Exec::new(ctx.clone(), "min".into());
    let replay = ex.run(&found.ops).await;
    let ops_text = listing(&found.ops);
    let (requirement, verdict, setup) = match &replay {
        Err(StepFail::Model { violation, .. }) => (
            Some(violation.requirement),
            replay.as_ref().unwrap_err().to_string(),
            false,
        ),
        Err(StepFail::Setup(f)) => (None, f.to_string(), true),
        Ok(()) => (
            found
                .first
                .split(']')
                .next()
                .and_then(|s| s.rsplit('[').next())
                .and_then(known_requirement),
            format!(
                "{} (did not reproduce on the final replay: flaky server?)",
                found.first
            ),
            false,
        ),
    };
    let root = format!(
        "{}/{}",
        session.target.root.as_str().trim_end_matches('/'),
        session.run.run_id
    );
    let broke = match &replay {
        Err(StepFail::Model { violation, .. }) => Some(violation.requirement),
        _ => None,
    };
    let script = ex.script.render(
        &root,
        &case_id,
        session.run.seed,
        &ops_text,
        &verdict,
        broke,
    );
    let script_note = match write_script(&session.run, &case_id, &script) {
        Ok(path) => {
            ctx.add_artifact(path.clone());
            format!("replay script: {path}")
        }
        Err(e) => format!("replay script not written: {e}"),
    };
    let message = format!(
        "{verdict}\nseed {} (rerun: --seed {} {case_id}); {} sequences run while searching and shrinking\nminimal failing sequence ({} steps):\n{ops_text}\n{script_note}",
        session.run.seed,
        session.run.seed,
        found.attempts,
        found.ops.len(),
    );
    if setup {
        return Err(Failure::no_answer(message));
    }
    Err(Failure::new(requirement, message))
}

/// Map a requirement id parsed back from a message to a static str.
fn known_requirement(id: &str) -> Option<&'static str> {
    crate::cases::props::REQUIREMENTS
        .iter()
        .copied()
        .find(|r| *r == id)
}
