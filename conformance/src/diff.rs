//! Differential mode (`ds-conformance diff --target URL [--baseline URL]`):
//! every case runs against both servers (baseline: the embedded reference
//! server) and the normalised exchanges are compared. What the spec leaves
//! to the server is normalised away first (see `snapshot::normalise`,
//! `Mode::Diff`): offset format, cursor values, chunk boundaries when the
//! bytes agree, header case, MAY headers, error texts. What remains is
//! reported grouped by spec section, each with its first differing exchange.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::case::Case;
use crate::client::Session;
use crate::outcome::Outcome;
use crate::requirements::Requirements;
use crate::runner::{count, noun};
use crate::snapshot::{self, Mode};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ds-conformance diff",
    about = "Run every case against two servers and report where their normalised exchanges differ"
)]
pub struct DiffCli {
    /// Stream root URL of the server under test.
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Stream root URL to compare against (default: the reference server,
    /// started in-process).
    #[arg(long, value_name = "URL")]
    pub baseline: Option<String>,
    /// Extra header for every request to the target (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The target's long-poll timeout.
    #[arg(long, value_name = "MS")]
    pub long_poll_timeout_ms: Option<u64>,
    /// The baseline's long-poll timeout (default: the embedded server's,
    /// or 30000 for a --baseline URL).
    #[arg(long, value_name = "MS")]
    pub baseline_long_poll_timeout_ms: Option<u64>,
    /// Also write the report as Markdown.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Cases compared at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// Compare only cases whose id contains FILTER.
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// Skip cases whose id contains PATTERN (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
}

/// One case's comparison.
#[derive(Debug, Clone)]
pub struct CaseDiff {
    pub id: String,
    pub section: String,
    pub baseline: Outcome,
    pub target: Outcome,
    /// First differing exchange as a unified diff; None when equal.
    pub difference: Option<String>,
}

/// Entry point for `ds-conformance diff ...` (args after `diff`).
pub fn main_with(cli: DiffCli) -> ExitCode {
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            crate::errln!("ds-conformance diff: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn session(root: &str, headers: &[String], long_poll_ms: u64) -> Result<Session, String> {
    let mut s = Session::new(root)?;
    for h in headers {
        s.target.headers.push(crate::cli::parse_header(h)?);
    }
    s.target.long_poll_timeout = Duration::from_millis(long_poll_ms);
    s.run.case_timeout = Duration::from_millis(60_000.max(3 * long_poll_ms + 15_000));
    Ok(s)
}

fn run(cli: DiffCli) -> Result<bool, String> {
    let reqs = Arc::new(Requirements::embedded());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    let mut embedded = None;
    let (baseline_root, baseline_lp) = match &cli.baseline {
        Some(b) => (
            b.clone(),
            cli.baseline_long_poll_timeout_ms.unwrap_or(30_000),
        ),
        None => {
            let server = rt.block_on(crate::embedded::start("memory"))?;
            let url = server.stream_root();
            embedded = Some(server);
            (url, crate::embedded::LONG_POLL_TIMEOUT_MS)
        }
    };
    let baseline = Arc::new(session(&baseline_root, &[], baseline_lp)?);
    let tgt = Arc::new(session(
        &cli.target,
        &cli.headers,
        cli.long_poll_timeout_ms.unwrap_or(30_000),
    )?);
    // Both must be Durable Streams servers before any difference means anything.
    rt.block_on(crate::preflight::run(
        &baseline.target,
        &baseline.run.run_id,
        None,
        false,
    ))
    .map_err(|e| format!("baseline: {e}"))?;
    rt.block_on(crate::preflight::run(
        &tgt.target,
        &tgt.run.run_id,
        None,
        false,
    ))?;
    crate::outln!(
        "ds-conformance diff: target {} against baseline {}",
        tgt.target.root,
        baseline.target.root
    );
    let cases: Vec<Case> = crate::cases::all()
        .into_iter()
        .filter(|c| {
            cli.filter
                .as_ref()
                .is_none_or(|f| c.id.contains(f.as_str()))
        })
        .filter(|c| !cli.skip.iter().any(|s| c.id.contains(s.as_str())))
        // Timing-dependent cases differ from run to run even on one server.
        .filter(|c| snapshot::unstable(&c.id).is_none())
        .filter(|c| c.needs == crate::case::Needs::Nothing)
        .collect();
    if cases.is_empty() {
        return Err("no case matched the filter: nothing was compared".into());
    }
    let diffs = rt.block_on(compare_all(cases, baseline, tgt, reqs, cli.jobs.max(1)));
    let text = render(&diffs);
    crate::outln!("{text}");
    if let Some(p) = &cli.markdown {
        std::fs::write(p, &text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        crate::outln!("wrote {}", p.display());
    }
    if let Some(server) = embedded {
        rt.block_on(server.stop());
    }
    Ok(diffs.iter().all(|d| d.difference.is_none()))
}

async fn compare_all(
    cases: Vec<Case>,
    baseline: Arc<Session>,
    target: Arc<Session>,
    reqs: Arc<Requirements>,
    jobs: usize,
) -> Vec<CaseDiff> {
    let gate = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut tasks = tokio::task::JoinSet::new();
    for case in cases {
        let (baseline, target, reqs, gate) =
            (baseline.clone(), target.clone(), reqs.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore open");
            let (a, b) = tokio::join!(side(&case, &baseline, &reqs), side(&case, &target, &reqs));
            let section = reqs
                .sections(&case.requirements)
                .first()
                .cloned()
                .unwrap_or_else(|| "?".into());
            let difference = if a.0 == b.0 {
                None
            } else {
                let mut d =
                    snapshot::first_difference(&a.0, &b.0).unwrap_or_else(|| "differs".into());
                d = d
                    .replace("--- expected", "--- baseline")
                    .replace("+++ actual", "+++ target");
                Some(d)
            };
            CaseDiff {
                id: case.id.clone(),
                section,
                baseline: a.1,
                target: b.1,
                difference,
            }
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(d) = r {
            out.push(d);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Run a case on one server: its normalised document and its outcome.
async fn side(case: &Case, target: &Arc<Session>, reqs: &Requirements) -> (String, Outcome) {
    let (result, ctx, _) = crate::runner::run_case(case, target.clone()).await;
    let outcome = if result.is_ok() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    let requirements: Vec<String> = case.requirements.iter().map(|s| s.to_string()).collect();
    let doc = snapshot::join(&snapshot::blocks(
        reqs,
        snapshot::scope(target, &case.id),
        Mode::Diff,
        &case.id,
        &requirements,
        outcome,
        &ctx.transcript(),
    ));
    (doc, outcome)
}

/// "5.2.1" sorts after "5.2" and before "5.10".
fn section_key(s: &str) -> Vec<u32> {
    s.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// The report: a summary, then per spec section the differing cases.
pub fn render(diffs: &[CaseDiff]) -> String {
    let differing: Vec<&CaseDiff> = diffs.iter().filter(|d| d.difference.is_some()).collect();
    let mut by_section: BTreeMap<Vec<u32>, (String, Vec<&CaseDiff>)> = BTreeMap::new();
    for d in &differing {
        by_section
            .entry(section_key(&d.section))
            .or_insert_with(|| (d.section.clone(), Vec::new()))
            .1
            .push(d);
    }
    let mut out = format!(
        "# Differential run\n\n{} compared: {} alike, {} {}\n",
        count(diffs.len(), "case", "cases"),
        diffs.len() - differing.len(),
        differing.len(),
        noun(differing.len(), "differs", "differ")
    );
    for (_, (section, cases)) in by_section {
        out.push_str(&format!(
            "\n## §{section} ({})\n",
            count(cases.len(), "case differs", "cases differ")
        ));
        for d in cases {
            out.push_str(&format!(
                "\n### {} (baseline {}, target {})\n\n```diff\n{}\n```\n",
                d.id,
                d.baseline.as_str(),
                d.target.as_str(),
                d.difference.as_deref().unwrap_or("").trim_end()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_groups_by_section_in_spec_order() {
        let d = |id: &str, section: &str, diff: Option<&str>| CaseDiff {
            id: id.into(),
            section: section.into(),
            baseline: Outcome::Passed,
            target: Outcome::Failed,
            difference: diff.map(str::to_string),
        };
        let text = render(&[
            d("a::b::c", "5.10", Some("x")),
            d("a::b::d", "5.2", Some("y")),
            d("a::b::e", "5.2", None),
        ]);
        assert!(
            text.contains("3 cases compared: 1 alike, 2 differ"),
            "{text}"
        );
        let i = text.find("§5.2 (1 case differs)").expect(&text);
        let j = text.find("§5.10").expect(&text);
        assert!(i < j, "{text}");
        assert!(!text.contains("a::b::e"), "{text}");
        let one = render(&[d("a::b::c", "5.10", Some("x"))]);
        assert!(
            one.contains("1 case compared: 0 alike, 1 differs")
                && one.contains("§5.10 (1 case differs)"),
            "{one}"
        );
    }
}
