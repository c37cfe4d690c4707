//! §5.7 Read Stream - Live (Long-poll), with the §8 `offset=now` rules and
//! the §10.1 cursor rules for long-poll responses.

use std::time::Duration;

use crate::case::{Case, Failure};
use crate::client::Resp;

mod basic;
mod closure;
mod cursor;
mod now;

pub fn cases() -> Vec<Case> {
    [
        basic::cases as fn() -> Vec<Case>,
        closure::cases,
        now::cases,
        cursor::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}

/// A response that does not wait for the timeout arrives well before it.
/// A loaded machine may delay one request, so callers retry once.
pub(super) fn prompt(r: &Resp, timeout: Duration) -> bool {
    r.elapsed < timeout * 3 / 4
}

/// `Stream-Cursor` as the decimal interval number §10.1 defines.
pub(super) fn cursor_of(r: &Resp, presence: &str) -> Result<u128, Failure> {
    let c = r.require("stream-cursor", presence)?;
    parse_cursor(&c)
}

pub(crate) fn parse_cursor(c: &str) -> Result<u128, Failure> {
    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::new(
            Some("CURSOR-DECIMAL"),
            format!("cursor {c:?} is not a decimal interval number"),
        ));
    }
    c.parse().map_err(|_| {
        Failure::new(
            Some("CURSOR-DECIMAL"),
            format!("cursor {c:?} is too large to be an interval number"),
        )
    })
}

/// The body must start the expected bytes (a server may cut any read into
/// chunks, §5.6). Returns whether it is all of them.
pub(crate) fn check_chunk(
    r: &Resp,
    expected: &str,
    req: &str,
    what: &str,
) -> Result<bool, Failure> {
    if r.body.is_empty() || !expected.as_bytes().starts_with(&r.body) {
        return Err(Failure::new(
            Some(req),
            format!(
                "{what}\n  expected: {expected:?} (or a first chunk of it)\n  actual:   {:?}",
                r.text()
            ),
        ));
    }
    Ok(r.body.len() == expected.len())
}
