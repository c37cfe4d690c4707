//! Spec regression snapshots (all sections): every case's transcript,
//! normalised (see [`normalise`]) and headed by the case id, its
//! requirements and their quotes — the protocol by example.
//!
//! `--snapshot-dir DIR` writes one `DIR/<area>__<topic>__<case>.snap` per
//! case; `--compare-snapshots DIR` reports, per case, the first exchange
//! that differs as a unified diff (`--accept` rewrites the snapshots
//! instead). The files use insta's format, so the reference server's copy
//! in fixtures/snapshots/ is checked by `cargo test` (tests/snapshots.rs)
//! and reviewed with `cargo insta review`.

pub mod normalise;

use std::path::Path;
use std::sync::Arc;

pub use normalise::{Mode, Normaliser, Scope};

use crate::client::{Ctx, Session};
use crate::outcome::{CaseReport, Outcome};
use crate::requirements::Requirements;
use crate::transcript::Exchange;

/// Cases whose exchanges depend on timing or randomness, so a snapshot of
/// them could not be stable: with the reason. Their verdicts still count
/// in every run; only their transcripts are not pinned.
pub const UNSTABLE: &[(&str, &str)] = &[
    (
        "props::",
        "random operation sequences (seeded, but their length follows shrinking)",
    ),
    (
        "durability::",
        "restarts the target; needs --restart-cmd (skipped on the memory store)",
    ),
    (
        "subscriptions::",
        "subscription tokens, wake ids and signatures are minted per run and deliveries run on timers: not normalised yet",
    ),
    (
        "crash::",
        "kills the target under concurrent load; needs --kill-cmd",
    ),
    (
        "ttl::expired::",
        "real-time expiry: what a request sees depends on when it ran",
    ),
    (
        "ttl::expires_at::",
        "real-time expiry: what a request sees depends on when it ran",
    ),
    (
        "ttl::fork_expiry::",
        "real-time expiry: what a request sees depends on when it ran",
    ),
    (
        "ttl::renewal::",
        "real-time expiry: what a request sees depends on when it ran",
    ),
    (
        "ttl::soft_delete::",
        "real-time expiry: what a request sees depends on when it ran",
    ),
    (
        "producer::concurrency::",
        "concurrent requests: their order on the wire is the scheduler's",
    ),
    (
        "fork::live::long_poll_survives_source_delete",
        "accepts 200 or 204 depending on whether the append beat the long-poll timeout",
    ),
    (
        "sse::bytes::large_",
        "megabytes over SSE: how the events batch follows read timing",
    ),
];

/// Why `id` is not snapshotted, if it is not.
pub fn unstable(id: &str) -> Option<&'static str> {
    UNSTABLE
        .iter()
        .find(|(prefix, _)| id.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// File name of a case's snapshot (and the insta snapshot name + `.snap`).
pub fn snapshot_name(id: &str) -> String {
    id.replace("::", "__")
}

/// The redaction scope of case `id` run against `target`.
pub fn scope(target: &Arc<Session>, id: &str) -> Scope {
    let case_url = Ctx::new(target.clone(), id)
        .url("")
        .trim_end_matches('/')
        .to_string();
    Scope {
        case_url,
        root_url: target
            .target
            .root
            .as_str()
            .trim_end_matches('/')
            .to_string(),
        run_id: target.run.run_id.clone(),
        extra_headers: target
            .target
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect(),
    }
}

/// The heading of a case's document: id, outcome, requirements + quotes.
pub fn heading(reqs: &Requirements, id: &str, requirements: &[String], outcome: Outcome) -> String {
    let mut s = format!("# {id}\n# outcome: {}\n", outcome.as_str());
    for r in requirements {
        match reqs.get(r) {
            Some(q) => s.push_str(&format!(
                "# {r} (§{}, {}): {}\n",
                q.section,
                q.level.as_str(),
                q.quote
            )),
            None => s.push_str(&format!("# {r}\n")),
        }
    }
    s.trim_end().to_string()
}

/// A case's document as blocks: the heading, then one block per exchange.
pub fn blocks(
    reqs: &Requirements,
    scope: Scope,
    mode: Mode,
    id: &str,
    requirements: &[String],
    outcome: Outcome,
    transcript: &[Exchange],
) -> Vec<String> {
    let mut out = vec![heading(reqs, id, requirements, outcome)];
    out.extend(Normaliser::new(scope, mode).transcript(transcript));
    out
}

/// Blocks joined as the snapshot text (blank line between blocks; a block
/// never holds an empty line, body lines are prefixed with `|`).
pub fn join(blocks: &[String]) -> String {
    blocks.join("\n\n")
}

/// The snapshot text of one finished case.
pub fn document(reqs: &Requirements, target: &Arc<Session>, case: &CaseReport) -> String {
    join(&blocks(
        reqs,
        scope(target, &case.id),
        Mode::Snapshot,
        &case.id,
        &case.requirements,
        case.outcome,
        &case.transcript,
    ))
}

/// The metadata insta writes for tests/snapshots.rs, so a directory
/// written here and the checked-in fixtures are byte for byte alike.
const INSTA_HEADER: &str = "---\nsource: conformance/tests/snapshots.rs\nexpression: doc\n---\n";

/// A snapshot file's text without insta's metadata header.
pub fn strip_header(file: &str) -> &str {
    if let Some(rest) = file.strip_prefix("---\n") {
        if let Some(i) = rest.find("\n---\n") {
            return &rest[i + 5..];
        }
    }
    file
}

fn write_one(dir: &Path, id: &str, text: &str) -> Result<(), String> {
    let path = dir.join(format!("{}.snap", snapshot_name(id)));
    std::fs::write(&path, format!("{INSTA_HEADER}{text}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Cases of a run that get a snapshot: not skipped, not unstable.
fn snapshotted(report: &crate::report::RunReport) -> impl Iterator<Item = &CaseReport> {
    report
        .cases
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Skipped | Outcome::SetupError))
        .filter(|c| unstable(&c.id).is_none())
}

/// `--snapshot-dir`: write every snapshotted case of the run.
pub fn write_dir(
    dir: &Path,
    reqs: &Requirements,
    target: &Arc<Session>,
    report: &crate::report::RunReport,
) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut n = 0;
    for c in snapshotted(report) {
        write_one(dir, &c.id, &document(reqs, target, c))?;
        n += 1;
    }
    Ok(n)
}

/// The first block that differs between two documents, as a unified diff
/// (None when they are equal).
pub fn first_difference(expected: &str, actual: &str) -> Option<String> {
    if expected.trim_end() == actual.trim_end() {
        return None;
    }
    let a: Vec<&str> = expected.trim_end().split("\n\n").collect();
    let b: Vec<&str> = actual.trim_end().split("\n\n").collect();
    let i = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    let what = if i == 0 {
        "heading".to_string()
    } else {
        format!("exchange {i}")
    };
    let old = a.get(i).copied().unwrap_or("(no such exchange)");
    let new = b.get(i).copied().unwrap_or("(no such exchange)");
    let diff = similar::TextDiff::from_lines(&format!("{old}\n"), &format!("{new}\n"))
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string();
    Some(format!(
        "first difference at {what} (of {} expected, {} actual):\n{diff}",
        a.len() - 1,
        b.len() - 1
    ))
}

/// `--compare-snapshots`: per case, the first difference with the
/// snapshot in `dir`; with `accept`, the snapshot is rewritten instead.
/// Returns the number of cases that differed.
pub fn compare_dir(
    dir: &Path,
    reqs: &Requirements,
    target: &Arc<Session>,
    report: &crate::report::RunReport,
    accept: bool,
) -> Result<usize, String> {
    if !dir.is_dir() {
        return Err(format!(
            "--compare-snapshots: {} is not a directory",
            dir.display()
        ));
    }
    let mut differing = 0;
    for c in snapshotted(report) {
        let actual = document(reqs, target, c);
        let path = dir.join(format!("{}.snap", snapshot_name(&c.id)));
        let diff = match std::fs::read_to_string(&path) {
            Ok(file) => first_difference(strip_header(&file), &actual),
            Err(_) => Some(format!("no snapshot at {}", path.display())),
        };
        if let Some(d) = diff {
            differing += 1;
            crate::outln!("\n---- snapshot {} ----\n{d}", c.id);
            if accept {
                write_one(dir, &c.id, &actual)?;
                crate::outln!("accepted: wrote {}", path.display());
            }
        }
    }
    crate::outln!(
        "\nsnapshots: {differing} of {} {} from {}{}",
        crate::runner::count(snapshotted(report).count(), "case", "cases"),
        crate::runner::noun(differing, "differs", "differ"),
        dir.display(),
        if accept && differing > 0 {
            " (accepted)"
        } else {
            ""
        }
    );
    Ok(differing)
}

/// Snapshot flags of the CLI, applied once the run has finished.
#[derive(Debug, Clone, Default)]
pub struct SnapshotArgs {
    pub write: Option<std::path::PathBuf>,
    pub compare: Option<std::path::PathBuf>,
    pub accept: bool,
}

impl SnapshotArgs {
    /// Does the run need every case's transcript?
    pub fn wanted(&self) -> bool {
        self.write.is_some() || self.compare.is_some()
    }
    /// Setup mistakes found before the run (exit 2, not a verdict).
    pub fn check(&self) -> Result<(), String> {
        if let Some(dir) = &self.compare {
            if !dir.is_dir() {
                return Err(format!(
                    "--compare-snapshots: {} is not a directory",
                    dir.display()
                ));
            }
        }
        Ok(())
    }
}

/// Run the snapshot steps the flags ask for; Ok(false) when snapshots
/// differed and were not accepted (the run must then fail).
pub fn after_run(
    args: &SnapshotArgs,
    reqs: &Requirements,
    target: &Arc<Session>,
    report: &crate::report::RunReport,
) -> Result<bool, String> {
    if let Some(dir) = &args.write {
        let n = write_dir(dir, reqs, target, report)?;
        crate::outln!(
            "wrote {} to {}",
            crate::runner::count(n, "snapshot", "snapshots"),
            dir.display()
        );
    }
    if let Some(dir) = &args.compare {
        let differing = compare_dir(dir, reqs, target, report, args.accept)?;
        return Ok(differing == 0 || args.accept);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_exchange() {
        let a = "# h\n\nGET {case}/s\n  < 200\n\nPOST {case}/s\n  < 204";
        let b = "# h\n\nGET {case}/s\n  < 200\n\nPOST {case}/s\n  < 409";
        let d = first_difference(a, b).unwrap();
        assert!(d.contains("exchange 2"), "{d}");
        assert!(d.contains("-  < 204") && d.contains("+  < 409"), "{d}");
        assert!(first_difference(a, a).is_none());
        assert!(first_difference(a, "# h")
            .unwrap()
            .contains("(no such exchange)"));
    }

    #[test]
    fn insta_header_round_trips() {
        let text = "# x\n\nGET y";
        assert_eq!(
            strip_header(&format!("{INSTA_HEADER}{text}\n")).trim_end(),
            text
        );
        assert_eq!(strip_header(text), text);
    }
}
