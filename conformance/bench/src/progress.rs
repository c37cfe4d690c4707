//! The progress line on stderr: a counter, its rate, and the target's RSS
//! and open sockets (with --pid). Redrawn in place on a terminal, one line
//! every 5 s otherwise.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::procfs::Proc;

pub struct Progress {
    pub count: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: &str, unit: &str, pid: Option<Proc>, quiet: bool) -> Progress {
        let count = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = (!quiet).then(|| {
            let (count, errors, stop) = (count.clone(), errors.clone(), stop.clone());
            let (label, unit) = (label.to_string(), unit.to_string());
            tokio::spawn(async move {
                let tty = std::io::stderr().is_terminal();
                let every = if tty {
                    Duration::from_secs(1)
                } else {
                    Duration::from_secs(5)
                };
                let started = Instant::now();
                let mut last = (Instant::now(), 0u64);
                loop {
                    tokio::time::sleep(every).await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let n = count.load(Ordering::Relaxed);
                    let now = Instant::now();
                    let rate = (n - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                    last = (now, n);
                    let mut line = format!(
                        "[{label}] {:>5.0}s  {n} {unit}  {rate:.0}/s  errors {}",
                        started.elapsed().as_secs_f64(),
                        errors.load(Ordering::Relaxed)
                    );
                    if let Some(p) = pid {
                        if let Some(kib) = p.rss_kib() {
                            line.push_str(&format!("  target rss {:.1} MiB", kib as f64 / 1024.0));
                        }
                        if let Some(s) = p.sockets() {
                            line.push_str(&format!("  sockets {s}"));
                        }
                    }
                    let mut e = std::io::stderr().lock();
                    let _ = if tty {
                        write!(e, "\r\x1b[2K{line}")
                    } else {
                        writeln!(e, "{line}")
                    };
                    let _ = e.flush();
                }
                if tty {
                    let _ = write!(std::io::stderr(), "\r\x1b[2K");
                }
            })
        });
        Progress {
            count,
            errors,
            stop,
            task,
        }
    }

    pub async fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
            if std::io::stderr().is_terminal() {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
        }
    }
}

/// Stderr log line (phase changes), unless quiet.
pub fn say(quiet: bool, msg: impl AsRef<str>) {
    if !quiet {
        eprintln!("ds-bench: {}", msg.as_ref());
    }
}
