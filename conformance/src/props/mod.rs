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
use std::time::{Duration, Instant};

use proptest::strategy::BoxedStrategy;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::client::{Ctx, RunConfig};
use crate::failure::{CaseResult, Failure};
use crate::runner::count;
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

/// When a property search stops, measured from its start. A correct but
/// slow server on a loaded machine must not fail a case by running out of
/// the case's time, so the search stops starting new sequences at
/// `search` (the first sequence always runs), and shrinking a
/// counterexample stops trying smaller sequences at `shrink`, or once it
/// has taken `shrink_for`, whichever comes first; what is left of the
/// case's budget is for the final replay and the cleanup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub search: Duration,
    pub shrink: Duration,
    pub shrink_for: Duration,
}

impl Budget {
    /// The budget of a property run as a case allowed `case`: new
    /// sequences in the first half, shrinking for at most `shrink_for`
    /// and not past four fifths.
    pub fn of_case(case: Duration, shrink_for: Duration) -> Budget {
        Budget {
            search: case / 2,
            shrink: case * 4 / 5,
            shrink_for,
        }
    }
}

/// Fewest sequences (of `requested`) that make a passing search a pass
/// when the time budget cut it short: a quarter. Below that, the search
/// saw too little of what `--cases` asked for to stand for it, so the case
/// is inconclusive (no verdict either way) rather than a pass; at or above
/// it, the pass says how many ran.
pub(crate) fn floor(requested: u32) -> u32 {
    (requested / 4).max(1)
}

/// What a property search did.
pub(crate) struct Searched<T> {
    /// The shrunk counterexample, if a sequence failed.
    pub found: Option<Found<T>>,
    /// New sequences run (the failing one included; shrinking not).
    pub ran: u32,
    /// Sequences asked for (`Config::cases`).
    pub requested: u32,
    /// The time budget stopped the search before `requested` ran.
    pub cut: bool,
    /// Time the search took (search and shrinking).
    pub took: Duration,
}

impl<T> Searched<T> {
    /// A passing search too small to stand for the property: the budget
    /// cut it below [`floor`].
    pub fn inconclusive(&self) -> bool {
        self.found.is_none() && self.cut && self.ran < floor(self.requested)
    }

    /// The case's inconclusive result (on `requirement`) when the search
    /// is [`inconclusive`](Self::inconclusive): what ran and what a
    /// verdict needs. `model` names what the sequences agreed with.
    pub fn too_small(
        &self,
        requirement: &str,
        budget: Budget,
        seed: u64,
        model: &str,
    ) -> Option<Failure> {
        self.inconclusive().then(|| {
            Failure::inconclusive(
                requirement,
                format!(
                    "only {} of {} ran within the time budget ({} ms for new sequences, half of --case-timeout-ms), fewer than the {} a verdict needs; all agreed with {model} (seed {seed})",
                    self.ran,
                    count(self.requested as usize, "sequence", "sequences"),
                    budget.search.as_millis(),
                    floor(self.requested),
                ),
            )
        })
    }

    /// One line for the transcript: how many sequences ran, of how many,
    /// and whether the budget cut the search short.
    pub fn summary(&self, budget: Budget) -> String {
        let cut = if self.cut {
            format!(
                "; the time budget ({} ms for new sequences) cut the search short",
                budget.search.as_millis()
            )
        } else {
            String::new()
        };
        format!(
            "{} of {} run in {} ms{cut}",
            self.ran,
            count(self.requested as usize, "sequence", "sequences"),
            self.took.as_millis()
        )
    }
}

/// The shrunk counterexample of a property search.
pub(crate) struct Found<T> {
    pub ops: Vec<T>,
    /// The first failure seen while searching.
    pub first: String,
    /// Sequences run while searching and shrinking.
    pub attempts: u32,
    /// The time budget stopped shrinking: a smaller failing sequence may
    /// exist.
    pub shrink_cut: bool,
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
        let cut = if self.shrink_cut {
            " (shrinking stopped at the time budget: a shorter failing sequence may exist)"
        } else {
            ""
        };
        format!(
            "{verdict}\nseed {} (rerun: --seed {} {case_id}); {} run while searching and shrinking\nminimal failing sequence ({}){cut}:\n{}\n{script_note}",
            run.seed,
            run.seed,
            count(self.attempts as usize, "sequence", "sequences"),
            count(self.ops.len(), "step", "steps"),
            listing(&self.ops),
        )
    }
}

/// Generate sequences from `strategy()`, run and shrink them on a blocking
/// thread within `budget`; each attempt drives `attempt` (given a fresh
/// context of the case and the attempt's number `n`, its namespace being
/// `p<n>/`) with `Handle::block_on` and cleans the context up afterwards.
/// `Err` only when the search itself panicked.
pub(crate) async fn search<T, F, Fut, E>(
    ctx: &Ctx,
    config: Config,
    budget: Budget,
    strategy: impl FnOnce() -> BoxedStrategy<Vec<T>> + Send + 'static,
    attempt: F,
) -> Result<Searched<T>, String>
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
        let mut n = 0;
        drive(&mut runner, &strategy(), budget, |ops| {
            let ctx = Ctx::new(session.clone(), &case_id);
            n += 1;
            handle.block_on(async {
                let r = attempt(ctx.clone(), n - 1, ops).await;
                ctx.cleanup().await;
                r.map_err(|e| e.to_string())
            })
        })
    };
    tokio::task::spawn_blocking(search)
        .await
        .map_err(|e| format!("property search panicked: {e}"))
}

/// The search loop: up to `Config::cases` new sequences from `strategy`,
/// the same ones, in the same order, as `TestRunner::run` draws from the
/// runner's RNG (so a `--seed` keeps meaning the same sequences); the
/// first failing one is shrunk with proptest's simplify/complicate walk,
/// keeping the last sequence seen failing. No new sequence starts after
/// `budget.search` (the first always runs) and no shrink step after
/// `budget.shrink`, both counted from the call, nor `budget.shrink_for`
/// after the failure.
fn drive<T: Clone + std::fmt::Debug>(
    runner: &mut TestRunner,
    strategy: &BoxedStrategy<Vec<T>>,
    budget: Budget,
    mut test: impl FnMut(Vec<T>) -> Result<(), String>,
) -> Searched<T> {
    let started = Instant::now();
    let requested = runner.config().cases;
    let max_shrink_iters = runner.config().max_shrink_iters;
    let mut searched = Searched {
        found: None,
        ran: 0,
        requested,
        cut: false,
        took: Duration::ZERO,
    };
    while searched.ran < requested {
        if searched.ran > 0 && started.elapsed() >= budget.search {
            searched.cut = true;
            break;
        }
        // As `TestRunner::run` does for each new case: a fresh RNG drawn
        // from the runner's, which the case's tree then draws from.
        let fresh = runner.new_rng();
        *runner.rng() = fresh;
        let mut tree = match strategy.new_tree(runner) {
            Ok(tree) => tree,
            Err(why) => {
                searched.found = Some(Found {
                    ops: Vec::new(),
                    first: format!("proptest aborted: {why}"),
                    attempts: searched.ran,
                    shrink_cut: false,
                });
                break;
            }
        };
        searched.ran += 1;
        let value = tree.current();
        let Err(first) = test(value.clone()) else {
            continue;
        };
        let (mut smallest, mut attempts, mut shrink_cut) = (value, searched.ran, false);
        let mut steps = 0;
        let failed = Instant::now();
        if tree.simplify() {
            loop {
                if started.elapsed() >= budget.shrink || failed.elapsed() >= budget.shrink_for {
                    shrink_cut = true;
                    break;
                }
                if steps >= max_shrink_iters {
                    break;
                }
                steps += 1;
                attempts += 1;
                let candidate = tree.current();
                let more = match test(candidate.clone()) {
                    Ok(()) => tree.complicate(),
                    Err(_) => {
                        smallest = candidate;
                        tree.simplify()
                    }
                };
                if !more {
                    break;
                }
            }
        }
        searched.found = Some(Found {
            ops: smallest,
            first,
            attempts,
            shrink_cut,
        });
        break;
    }
    searched.took = started.elapsed();
    searched
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
    let budget = Budget::of_case(
        session.run.case_timeout,
        (session.run.case_timeout / 2).min(Duration::from_secs(30)),
    );
    let config = Config {
        cases: session.run.prop_cases.max(1),
        max_shrink_iters: 4096,
        // Shrinking stops at `budget.shrink` (see `search`).
        max_shrink_time: 0,
        failure_persistence: None,
        fork: false,
        timeout: 0,
        max_global_rejects: 1024,
        ..Config::default()
    };
    let steps = session.run.prop_max_steps;
    let strategy = move || gen::sequence(family, steps);
    let searched = search(&ctx, config, budget, strategy, |ctx, n, ops| async move {
        Exec::new(ctx, format!("p{n}")).run(&ops).await
    })
    .await
    .map_err(Failure::no_answer)?;
    exec::print_stats(&case_id);
    ctx.note(searched.summary(budget));
    if let Some(f) = searched.too_small(family.requirement(), budget, session.run.seed, "the model")
    {
        return Err(f);
    }
    let Some(found) = searched.found else {
        ctx.note(format!(
            "{} of up to {} agreed with the model (seed {})",
            count(searched.ran as usize, "sequence", "sequences"),
            count(session.run.prop_max_steps, "step", "steps"),
            session.run.seed
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

#[cfg(test)]
mod tests {
    //! The search's time budget, with attempts that send nothing: a spent
    //! budget lets exactly the first sequence run (no clock races), and
    //! an unbounded one runs them all.

    use super::*;
    use crate::client::Session;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    const NONE: Duration = Duration::ZERO;
    const AMPLE: Duration = Duration::from_secs(24 * 3600);

    fn ctx() -> Ctx {
        let mut session = Session::new("http://127.0.0.1:9/streams").unwrap();
        session.run.seed = 16;
        Ctx::new(Arc::new(session), "props::budget_test")
    }

    fn config(cases: u32) -> Config {
        Config {
            cases,
            max_shrink_iters: 4096,
            max_shrink_time: 0,
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// Non-empty lists of numbers from 10 up: every one breaks "all
    /// numbers are below 10", the smallest counterexample being `[10]`.
    fn numbers() -> BoxedStrategy<Vec<u32>> {
        proptest::collection::vec(10u32..1000, 1..12).boxed()
    }

    fn below_ten(ops: &[u32]) -> Result<(), String> {
        match ops.iter().find(|n| **n >= 10) {
            Some(n) => Err(format!("{n} is not below 10")),
            None => Ok(()),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn spent_budget_stops_new_sequences_and_says_so() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let budget = Budget {
            search: NONE,
            shrink: NONE,
            shrink_for: AMPLE,
        };
        let s = search(&ctx(), config(200), budget, numbers, move |_, _, _| {
            seen.fetch_add(1, Ordering::Relaxed);
            async { Ok::<(), String>(()) }
        })
        .await
        .unwrap();
        assert!(s.found.is_none());
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "only the first sequence runs"
        );
        assert_eq!((s.ran, s.requested, s.cut), (1, 200, true));
        let line = s.summary(budget);
        assert!(line.starts_with("1 of 200 sequences run in "), "{line}");
        assert!(line.contains("cut the search short"), "{line}");
        // 1 < 50 (a quarter of 200): no pass, an inconclusive result.
        assert!(s.inconclusive());
        let f = s
            .too_small("PROP-CREATE-OUTCOME", budget, 16, "the model")
            .expect("too small a search is inconclusive");
        assert_eq!(f.kind, crate::failure::FailureKind::Inconclusive);
        assert_eq!(f.requirement.as_deref(), Some("PROP-CREATE-OUTCOME"));
        assert!(
            f.message.starts_with("only 1 of 200 sequences ran")
                && f.message.contains("fewer than the 50 a verdict needs"),
            "{}",
            f.message
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn ample_budget_runs_every_sequence() {
        let budget = Budget {
            search: AMPLE,
            shrink: AMPLE,
            shrink_for: AMPLE,
        };
        let s = search(&ctx(), config(40), budget, numbers, |_, _, _| async {
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        assert!(s.found.is_none());
        assert_eq!((s.ran, s.requested, s.cut), (40, 40, false));
        assert!(!s.inconclusive());
        assert!(s.too_small("R", budget, 0, "m").is_none());
        assert!(!s.summary(budget).contains("cut"), "{}", s.summary(budget));
    }

    /// The loop draws what `TestRunner::run` draws, in order, from the same
    /// RNG, so a seed names the same sequences as before the loop had a
    /// budget (the fixed-seed bite tests keep their meaning), and shrinks
    /// a failure to the same minimal sequence.
    #[test]
    fn draws_and_shrinks_as_testrunner_run_does() {
        for family in [
            Family::SingleStream,
            Family::ForksAndDeletes,
            Family::Producers,
        ] {
            let strategy = gen::sequence(family, 24);
            let fresh = || TestRunner::new_with_rng(config(40), rng(11, "props::sequences::x"));
            let by_run = Mutex::new(Vec::new());
            fresh()
                .run(&strategy, |ops| {
                    by_run.lock().unwrap().push(format!("{ops:?}"));
                    Ok(())
                })
                .unwrap();
            let mut by_drive = Vec::new();
            let budget = Budget {
                search: AMPLE,
                shrink: AMPLE,
                shrink_for: AMPLE,
            };
            let s = drive(&mut fresh(), &strategy, budget, |ops| {
                by_drive.push(format!("{ops:?}"));
                Ok(())
            });
            assert_eq!((s.ran, s.cut), (40, false));
            assert_eq!(by_run.into_inner().unwrap(), by_drive, "{family:?}");

            // Fails once a sequence has 5 steps or more.
            let long = |ops: &[crate::model::Op]| ops.len() < 5;
            let min_by_run = match fresh().run(&strategy, |ops| {
                proptest::prop_assert!(long(&ops));
                Ok(())
            }) {
                Err(proptest::test_runner::TestError::Fail(_, ops)) => format!("{ops:?}"),
                other => panic!("{family:?}: expected a failure, got {other:?}"),
            };
            let s = drive(&mut fresh(), &strategy, budget, |ops| {
                if long(&ops) {
                    Ok(())
                } else {
                    Err("long".into())
                }
            });
            let found = s.found.expect("a long sequence in 40");
            assert_eq!(found.ops.len(), 5, "{family:?}");
            assert_eq!(format!("{:?}", found.ops), min_by_run, "{family:?}");
        }
    }

    #[test]
    fn floor_is_a_quarter_and_at_least_one() {
        assert_eq!(floor(200), 50);
        assert_eq!(floor(64), 16);
        assert_eq!(floor(3), 1);
        assert_eq!(floor(1), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn counterexample_found_on_a_spent_budget_is_shrunk_in_the_shrink_budget() {
        let budget = Budget {
            search: NONE,
            shrink: AMPLE,
            shrink_for: AMPLE,
        };
        let s = search(
            &ctx(),
            config(200),
            budget,
            numbers,
            |_, _, ops| async move { below_ten(&ops) },
        )
        .await
        .unwrap();
        assert_eq!(s.ran, 1);
        assert!(!s.cut && !s.inconclusive(), "a counterexample is a verdict");
        let found = s.found.expect("the first sequence fails");
        assert_eq!(found.ops, vec![10], "shrunk to the smallest counterexample");
        assert!(!found.shrink_cut);
        assert!(found.attempts > 1, "shrinking ran sequences");
        assert!(found.first.ends_with("is not below 10"), "{}", found.first);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn counterexample_is_reported_when_shrinking_is_cut() {
        // Cut by the deadline from the search's start, then by the time
        // allowed from the failure.
        for (shrink, shrink_for) in [(NONE, AMPLE), (AMPLE, NONE)] {
            let budget = Budget {
                search: NONE,
                shrink,
                shrink_for,
            };
            let s = search(
                &ctx(),
                config(200),
                budget,
                numbers,
                |_, _, ops| async move { below_ten(&ops) },
            )
            .await
            .unwrap();
            let found = s.found.expect("the first sequence fails");
            assert!(
                below_ten(&found.ops).is_err(),
                "{:?} must still fail",
                found.ops
            );
            assert!(found.shrink_cut);
            assert_eq!(found.attempts, 1, "no shrink attempt ran");
            let mut run = RunConfig::new();
            run.seed = 16;
            let msg = found.message(&run, "props::budget_test", "verdict", "no script");
            assert!(
                msg.contains("shrinking stopped at the time budget"),
                "{msg}"
            );
            assert!(msg.contains("minimal failing sequence ("), "{msg}");
        }
    }
}
