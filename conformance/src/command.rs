//! `--restart-cmd` / `--kill-cmd`: shell commands that act on the target.
//! A command that fails or outlives its time is a setup error (exit 2,
//! its stderr shown), never a verdict on the server; its whole process
//! group is killed so nothing it started lingers.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// Run `sh -c cmd` in its own process group; `what` names it in errors
/// ("restart command"). Ok once it exits 0 within `limit`.
pub async fn run(what: &str, cmd: &str, limit: Duration) -> Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run the {what} {cmd:?}: {e}"))?;
    let pgid = child.id();
    let mut stderr = child.stderr.take();
    let mut err_text = Vec::new();
    let waited = tokio::time::timeout(limit, async {
        if let Some(s) = stderr.as_mut() {
            // Read to EOF or until the command exits (a background child
            // may hold stderr open).
            let mut buf = [0u8; 4096];
            loop {
                tokio::select! {
                    n = s.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => if err_text.len() < 64 * 1024 { err_text.extend_from_slice(&buf[..n]) },
                    },
                    st = child.wait() => return st,
                }
            }
        }
        child.wait().await
    })
    .await;
    let stderr_text = || {
        let t = String::from_utf8_lossy(&err_text).trim().to_string();
        if t.is_empty() {
            String::new()
        } else {
            format!("; its stderr:\n{t}")
        }
    };
    match waited {
        Err(_) => {
            kill_group(pgid);
            Err(format!(
                "the {what} {cmd:?} did not finish within {} s (its process group was killed){}",
                limit.as_secs(),
                stderr_text()
            ))
        }
        Ok(Err(e)) => {
            kill_group(pgid);
            Err(format!("the {what} {cmd:?} could not be waited for: {e}"))
        }
        Ok(Ok(status)) if !status.success() => Err(format!(
            "the {what} {cmd:?} exited with {status}{}",
            stderr_text()
        )),
        Ok(Ok(_)) => Ok(()),
    }
}

/// SIGKILL the process group `pgid` (the command and everything it started).
fn kill_group(pgid: Option<u32>) {
    if let Some(pid) = pgid {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failure_shows_stderr_and_a_hang_is_killed() {
        let e = run(
            "restart command",
            "echo boom >&2; exit 3",
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(e.contains("boom") && e.contains("exit status: 3"), "{e}");
        assert!(run("restart command", "true", Duration::from_secs(10))
            .await
            .is_ok());
        let marker = std::env::temp_dir().join(format!("ds-cmd-test-{}", std::process::id()));
        let cmd = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = std::time::Instant::now();
        let e = run("restart command", &cmd, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(e.contains("did not finish"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The background child was in the group and died with it.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            !marker.exists(),
            "a child of the timed-out command survived"
        );
    }
}
