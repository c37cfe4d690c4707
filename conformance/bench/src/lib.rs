//! `ds-bench`: a load generator for any Durable Streams server, pointed at a
//! stream root URL. Each mode measures one thing, prints a progress line, a
//! table at the end (and `--json`), and checks its own results: every
//! acknowledged append is read back, no answer was an error status.
//!
//! Modes (one module each under `modes/`): `append`, `ceiling`, `catchup`,
//! `tail`, `fork`, `fanout`, `churn`.

pub mod http;
pub mod modes;
pub mod ops;
pub mod procfs;
pub mod progress;
pub mod report;
pub mod stats;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::http::Target;
use crate::procfs::Proc;
use crate::report::Report;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ds-bench",
    version,
    about = "Load generator for Durable Streams servers"
)]
pub struct Cli {
    /// Stream root URL (e.g. http://127.0.0.1:4437/v1/stream). Omitted: the
    /// reference server is started in this process (memory store).
    #[arg(long, global = true)]
    pub target: Option<String>,
    /// Pid of the target process (local): report its RSS and open sockets.
    #[arg(long, global = true)]
    pub pid: Option<u32>,
    /// Also write the results as JSON to this file; `-`: the JSON alone on
    /// stdout (the table then goes to stderr).
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// No progress line.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Worker threads of the load generator (default: one per core). On a
    /// small machine shared with the target, 1 leaves the target more CPU.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub mode: Mode,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Mode {
    /// Append throughput and latency (closed-loop, or --rate for fixed-rate).
    Append(modes::append::Args),
    /// The HTTP ceiling: requests answered without store work (by default
    /// GETs of a missing stream, 404; `--method POST --size 64`: append-shaped).
    Ceiling(modes::ceiling::Args),
    /// Catch-up read throughput (MB/s) over one long stream.
    Catchup(modes::catchup::Args),
    /// Tail-read latency as a function of stream length.
    Tail(modes::tail::Args),
    /// Reads through a fork chain as a function of its depth.
    Fork(modes::fork::Args),
    /// Live fan-out: long-poll and SSE readers, ack-to-delivery latency.
    Fanout(modes::fanout::Args),
    /// Sustained create/append/fork/delete churn: RSS and disk over time.
    Churn(modes::churn::Args),
}

/// What every mode gets.
pub struct Ctx {
    pub target: Target,
    pub pid: Option<Proc>,
    /// Unique per run: stream names start with `bench-<run>-`.
    pub run: String,
    pub quiet: bool,
}

impl Ctx {
    pub fn name(&self, mode: &str, i: impl std::fmt::Display) -> String {
        format!("bench-{}-{mode}-{i}", self.run)
    }
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(|p| p.rss_kib())
    }
    pub fn cpu(&self) -> Option<std::time::Duration> {
        self.pid.and_then(|p| p.cpu())
    }
    /// The target's CPU time per operation between two `cpu()` readings
    /// (with --pid): a figure the machine's other load barely moves.
    pub fn report_cpu(
        &self,
        r: &mut Report,
        before: Option<std::time::Duration>,
        ops: u64,
        what: &str,
    ) {
        if let (Some(b), Some(a)) = (before, self.cpu()) {
            if ops > 0 {
                let us = a.saturating_sub(b).as_secs_f64() * 1e6 / ops as f64;
                r.figure(
                    &format!("target_cpu_us_per_{what}"),
                    us,
                    format!(
                        "{us:.1} µs of target CPU per {what} ({:.2} s over {ops})",
                        a.saturating_sub(b).as_secs_f64()
                    ),
                );
            }
        }
    }
    /// Adds the target's RSS and sockets now to the report (with --pid).
    pub fn report_process(&self, r: &mut Report, when: &str) {
        if let Some(p) = self.pid {
            if let Some(kib) = p.rss_kib() {
                r.figure(
                    &format!("rss_{when}_kib"),
                    kib,
                    format!("{:.1} MiB", kib as f64 / 1024.0),
                );
            }
            if let Some(kib) = p.peak_kib() {
                r.figure(
                    &format!("rss_peak_{when}_kib"),
                    kib,
                    format!("{:.1} MiB", kib as f64 / 1024.0),
                );
            }
            if let Some(s) = p.sockets() {
                r.figure(&format!("sockets_{when}"), s, s.to_string());
            }
        }
    }
}

/// Setup mistakes (bad flag, unreachable target) are exit 2; a run whose own
/// checks fail is exit 1.
pub struct SetupError(pub anyhow::Error);

/// Runs one mode against `target_url`; returns the report.
pub async fn run(cli: &Cli, target_url: &str) -> Result<Report> {
    let target = Target::parse(target_url)?;
    let pid = cli.pid.map(Proc::check).transpose()?;
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("clock")?
            .as_nanos()
            & 0xffff_ffff_ffff
    );
    let ctx = Ctx {
        target,
        pid,
        run,
        quiet: cli.quiet,
    };
    // Fail early and clearly when the target is not there.
    crate::http::Conn::open(&ctx.target)
        .await
        .with_context(|| format!("target {target_url} is not reachable"))?;
    match &cli.mode {
        Mode::Append(a) => modes::append::run(&ctx, a).await,
        Mode::Ceiling(a) => modes::ceiling::run(&ctx, a).await,
        Mode::Catchup(a) => modes::catchup::run(&ctx, a).await,
        Mode::Tail(a) => modes::tail::run(&ctx, a).await,
        Mode::Fork(a) => modes::fork::run(&ctx, a).await,
        Mode::Fanout(a) => modes::fanout::run(&ctx, a).await,
        Mode::Churn(a) => modes::churn::run(&ctx, a).await,
    }
}

/// A comma-separated list of counts (one flag value).
#[derive(Clone, Debug, PartialEq)]
pub struct List(pub Vec<u64>);

/// Parses `1000,1000000` (also `1k`, `1m` suffixes).
pub fn parse_list(s: &str) -> Result<List, String> {
    s.split(',')
        .map(|p| parse_count(p.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map(List)
}

/// `64`, `4k`, `64m`, `1M` (k = 1000 for counts: see parse_bytes for sizes).
pub fn parse_count(s: &str) -> Result<u64, String> {
    let (num, mul) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1_000),
        Some('m' | 'M') => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mul)
        .map_err(|_| format!("'{s}' is not a count (e.g. 1000, 10k, 1m)"))
}

/// `64`, `4KiB`/`4k`, `64MiB`/`64m` (binary multiples).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches("ib").trim_end_matches('b');
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        Some('g') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mul)
        .map_err(|_| format!("'{s}' is not a size (e.g. 64, 4KiB, 64MiB)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_sizes() {
        assert_eq!(parse_count("1000"), Ok(1000));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert!(parse_count("x").is_err());
        assert!(parse_count("").is_err());
        assert_eq!(parse_list("1000, 1m"), Ok(List(vec![1000, 1_000_000])));
        assert!(parse_list("1,,2").is_err());
        assert_eq!(parse_bytes("64"), Ok(64));
        assert_eq!(parse_bytes("4KiB"), Ok(4096));
        assert_eq!(parse_bytes("4k"), Ok(4096));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1GB"), Ok(1 << 30));
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn cli_parses_modes() {
        let c = Cli::try_parse_from([
            "ds-bench",
            "append",
            "--target",
            "http://127.0.0.1:1/s",
            "--connections",
            "4",
            "--streams",
            "10k",
            "--kind",
            "producer",
            "--rate",
            "1000",
        ])
        .unwrap();
        match c.mode {
            Mode::Append(a) => {
                assert_eq!(a.connections, 4);
                assert_eq!(a.streams, 10_000);
                assert_eq!(a.rate, Some(1000.0));
            }
            _ => panic!("not append"),
        }
        assert!(Cli::try_parse_from(["ds-bench", "append", "--kind", "nope"]).is_err());
        assert!(Cli::try_parse_from(["ds-bench", "tail", "--lengths", "1,x"]).is_err());
        let c = Cli::try_parse_from(["ds-bench", "tail", "--lengths", "10,1k"]).unwrap();
        match c.mode {
            Mode::Tail(a) => assert_eq!(a.lengths, List(vec![10, 1000])),
            _ => panic!("not tail"),
        }
        let c = Cli::try_parse_from([
            "ds-bench", "ceiling", "--method", "POST", "--size", "64", "--status", "200",
        ])
        .unwrap();
        match c.mode {
            Mode::Ceiling(a) => {
                assert_eq!(a.method, ::http::Method::POST);
                assert_eq!(a.size, 64);
                assert_eq!(a.content_type, "application/octet-stream");
            }
            _ => panic!("not ceiling"),
        }
        let c = Cli::try_parse_from(["ds-bench", "ceiling"]).unwrap();
        match c.mode {
            Mode::Ceiling(a) => assert_eq!((a.method, a.size), (::http::Method::GET, 0)),
            _ => panic!("not ceiling"),
        }
        assert!(Cli::try_parse_from(["ds-bench", "ceiling", "--method", "NO T"]).is_err());
        let c = Cli::try_parse_from(["ds-bench", "fork"]).unwrap();
        match c.mode {
            Mode::Fork(a) => assert_eq!(a.depths, List(vec![1, 100])),
            _ => panic!("not fork"),
        }
        assert!(Cli::try_parse_from(["ds-bench"]).is_err());
    }
}
