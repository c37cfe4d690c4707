//! §4 and §5.1 stream lifetimes: sliding `Stream-TTL`, absolute
//! `Stream-Expires-At`, the clock they are measured with, and the fork expiry
//! table of §4.2.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

/// Source of "now" for every expiry decision; tests drive a manual clock.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<Mutex<OffsetDateTime>>),
}

impl Clock {
    /// A manual clock starting at `start`, plus a handle to move it.
    pub fn manual(start: OffsetDateTime) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Manual(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock forward; no-op on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(t) = self {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            *t += by;
        }
    }
}

/// Milliseconds since the Unix epoch (the journal's time unit).
pub fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An absolute deadline, kept with the text the client sent so HEAD can
/// echo it unchanged.
#[derive(Clone, Debug)]
pub struct Deadline {
    pub at: OffsetDateTime,
    pub text: String,
}

impl PartialEq for Deadline {
    /// Two spellings of the same instant are the same configuration.
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

/// A stream's lifetime rule.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Expiry {
    #[default]
    Never,
    /// Sliding window in seconds, renewed by GET and POST, never by HEAD.
    Ttl(u64),
    /// Hard deadline, never extended.
    At(Deadline),
}

impl Expiry {
    /// Whether the stream can expire at all: when not, `is_expired` is
    /// false whatever the times, and a lookup need not read the clock.
    pub fn can_expire(&self) -> bool {
        !matches!(self, Expiry::Never)
    }

    /// Whether a stream last accessed at `last_access` is expired at `now`.
    pub fn is_expired(&self, last_access: OffsetDateTime, now: OffsetDateTime) -> bool {
        match self {
            Expiry::Never => false,
            Expiry::Ttl(secs) => {
                let window = Duration::from_secs(*secs);
                match last_access.checked_add(window.try_into().unwrap_or(time::Duration::MAX)) {
                    Some(deadline) => now >= deadline,
                    None => false,
                }
            }
            Expiry::At(d) => now >= d.at,
        }
    }

    /// §4.2 fork expiry table: a fork's own request wins; otherwise it
    /// inherits the source's rule (a TTL is then refreshed independently).
    pub fn for_fork(source: &Expiry, requested: &Expiry) -> Expiry {
        match requested {
            Expiry::Never => source.clone(),
            own => own.clone(),
        }
    }
}

/// Parses `Stream-Expires-At` as RFC 3339.
pub fn parse_expires_at(value: &str) -> Option<Deadline> {
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    Some(Deadline {
        at,
        text: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn expires_at_syntax() {
        assert!(parse_expires_at("2030-01-01T00:00:00Z").is_some());
        assert!(parse_expires_at("2030-01-01T00:00:00+02:00").is_some());
        assert!(parse_expires_at("2030-01-01").is_none());
        assert!(parse_expires_at("tomorrow").is_none());
        let a = parse_expires_at("2030-01-01T02:00:00+02:00").unwrap();
        let b = parse_expires_at("2030-01-01T00:00:00Z").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn sliding_and_absolute_expiry() {
        let t0 = datetime!(2030-01-01 0:00 UTC);
        let ttl = Expiry::Ttl(10);
        assert!(!ttl.is_expired(t0, t0 + Duration::from_secs(9)));
        assert!(ttl.is_expired(t0, t0 + Duration::from_secs(10)));
        assert!(!Expiry::Ttl(u64::MAX).is_expired(t0, t0 + Duration::from_secs(1 << 30)));
        let at = Expiry::At(parse_expires_at("2030-01-01T00:00:05Z").unwrap());
        assert!(!at.is_expired(t0, t0));
        assert!(at.is_expired(t0, t0 + Duration::from_secs(5)));
        assert!(!Expiry::Never.is_expired(t0, t0 + Duration::from_secs(1 << 30)));
    }

    #[test]
    fn fork_expiry_table_all_nine_rows() {
        let ttl = |s| Expiry::Ttl(s);
        let at = |s: &str| Expiry::At(parse_expires_at(s).unwrap());
        let src_at = at("2030-01-01T00:00:00Z");
        let req_at = at("2031-01-01T00:00:00Z");
        let rows = [
            (Expiry::Never, Expiry::Never, Expiry::Never),
            (Expiry::Never, ttl(5), ttl(5)),
            (Expiry::Never, req_at.clone(), req_at.clone()),
            (ttl(7), Expiry::Never, ttl(7)),
            (ttl(7), ttl(5), ttl(5)),
            (ttl(7), req_at.clone(), req_at.clone()),
            (src_at.clone(), Expiry::Never, src_at.clone()),
            (src_at.clone(), ttl(5), ttl(5)),
            (src_at.clone(), req_at.clone(), req_at.clone()),
        ];
        for (source, requested, expected) in rows {
            assert_eq!(Expiry::for_fork(&source, &requested), expected);
        }
    }
}
