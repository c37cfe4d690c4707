//! Latency samples and their percentiles (nearest rank), and a streaming
//! digest for checking bytes read back without keeping them.

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

/// A 64-bit digest of a byte stream, eight bytes per step: feeding the
/// same bytes in any split gives the same value. Readers check every byte
/// they read with it, so it must cost far less than reading them: a
/// byte-wise FNV-1a (1 byte per multiply) made the load generator, not the
/// target, the bottleneck of catch-up runs (measured: 4x the target's CPU).
/// Each step is FxHash's word mix (rotate, xor, multiply), the length is
/// mixed in at the end so a zero-padded last word differs from real zeros.
#[derive(Clone, Copy, Debug, Eq)]
pub struct Digest {
    h: u64,
    /// Bytes of an unfinished word.
    tail: [u8; 8],
    len: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            h: 0xcbf2_9ce4_8422_2325,
            tail: [0; 8],
            len: 0,
        }
    }
}

impl Digest {
    fn mix(h: u64, word: u64) -> u64 {
        (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
    }

    pub fn write(&mut self, mut bytes: &[u8]) {
        let mut used = (self.len % 8) as usize;
        self.len += bytes.len() as u64;
        if used > 0 {
            let take = (8 - used).min(bytes.len());
            self.tail[used..used + take].copy_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            used += take;
            if used < 8 {
                return;
            }
            self.h = Self::mix(self.h, u64::from_le_bytes(self.tail));
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.h = Self::mix(self.h, u64::from_le_bytes(w.try_into().unwrap()));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
    }

    pub fn value(&self) -> u64 {
        let used = (self.len % 8) as usize;
        let mut h = self.h;
        if used > 0 {
            let mut last = [0u8; 8];
            last[..used].copy_from_slice(&self.tail[..used]);
            h = Self::mix(h, u64::from_le_bytes(last));
        }
        Self::mix(h, self.len)
    }
}

impl PartialEq for Digest {
    fn eq(&self, other: &Digest) -> bool {
        self.len == other.len && self.value() == other.value()
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
    fn digest_is_split_independent_and_tells_streams_apart() {
        let text = b"hello world, a stream of more than one word";
        let whole = {
            let mut d = Digest::default();
            d.write(text);
            d
        };
        for a in 0..text.len() {
            for b in a..text.len() {
                let mut d = Digest::default();
                d.write(&text[..a]);
                d.write(b"");
                d.write(&text[a..b]);
                d.write(&text[b..]);
                assert_eq!(d, whole, "split at {a}, {b}");
                assert_eq!(d.value(), whole.value());
            }
        }
        let of = |bytes: &[u8]| {
            let mut d = Digest::default();
            d.write(bytes);
            d.value()
        };
        // One byte changed anywhere, a byte missing, a zero byte added.
        for i in 0..text.len() {
            let mut t = text.to_vec();
            t[i] ^= 0x80;
            assert_ne!(of(&t), whole.value(), "byte {i} changed");
        }
        assert_ne!(of(&text[1..]), whole.value());
        assert_ne!(of(b"abc"), of(b"abc\0"));
        assert_ne!(of(b""), of(b"\0"));
        // Two words swapped.
        assert_ne!(of(b"aaaaaaaabbbbbbbb"), of(b"bbbbbbbbaaaaaaaa"));
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_us(850.0), "850 µs");
        assert_eq!(fmt_us(12_345.0), "12.3 ms");
        assert_eq!(fmt_us(1_200_000.0), "1.20 s");
    }
}
