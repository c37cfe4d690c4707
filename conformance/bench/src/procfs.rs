//! The target's resident memory and open sockets when it is a local process
//! (`--pid`), read from /proc.

use anyhow::{Context, Result};

#[derive(Clone, Copy, Debug)]
pub struct Proc(pub u32);

impl Proc {
    pub fn check(pid: u32) -> Result<Proc> {
        std::fs::metadata(format!("/proc/{pid}/status"))
            .with_context(|| format!("--pid {pid}: no such process (or no /proc)"))?;
        Ok(Proc(pid))
    }

    /// Resident set size in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.0)).ok()?;
        status_field(&s, "VmRSS:")
    }

    /// Peak resident set size in KiB (`VmHWM`).
    pub fn peak_kib(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.0)).ok()?;
        status_field(&s, "VmHWM:")
    }

    /// CPU time used so far (user + system), from /proc/PID/stat.
    pub fn cpu(&self) -> Option<std::time::Duration> {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.0)).ok()?;
        let ticks = stat_cpu_ticks(&s)?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let hz = if hz > 0 { hz as u64 } else { 100 };
        Some(std::time::Duration::from_micros(ticks * 1_000_000 / hz))
    }

    /// Open sockets (listeners included).
    pub fn sockets(&self) -> Option<u64> {
        let dir = std::fs::read_dir(format!("/proc/{}/fd", self.0)).ok()?;
        Some(
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|l| l.to_string_lossy().starts_with("socket:"))
                .count() as u64,
        )
    }
}

/// `VmRSS:     1234 kB` → 1234.
pub fn status_field(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime (clock ticks) of a /proc/PID/stat line; the command name
/// (field 2) may hold spaces and parentheses, so fields count from its end.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3, so utime (14) and stime (15) are 11, 12.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Raises this process's open-file limit to its hard limit; returns the
/// soft limit in force afterwards.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit only read/write the struct passed.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 1024;
        }
        if l.rlim_cur < l.rlim_max {
            let want = libc::rlimit {
                rlim_cur: l.rlim_max,
                rlim_max: l.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return want.rlim_cur;
            }
        }
        l.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let s = "Name:\tds-server\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_field(s, "VmRSS:"), Some(10240));
        assert_eq!(status_field(s, "VmHWM:"), Some(20480));
        assert_eq!(status_field(s, "VmSwap:"), None);
    }

    #[test]
    fn parses_stat() {
        let s = "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(stat_cpu_ticks(s), Some(300));
        assert_eq!(stat_cpu_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn reads_own_process() {
        let me = Proc::check(std::process::id()).unwrap();
        assert!(me.rss_kib().unwrap() > 0);
        assert!(me.peak_kib().unwrap() >= me.rss_kib().unwrap() / 2);
        assert!(me.sockets().is_some());
        assert!(me.cpu().is_some());
        assert!(Proc::check(u32::MAX).is_err());
    }
}
