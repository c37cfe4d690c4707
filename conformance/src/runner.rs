//! Runs the catalog through libtest-mimic (filters, --list, --exact, --skip,
//! threads, pretty/terse output), then classifies outcomes and writes reports.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::case::{Case, Failure, Needs};
use crate::client::{Ctx, Target};
use crate::expectations::Expectations;
use crate::outcome::{classify, CaseReport, Outcome};
use crate::report::RunReport;
use crate::requirements::Requirements;

/// Everything a run needs besides the cases.
pub struct RunSettings {
    pub target: Arc<Target>,
    pub strict: bool,
    pub expectations: Expectations,
    /// `(k, n)`: run only the k-th of n stable shards (1-based).
    pub partition: Option<(u32, u32)>,
}

/// Cases that restart the target hold this exclusively; every other case
/// holds it shared, so no case sees the target go away under it.
static RESTART_LOCK: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Run one case to completion under the case timeout, then clean up.
pub async fn run_case(case: &Case, target: Arc<Target>) -> (Result<(), Failure>, Ctx, Duration) {
    let (_shared, _exclusive) = match case.needs {
        Needs::Restart => (None, Some(RESTART_LOCK.write().await)),
        Needs::Nothing => (Some(RESTART_LOCK.read().await), None),
    };
    let ctx = Ctx::new(target.clone(), &case.id);
    let started = Instant::now();
    let fut = case.run(ctx.clone());
    let result = match tokio::time::timeout(target.case_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            None,
            format!(
                "case did not finish within {} ms (--case-timeout-ms)",
                target.case_timeout.as_millis()
            ),
        )),
    };
    let elapsed = started.elapsed();
    ctx.cleanup().await;
    (result, ctx, elapsed)
}

/// Stable shard of a case id (FNV-1a), independent of catalog order.
pub fn shard_of(id: &str, n: u32) -> u32 {
    (stable_hash(id) % n as u64) as u32 + 1
}

/// FNV-1a of a case id: stable across runs and builds (shards, property
/// seeds), unlike std's randomly keyed hasher.
pub fn stable_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Render a full failure text: verdict, requirement, transcript as curl.
pub fn failure_text(report: &CaseReport) -> String {
    let mut s = report.message.clone().unwrap_or_default();
    if !report.transcript.is_empty() {
        s.push_str("\n\ntranscript (replay with curl):\n");
        for ex in &report.transcript {
            s.push_str(&ex.render());
            s.push('\n');
        }
    }
    s
}

/// Execute `cases` with libtest-mimic. Returns the run report and whether
/// the run passed (exit status 0).
pub fn run(
    rt: &tokio::runtime::Runtime,
    args: &Arguments,
    settings: RunSettings,
    cases: Vec<Case>,
    reqs: Arc<Requirements>,
) -> (RunReport, bool) {
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let started = Instant::now();
    let reports: Arc<Mutex<Vec<CaseReport>>> = Arc::new(Mutex::new(Vec::new()));
    let settings = Arc::new(settings);
    let mut trials = Vec::new();
    let mut skipped = Vec::new();
    for case in cases {
        if let Some((k, n)) = settings.partition {
            if shard_of(&case.id, n) != k {
                continue;
            }
        }
        let skip = case.needs == Needs::Restart && !settings.target.can_restart();
        let kind = reqs.strongest(&case.requirements).as_str();
        let trial_case = case.clone();
        let handle = rt.handle().clone();
        let (reports2, settings2, reqs2) = (reports.clone(), settings.clone(), reqs.clone());
        let trial = Trial::test(case.id.clone(), move || {
            let (result, ctx, elapsed) =
                handle.block_on(run_case(&trial_case, settings2.target.clone()));
            let expected = settings2.expectations.reason(&trial_case.id);
            let (outcome, level, message) =
                classify(&reqs2, &trial_case, &result, settings2.strict, expected);
            let report = CaseReport {
                id: trial_case.id.clone(),
                requirements: trial_case
                    .requirements
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                sections: reqs2.sections(&trial_case.requirements),
                level,
                outcome,
                duration_ms: elapsed.as_millis() as u64,
                message,
                artifacts: crate::props::take_artifacts(&settings2.target.run_id, &trial_case.id),
                transcript: ctx.transcript(),
            };
            let text = failure_text(&report);
            reports2.lock().unwrap().push(report);
            if outcome.fails_run() {
                Err(Failed::from(text))
            } else {
                Ok(())
            }
        })
        .with_kind(kind)
        .with_ignored_flag(skip);
        if skip && !args.is_filtered_out(&trial) {
            skipped.push(case);
        }
        trials.push(trial);
    }
    let conclusion = libtest_mimic::run(args, trials);
    let mut cases = std::mem::take(&mut *reports.lock().unwrap());
    if !args.list {
        for case in skipped {
            cases.push(CaseReport {
                id: case.id.clone(),
                requirements: case.requirements.iter().map(|s| s.to_string()).collect(),
                sections: reqs.sections(&case.requirements),
                level: reqs.strongest(&case.requirements),
                outcome: Outcome::Skipped,
                duration_ms: 0,
                message: Some(
                    "skipped: needs --restart-cmd (the target cannot be restarted)".into(),
                ),
                artifacts: Vec::new(),
                transcript: Vec::new(),
            });
        }
    }
    let report = RunReport::new(
        settings.target.root.to_string(),
        settings.target.seed,
        started_at,
        started.elapsed(),
        cases,
    );
    let ok = !conclusion.has_failed() && !report.cases.iter().any(|c| c.outcome.fails_run());
    (report, ok)
}

/// Print non-strict failures and expected failures (libtest shows them as
/// passed), then the conformance summary line.
pub fn print_epilogue(report: &RunReport) {
    let soft: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::NonStrictFailure)
        .collect();
    if !soft.is_empty() {
        println!("\nnon-strict failures (SHOULD/MAY; fail the run only with --strict):");
        for c in soft {
            println!("\n---- {} ----\n{}", c.id, failure_text(c));
        }
    }
    let expected: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::ExpectedFailure)
        .collect();
    if !expected.is_empty() {
        println!("\nexpected failures (listed in the expectations file):");
        for c in expected {
            let first = c
                .message
                .as_deref()
                .unwrap_or("")
                .lines()
                .last()
                .unwrap_or("");
            println!("  {}: {}", c.id, first);
        }
    }
    println!(
        "\nconformance: {} passed, {} failed, {} non-strict, {} expected failures, {} unexpected passes, {} skipped (seed {})",
        report.count(Outcome::Passed),
        report.count(Outcome::Failed),
        report.count(Outcome::NonStrictFailure),
        report.count(Outcome::ExpectedFailure),
        report.count(Outcome::UnexpectedPass),
        report.count(Outcome::Skipped),
        report.seed
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_case_once() {
        let ids: Vec<String> = (0..200).map(|i| format!("area::t::case{i}")).collect();
        for id in &ids {
            let hits = (1..=4).filter(|k| shard_of(id, 4) == *k).count();
            assert_eq!(hits, 1);
        }
        let first = ids.iter().filter(|id| shard_of(id, 4) == 1).count();
        assert!(first > 20 && first < 80, "unbalanced shard: {first}");
    }
}
