//! README.md's "Testing your server in 5 minutes" stays true: every ` ```sh `
//! block of that section runs, in order, in a scratch folder, against a
//! reference server on 127.0.0.1:0 (`4437` → its port, `30000` → its
//! long-poll timeout), with this build's `ds-conformance` first on PATH. A
//! block must exit 0, or the status its `# exit N` comment announces.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LONG_POLL_MS: u64 = 1000;

/// The fenced ` ```sh ` blocks of the section.
fn sh_blocks(readme: &str) -> Vec<String> {
    let start = readme
        .find("## Testing your server in 5 minutes")
        .expect("README has the 5-minute section");
    let rest = &readme[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in section.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```sh") => cur = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn expected_exit(block: &str) -> i32 {
    block
        .lines()
        .find_map(|l| l.trim().strip_prefix("# exit "))
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn five_minute_walkthrough_commands_work() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let blocks = sh_blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "expected the preflight, run, reports and expectations blocks"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt
        .block_on(ds_reference_server::spawn(ds_reference_server::Config {
            long_poll_timeout: Duration::from_millis(LONG_POLL_MS),
            ..Default::default()
        }))
        .expect("server");
    let port = srv.addr.port().to_string();
    let bin = Path::new(env!("CARGO_BIN_EXE_ds-conformance"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = std::env::temp_dir().join(format!("ds-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for block in &blocks {
        assert!(
            block.contains("127.0.0.1:4437"),
            "block does not target the example server:\n{block}"
        );
        let script = block
            .replace("127.0.0.1:4437", &format!("127.0.0.1:{port}"))
            .replace(
                "--long-poll-timeout-ms 30000",
                &format!("--long-poll-timeout-ms {LONG_POLL_MS}"),
            );
        let out = Command::new("timeout")
            .args(["300", "bash", "-c", &format!("set -e\n{script}")])
            .current_dir(&dir)
            .env("PATH", &path)
            .output()
            .expect("bash runs");
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(
            code,
            expected_exit(block),
            "README block exited {code}:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The walkthrough's claims: the preflight measured the timeout, reports exist.
    assert!(dir.join("report.md").exists() && dir.join("junit.xml").exists());
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(srv.shutdown());
}
