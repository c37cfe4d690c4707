//! Every mode, small and bounded, against the reference server started in
//! this process (memory store, 127.0.0.1:0): each run must verify its own
//! results. And a server that loses appends must make the append run fail
//! its check. No timing is asserted.

use clap::Parser;
use ds_bench::{run, Cli};

/// The reference server's configuration here: 500 ms long-polls.
fn config() -> ds_reference_server::Config {
    ds_reference_server::Config {
        long_poll_timeout: std::time::Duration::from_millis(500),
        ..ds_reference_server::Config::default()
    }
}

/// Starts the reference server on 127.0.0.1:0: its stream root, and what
/// stops it (when dropped).
async fn reference_server(
    config: ds_reference_server::Config,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let state = ds_reference_server::AppState::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ds_reference_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    (format!("http://{addr}/v1/stream"), tx)
}

async fn bench(url: &str, args: &[&str]) -> ds_bench::report::Report {
    let mut argv = vec!["ds-bench", "--quiet", "--pid"];
    let pid = std::process::id().to_string();
    argv.push(&pid);
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(120), run(&cli, url))
        .await
        .expect("bounded run")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_verifies_against_the_reference_server() {
    let (url, _stop) = reference_server(config()).await;
    let runs: &[&[&str]] = &[
        &[
            "append",
            "--connections",
            "4",
            "--streams",
            "10",
            "--duration",
            "0.5",
        ],
        &[
            "append",
            "--connections",
            "2",
            "--kind",
            "producer",
            "--duration",
            "0.5",
            "--rate",
            "200",
        ],
        &[
            "append",
            "--connections",
            "2",
            "--kind",
            "json",
            "--duration",
            "0.5",
        ],
        &["ceiling", "--connections", "2", "--duration", "0.3"],
        // Append-shaped: POSTs of 64 bytes to a missing stream (404).
        &[
            "ceiling",
            "--connections",
            "2",
            "--duration",
            "0.3",
            "--method",
            "POST",
            "--size",
            "64",
        ],
        &[
            "catchup",
            "--bytes",
            "256KiB",
            "--size",
            "1KiB",
            "--readers",
            "2",
            "--passes",
            "2",
        ],
        &[
            "tail",
            "--lengths",
            "10,200",
            "--samples",
            "20",
            "--connections",
            "4",
        ],
        &[
            "fork",
            "--depths",
            "1,5",
            "--base",
            "50",
            "--per-fork",
            "3",
            "--samples",
            "10",
            "--passes",
            "2",
        ],
        &[
            "fanout",
            "--long-poll",
            "6",
            "--sse",
            "6",
            "--streams",
            "3",
            "--rounds",
            "3",
            "--interval-ms",
            "50",
            "--grace",
            "20",
        ],
        &[
            "fanout",
            "--pace",
            "fixed",
            "--long-poll",
            "4",
            "--sse",
            "4",
            "--streams",
            "2",
            "--rounds",
            "3",
            "--interval-ms",
            "50",
        ],
        &[
            "churn",
            "--duration",
            "0.5",
            "--connections",
            "2",
            "--appends",
            "2",
            "--every",
            "0.2",
        ],
    ];
    for args in runs {
        let r = bench(&url, args).await;
        let table = r.table(&url);
        assert!(r.verified(), "{args:?} did not verify:\n{table}");
        assert!(!table.contains("FAILED"), "{table}");
    }
    // The figures each mode exists for are there.
    let r = bench(&url, &["append", "--connections", "2", "--duration", "0.3"]).await;
    assert!(r.get("appends_per_s").unwrap().as_f64().unwrap() > 0.0);
    assert!(r.get("latency").unwrap()["p99_us"].as_u64().is_some());
    assert!(
        r.get("rss_per_stream_bytes").is_some(),
        "--pid figures missing"
    );
    let r = bench(
        &url,
        &[
            "fanout",
            "--long-poll",
            "2",
            "--sse",
            "2",
            "--rounds",
            "2",
            "--interval-ms",
            "20",
        ],
    )
    .await;
    assert_eq!(r.get("sse_delivery").unwrap()["count"], 4);
    assert_eq!(r.get("long_poll_delivery").unwrap()["count"], 4);
}

/// A server that acknowledges appends and stores nothing: the append run
/// must not verify (its read-back check fails), and an unreachable target
/// is an error, not a result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_losing_appends_fails_the_check() {
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use axum::routing::any;
    let app = axum::Router::new().fallback(any(|m: axum::http::Method| async move {
        let mut h = HeaderMap::new();
        h.insert("stream-next-offset", HeaderValue::from_static("0"));
        h.insert("stream-up-to-date", HeaderValue::from_static("true"));
        match m.as_str() {
            "PUT" => (StatusCode::CREATED, h),
            "POST" => (StatusCode::NO_CONTENT, h),
            _ => (StatusCode::OK, h),
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/s");
    let r = bench(&url, &["append", "--connections", "2", "--duration", "0.2"]).await;
    assert!(
        !r.verified(),
        "lost appends went unnoticed:\n{}",
        r.table(&url)
    );
    assert!(r.table(&url).contains("[FAILED]"));

    let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}/s", free.local_addr().unwrap());
    drop(free);
    let cli = Cli::try_parse_from(["ds-bench", "--quiet", "append", "--duration", "0.1"]).unwrap();
    assert!(run(&cli, &gone).await.is_err());
}

/// The server ends SSE responses every 150 ms (§10.2): SSE readers resume
/// from their last offset on the same keep-alive connection (one connection
/// per reader for the whole run, so a reconnect storm never doubles the
/// open files), and settle pacing reaches every reader each round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_readers_resume_on_their_connection_when_the_server_ends_the_response() {
    let (url, _stop) = reference_server(ds_reference_server::Config {
        sse_max_duration: std::time::Duration::from_millis(150),
        ..config()
    })
    .await;
    let r = bench(
        &url,
        &[
            "fanout",
            "--long-poll",
            "2",
            "--sse",
            "3",
            "--rounds",
            "6",
            "--interval-ms",
            "120",
        ],
    )
    .await;
    let table = r.table(&url);
    assert!(r.verified(), "{table}");
    assert_eq!(r.get("pace").unwrap(), "settle", "{table}");
    assert_eq!(r.get("rounds_timed_out").unwrap(), 0, "{table}");
    assert_eq!(r.get("sse_delivery").unwrap()["count"], 18, "{table}");
    assert!(
        r.get("sse_reconnects").unwrap().as_u64().unwrap() >= 3,
        "the 150 ms lifetime ended no SSE response:\n{table}"
    );
    assert_eq!(r.get("sse_connections").unwrap(), 3, "{table}");
}
