//! Command line: the harness's own flags plus libtest's (FILTER, --exact,
//! --skip, --list, --test-threads, -q, --format), then the run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::client::Target;
use crate::expectations::Expectations;
use crate::requirements::Requirements;
use crate::runner::{print_epilogue, run, RunSettings};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ds-conformance",
    version,
    about = "Black-box conformance suite for Durable Streams servers"
)]
pub struct Cli {
    /// Stream root URL of the server under test (any path prefix, e.g.
    /// http://127.0.0.1:4437/v1/stream). Omitted: start the reference server
    /// in-process on 127.0.0.1:0 and test that.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Extra header for every request, e.g. 'Authorization: Bearer …' (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The target's long-poll timeout, so cases waiting for a 204 know how long to wait.
    #[arg(long, value_name = "MS")]
    pub long_poll_timeout_ms: Option<u64>,
    /// Budget for one case (default: 60 s, or more for long long-poll timeouts).
    #[arg(long, value_name = "MS")]
    pub case_timeout_ms: Option<u64>,
    /// Fail the run on SHOULD-level failures too.
    #[arg(long)]
    pub strict: bool,
    /// TOML file of case ids expected to fail on this target, with reasons.
    #[arg(long, value_name = "FILE")]
    pub expectations: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report (one testsuite per area).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary (a table per spec section).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the requirements no case checks, then exit.
    #[arg(long)]
    pub coverage: bool,
    /// Run only shard K of N (stable by case id), e.g. 2/4.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<(u32, u32)>,
    /// Seed for randomised cases and properties (default: random, always printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Property-based testing: sequences per property.
    #[arg(long, value_name = "N")]
    pub cases: Option<u32>,
    /// Property-based testing: longest operation sequence.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Shell command that restarts the target and returns once it is ready
    /// (enables the durability:: group).
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,
    /// Directory for failure artifacts such as replay scripts.
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// Store of the embedded reference server (no --target): memory or file.
    #[arg(long, default_value = "memory", value_parser = ["memory", "file"])]
    pub embedded_store: String,

    // ---- libtest-compatible flags ----
    /// Run only cases whose id contains FILTER (e.g. `fork::` or `sse`).
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// FILTER must match the case id exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip cases whose id contains PATTERN (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// List cases instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Number of cases run at once (cases are I/O-bound; default 16).
    #[arg(long, value_name = "N")]
    pub test_threads: Option<usize>,
    /// Terse output (one character per case).
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format: pretty or terse.
    #[arg(long, value_parser = ["pretty", "terse"])]
    pub format: Option<String>,
    /// Accepted for libtest compatibility (cases print nothing).
    #[arg(long, hide = true)]
    pub nocapture: bool,
    /// Accepted for libtest compatibility.
    #[arg(long, hide = true)]
    pub show_output: bool,
    /// Accepted for libtest compatibility: run ignored (skipped) cases only.
    #[arg(long, hide = true)]
    pub ignored: bool,
    /// Accepted for libtest compatibility.
    #[arg(long, hide = true)]
    pub include_ignored: bool,
    /// Color: auto, always, never.
    #[arg(long, hide = true)]
    pub color: Option<String>,
}

fn parse_partition(s: &str) -> Result<(u32, u32), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 1/4")?;
    let k: u32 = k
        .trim()
        .parse()
        .map_err(|_| "K must be a positive integer")?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| "N must be a positive integer")?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("partition {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

fn parse_header(h: &str) -> Result<(String, String), String> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| format!("--header {h:?}: expected 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("--header {h:?}: invalid header name"));
    }
    let value = value.trim();
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(format!("--header {h:?}: invalid header value"));
    }
    Ok((name.to_string(), value.to_string()))
}

impl Cli {
    fn libtest_args(&self) -> libtest_mimic::Arguments {
        libtest_mimic::Arguments {
            filter: self.filter.clone(),
            exact: self.exact,
            skip: self.skip.clone(),
            list: self.list,
            test_threads: Some(self.test_threads.unwrap_or(16).max(1)),
            quiet: self.quiet,
            ignored: self.ignored,
            include_ignored: self.include_ignored,
            format: match self.format.as_deref() {
                Some("terse") => Some(libtest_mimic::FormatSetting::Terse),
                Some(_) => Some(libtest_mimic::FormatSetting::Pretty),
                None if self.quiet => Some(libtest_mimic::FormatSetting::Terse),
                None => None,
            },
            color: match self.color.as_deref() {
                Some("always") => Some(libtest_mimic::ColorSetting::Always),
                Some("never") => Some(libtest_mimic::ColorSetting::Never),
                _ => None,
            },
            ..Default::default()
        }
    }
}

/// Entry point shared by the binary and the in-process test harness.
pub fn main_with(cli: Cli) -> ExitCode {
    match try_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ds-conformance: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn try_main(cli: Cli) -> Result<ExitCode, String> {
    let reqs = Arc::new(Requirements::embedded());
    let cases = crate::cases::all();
    if cli.coverage {
        crate::coverage::print(&reqs, &cases);
        return Ok(ExitCode::SUCCESS);
    }
    let expectations = match &cli.expectations {
        Some(p) => Expectations::load(p)?,
        None => Expectations::default(),
    };
    for id in expectations.reasons.keys() {
        if !cases.iter().any(|c| &c.id == id) {
            eprintln!("ds-conformance: warning: expectations name unknown case {id}");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;

    let mut embedded = None;
    let root = match &cli.target {
        Some(t) => t.clone(),
        None if cli.list => "http://127.0.0.1:9/embedded".to_string(),
        None => {
            let server = rt.block_on(crate::embedded::start(&cli.embedded_store))?;
            let url = server.stream_root();
            embedded = Some(server);
            url
        }
    };
    let mut target = Target::new(&root)?;
    for h in &cli.headers {
        target.headers.push(parse_header(h)?);
    }
    target.long_poll_timeout = Duration::from_millis(match (cli.long_poll_timeout_ms, &embedded) {
        (Some(ms), _) => ms,
        (None, Some(_)) => crate::embedded::LONG_POLL_TIMEOUT_MS,
        (None, None) => 30_000,
    });
    target.case_timeout =
        Duration::from_millis(cli.case_timeout_ms.unwrap_or_else(|| {
            60_000.max(3 * target.long_poll_timeout.as_millis() as u64 + 15_000)
        }));
    if let Some(seed) = cli.seed {
        target.seed = seed;
    }
    if let Some(n) = cli.cases {
        target.prop_cases = n;
    }
    if let Some(n) = cli.max_steps {
        target.prop_max_steps = n.max(1);
    }
    if let Some(d) = &cli.artifacts_dir {
        target.artifacts_dir = d.clone();
    }
    target.restart_cmd = cli.restart_cmd.clone();
    target.restart_hook = embedded.as_ref().and_then(|e| e.restart_hook());
    if !cli.list {
        rt.block_on(target.probe())?;
        println!(
            "ds-conformance: target {} (seed {})",
            target.root, target.seed
        );
    }
    let settings = RunSettings {
        target: Arc::new(target),
        strict: cli.strict,
        expectations,
        partition: cli.partition,
    };
    let (report, ok) = run(&rt, &cli.libtest_args(), settings, cases, reqs);
    if cli.list {
        return Ok(ExitCode::SUCCESS);
    }
    print_epilogue(&report);
    if report.cases.is_empty() {
        // Under `cargo test FILTER` other binaries' filters reach us too:
        // only an unfiltered run that checked nothing is an error.
        if cli.filter.is_none() && cli.skip.is_empty() {
            return Err("no case was selected (partition?): nothing was checked".into());
        }
        eprintln!("ds-conformance: warning: no case matched the filter; nothing was checked");
    }
    let write = |path: &Option<PathBuf>, text: String| -> Result<(), String> {
        if let Some(p) = path {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            println!("wrote {}", p.display());
        }
        Ok(())
    };
    write(&cli.json, report.to_json())?;
    write(&cli.junit, report.to_junit())?;
    write(&cli.markdown, report.to_markdown())?;
    if let Some(server) = embedded {
        rt.block_on(server.stop());
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
