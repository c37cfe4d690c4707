//! §10.1 server-generated cursors: 20-second intervals counted from
//! 2024-10-09T00:00:00Z, never going backwards for a client that echoes one.

use time::macros::datetime;
use time::OffsetDateTime;

const EPOCH: OffsetDateTime = datetime!(2024-10-09 0:00 UTC);
const INTERVAL_SECS: u64 = 20;

/// The interval number `now` falls in.
pub fn interval(now: OffsetDateTime) -> u64 {
    (now - EPOCH).whole_seconds().max(0) as u64 / INTERVAL_SECS
}

/// The cursor for a live response, given the client's echoed cursor: the
/// current interval, or (when the client is already there or ahead) its
/// cursor plus 1-3600 s of jitter, rounded up to at least one interval.
pub fn next(client: Option<&str>, now: OffsetDateTime) -> String {
    let current = interval(now);
    let value = match client.and_then(|c| c.parse::<u64>().ok()) {
        Some(c) if c >= current => {
            let jitter_secs: u64 = rand::random_range(1..=3600);
            c.saturating_add(jitter_secs.div_ceil(INTERVAL_SECS).max(1))
        }
        _ => current,
    };
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn interval_numbering() {
        assert_eq!(interval(EPOCH), 0);
        assert_eq!(interval(datetime!(2024-10-09 0:00:59 UTC)), 2);
        assert_eq!(interval(datetime!(2020-01-01 0:00 UTC)), 0);
    }

    #[test]
    fn never_backwards() {
        let now = datetime!(2025-01-01 0:00 UTC);
        let cur = interval(now);
        assert_eq!(next(None, now), cur.to_string());
        assert_eq!(next(Some("junk"), now), cur.to_string());
        assert_eq!(next(Some("1"), now), cur.to_string());
        for _ in 0..100 {
            let n: u64 = next(Some(&cur.to_string()), now).parse().unwrap();
            assert!(n > cur && n <= cur + 180);
            let ahead: u64 = next(Some(&(cur + 500).to_string()), now).parse().unwrap();
            assert!(ahead > cur + 500);
        }
    }
}
