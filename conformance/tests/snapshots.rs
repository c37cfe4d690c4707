//! Spec regression snapshots of the whole default catalog: every case run
//! once against the reference server in-process (memory store), its
//! normalised transcript compared with fixtures/snapshots/<case>.snap.
//! A behaviour change shows up as a readable diff per case; review it with
//! `cargo insta review` (or accept all: `INSTA_UPDATE=always cargo test
//! --test snapshots`). Cases whose exchanges depend on timing are listed
//! in `ds_conformance::snapshot::UNSTABLE` and not pinned.

use std::collections::BTreeSet;
use std::sync::Arc;

use ds_conformance::outcome::Outcome;
use ds_conformance::requirements::Requirements;
use ds_conformance::snapshot;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/snapshots");

/// Run every stable case once, 16 at a time, and return (id, document).
async fn documents() -> Vec<(String, String)> {
    let server = ds_conformance::embedded::start("memory")
        .await
        .expect("embedded reference server starts");
    let target = Arc::new(ds_conformance::testing::test_session(
        &server.stream_root(),
        ds_conformance::embedded::LONG_POLL_TIMEOUT_MS,
    ));
    let reqs = Arc::new(Requirements::embedded());
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for case in ds_conformance::cases::all() {
        if snapshot::unstable(&case.id).is_some()
            || case.needs != ds_conformance::case::Needs::Nothing
        {
            continue;
        }
        let (target, reqs, gate) = (target.clone(), reqs.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore open");
            // Verdicts are the embedded suite's job (tests/embedded.rs); a
            // reference-server case that missed a deadline on a loaded
            // machine is run again so its snapshot shows the passing run.
            let mut attempt = 0;
            let (result, ctx) = loop {
                attempt += 1;
                let (result, ctx, _) =
                    ds_conformance::runner::run_case(&case, target.clone()).await;
                if result.is_ok() || attempt == 3 {
                    break (result, ctx);
                }
            };
            let outcome = match &result {
                Ok(()) => Outcome::Passed,
                Err(_) => Outcome::Failed,
            };
            let requirements: Vec<String> =
                case.requirements.iter().map(|s| s.to_string()).collect();
            let doc = snapshot::join(&snapshot::blocks(
                &reqs,
                snapshot::scope(&target, &case.id),
                snapshot::Mode::Snapshot,
                &case.id,
                &requirements,
                outcome,
                &ctx.transcript(),
            ));
            (case.id.clone(), doc, result.err().map(|f| f.to_string()))
        });
    }
    let mut out = Vec::new();
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (id, doc, failure) = joined.expect("case task does not panic");
        if let Some(f) = failure {
            failures.push(format!("{id}: {f}"));
        }
        out.push((id, doc));
    }
    server.stop().await;
    // The verdicts are the embedded suite's job; a failing case here would
    // pin a failure in a snapshot, so say so plainly.
    assert!(
        failures.is_empty(),
        "cases failed on the reference server:\n{}",
        failures.join("\n")
    );
    out.sort();
    out
}

#[test]
fn reference_server_snapshots() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let docs = rt.block_on(documents());
    assert!(docs.len() > 100, "only {} cases snapshotted", docs.len());

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(DIR);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(false);
    let mut mismatched = Vec::new();
    settings.bind(|| {
        for (id, doc) in &docs {
            let name = snapshot::snapshot_name(id);
            let r = std::panic::catch_unwind(|| insta::assert_snapshot!(name.as_str(), doc));
            if r.is_err() {
                mismatched.push(id.clone());
            }
        }
    });

    // A snapshot no case produces any more is stale: delete it.
    let expected: BTreeSet<String> = docs
        .iter()
        .map(|(id, _)| format!("{}.snap", snapshot::snapshot_name(id)))
        .collect();
    let stale: Vec<String> = std::fs::read_dir(DIR)
        .expect("fixtures/snapshots exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snap") && !expected.contains(n))
        .collect();
    assert!(
        stale.is_empty(),
        "stale snapshots in fixtures/snapshots (no such case): {stale:?}"
    );
    assert!(
        mismatched.is_empty(),
        "{} snapshots differ (review with `cargo insta review`): {mismatched:?}",
        mismatched.len()
    );
}
