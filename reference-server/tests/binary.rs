//! The `ds-server` binary as an operator sees it: the per-request log
//! (`--log-requests`, `RUST_LOG=ds_server=debug`), no ANSI colours when
//! stderr is not a terminal, and one clear line (at once, exit 1) when a
//! second server is started on the same `--data-dir`; `--sse-lifetime-ms`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `ds-server` on 127.0.0.1:0; killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ds-server"));
        cmd.args(["--port", "0"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("ds-server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// One request over a fresh connection; returns the status line.
    fn request(&self, method: &str, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines().next().unwrap_or("").to_string()
    }

    /// Stop the server; its stderr.
    fn stop(mut self) -> String {
        // Let the log lines of the last answer reach stderr.
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let _ = self.child.wait();
        err
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logged_requests(args: &[&str], env: &[(&str, &str)]) -> String {
    let srv = Server::start(args, env);
    assert!(srv.request("PUT", "/v1/stream/log-a").contains("201"));
    assert!(srv
        .request("GET", "/v1/stream/log-a?offset=-1")
        .contains("200"));
    srv.stop()
}

#[test]
fn log_requests_flag_logs_method_path_status_latency() {
    let err = logged_requests(&["--log-requests"], &[]);
    let line = err
        .lines()
        .find(|l| l.contains("PUT") && l.contains("/v1/stream/log-a"))
        .unwrap_or_else(|| panic!("no request line in:\n{err}"));
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("status=201"), "{line}");
    assert!(line.contains("latency_ms="), "{line}");
    assert!(
        err.contains("method=GET") && err.contains("status=200"),
        "{err}"
    );
    // stderr is a pipe here: no colour escapes in files.
    assert!(!err.contains('\u{1b}'), "ANSI escapes on a pipe:\n{err:?}");
}

#[test]
fn rust_log_ds_server_debug_shows_requests_and_default_does_not() {
    let err = logged_requests(&[], &[("RUST_LOG", "ds_server=debug")]);
    assert!(
        err.contains("method=PUT") && err.contains("status=201"),
        "{err}"
    );
    let quiet = logged_requests(&[], &[]);
    assert!(
        !quiet.contains("method=PUT"),
        "requests logged by default:\n{quiet}"
    );
    assert!(quiet.contains("ds-server started"), "{quiet}");
    assert!(!quiet.contains('\u{1b}'), "{quiet:?}");
}

#[test]
fn second_server_on_the_same_data_dir_fails_at_once() {
    let dir = std::env::temp_dir().join(format!("ds-binary-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let first = Server::start(&["--data-dir", d], &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_ds-server"))
        .args(["--port", "0", "--data-dir", d])
        .env_remove("RUST_LOG")
        .output()
        .expect("second ds-server runs");
    assert!(!out.status.success(), "second server did not fail");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{err}");
    assert!(lines[0].contains("in use by another ds-server"), "{err}");
    assert!(out.stdout.is_empty(), "it must not say it is listening");
    // The process lock is taken before the store opens, so this is not the
    // store's 5 s wait for an in-process restart ending in a doubled error.
    assert!(lines[0].contains("ds-server.lock"), "{err}");
    // The first server is unharmed.
    assert!(first
        .request("PUT", "/v1/stream/still-here")
        .contains("201"));
    drop(first);
    // Once it is gone, the directory can be used again.
    let again = Server::start(&["--data-dir", d], &[]);
    assert!(again
        .request("GET", "/v1/stream/still-here?offset=-1")
        .contains("200"));
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sse_lifetime_flag_ends_sse_responses_and_refuses_bad_values() {
    // With --sse-lifetime-ms 300 an SSE response ends by itself (the
    // default, 60 s, would outlast the 10 s read timeout and fail this).
    let srv = Server::start(&["--sse-lifetime-ms", "300"], &[]);
    assert!(srv.request("PUT", "/v1/stream/life").contains("201"));
    let mut s = std::net::TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /v1/stream/life?offset=-1&live=sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("the SSE response ends within the lifetime");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("event: control"), "{out}");
    drop(srv);

    for bad in ["0", "-5", "soon", "86400001"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ds-server"))
            .args(["--port", "0", &format!("--sse-lifetime-ms={bad}")])
            .output()
            .expect("ds-server runs");
        assert!(
            !out.status.success(),
            "--sse-lifetime-ms {bad} was accepted"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--sse-lifetime-ms"), "{bad}: {err}");
        assert!(out.stdout.is_empty(), "{bad}: it must not start");
    }
}
