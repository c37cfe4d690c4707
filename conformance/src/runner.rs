//! Runs the selected cases concurrently and prints one line per case with
//! its real outcome and duration, then the failure details and one summary
//! that matches the JSON report.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::case::{Abilities, Case};
use crate::client::{Ctx, Session};
use crate::expectations::Expectations;
use crate::failure::Failure;
use crate::outcome::{classify, CaseReport, Outcome, Policy};
use crate::report::RunReport;
use crate::requirements::Requirements;

/// Which cases a run selects.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Positional filters: a case runs if any matches (none: every case).
    pub filters: Vec<String>,
    /// Filters must equal the id.
    pub exact: bool,
    /// Filters (and skips) match anywhere in the id, not only at its start.
    pub anywhere: bool,
    /// Ids matching one of these are left out.
    pub skip: Vec<String>,
    /// `(k, n)`: only the k-th of n stable shards (1-based).
    pub partition: Option<(u32, u32)>,
}

impl Selection {
    fn hit(&self, pattern: &str, id: &str) -> bool {
        if self.exact {
            id == pattern
        } else if self.anywhere {
            id.contains(pattern)
        } else {
            id.starts_with(pattern)
        }
    }
    pub fn is_filtered(&self) -> bool {
        !self.filters.is_empty() || !self.skip.is_empty()
    }
    pub fn selects(&self, id: &str) -> bool {
        (self.filters.is_empty() || self.filters.iter().any(|f| self.hit(f, id)))
            && !self.skip.iter().any(|s| self.hit(s, id))
            && self.partition.is_none_or(|(k, n)| shard_of(id, n) == k)
    }
}

/// Console output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per case: `test ID ... OUTCOME (N ms)`.
    #[default]
    Pretty,
    /// One character per case.
    Terse,
    /// One JSON object per line (cases, then the summary), for tools.
    Json,
}

/// Everything a run needs besides the cases.
pub struct RunSettings {
    pub session: Arc<Session>,
    pub policy: Policy,
    pub expectations: Expectations,
    pub selection: Selection,
    /// Cases run at once.
    pub threads: usize,
    pub format: Format,
    /// Keep every case's transcript in the report, not only failures'.
    pub full_transcripts: bool,
}

/// Run one case to completion under the case timeout, then clean up.
pub async fn run_case(case: &Case, session: Arc<Session>) -> (Result<(), Failure>, Ctx, Duration) {
    let held = session.clone();
    let gate = &held.run.control.gate;
    let (_shared, _exclusive) = if case.needs.exclusive() {
        (None, Some(gate.write().await))
    } else {
        (Some(gate.read().await), None)
    };
    let budget = session.run.case_budget(case.needs);
    let ctx = Ctx::new(session, &case.id);
    let started = Instant::now();
    let fut = case.run(ctx.clone());
    let result = match tokio::time::timeout(budget, fut).await {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            None,
            format!(
                "case did not finish within {} ms (--case-timeout-ms)",
                budget.as_millis()
            ),
        )),
    };
    let elapsed = started.elapsed();
    let result = ctx.with_findings(result);
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

static CONSOLE_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Send the console to stderr (a report goes to stdout: `--json -`).
pub fn console_to_stderr() {
    CONSOLE_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Write console text, ignoring a closed pipe (`ds-conformance | head`).
pub fn out(text: &str) {
    if CONSOLE_TO_STDERR.load(Ordering::Relaxed) {
        let mut o = std::io::stderr().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    } else {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }
}

/// A line about the run itself (target, files written): stderr, so stdout
/// stays the case lines (and pure JSON under `--format json`).
pub fn info(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `--list`: the selected ids in libtest's format (`id: test`).
pub fn list(cases: &[Case], selection: &Selection, terse: bool) {
    let mut o = std::io::stdout().lock();
    let mut n = 0;
    for c in cases.iter().filter(|c| selection.selects(&c.id)) {
        if writeln!(o, "{}: test", c.id).is_err() {
            return;
        }
        n += 1;
    }
    if !terse {
        let _ = writeln!(o, "\n{}, 0 benchmarks", count(n, "test", "tests"));
    }
}

/// Build the report of a case that ran.
fn report_case(
    reqs: &Requirements,
    settings: &RunSettings,
    case: &Case,
    result: Result<(), Failure>,
    ctx: &Ctx,
    elapsed: Duration,
) -> CaseReport {
    let transcript = ctx.transcript();
    let expected = settings.expectations.reason(&case.id);
    let v = classify(reqs, case, &result, &settings.policy, expected, &transcript);
    let keep = settings.full_transcripts || v.outcome.has_details();
    CaseReport {
        id: case.id.clone(),
        requirements: case.requirements.iter().map(|s| s.to_string()).collect(),
        sections: reqs.sections(&case.requirements),
        level: v.level,
        outcome: v.outcome,
        failed_requirement: v.failed_requirement,
        duration_ms: elapsed.as_millis() as u64,
        message: v.message,
        artifacts: ctx.artifacts(),
        transcript: if keep { transcript } else { Vec::new() },
    }
}

fn skipped(reqs: &Requirements, case: &Case, why: &str) -> CaseReport {
    CaseReport {
        id: case.id.clone(),
        requirements: case.requirements.iter().map(|s| s.to_string()).collect(),
        sections: reqs.sections(&case.requirements),
        level: reqs.strongest(&case.requirements),
        outcome: Outcome::Skipped,
        failed_requirement: None,
        duration_ms: 0,
        message: Some(why.to_string()),
        artifacts: Vec::new(),
        transcript: Vec::new(),
    }
}

/// The console: case lines, a progress line on a terminal, details, summary.
struct Console {
    format: Format,
    progress: bool,
    total: usize,
    done: usize,
    started: Instant,
    terse_col: usize,
}

impl Console {
    fn clear_progress(&self) {
        if self.progress {
            out("\r\x1b[2K");
        }
    }

    fn case(&mut self, c: &CaseReport) {
        self.done += 1;
        self.clear_progress();
        match self.format {
            Format::Pretty => out(&format!("test {} ... {}\n", c.id, case_label(c))),
            Format::Terse => {
                let mut s = c.outcome.terse().to_string();
                self.terse_col += 1;
                if self.terse_col == 88 {
                    s.push_str(&format!(" {}/{}\n", self.done, self.total));
                    self.terse_col = 0;
                }
                out(&s);
            }
            Format::Json => out(&format!("{}\n", json_line(c))),
        }
    }

    fn tick(&self, running: &BTreeMap<String, Instant>) {
        if !self.progress {
            return;
        }
        let slow = running
            .iter()
            .min_by_key(|(_, t)| **t)
            .filter(|(_, t)| t.elapsed() >= Duration::from_secs(10))
            .map(|(id, t)| format!(" · slow: {id} ({} s)", t.elapsed().as_secs()))
            .unwrap_or_default();
        out(&format!(
            "\r\x1b[2K[{}/{} · {} s · {} running]{slow}",
            self.done,
            self.total,
            self.started.elapsed().as_secs(),
            running.len()
        ));
    }
}

/// `ok (12 ms)`, `FAILED [MUST TTL-X] (40 ms)`, `skipped (needs --restart-cmd)`.
pub fn case_label(c: &CaseReport) -> String {
    let dur = format_ms(c.duration_ms);
    match c.outcome {
        Outcome::Skipped => format!(
            "skipped ({})",
            c.message.as_deref().unwrap_or("no reason given")
        ),
        Outcome::Failed | Outcome::NonStrictFailure | Outcome::ExpectedFailure => {
            match &c.failed_requirement {
                Some(r) => format!("{} [{} {r}] ({dur})", c.outcome.label(), c.level.as_str()),
                None => format!("{} ({dur})", c.outcome.label()),
            }
        }
        o => format!("{} ({dur})", o.label()),
    }
}

/// `n` and the noun that agrees with it: `count(1, "case", "cases")` is
/// "1 case", `count(2, ..)` "2 cases". Every count the harness prints goes
/// through here (or [`noun`]).
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n, one, many))
}

/// `one` for 1, else `many` (a noun or a verb that agrees with `n`).
pub fn noun<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn format_ms(ms: u64) -> String {
    if ms >= 10_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

/// One case as a JSON line (`--format json`).
fn json_line(c: &CaseReport) -> String {
    serde_json::json!({
        "type": "case",
        "id": c.id,
        "outcome": c.outcome.as_str(),
        "level": c.level.as_str(),
        "requirement": c.failed_requirement,
        "duration_ms": c.duration_ms,
        "message": c.message,
    })
    .to_string()
}

/// The order cases start in: the longest expected first (`#[case(...,
/// secs = N)]`), catalog order otherwise. Cases that wait on the target's
/// clock for seconds would otherwise start last behind the concurrency
/// limit and end the run alone after everything else finished. (Reports
/// are ordered by id, whatever the start order.)
fn start_order(mut cases: Vec<Case>) -> Vec<Case> {
    cases.sort_by_key(|c| std::cmp::Reverse(c.expected));
    cases
}

/// Execute the selected `cases`. Case lines are printed as cases finish.
pub fn run(
    rt: &tokio::runtime::Runtime,
    settings: RunSettings,
    cases: Vec<Case>,
    reqs: Arc<Requirements>,
) -> RunReport {
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let started = Instant::now();
    let settings = Arc::new(settings);
    let abilities = Abilities {
        restart: settings.session.run.control.can_restart(),
        kill: settings.session.run.control.can_kill(),
        service_token: settings.session.target.subs.service_token.is_some(),
    };
    let selected = start_order(
        cases
            .into_iter()
            .filter(|c| settings.selection.selects(&c.id))
            .collect(),
    );
    let mut console = Console {
        format: settings.format,
        progress: settings.format == Format::Pretty
            && !CONSOLE_TO_STDERR.load(Ordering::Relaxed)
            && std::io::stdout().is_terminal(),
        total: selected.len(),
        done: 0,
        started,
        terse_col: 0,
    };
    if settings.format == Format::Pretty {
        out(&format!(
            "\nrunning {}\n",
            count(selected.len(), "case", "cases")
        ));
    }
    let mut reports = Vec::new();
    let running: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<CaseReport>();
        let permits = Arc::new(tokio::sync::Semaphore::new(settings.threads.max(1)));
        for case in selected {
            if let Some(why) = case.needs.missing(abilities) {
                let _ = tx.send(skipped(&reqs, &case, why));
                continue;
            }
            let (tx, permits, settings, reqs, running) = (
                tx.clone(),
                permits.clone(),
                settings.clone(),
                reqs.clone(),
                running.clone(),
            );
            tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                running
                    .lock()
                    .unwrap()
                    .insert(case.id.clone(), Instant::now());
                // Each case drives its future on a thread of its own (as
                // libtest does), so a case busy checking a large answer
                // never delays the runtime's workers, which also serve the
                // embedded target. A panicking case is reported, never hangs.
                let handle = tokio::runtime::Handle::current();
                let run = tokio::task::spawn_blocking({
                    let (case, session) = (case.clone(), settings.session.clone());
                    move || handle.block_on(run_case(&case, session))
                })
                .await;
                running.lock().unwrap().remove(&case.id);
                let report = match run {
                    Ok((result, ctx, elapsed)) => {
                        report_case(&reqs, &settings, &case, result, &ctx, elapsed)
                    }
                    Err(e) => {
                        let ctx = Ctx::new(settings.session.clone(), &case.id);
                        let f = Failure::setup_error(format!("the case panicked: {e}"));
                        report_case(&reqs, &settings, &case, Err(f), &ctx, Duration::ZERO)
                    }
                };
                let _ = tx.send(report);
            });
        }
        drop(tx);
        let mut ticker = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => {
                        console.case(&r);
                        reports.push(r);
                        console.tick(&running.lock().unwrap());
                    }
                    None => break,
                },
                _ = ticker.tick() => console.tick(&running.lock().unwrap()),
            }
        }
    });
    console.clear_progress();
    if console.format == Format::Terse && console.terse_col > 0 {
        out(&format!(" {}/{}\n", console.done, console.total));
    }
    // Every case deleted what it created (its cleanup DELETEs each stream
    // it PUT); whatever still answers a HEAD now is left over.
    let leftovers = rt.block_on(settings.session.target.leftovers());
    let mut report = RunReport::new(
        settings.session.target.root.to_string(),
        settings.session.run.seed,
        started_at,
        started.elapsed(),
        reports,
    );
    report.created = settings.session.target.ledger.len();
    report.leftovers = leftovers;
    report
}

/// Failure details (MUST first, then non-strict), expected failures in
/// one line each, then the summary line that matches the JSON report.
pub fn print_epilogue(report: &RunReport, format: Format) {
    if format == Format::Json {
        out(&format!("{}\n", summary_json(report)));
        return;
    }
    let section = |title: &str, pick: &dyn Fn(&CaseReport) -> bool| {
        let picked: Vec<&CaseReport> = report.cases.iter().filter(|c| pick(c)).collect();
        if picked.is_empty() {
            return;
        }
        out(&format!("\n{title}\n"));
        for c in picked {
            out(&format!("\n---- {} ----\n{}\n", c.id, c.failure_text()));
        }
    };
    section(
        "setup errors (the harness could not do its part; not the target's fault):",
        &|c| c.outcome == Outcome::SetupError,
    );
    section("failures:", &|c| c.outcome.fails_run());
    print_leftovers(report);
    section(
        "non-strict failures (SHOULD/MAY; fail the run only with --strict):",
        &|c| c.outcome == Outcome::NonStrictFailure,
    );
    let brief = |title: &str, o: Outcome| {
        let picked: Vec<&CaseReport> = report.cases.iter().filter(|c| c.outcome == o).collect();
        if picked.is_empty() {
            return;
        }
        out(&format!("\n{title}\n"));
        for c in picked {
            let last = c.message.as_deref().unwrap_or("").lines().last();
            out(&format!("  {}: {}\n", c.id, last.unwrap_or("")));
        }
    };
    brief(
        "expected failures (listed in the expectations file):",
        Outcome::ExpectedFailure,
    );
    brief(
        "unimplemented (optional features the target lacks):",
        Outcome::Unimplemented,
    );
    brief(
        "inconclusive (timing left the order of events open on every attempt, or a property search fit too few sequences in its time budget; not a verdict):",
        Outcome::Inconclusive,
    );
    out(&format!("\n{}\n", summary_line(report)));
}

/// Streams the run created that still exist after it: a warning (count and
/// paths), or a failure for those the target had acknowledged deleting.
fn print_leftovers(report: &RunReport) {
    if report.leftovers.is_empty() {
        return;
    }
    let acked = report
        .leftovers
        .iter()
        .filter(|l| l.delete_acknowledged)
        .count();
    out(&format!(
        "\nleftovers: {} of the {} the run created still {} after it (HEAD answered 2xx){}:\n",
        report.leftovers.len(),
        count(report.created, "resource", "resources"),
        noun(report.leftovers.len(), "exists", "exist"),
        if acked > 0 {
            format!(
                "; {acked} of them after the target acknowledged their DELETE (this fails the run)"
            )
        } else {
            " (a warning: the cleanup's DELETE was refused or never sent)".to_string()
        }
    ));
    for l in &report.leftovers {
        out(&format!(
            "  {} {} (created by {}){}\n",
            l.status,
            l.url,
            l.case,
            if l.delete_acknowledged {
                " DELETE was acknowledged"
            } else {
                ""
            }
        ));
    }
}

/// `conformance: FAILED. 300 passed, 2 failed, ...` (same counts as the JSON).
pub fn summary_line(report: &RunReport) -> String {
    let verdict = match report.exit_code() {
        0 => "ok",
        1 => "FAILED",
        _ => "SETUP ERROR",
    };
    let mut parts = vec![
        format!("{} passed", report.count(Outcome::Passed)),
        format!("{} failed", report.count(Outcome::Failed)),
        format!("{} non-strict", report.count(Outcome::NonStrictFailure)),
        count(
            report.count(Outcome::ExpectedFailure),
            "expected failure",
            "expected failures",
        ),
        count(
            report.count(Outcome::UnexpectedPass),
            "unexpected pass",
            "unexpected passes",
        ),
        format!("{} unimplemented", report.count(Outcome::Unimplemented)),
        format!("{} skipped", report.count(Outcome::Skipped)),
    ];
    if report.count(Outcome::Inconclusive) > 0 {
        parts.push(format!(
            "{} inconclusive",
            report.count(Outcome::Inconclusive)
        ));
    }
    if !report.leftovers.is_empty() {
        parts.push(count(
            report.leftovers.len(),
            "leftover stream",
            "leftover streams",
        ));
    }
    if report.count(Outcome::SetupError) > 0 {
        parts.push(count(
            report.count(Outcome::SetupError),
            "setup error",
            "setup errors",
        ));
    }
    format!(
        "conformance: {verdict}. {}; {} in {} (seed {})",
        parts.join(", "),
        count(report.cases.len(), "case", "cases"),
        format_ms(report.duration_ms),
        report.seed
    )
}

fn summary_json(report: &RunReport) -> String {
    serde_json::json!({
        "type": "summary",
        "verdict": summary_line(report).split('.').next().unwrap_or("").trim_start_matches("conformance: "),
        "exit_code": report.exit_code(),
        "summary": report.summary,
        "cases": report.cases.len(),
        "created": report.created,
        "leftovers": report.leftovers,
        "duration_ms": report.duration_ms,
        "seed": report.seed,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_expected_cases_start_first_then_catalog_order() {
        let case = |id: &str, secs: u64| {
            Case::new(id, &["X"], |_| async { Ok(()) }).expecting(Duration::from_secs(secs))
        };
        let order = start_order(vec![
            case("a::a::short1", 0),
            case("a::a::ten", 10),
            case("a::a::short2", 0),
            case("a::a::three", 3),
            case("a::a::ten_too", 10),
        ]);
        let ids: Vec<&str> = order.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "a::a::ten",
                "a::a::ten_too",
                "a::a::three",
                "a::a::short1",
                "a::a::short2"
            ]
        );
    }

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

    #[test]
    fn filters_match_from_the_start_unless_asked() {
        let mut s = Selection {
            filters: vec!["create::".into(), "ttl::".into()],
            ..Default::default()
        };
        assert!(s.selects("create::basic::x"));
        assert!(s.selects("ttl::a::b"));
        assert!(!s.selects("fork::create::x"));
        s.anywhere = true;
        assert!(s.selects("fork::create::x"));
        s.skip = vec!["fork::".into()];
        assert!(!s.selects("fork::create::x"));
        let exact = Selection {
            filters: vec!["a::b::c".into()],
            exact: true,
            ..Default::default()
        };
        assert!(exact.selects("a::b::c") && !exact.selects("a::b::cd"));
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(0, "case", "cases"), "0 cases");
        assert_eq!(count(1, "case", "cases"), "1 case");
        assert_eq!(
            count(2, "unexpected pass", "unexpected passes"),
            "2 unexpected passes"
        );
        assert_eq!(noun(1, "differs", "differ"), "differs");
    }

    #[test]
    fn summary_line_says_1_case_and_1_expected_failure() {
        let case = CaseReport {
            id: "a::b::c".into(),
            requirements: Vec::new(),
            sections: Vec::new(),
            level: crate::requirements::Level::Must,
            outcome: Outcome::ExpectedFailure,
            failed_requirement: None,
            duration_ms: 0,
            message: None,
            artifacts: Vec::new(),
            transcript: Vec::new(),
        };
        let report = RunReport::new("t".into(), 1, "now".into(), Duration::ZERO, vec![case]);
        let line = summary_line(&report);
        assert!(
            line.contains(", 1 expected failure, 0 unexpected passes,"),
            "{line}"
        );
        assert!(line.contains("; 1 case in "), "{line}");
    }
}
