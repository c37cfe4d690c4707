//! The subscriptions:: flags end to end (issue 15): the `ds-conformance`
//! binary against the reference server started on 127.0.0.1:0 with
//! webhooks (and local webhook URLs) on.
//!
//! - `--webhook-listen ADDR`: the receiver answers on exactly that address
//!   while the run lasts, every webhook URL the target is given points
//!   there, and the webhook cases pass.
//! - `--webhook-public-url URL`: the target is given that URL (a relay in
//!   this test, forwarding to the listen address), never the listen
//!   address, and the deliveries that make the cases pass came through it;
//!   a malformed value is exit 2 with one clear line, before any request.
//! - `--lease-granularity-ms`: the retry case against a target whose
//!   retries arrive 4 s late (the relay holds them) fails without it and
//!   passes with it; a bad value is exit 2.
//! - `--require subscriptions`: against a target answering 404 under
//!   `__ds`, the subscription cases are failures naming the flag (exit 1);
//!   without it they are `unimplemented` (exit 0).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use serde_json::Value;

/// The reference server with webhooks on (local receivers allowed), a
/// 500 ms long-poll timeout; returns it and its stream root.
async fn webhook_server() -> (ds_reference_server::RunningServer, String) {
    let srv = ds_reference_server::spawn(ds_reference_server::Config {
        long_poll_timeout: Duration::from_millis(500),
        webhooks: true,
        allow_local_webhooks: true,
        ..Default::default()
    })
    .await
    .expect("reference server");
    let root = format!("{}/v1/stream", srv.url);
    (srv, root)
}

/// A free 127.0.0.1 port (bound and released: nothing listens on it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// What the relay saw: per request path (after `/relay`), when each
/// request arrived.
type Seen = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// An HTTP relay on 127.0.0.1:0: `POST http://127.0.0.1:Q/relay/<path>` is
/// forwarded to `http://<to>/<path>` and its answer returned. With
/// `hold_retries`, every request after the first to the same path is held
/// that long before it is forwarded (a target whose retry timers fire
/// late). Returns its base URL (`http://127.0.0.1:Q/relay`) and the log.
async fn relay(to: SocketAddr, hold_retries: Option<Duration>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (seen, client) = (seen.clone(), client.clone());
        async move {
            let path = req.uri().path().to_string();
            let Some(rest) = path.strip_prefix("/relay/") else {
                return axum::http::StatusCode::NOT_FOUND.into_response();
            };
            let n = {
                let mut seen = seen.lock().unwrap();
                let at = seen.entry(rest.to_string()).or_default();
                at.push(Instant::now());
                at.len()
            };
            if let (Some(hold), true) = (hold_retries, n > 1) {
                tokio::time::sleep(hold).await;
            }
            let method = req.method().clone();
            let mut headers = req.headers().clone();
            headers.remove(axum::http::header::HOST);
            headers.remove(axum::http::header::CONTENT_LENGTH);
            let body = axum::body::to_bytes(req.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let sent = client
                .request(method, format!("http://{to}/{rest}"))
                .headers(headers)
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) => {
                    let status = r.status();
                    let ct = r.headers().get("content-type").cloned();
                    let body = r.bytes().await.unwrap_or_default();
                    let mut resp = (status, body).into_response();
                    if let Some(ct) = ct {
                        resp.headers_mut().insert("content-type", ct);
                    }
                    resp
                }
                Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}/relay"), log)
}

/// A scratch folder for one test's reports and console logs.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ds-subs-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One finished run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// The JSON report (Null if none was written).
    report: Value,
    /// `--webhook-listen`'s port answered as the harness's receiver
    /// while the run lasted (only looked for when asked).
    receiver_answered: bool,
}

impl Run {
    fn outcome(&self, id: &str) -> (String, String) {
        let c = self.report["cases"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("{id} not in the report:\n{}", self.stdout));
        (
            c["outcome"].as_str().unwrap_or("").to_string(),
            c["message"].as_str().unwrap_or("").to_string(),
        )
    }

    fn passed(&self, ids: &[&str]) {
        for id in ids {
            let (outcome, message) = self.outcome(id);
            assert_eq!(
                outcome, "passed",
                "{id}: {message}\n{}\n{}",
                self.stdout, self.stderr
            );
        }
    }

    /// Every `webhook.url` the harness put in a subscription configuration
    /// (from the transcripts: needs --full-transcripts).
    fn webhook_urls_given(&self) -> Vec<String> {
        let mut urls = Vec::new();
        for c in self.report["cases"].as_array().into_iter().flatten() {
            for ex in c["transcript"].as_array().into_iter().flatten() {
                let is_sub_put = ex["method"] == "PUT"
                    && ex["url"]
                        .as_str()
                        .is_some_and(|u| u.contains("/__ds/subscriptions/"));
                if !is_sub_put {
                    continue;
                }
                // The preview is the body escaped as a Rust string
                // (`\"`), which a JSON string literal reads back.
                let preview = ex["request_body_preview"].as_str().unwrap_or("");
                let body: String =
                    serde_json::from_str(&format!("\"{preview}\"")).unwrap_or_default();
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    if let Some(u) = v["webhook"]["url"].as_str() {
                        urls.push(u.to_string());
                    }
                }
            }
        }
        urls
    }
}

/// Does `port` answer as the harness's webhook receiver? (A mailbox that
/// does not exist is `410 Gone` there.)
fn receiver_on(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let req = "POST /hook/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 410")
}

/// Run the binary with `args` (plus `--json` into `scratch`), its console
/// into files; while it runs, look for the receiver on `listen_port`.
fn run(scratch: &Scratch, args: &[&str], listen_port: Option<u16>) -> Run {
    let json = scratch.path("report.json");
    let _ = std::fs::remove_file(&json);
    let out = scratch.path("stdout.txt");
    let err = scratch.path("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ds-conformance"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    let mut receiver_answered = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if let (Some(p), false) = (listen_port, receiver_answered) {
            receiver_answered = receiver_on(p);
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("the run took over 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Run {
        code: status.code().expect("exit code"),
        stdout: read(&out),
        stderr: read(&err),
        report,
        receiver_answered,
    }
}

const HOOK_CASES: [&str; 2] = [
    "subscriptions::webhook::delivery_signed_with_fields",
    "subscriptions::webhook::done_true_acks_snapshot",
];

#[test]
fn webhook_listen_binds_the_given_address_and_the_webhook_cases_pass() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (srv, root) = rt.block_on(webhook_server());
    let scratch = Scratch::new("listen");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--target",
        &root,
        "--long-poll-timeout-ms",
        "500",
        "--webhook-listen",
        &listen,
        "--full-transcripts",
    ];
    args.extend(HOOK_CASES);
    let r = run(&scratch, &args, Some(port));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r.passed(&HOOK_CASES);
    assert!(
        r.receiver_answered,
        "nothing answered as the receiver on {listen} during the run"
    );
    let urls = r.webhook_urls_given();
    assert!(
        !urls.is_empty(),
        "no webhook subscription in the transcripts"
    );
    let want = format!("http://{listen}/hook/");
    for u in &urls {
        assert!(
            u.starts_with(&want),
            "the target was given {u}, not {want}…"
        );
    }
    // The receiver lived as long as the run, no longer.
    assert!(!receiver_on(port), "the receiver outlived the run");
    rt.block_on(srv.shutdown());
}

#[test]
fn webhook_public_url_is_what_the_target_is_given_and_deliveries_come_through_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (srv, root) = rt.block_on(webhook_server());
    let scratch = Scratch::new("public");
    let port = free_port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let (public, seen) = rt.block_on(relay(listen, None));
    let listen = listen.to_string();
    let mut args = vec![
        "--target",
        &root,
        "--long-poll-timeout-ms",
        "500",
        "--webhook-listen",
        &listen,
        "--webhook-public-url",
        &public,
        "--full-transcripts",
    ];
    args.extend(HOOK_CASES);
    let r = run(&scratch, &args, None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r.passed(&HOOK_CASES);
    let urls = r.webhook_urls_given();
    assert!(
        !urls.is_empty(),
        "no webhook subscription in the transcripts"
    );
    for u in &urls {
        assert!(
            u.starts_with(&format!("{public}/hook/")),
            "the target was given {u}, not the public URL {public}"
        );
    }
    // Each case's deliveries went through the relay (the listen address
    // was never given to the target, so they could arrive no other way).
    let seen = seen.lock().unwrap();
    let deliveries: usize = seen.values().map(Vec::len).sum();
    assert!(
        deliveries >= HOOK_CASES.len(),
        "only {deliveries} request(s) came through the public URL: {seen:?}"
    );
    drop(seen);
    rt.block_on(srv.shutdown());
}

/// Setup mistakes in the subscription flags: exit 2 with one
/// `ds-conformance: error:` line (or clap's usage error), before any
/// request reaches the target.
#[test]
fn malformed_subscription_flags_are_exit_2() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A target that counts requests: none may arrive.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let root = rt.block_on({
        let hits = hits.clone();
        async move {
            let app = axum::Router::new().fallback(move || {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { axum::http::StatusCode::NOT_FOUND }
            });
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(l, app).await });
            format!("http://{addr}/v1/stream")
        }
    });
    let scratch = Scratch::new("bad");
    for (flag, value, says) in [
        ("--webhook-public-url", "not a url", "--webhook-public-url"),
        ("--webhook-public-url", "ftp://127.0.0.1:9/", "http"),
        ("--webhook-public-url", "http://127.0.0.1:9/x?y=1", "query"),
        ("--webhook-listen", "localhost:80", "--webhook-listen"),
        ("--lease-granularity-ms", "soon", "--lease-granularity-ms"),
        ("--lease-granularity-ms", "-5", "--lease-granularity-ms"),
        ("--lease-granularity-ms", "600001", "--lease-granularity-ms"),
    ] {
        // `--flag=-5`: a value, not another flag.
        let arg = format!("{flag}={value}");
        let r = run(&scratch, &["--target", &root, &arg], None);
        assert_eq!(r.code, 2, "{flag} {value}: {}\n{}", r.stdout, r.stderr);
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:") || l.starts_with("ds-conformance: error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{flag} {value}: {}", r.stderr);
        assert!(errors[0].contains(says), "{flag} {value}: {}", errors[0]);
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // A listen address that cannot be bound (taken): exit 2, one line.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (srv, good_root) = rt.block_on(webhook_server());
    let r = run(
        &scratch,
        &[
            "--target",
            &good_root,
            "--long-poll-timeout-ms",
            "500",
            "--webhook-listen",
            &addr,
            HOOK_CASES[0],
        ],
        None,
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("ds-conformance: error:")
                && l.contains("cannot bind the webhook receiver on")
                && l.contains(&addr)),
        "{}",
        r.stderr
    );
    drop(taken);
    rt.block_on(srv.shutdown());
}

/// Retries that reach the receiver 4 s late (the relay holds every request
/// after the first to a mailbox): outside the retry case's default timing
/// (failed on SUB-WEBHOOK-RETRY, exit 1), inside it with
/// `--lease-granularity-ms 6000` (passed, exit 0).
#[test]
fn lease_granularity_widens_the_timing_the_cases_allow() {
    const CASE: &str = "subscriptions::webhook::retries_back_off";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (srv, root) = rt.block_on(webhook_server());
    let scratch = Scratch::new("granularity");
    let mut results = Vec::new();
    for granularity in [None, Some("6000")] {
        let port = free_port();
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let (public, seen) = rt.block_on(relay(listen, Some(Duration::from_secs(4))));
        let listen = listen.to_string();
        let mut args = vec![
            "--target",
            &root,
            "--long-poll-timeout-ms",
            "500",
            "--webhook-listen",
            &listen,
            "--webhook-public-url",
            &public,
        ];
        if let Some(g) = granularity {
            args.extend(["--lease-granularity-ms", g]);
        }
        args.push(CASE);
        let r = run(&scratch, &args, None);
        let retried = seen.lock().unwrap().values().any(|at| at.len() >= 2);
        assert!(retried, "no retry came through the relay: {}", r.stdout);
        results.push(r);
    }
    let (late, widened) = (&results[0], &results[1]);
    assert_eq!(late.code, 1, "{}\n{}", late.stdout, late.stderr);
    let (outcome, message) = late.outcome(CASE);
    assert_eq!(outcome, "failed", "{message}");
    assert_eq!(
        late.report["cases"][0]["failed_requirement"], "SUB-WEBHOOK-RETRY",
        "{message}"
    );
    assert!(message.contains("retry 1"), "{message}");
    assert_eq!(widened.code, 0, "{}\n{}", widened.stdout, widened.stderr);
    widened.passed(&[CASE]);
    rt.block_on(srv.shutdown());
}

/// The reference app behind a middleware answering 404 to everything under
/// `__ds` (a server without subscriptions); returns its stream root.
async fn no_subscriptions() -> String {
    let state = ds_reference_server::AppState::new(ds_reference_server::Config {
        long_poll_timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .unwrap();
    let app = ds_reference_server::app(state).layer(axum::middleware::from_fn(
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            if req.uri().path().contains("/__ds/") {
                axum::http::StatusCode::NOT_FOUND.into_response()
            } else {
                next.run(req).await
            }
        },
    ));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}/v1/stream")
}

#[test]
fn require_subscriptions_turns_unimplemented_into_failures() {
    let cases = [
        "subscriptions::pull_wake::claim_fields",
        "subscriptions::webhook::jwks_document",
        "subscriptions::config::",
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = rt.block_on(no_subscriptions());
    let scratch = Scratch::new("require");
    let base = ["--target", &root, "--long-poll-timeout-ms", "500"];
    let sub_cases = |r: &Run| -> Vec<(String, String, String)> {
        r.report["cases"]
            .as_array()
            .expect("report")
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or("").to_string(),
                    c["outcome"].as_str().unwrap_or("").to_string(),
                    c["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };

    let plain = run(&scratch, &[&base[..], &cases[..]].concat(), None);
    assert_eq!(plain.code, 0, "{}\n{}", plain.stdout, plain.stderr);
    let got = sub_cases(&plain);
    assert!(got.len() >= 3, "{got:?}");
    for (id, outcome, message) in &got {
        assert!(id.starts_with("subscriptions::"), "{id}");
        assert_eq!(outcome, "unimplemented", "{id}: {message}");
        assert!(
            message.contains("subscriptions is not implemented by the target")
                && message.contains("404"),
            "{id}: {message}"
        );
    }
    assert!(
        plain
            .stdout
            .lines()
            .any(|l| l.starts_with("conformance: ") && l.contains("unimplemented")),
        "{}",
        plain.stdout
    );

    let required = run(
        &scratch,
        &[&base[..], &["--require", "subscriptions"], &cases[..]].concat(),
        None,
    );
    assert_eq!(required.code, 1, "{}\n{}", required.stdout, required.stderr);
    let got_required = sub_cases(&required);
    assert_eq!(got_required.len(), got.len());
    for (id, outcome, message) in &got_required {
        assert_eq!(outcome, "failed", "{id}: {message}");
        assert!(
            message.contains("--require subscriptions was given") && message.contains("404"),
            "{id}: {message}"
        );
    }
}
