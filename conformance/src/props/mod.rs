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

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::client::{Ctx, RunConfig};
use crate::failure::{CaseResult, Failure};
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

/// The shrunk counterexample of a property search.
pub(crate) struct Found<T> {
    pub ops: Vec<T>,
    /// The first failure seen while searching.
    pub first: String,
    /// Sequences run while searching and shrinking.
    pub attempts: u32,
}

impl<T: std::fmt::Debug> Found<T> {
    /// The case's failure message: `verdict`, how to rerun, the minimal
    /// sequence and `script_note` (where its replay script is).
    pub fn message(
        &self,
        run: &RunConfig,
        case_id: &str,
        verdict: &str,
        script_note: &str,
    ) -> String {
        format!(
            "{verdict}\nseed {} (rerun: --seed {} {case_id}); {} sequences run while searching and shrinking\nminimal failing sequence ({} steps):\n{}\n{script_note}",
            run.seed,
            run.seed,
            self.attempts,
            self.ops.len(),
            listing(&self.ops),
        )
    }
}

/// Generate sequences from `strategy()`, run and shrink them on a blocking
/// thread; each attempt drives `attempt` (given a fresh context of the
/// case and the attempt's number `n`, its namespace being `p<n>/`) with
/// `Handle::block_on` and cleans the context up afterwards. `Err` only
/// when the search itself panicked.
pub(crate) async fn search<T, F, Fut, E>(
    ctx: &Ctx,
    config: Config,
    strategy: impl FnOnce() -> BoxedStrategy<Vec<T>> + Send + 'static,
    attempt: F,
) -> Result<Option<Found<T>>, String>
where
    T: std::fmt::Debug + Clone + Send + 'static,
    F: Fn(Ctx, u32, Vec<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let session = ctx.session();
    let case_id = ctx.case_id().to_string();
    let handle = tokio::runtime::Handle::current();
    let search = move || {
        let mut runner = TestRunner::new_with_rng(config, rng(session.run.seed, &case_id));
        let attempts = AtomicU32::new(0);
        let first: Mutex<Option<String>> = Mutex::new(None);
        let result = runner.run(&strategy(), |ops| {
            let n = attempts.fetch_add(1, Ordering::Relaxed);
            let ctx = Ctx::new(session.clone(), &case_id);
            let r = handle.block_on(async {
                let r = attempt(ctx.clone(), n, ops).await;
                ctx.cleanup().await;
                r
            });
            r.map_err(|e| {
                let text = e.to_string();
                first.lock().unwrap().get_or_insert_with(|| text.clone());
                TestCaseError::fail(text)
            })
        });
        let attempts = attempts.load(Ordering::Relaxed);
        match result {
            Ok(()) => None,
            Err(TestError::Fail(_, ops)) => Some(Found {
                ops,
                first: first.lock().unwrap().clone().unwrap_or_default(),
                attempts,
            }),
            Err(TestError::Abort(why)) => Some(Found {
                ops: Vec::new(),
                first: format!("proptest aborted: {why}"),
                attempts,
            }),
        }
    };
    tokio::task::spawn_blocking(search)
        .await
        .map_err(|e| format!("property search panicked: {e}"))
}

/// Readable numbered listing of a sequence.
pub fn listing<T: std::fmt::Debug>(ops: &[T]) -> String {
    ops.iter()
        .enumerate()
        .map(|(i, op)| format!("{:>2}. {op:?}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Write the replay script `body` into the artifacts directory and record
/// it as the case's artifact; returns the note naming it (or why not).
pub(crate) fn save_script(ctx: &Ctx, body: &str) -> String {
    let (run, case_id) = (ctx.run(), ctx.case_id());
    let slug = case_id.replace("::", ".");
    let dir = &run.artifacts_dir;
    let path = dir.join(format!("{slug}-{}.sh", run.seed));
    let written = std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
        .and_then(|()| {
            std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
    if let Err(e) = written {
        return format!("replay script not written: {e}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
    }
    let path = path.display().to_string();
    ctx.add_artifact(path.clone());
    format!("replay script: {path}")
}

/// Run the property `family` as the case `ctx`.
pub async fn check_property(ctx: Ctx, family: Family) -> CaseResult {
    let session = ctx.session();
    let case_id = ctx.case_id().to_string();
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
    let steps = session.run.prop_max_steps;
    let strategy = move || gen::sequence(family, steps);
    let found = search(&ctx, config, strategy, |ctx, n, ops| async move {
        Exec::new(ctx, format!("p{n}")).run(&ops).await
    })
    .await
    .map_err(Failure::no_answer)?;
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
    let script_note = save_script(&ctx, &script);
    let message = found.message(&session.run, &case_id, &verdict, &script_note);
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
