//! What ds-bench writes while it runs, all on stderr (stdout carries only
//! the result: the table, or the JSON with `--json -`): phase messages
//! (`say`) and the progress line, a counter, its rate, and the target's RSS
//! and open sockets (with --pid). On a terminal the progress line is one
//! status line redrawn in place, cleared before a message is printed and
//! drawn again after it; otherwise it is a plain line every 5 s. A closed
//! stderr or stdout is ignored (no panic: `ds-bench ... | head` works).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::procfs::Proc;

/// The status line currently drawn on the terminal (none when stderr is
/// not a terminal): what `say` redraws after its message.
static STATUS: Mutex<Option<String>> = Mutex::new(None);

const CLEAR: &str = "\r\x1b[2K";

/// Draws `line` as the status line (terminal), or prints it (otherwise).
fn status(line: String, tty: bool) {
    let mut drawn = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut e = std::io::stderr().lock();
    let _ = if tty {
        write!(e, "{CLEAR}{line}")
    } else {
        writeln!(e, "{line}")
    };
    let _ = e.flush();
    if tty {
        *drawn = Some(line);
    }
}

/// Removes the status line, if one is drawn.
fn clear_status() {
    let mut drawn = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    if drawn.take().is_some() {
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "{CLEAR}");
        let _ = e.flush();
    }
}

/// One line on stderr, around the status line; errors ignored.
pub fn err_line(msg: impl std::fmt::Display) {
    let drawn = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut e = std::io::stderr().lock();
    let _ = match drawn.as_deref() {
        Some(line) => write!(e, "{CLEAR}{msg}\n{line}"),
        None => writeln!(e, "{msg}"),
    };
    let _ = e.flush();
}

/// The result on stdout; a closed stdout is ignored.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

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
                    status(line, tty);
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
            clear_status();
        }
    }
}

/// Stderr log line (phase changes), unless quiet.
pub fn say(quiet: bool, msg: impl AsRef<str>) {
    if !quiet {
        err_line(format_args!("ds-bench: {}", msg.as_ref()));
    }
}
