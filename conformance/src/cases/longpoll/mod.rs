//! §5.7 Read Stream - Live (Long-poll), with the §8 `offset=now` rules and
//! the §10.1 cursor rules for long-poll responses.

use std::time::Duration;

use crate::case::{case, Case, Failure};
use crate::client::Resp;

mod basic;
mod closure;
mod cursor;
mod now;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "longpoll::basic::missing_offset_is_400",
            &["LP-OFFSET-REQUIRED"],
            basic::missing_offset_is_400,
        ),
        case(
            "longpoll::basic::missing_stream_is_404",
            &["LP-404"],
            basic::missing_stream_is_404,
        ),
        case(
            "longpoll::basic::available_data_returns_at_once",
            &["LP-DATA-IMMEDIATE", "LP-200-CURSOR"],
            basic::available_data_returns_at_once,
        ),
        case(
            "longpoll::basic::append_wakes_waiter",
            &["LP-WAKE-ON-APPEND", "LP-200-CURSOR"],
            basic::append_wakes_waiter,
        )
        .slow(),
        case(
            "longpoll::basic::append_wakes_every_waiter",
            &["LP-WAKE-ON-APPEND"],
            basic::append_wakes_every_waiter,
        )
        .slow(),
        case(
            "longpoll::basic::timeout_is_204_with_headers",
            &[
                "LP-204-TIMEOUT",
                "LP-204-NEXT-OFFSET",
                "LP-204-UP-TO-DATE",
                "LP-204-CURSOR",
            ],
            basic::timeout_is_204_with_headers,
        )
        .slow(),
        case(
            "longpoll::closure::closed_at_tail_returns_at_once",
            &["LP-CLOSED-NO-WAIT", "LP-CLOSED-204"],
            closure::closed_at_tail_returns_at_once,
        ),
        case(
            "longpoll::closure::close_wakes_waiter",
            &["LP-CLOSE-WAKES", "LP-CLOSED-204"],
            closure::close_wakes_waiter,
        )
        .slow(),
        case(
            "longpoll::closure::final_data_carries_closed",
            &["LP-DATA-IMMEDIATE", "READ-CLOSED-FINAL-CHUNK"],
            closure::final_data_carries_closed,
        ),
        case(
            "longpoll::now::waits_for_next_append_only",
            &["LP-NOW-NEW-DATA", "LP-WAKE-ON-APPEND"],
            now::waits_for_next_append_only,
        )
        .slow(),
        case(
            "longpoll::now::timeout_reports_tail",
            &["LP-NOW-NEW-DATA", "LP-204-NEXT-OFFSET", "LP-204-UP-TO-DATE"],
            now::timeout_reports_tail,
        )
        .slow(),
        case(
            "longpoll::now::closed_stream_returns_at_once",
            &["LP-CLOSED-NO-WAIT", "LP-CLOSED-204"],
            now::closed_stream_returns_at_once,
        ),
        case(
            "longpoll::cursor::decimal_interval_number",
            &["CURSOR-DECIMAL", "LP-200-CURSOR"],
            cursor::decimal_interval_number,
        ),
        case(
            "longpoll::cursor::echoed_cursor_advances",
            &["CURSOR-ADVANCE", "CURSOR-MONOTONIC"],
            cursor::echoed_cursor_advances,
        ),
        case(
            "longpoll::cursor::future_cursor_advances",
            &["CURSOR-ADVANCE"],
            cursor::future_cursor_advances,
        ),
        case(
            "longpoll::cursor::old_cursor_not_backwards",
            &["CURSOR-MONOTONIC"],
            cursor::old_cursor_not_backwards,
        ),
        case(
            "longpoll::cursor::timeout_advances_echoed_cursor",
            &["CURSOR-ADVANCE", "LP-204-CURSOR"],
            cursor::timeout_advances_echoed_cursor,
        )
        .slow(),
    ]
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
