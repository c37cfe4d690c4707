//! Replays are usable: a failing case's curl transcript runs as pasted into
//! bash, and a property's replay script exits 1 when it reproduces the
//! failure (the broken server) and 0 when it does not (the reference).

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use ds_conformance::client::Session;
use ds_conformance::runner::run_case;
use ds_conformance::testing::bite;

/// Run `script` with bash (TARGET overridden when given), bounded.
pub(crate) fn bash(script: &str, target: Option<&str>) -> (i32, String) {
    let mut cmd = std::process::Command::new("timeout");
    cmd.args(["120", "bash", "-c", script]);
    if let Some(t) = target {
        cmd.env("TARGET", t);
    }
    let out = cmd.output().expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A create answered 200 instead of 201: the failure's transcript, pasted
/// into `bash -eu`, runs every request (a quoting or comment mistake would
/// stop it) and shows the server's answers.
async fn failure_transcript_runs_as_pasted() {
    let srv = crate::common::remapping_status(Method::PUT, 201, 200).await;
    let id = "create::basic::new_stream_is_201";
    let bitten = bite(&srv.root).case(id).fails_with("CREATE-NEW-201").await;
    let transcript = &bitten.transcript;
    assert!(transcript.contains("curl "), "{transcript}");
    let (code, out) = tokio::task::spawn_blocking({
        let t = format!("set -eu\n{transcript}");
        move || bash(&t, None)
    })
    .await
    .unwrap();
    assert_eq!(
        code, 0,
        "transcript did not run as pasted:\n{transcript}\n---\n{out}"
    );
    assert!(out.contains("HTTP/1.1 200"), "{out}");
}

/// Stream-Seq ignored: the property's replay script exits 1 against that
/// server (it reproduced the failure) and 0 against the reference server.
async fn replay_script_exits_1_only_where_the_failure_reproduces() {
    let broken = crate::common::dropping_request_headers(&["stream-seq"]).await;
    let mut t = Session::new(&broken.root).expect("target");
    t.target.long_poll_timeout = Duration::from_millis(500);
    t.run.case_timeout = Duration::from_secs(90);
    t.run.seed = 13;
    t.run.prop_cases = 64;
    let artifacts = ScratchDir::new("ds-replay-test");
    t.run.artifacts_dir = artifacts.0.clone();
    let case = ds_conformance::cases::all()
        .into_iter()
        .find(|c| c.id == "props::sequences::single_stream")
        .expect("case exists");
    let f = run_case(&case, Arc::new(t))
        .await
        .0
        .expect_err("the property bites");
    let path = f
        .message
        .split("replay script: ")
        .nth(1)
        .and_then(|s| s.lines().next())
        .unwrap_or_else(|| panic!("no replay script in:\n{}", f.message))
        .to_string();
    let script = std::fs::read_to_string(&path).expect("script written");
    let (code, out) = tokio::task::spawn_blocking({
        let s = script.clone();
        move || bash(&s, None)
    })
    .await
    .unwrap();
    assert_eq!(
        code, 1,
        "broken server: expected exit 1 (reproduced)\n{script}\n---\n{out}"
    );
    assert!(out.contains("REPRODUCED"), "{out}");

    let good = crate::common::reference().await;
    let root = good.root.clone();
    let (code, out) = tokio::task::spawn_blocking({
        let s = script.clone();
        move || bash(&s, Some(&root))
    })
    .await
    .unwrap();
    assert_eq!(
        code, 0,
        "reference server: expected exit 0\n{script}\n---\n{out}"
    );
    assert!(out.contains("not reproduced"), "{out}");
}

/// A folder under the temp dir named for this process, removed with what
/// it holds when dropped, so a passing or a panicking test leaves nothing.
pub struct ScratchDir(pub std::path::PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        ScratchDir(std::env::temp_dir().join(format!("{prefix}-{}", std::process::id())))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio failure_transcript_runs_as_pasted,
        tokio replay_script_exits_1_only_where_the_failure_reproduces,
    ]
}
