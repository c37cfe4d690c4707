//! Latency samples and their percentiles (nearest rank), and a streaming
//! FNV-1a hash for checking bytes read back without keeping them.

use serde::Serialize;
use std::time::Duration;

/// Latency samples in microseconds.
#[derive(Default, Clone)]
pub struct Samples(Vec<u64>);

/// p50/p99/p999/max of a set of samples, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros().min(u64::MAX as u128) as u64);
    }
    pub fn push_us(&mut self, us: u64) {
        self.0.push(us);
    }
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn summary(&mut self) -> Summary {
        self.0.sort_unstable();
        let v = &self.0;
        if v.is_empty() {
            return Summary::default();
        }
        Summary {
            count: v.len() as u64,
            mean_us: v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64,
            p50_us: percentile(v, 50.0),
            p99_us: percentile(v, 99.0),
            p999_us: percentile(v, 99.9),
            max_us: *v.last().expect("not empty"),
        }
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample such that
/// at least `p` percent of the samples are at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // (less a hair: 99.9% of 1000 is rank 999, not 1000 by rounding error)
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// FNV-1a (64 bit) over a byte stream: feeding the same bytes in any split
/// gives the same hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
    pub fn value(&self) -> u64 {
        self.0
    }
}

/// Human-friendly microseconds (`850 µs`, `12.3 ms`, `1.20 s`).
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), 500);
        assert_eq!(percentile(&v, 99.0), 990);
        assert_eq!(percentile(&v, 99.9), 999);
        assert_eq!(percentile(&v, 100.0), 1000);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.9), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        // Ten samples: p99 is the largest, p50 the fifth.
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 99.0), 10);
        assert_eq!(percentile(&v, 50.0), 5);
    }

    #[test]
    fn summary_sorts_and_averages() {
        let mut s = Samples::default();
        for x in [30u64, 10, 20, 40] {
            s.push_us(x);
        }
        s.push(Duration::from_micros(1000));
        let m = s.summary();
        assert_eq!(m.count, 5);
        assert_eq!(m.p50_us, 30);
        assert_eq!(m.max_us, 1000);
        assert_eq!(m.p99_us, 1000);
        assert!((m.mean_us - 220.0).abs() < 1e-9);
        assert_eq!(Samples::default().summary(), Summary::default());
    }

    #[test]
    fn fnv_is_split_independent() {
        let mut a = Fnv::default();
        a.write(b"hello world");
        let mut b = Fnv::default();
        b.write(b"hel");
        b.write(b"");
        b.write(b"lo world");
        assert_eq!(a, b);
        let mut c = Fnv::default();
        c.write(b"hello worle");
        assert_ne!(a, c);
        // Known FNV-1a 64 value of "a".
        let mut d = Fnv::default();
        d.write(b"a");
        assert_eq!(d.value(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_us(850.0), "850 µs");
        assert_eq!(fmt_us(12_345.0), "12.3 ms");
        assert_eq!(fmt_us(1_200_000.0), "1.20 s");
    }
}
