//! §5.8 Read Stream - Live (SSE) and §10.2: framing and encodings as a
//! WHATWG client sees them, control events, live delivery, closure,
//! `offset=now` (§8) and resuming.

use std::time::Duration;

use crate::case::Case;

mod bytes;
mod control;
mod events;
mod format;
mod live;

use crate::sse::Encoding;
use events::{
    catch_up, catch_up_within, decode_events, flag, json_events_match, json_messages, last_control,
    next_offset, read_bytes,
};

pub fn cases() -> Vec<Case> {
    [
        format::cases as fn() -> Vec<Case>,
        bytes::cases,
        control::cases,
        live::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}

/// Bound for things the server should do at once (deliver, close).
pub(super) const PROMPT: Duration = Duration::from_secs(5);
