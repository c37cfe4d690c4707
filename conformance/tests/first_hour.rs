//! A server author's first hour (issue 13): the preflight stops a target that
//! is not a Durable Streams server with exit 2 and a hint, measures the
//! long-poll timeout and warns when the flag disagrees; setup mistakes such
//! as a missing report folder are exit 2 before anything runs.

use std::time::Duration;

use clap::Parser;
use ds_conformance::cli::{exit_code, Cli};
use ds_conformance::client::Target;
use ds_conformance::testing::{config, reference_app, serve, Served};

/// Something that answers HTTP but is no Durable Streams server (as
/// `python3 -m http.server` would: 200 for a GET, 501 for anything else).
async fn not_a_stream_server() -> (Served, String) {
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        if req.method() == axum::http::Method::GET {
            (axum::http::StatusCode::OK, "<html>directory listing</html>")
        } else {
            (
                axum::http::StatusCode::NOT_IMPLEMENTED,
                "Unsupported method",
            )
        }
    });
    let served = serve(app).await;
    let root = format!("http://{}/", served.addr);
    (served, root)
}

#[test]
fn a_target_that_is_not_a_stream_server_stops_with_exit_2_and_a_hint() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_served, root) = rt.block_on(not_a_stream_server());
    let target = Target::new(&root).unwrap();
    let err = rt
        .block_on(ds_conformance::preflight::run(&target, "pf", None, true))
        .unwrap_err();
    assert!(err.contains("preflight: creating a stream"), "{err}");
    assert!(err.contains("answered 501"), "{err}");
    assert!(err.contains("is --target the stream root"), "{err}");
    // The whole run: exit 2, no case run (a filter-free run would be 319 cases).
    let started = std::time::Instant::now();
    let code = std::thread::spawn(move || {
        exit_code(Cli::parse_from(["ds-conformance", "--target", &root]))
    })
    .join()
    .unwrap();
    assert_eq!(code, 2);
    eprintln!("stopped after {:?}", started.elapsed());
}

#[test]
fn preflight_measures_the_long_poll_timeout_and_warns_on_a_wrong_flag() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt.block_on(async { serve(reference_app(config(1500))).await });
    let root = srv.root.clone();
    let target = Target::new(&root).unwrap();
    let f = rt
        .block_on(ds_conformance::preflight::run(&target, "pf", None, true))
        .expect("preflight passes");
    let m = f.long_poll.expect("measured").as_millis();
    assert!(m >= 1500, "measured {m} ms for a 1500 ms timeout");
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    // The flag says 30 s, the server ends long-polls after 1.5 s.
    let f = rt
        .block_on(ds_conformance::preflight::run(
            &target,
            "pf",
            Some(Duration::from_secs(30)),
            true,
        ))
        .expect("preflight passes");
    let w = f.warnings.join("\n");
    assert!(w.contains("--long-poll-timeout-ms 30000"), "{w}");
    assert!(
        w.contains("--long-poll-timeout-ms 1"),
        "names the measured value: {w}"
    );
    // --preflight alone: exit 0 without running cases.
    let args = ["ds-conformance", "--target", &root, "--preflight"];
    let code = std::thread::spawn({
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || exit_code(Cli::parse_from(args))
    })
    .join()
    .unwrap();
    assert_eq!(code, 0);
    drop(srv);
}

static REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn count(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    REQUESTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    next.run(req).await
}

#[test]
fn a_report_into_a_missing_folder_fails_before_the_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt.block_on(async {
        serve(reference_app(config(1000)).layer(axum::middleware::from_fn(count))).await
    });
    let root = srv.root.clone();
    let dir = std::env::temp_dir().join(format!("ds-missing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let junit = dir.join("junit.xml");
    let args: Vec<String> = [
        "ds-conformance",
        "--target",
        &root,
        "--long-poll-timeout-ms",
        "1000",
        "--junit",
        junit.to_str().unwrap(),
        "create::basic::",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let code = std::thread::spawn(move || exit_code(Cli::parse_from(args)))
        .join()
        .unwrap();
    assert_eq!(code, 2);
    // Not one request: the folder was checked before the preflight and cases.
    assert_eq!(REQUESTS.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(!dir.exists());
}

/// Long-poll 200s marked `no-store`: only the SHOULD CACHE-LONG-POLL breaks.
async fn long_poll_not_cacheable() -> Served {
    async fn no_store(
        req: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        let live = req
            .uri()
            .query()
            .is_some_and(|q| q.contains("live=long-poll"));
        let mut resp = next.run(req).await;
        if live && resp.status() == axum::http::StatusCode::OK {
            resp.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
        }
        resp
    }
    serve(reference_app(config(1000)).layer(axum::middleware::from_fn(no_store))).await
}

/// The console as a user sees it (the binary, stdout piped): a SHOULD miss
/// is `non-strict` with its scored level and is not a failure unless
/// `--strict`; the summary line counts what the JSON report counts.
#[test]
fn console_lines_show_the_real_outcome_and_the_summary_matches_the_json() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt.block_on(long_poll_not_cacheable());
    let root = srv.root.clone();
    let dir = std::env::temp_dir().join(format!("ds-console-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let run = |strict: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ds-conformance"));
        cmd.args([
            "--target",
            &root,
            "--long-poll-timeout-ms",
            "1000",
            "--json",
        ])
        .arg(&json)
        .arg("caching::cache_control::");
        if strict {
            cmd.arg("--strict");
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(false);
    assert_eq!(code, 0, "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("long_poll_200_is_cacheable ..."))
        .unwrap_or_else(|| panic!("no case line:\n{stdout}"));
    assert!(
        line.contains("... non-strict [SHOULD CACHE-LONG-POLL]"),
        "{line}"
    );
    assert!(line.ends_with(" ms)"), "duration shown: {line}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let n = |k: &str| report["summary"][k].as_u64().unwrap();
    assert_eq!(
        (n("passed"), n("non_strict_failure"), n("failed")),
        (3, 1, 0)
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("conformance: "))
        .unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    assert!(
        summary.contains("3 passed, 0 failed, 1 non-strict"),
        "{summary} vs {}",
        report["summary"]
    );
    // Passing cases keep no transcript in the JSON; the finding does.
    let cases = report["cases"].as_array().unwrap();
    for c in cases {
        let has = c.get("transcript").is_some();
        assert_eq!(has, c["outcome"] != "passed", "{}", c["id"]);
    }

    let (code, stdout) = run(true);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("long_poll_200_is_cacheable ... FAILED [SHOULD CACHE-LONG-POLL]"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Closed pipes (`ds-conformance ... 2>&1 | head` after head exits): the
/// exit code still says what happened (2 for a setup error, 0 for a
/// listing), never a panic's 101.
#[test]
fn closed_output_pipes_do_not_change_the_exit_code() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_served, root) = rt.block_on(not_a_stream_server());
    let run = |args: &[&str]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ds-conformance"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("binary starts");
        // Close the read ends before it writes anything.
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().expect("exits").code()
    };
    assert_eq!(run(&["--target", &root]), Some(2), "setup error");
    assert_eq!(run(&["--list"]), Some(0), "listing");
    assert_eq!(run(&["--coverage"]), Some(0), "coverage listing");
}
