//! §8 Offsets: the wire format of positions and the `-1` / `now` sentinels.
//!
//! A position is a count of units from the start of the stream's offset space:
//! bytes for ordinary streams, messages for `application/json` streams (§9.1).
//! The token is `SSSSSSSSSSSSSSSS_PPPPPPPPPPPPPPPP`: a 16-digit segment number
//! (always 0 in the memory store, reserved for the file store) and the
//! 16-digit zero-padded position. Fixed width makes byte-wise order equal
//! position order; digits and `_` keep it clear of `, & = ? /` and of the
//! sentinels. Forks share their source's offset space (§8 "Offsets and
//! forked streams"), so no translation ever happens.

use std::fmt;

/// Width of each of the two decimal fields.
const WIDTH: usize = 16;
/// Largest position the fixed width can express.
pub const MAX_POSITION: u64 = 9_999_999_999_999_999;

/// A server-minted position in a stream's offset space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u64);

impl Offset {
    /// The token as ASCII bytes, `{:016}_{:016}` without the formatting
    /// machinery or an allocation (one per answer); `None` for a position
    /// wider than the fixed width (they stay below 10^16).
    pub fn token(&self) -> Option<[u8; 2 * WIDTH + 1]> {
        let mut text = [b'0'; 2 * WIDTH + 1];
        text[WIDTH] = b'_';
        let (mut v, mut i) = (self.0, text.len());
        while v > 0 && i > WIDTH + 1 {
            i -= 1;
            text[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        (v == 0).then_some(text)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.token() {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            None => write!(f, "{:0w$}_{:0w$}", 0, self.0, w = WIDTH),
        }
    }
}

/// A client-supplied start position for a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// `-1` or an absent parameter: the stream start.
    Start,
    /// `now`: the tail at the time the request is processed.
    Now,
    /// A token previously minted by the server.
    At(Offset),
}

/// Why a client token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed offset {0:?}")]
pub struct MalformedOffset(pub String);

impl Offset {
    /// Parses a server-minted token; sentinels are not accepted here.
    pub fn parse(token: &str) -> Result<Offset, MalformedOffset> {
        let bad = || MalformedOffset(truncate(token));
        let (seg, pos) = token.split_once('_').ok_or_else(bad)?;
        let digits = |s: &str| s.len() == WIDTH && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(seg) || !digits(pos) || seg.bytes().any(|b| b != b'0') {
            return Err(bad());
        }
        pos.parse::<u64>().map(Offset).map_err(|_| bad())
    }
}

impl ReadFrom {
    /// Parses the `offset` query parameter (§5.6, §8 sentinels).
    pub fn parse(token: &str) -> Result<ReadFrom, MalformedOffset> {
        match token {
            "-1" => Ok(ReadFrom::Start),
            "now" => Ok(ReadFrom::Now),
            _ => Offset::parse(token).map(ReadFrom::At),
        }
    }
}

/// Keeps error messages short even for huge hostile inputs.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_fixed_width_and_sorts_like_positions() {
        let a = Offset(9).to_string();
        let b = Offset(10).to_string();
        assert_eq!(a, "0000000000000000_0000000000000009");
        assert_eq!(a.len(), b.len());
        assert!(a < b);
        assert!(Offset(MAX_POSITION).to_string() > Offset(MAX_POSITION - 1).to_string());
        assert_eq!(
            Offset(MAX_POSITION).to_string(),
            "0000000000000000_9999999999999999"
        );
        assert_eq!(Offset(0).to_string(), "0000000000000000_0000000000000000");
        assert_eq!(
            Offset(10_u64.pow(16)).to_string(),
            "0000000000000000_10000000000000000"
        );
    }

    #[test]
    fn token_bytes_are_the_display_form() {
        for p in [0, 9, 10, 12345, MAX_POSITION] {
            let t = Offset(p).token().unwrap();
            assert_eq!(&t[..], Offset(p).to_string().as_bytes());
        }
        assert_eq!(Offset(10_u64.pow(16)).token(), None);
    }

    #[test]
    fn tokens_never_contain_reserved_characters() {
        for p in [0, 1, 12345, MAX_POSITION] {
            let t = Offset(p).to_string();
            assert!(!t.contains([',', '&', '=', '?', '/']));
            assert!(t != "-1" && t != "now");
        }
    }

    #[test]
    fn round_trip_and_sentinels() {
        assert_eq!(Offset::parse(&Offset(42).to_string()), Ok(Offset(42)));
        assert_eq!(ReadFrom::parse("-1"), Ok(ReadFrom::Start));
        assert_eq!(ReadFrom::parse("now"), Ok(ReadFrom::Now));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for t in [
            "",
            "0",
            "abc",
            "0000000000000000_000000000000000",
            "0000000000000000_00000000000000000",
            "0000000000000001_0000000000000000",
            "0000000000000000_000000000000000a",
            "0000000000000000,0000000000000000",
            " 0000000000000000_0000000000000000",
            "-2",
            "NOW",
        ] {
            assert!(ReadFrom::parse(t).is_err(), "{t:?} accepted");
        }
    }
}
