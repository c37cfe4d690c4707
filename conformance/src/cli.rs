//! Command line: the harness's flags plus the libtest ones `cargo test`
//! and test runners pass (FILTER, --exact, --skip, --list, --test-threads,
//! -q, --format), then the run.
//!
//! Exit codes: 0 the target conforms (no MUST failure, no unexpected
//! pass); 1 conformance failures; 2 usage or setup errors (bad flag,
//! unreachable or non-Durable-Streams target, failing restart command,
//! bad expectations file) — never blamed on the server under test.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::client::{RunConfig, Session, Target};
use crate::expectations::Expectations;
use crate::outcome::Policy;
use crate::requirements::Requirements;
use crate::runner::{list, print_epilogue, run, Format, RunSettings, Selection};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ds-conformance",
    version,
    about = "Black-box conformance suite for Durable Streams servers",
    after_help = "Exit codes: 0 conformant, 1 conformance failures, 2 usage or setup errors."
)]
pub struct Cli {
    /// Stream root URL of the server under test (http or https, any path
    /// prefix, e.g. http://127.0.0.1:4437/v1/stream). Omitted: start the
    /// reference server in-process on 127.0.0.1:0 and test that.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Accept any TLS certificate (self-signed test servers); https only.
    #[arg(long)]
    pub insecure: bool,
    /// Extra header for every request, e.g. 'Authorization: Bearer …' (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The target's long-poll timeout, so cases waiting for a 204 know how
    /// long to wait [default: measured by the preflight; embedded server: 1000]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub long_poll_timeout_ms: Option<u64>,
    /// Budget for one case [default: 60000, or 3 × the long-poll timeout + 15000 if longer]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub case_timeout_ms: Option<u64>,
    /// Fail the run on SHOULD-level failures too.
    #[arg(long)]
    pub strict: bool,
    /// An optional feature group the target must implement (e.g.
    /// subscriptions): its `unimplemented` verdicts become failures (repeatable).
    #[arg(long = "require", value_name = "FEATURE")]
    pub require: Vec<String>,
    /// TOML file of case ids expected to fail on this target, with reasons.
    #[arg(long, value_name = "FILE")]
    pub expectations: Option<PathBuf>,
    /// Write a JSON report (`-`: stdout; the console then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Keep every case's transcript in the JSON report (default: failures only).
    #[arg(long)]
    pub full_transcripts: bool,
    /// Write a JUnit XML report (one testsuite per area; `-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown report (failures first, then a table per spec section; `-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the requirements no case checks, then exit.
    #[arg(long)]
    pub coverage: bool,
    /// Only the preflight: create, append to, read, long-poll and delete one
    /// stream, print the measured long-poll timeout, exit (0 ok, 2 not a
    /// Durable Streams stream root).
    #[arg(long)]
    pub preflight: bool,
    /// Run only shard K of N (stable by case id), e.g. 2/4.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<(u32, u32)>,
    /// Seed for randomised cases and properties [default: random, always printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Property-based testing: sequences per property.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub cases: u32,
    /// Property-based testing: longest operation sequence.
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_steps: u64,
    /// Shell command that restarts the target and returns once it is ready
    /// (enables the durability:: group).
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,
    /// Shell command that kills the target abruptly (with --restart-cmd:
    /// enables the crash checks).
    #[arg(long, value_name = "CMD")]
    pub kill_cmd: Option<String>,
    /// crash:: group: kill/restart rounds per case (seeded).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub crash_rounds: u32,
    /// Longest a --restart-cmd or --kill-cmd may run before it is killed
    /// (with its process group) and the run stops with a setup error.
    #[arg(long, value_name = "MS", default_value_t = 120_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub command_timeout_ms: u64,
    /// Directory for failure artifacts such as replay scripts [default: $TMPDIR/ds-conformance]
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// Address the harness's webhook receiver binds (subscriptions::, §7.1),
    /// default 127.0.0.1:0.
    #[arg(long, value_name = "ADDR")]
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// The receiver's base URL as the target reaches it (a target in a
    /// container cannot reach the harness's loopback), e.g. http://host.docker.internal:8099.
    #[arg(long, value_name = "URL")]
    pub webhook_public_url: Option<String>,
    /// Granularity of the target's timers (leases, webhook retries): slack
    /// added to every wait on one, 0 to 600000 (default 400).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub lease_granularity_ms: Option<u64>,
    /// Bearer token for pull-wake claims (§7.2 `Authorization: Bearer <service-jwt>`);
    /// also runs the case checking that claims without it are refused (skipped
    /// otherwise). Without --target the embedded server requires it (or a
    /// random one).
    #[arg(long, value_name = "TOKEN")]
    pub service_token: Option<String>,
    /// Write each case's normalised transcript to DIR (one .snap file per
    /// case; see the README's "Snapshots").
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Compare each case's normalised transcript with DIR's snapshot and
    /// print the first differing exchange; differences fail the run.
    #[arg(long, value_name = "DIR")]
    pub compare_snapshots: Option<PathBuf>,
    /// With --compare-snapshots: rewrite differing snapshots, do not fail.
    #[arg(long, requires = "compare_snapshots")]
    pub accept: bool,
    /// Store of the embedded reference server (no --target): memory or file.
    #[arg(long, default_value = "memory", value_parser = ["memory", "file"])]
    pub embedded_store: String,

    // ---- selection and console (libtest-compatible) ----
    /// Run only cases whose id starts with one of these (e.g. `fork:: ttl::`).
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// FILTERs must match the case id exactly.
    #[arg(long)]
    pub exact: bool,
    /// FILTERs and --skip match anywhere in the id, not only at its start.
    #[arg(long)]
    pub substring: bool,
    /// Skip cases whose id starts with PATTERN (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// List the selected cases (`id: test`, as libtest does) instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Number of cases run at once (cases are I/O-bound; those that wait on
    /// the target's clock for seconds start first and mostly sleep, and 24
    /// leaves the other cases room beside them).
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub test_threads: u64,
    /// Terse output (one character per case); same as --format terse.
    #[arg(short, long)]
    pub quiet: bool,
    /// Console output: pretty (a line per case), terse (a character per
    /// case) or json (a JSON object per case, then the summary).
    #[arg(long, value_parser = ["pretty", "terse", "json"])]
    pub format: Option<String>,
    /// Accepted for libtest compatibility (cases print nothing).
    #[arg(long, hide = true)]
    pub nocapture: bool,
    /// Accepted for libtest compatibility.
    #[arg(long, hide = true)]
    pub show_output: bool,
    /// Accepted for libtest compatibility: no case is "ignored", so this selects none.
    #[arg(long, hide = true)]
    pub ignored: bool,
    /// Accepted for libtest compatibility.
    #[arg(long, hide = true)]
    pub include_ignored: bool,
    /// Accepted for libtest compatibility.
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

pub(crate) fn parse_header(h: &str) -> Result<(String, String), String> {
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
    fn selection(&self) -> Selection {
        Selection {
            // `--ignored` (test runners listing ignored tests): none are.
            filters: if self.ignored {
                vec!["\0".into()]
            } else {
                self.filters.clone()
            },
            exact: self.exact,
            anywhere: self.substring,
            skip: self.skip.clone(),
            partition: self.partition,
        }
    }

    fn format(&self) -> Format {
        match self.format.as_deref() {
            Some("terse") => Format::Terse,
            Some("json") => Format::Json,
            Some(_) => Format::Pretty,
            None if self.quiet => Format::Terse,
            None => Format::Pretty,
        }
    }

    /// Report files, checked before the run so a typo costs seconds, not a run.
    fn outputs(&self) -> [(&'static str, Option<&PathBuf>); 3] {
        [
            ("--json", self.json.as_ref()),
            ("--junit", self.junit.as_ref()),
            ("--markdown", self.markdown.as_ref()),
        ]
    }
}

fn is_stdout(p: &std::path::Path) -> bool {
    p.as_os_str() == "-"
}

/// Fail now if a report could not be written later.
fn check_output(flag: &str, p: &std::path::Path) -> Result<(), String> {
    if is_stdout(p) {
        return Ok(());
    }
    if p.is_dir() {
        return Err(format!("{flag} {}: is a directory", p.display()));
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{flag} {}: folder {} does not exist",
            p.display(),
            dir.display()
        ));
    }
    let existed = p.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(|e| format!("{flag} {}: cannot write: {e}", p.display()))?;
    if !existed {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// `--webhook-public-url`: an absolute http(s) URL with a host and no
/// query or fragment (mailbox paths are appended to it).
fn check_public_url(u: &str) -> Result<String, String> {
    let bad = |why: String| format!("--webhook-public-url {u:?}: {why}");
    let parsed = reqwest::Url::parse(u).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL".into()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host".into()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad(
            "must not have a query or fragment (mailbox paths are appended to it)".into(),
        ));
    }
    Ok(u.to_string())
}

/// Entry point shared by the binary and the in-process test harness.
pub fn main_with(cli: Cli) -> ExitCode {
    ExitCode::from(exit_code(cli))
}

/// Run and return the exit code: 0 conformant, 1 conformance failures,
/// 2 usage or setup errors (printed as one `ds-conformance: error:` line).
pub fn exit_code(cli: Cli) -> u8 {
    match try_main(cli) {
        Ok(code) => code,
        Err(e) => {
            crate::errln!("ds-conformance: error: {e}");
            2
        }
    }
}

fn try_main(cli: Cli) -> Result<u8, String> {
    let reqs = Arc::new(Requirements::embedded());
    let cases = crate::cases::all();
    let selection = cli.selection();
    if cli.coverage {
        crate::coverage::print(&reqs, &cases);
        return Ok(0);
    }
    if cli.list {
        list(&cases, &selection, cli.format.as_deref() == Some("terse"));
        return Ok(0);
    }
    let format = cli.format();
    for (flag, path) in cli.outputs() {
        if let Some(p) = path {
            check_output(flag, p)?;
        }
    }
    if cli
        .outputs()
        .iter()
        .filter(|(_, p)| p.is_some_and(|p| is_stdout(p)))
        .count()
        > 1
    {
        return Err("only one report can go to stdout (-)".into());
    }
    if cli
        .outputs()
        .iter()
        .any(|(_, p)| p.is_some_and(|p| is_stdout(p)))
    {
        crate::runner::console_to_stderr();
    }
    let snapshots = crate::snapshot::SnapshotArgs {
        write: cli.snapshot_dir.clone(),
        compare: cli.compare_snapshots.clone(),
        accept: cli.accept,
    };
    snapshots.check()?;
    // Checked before anything contacts the target.
    let webhook_public_url = match &cli.webhook_public_url {
        Some(u) => Some(check_public_url(u)?),
        None => None,
    };
    let expectations = match &cli.expectations {
        Some(p) => Expectations::load(p)?,
        None => Expectations::default(),
    };
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let unknown = expectations.unknown_ids(&ids);
    if !unknown.is_empty() {
        let list = unknown.join(", ");
        if selection.is_filtered() {
            // A filtered run (e.g. `cargo test FILTER`) may be an older or
            // newer catalog's slice: say so, do not stop.
            crate::errln!("ds-conformance: warning: the expectations name unknown cases: {list}");
        } else {
            return Err(format!(
                "the expectations file names cases that do not exist (misspelt or removed): {list}"
            ));
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;

    let mut embedded = None;
    let mut embedded_token = None;
    let root = match &cli.target {
        Some(t) => t.clone(),
        None => {
            // Claims need a service token there, so the service-token
            // case runs too (the given one, else a fresh random one).
            let token = cli
                .service_token
                .clone()
                .unwrap_or_else(|| format!("embedded-{:016x}", rand::random::<u64>()));
            let server = rt.block_on(crate::embedded::start_with(
                &cli.embedded_store,
                Some(token.clone()),
            ))?;
            embedded_token = Some(token);
            let url = server.stream_root();
            embedded = Some(server);
            url
        }
    };
    let mut target = Target::with_tls(&root, cli.insecure)?;
    for h in &cli.headers {
        target.headers.push(parse_header(h)?);
    }
    let mut run_config = RunConfig::new();
    // Is it a Durable Streams server, and what is its long-poll timeout?
    let given = cli.long_poll_timeout_ms.map(Duration::from_millis);
    let findings = rt.block_on(crate::preflight::run(
        &target,
        &run_config.run_id,
        given,
        embedded.is_none(),
    ))?;
    for w in &findings.warnings {
        crate::errln!("ds-conformance: {w}");
    }
    target.long_poll_timeout = match (given, &embedded, findings.long_poll) {
        (Some(g), _, _) => g,
        (None, Some(_), _) => Duration::from_millis(crate::embedded::LONG_POLL_TIMEOUT_MS),
        (None, None, Some(m)) => {
            crate::runner::info(&format!(
                "ds-conformance: preflight measured the target's long-poll timeout at about {} ms \
                 (--long-poll-timeout-ms overrides)",
                m.as_millis()
            ));
            m
        }
        (None, None, None) => Duration::from_secs(30),
    };
    if cli.preflight {
        let measured = match findings.long_poll {
            Some(m) => format!("long-poll timeout measured at about {} ms", m.as_millis()),
            None => "long-poll timeout not measured".to_string(),
        };
        crate::outln!(
            "preflight ok: {}: created, appended to, read back and deleted a stream; {measured}",
            target.root
        );
        if let Some(server) = embedded {
            rt.block_on(server.stop());
        }
        return Ok(0);
    }
    run_config.case_timeout =
        Duration::from_millis(cli.case_timeout_ms.unwrap_or_else(|| {
            60_000.max(3 * target.long_poll_timeout.as_millis() as u64 + 15_000)
        }));
    if let Some(seed) = cli.seed {
        run_config.seed = seed;
    }
    run_config.prop_cases = cli.cases;
    run_config.prop_max_steps = cli.max_steps as usize;
    if let Some(d) = &cli.artifacts_dir {
        run_config.artifacts_dir = d.clone();
    }
    run_config.control.restart_cmd = cli.restart_cmd.clone();
    run_config.control.kill_cmd = cli.kill_cmd.clone();
    run_config.control.crash_rounds = cli.crash_rounds;
    run_config.control.command_timeout = Duration::from_millis(cli.command_timeout_ms);
    target.subs.webhook_public_url = webhook_public_url;
    target.subs.webhook_listen = cli.webhook_listen;
    if let (Some(addr), false) = (cli.webhook_listen, cli.list) {
        // An explicit address that cannot be bound is a setup mistake.
        let rx = rt.block_on(crate::subs::Receiver::start(
            Some(addr),
            target.subs.webhook_public_url.clone(),
        ))?;
        let _ = target.subs.receiver.set(Ok(Arc::new(rx)));
    }
    if let Some(ms) = cli.lease_granularity_ms {
        target.subs.timer_slack = Duration::from_millis(ms);
    }
    target.subs.service_token = cli.service_token.clone().or(embedded_token);
    run_config.control.restart_hook = embedded.as_ref().and_then(|e| e.restart_hook());
    let session = Session {
        target,
        run: run_config,
    };
    crate::runner::info(&format!(
        "ds-conformance: target {} (seed {})",
        session.target.root, session.run.seed
    ));
    let policy = Policy {
        strict: cli.strict,
        required_features: cli.require.iter().cloned().collect(),
        long_poll_timeout: session.target.long_poll_timeout,
    };
    let session = Arc::new(session);
    let settings = RunSettings {
        session: session.clone(),
        policy,
        expectations,
        selection: selection.clone(),
        threads: cli.test_threads as usize,
        format,
        // Snapshots need every case's exchanges, not only failures'.
        full_transcripts: cli.full_transcripts || snapshots.wanted(),
    };
    let report = run(&rt, settings, cases, reqs.clone());
    print_epilogue(&report, format);
    if report.cases.is_empty() {
        // Under `cargo test FILTER` other binaries' filters reach us too:
        // only an unfiltered run that checked nothing is an error.
        if !selection.is_filtered() {
            return Err("no case was selected (partition?): nothing was checked".into());
        }
        crate::errln!("ds-conformance: warning: no case matched the filter; nothing was checked");
    }
    let write = |path: Option<&PathBuf>, text: String| -> Result<(), String> {
        match path {
            Some(p) if is_stdout(p) => {
                use std::io::Write;
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Some(p) => {
                std::fs::write(p, text)
                    .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
                crate::runner::info(&format!("wrote {}", p.display()));
            }
            None => {}
        }
        Ok(())
    };
    write(cli.json.as_ref(), report.to_json())?;
    write(cli.junit.as_ref(), report.to_junit())?;
    write(cli.markdown.as_ref(), report.to_markdown(&reqs))?;
    let snapshots_ok = crate::snapshot::after_run(&snapshots, &reqs, &session, &report)?;
    if let Some(server) = embedded {
        rt.block_on(server.stop());
    }
    Ok(match report.exit_code() {
        0 if !snapshots_ok => 1,
        code => code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ds-conformance").chain(args.iter().copied()))
    }

    #[test]
    fn nonsense_values_are_rejected() {
        for bad in [
            &["--long-poll-timeout-ms", "0"][..],
            &["--cases", "0"],
            &["--test-threads", "0"],
            &["--max-steps", "0"],
            &["--partition", "3/2"],
            &["--format", "xml"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let ok = parse(&["fork::", "ttl::", "--cases", "5"]).unwrap();
        assert_eq!(ok.filters, ["fork::", "ttl::"]);
    }

    #[test]
    fn webhook_public_url_must_be_a_base_url() {
        for bad in [
            "not a url",
            "127.0.0.1:8099",
            "ftp://example.test/",
            "http://example.test/?x=1",
            "http://example.test/#f",
            "file:///tmp/x",
        ] {
            let e = check_public_url(bad).expect_err(bad);
            assert!(e.starts_with("--webhook-public-url "), "{e}");
        }
        for good in ["http://127.0.0.1:8099", "https://hooks.example.test/relay/"] {
            assert_eq!(check_public_url(good).as_deref(), Ok(good));
        }
        for bad in [
            &["--lease-granularity-ms", "-1"][..],
            &["--lease-granularity-ms", "600001"],
            &["--webhook-listen", "localhost"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse(&["--lease-granularity-ms", "0"])
                .unwrap()
                .lease_granularity_ms,
            Some(0)
        );
    }

    #[test]
    fn help_shows_defaults_and_exit_codes() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for want in [
            "[default: 200]",
            "[default: 24]",
            "[default: measured by the preflight; embedded server: 1000]",
            "Exit codes",
        ] {
            assert!(help.contains(want), "--help lacks {want:?}");
        }
    }

    #[test]
    fn missing_report_folder_is_caught_up_front() {
        let e = check_output("--junit", std::path::Path::new("/nonexistent-dir/x.xml"));
        assert!(e.unwrap_err().contains("does not exist"));
        assert!(check_output("--json", std::path::Path::new("-")).is_ok());
    }
}
