//! §5.8 Read Stream - Live (SSE) and §10.2: framing and encodings as a
//! WHATWG client sees them, control events, live delivery, closure,
//! `offset=now` (§8) and resuming.

use std::time::Duration;

use crate::case::{case, Case};

mod bytes;
mod control;
mod events;
mod format;
mod live;

use events::{
    catch_up, catch_up_within, decode_events, flag, json_events_match, json_messages, last_control,
    next_offset, read_bytes, Kind,
};

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "sse::format::content_type_is_event_stream",
            &["SSE-CONTENT-TYPE"],
            format::content_type_is_event_stream,
        ),
        case(
            "sse::format::text_types_are_not_base64",
            &["SSE-TEXT-UTF8"],
            format::text_types_are_not_base64,
        ),
        case(
            "sse::format::other_types_are_base64",
            &["SSE-BASE64-HEADER", "SSE-BASE64-VALID"],
            format::other_types_are_base64,
        ),
        case(
            "sse::format::json_data_is_array",
            &["SSE-JSON-ARRAY"],
            format::json_data_is_array,
        ),
        case(
            "sse::format::missing_offset_is_400",
            &["SSE-OFFSET-REQUIRED"],
            format::missing_offset_is_400,
        ),
        case(
            "sse::format::missing_stream_is_404",
            &["SSE-404"],
            format::missing_stream_is_404,
        ),
        case(
            "sse::bytes::text_lines_exact",
            &["SSE-TEXT-EXACT"],
            bytes::text_lines_exact,
        ),
        case(
            "sse::bytes::text_cr_crlf_as_lf",
            &["SSE-TEXT-EXACT"],
            bytes::text_cr_crlf_as_lf,
        ),
        case(
            "sse::bytes::binary_every_byte_value",
            &["SSE-BINARY-EXACT", "SSE-BASE64-VALID"],
            bytes::binary_every_byte_value,
        ),
        case(
            "sse::bytes::from_minted_offset",
            &["SSE-TEXT-EXACT"],
            bytes::from_minted_offset,
        ),
        case(
            "sse::control::after_every_data_event",
            &[
                "SSE-CONTROL-AFTER-DATA",
                "SSE-CONTROL-OFFSET",
                "SSE-CONTROL-CURSOR",
            ],
            control::after_every_data_event,
        ),
        case(
            "sse::control::fields_when_caught_up",
            &[
                "SSE-CONTROL-OFFSET",
                "SSE-CONTROL-CURSOR",
                "SSE-CONTROL-UP-TO-DATE",
                "CURSOR-DECIMAL",
            ],
            control::fields_when_caught_up,
        ),
        case(
            "sse::control::echoed_cursor_advances",
            &["CURSOR-ADVANCE"],
            control::echoed_cursor_advances,
        ),
        case(
            "sse::control::empty_stream_caught_up",
            &["SSE-CONTROL-UP-TO-DATE", "SSE-CONTROL-OFFSET"],
            control::empty_stream_caught_up,
        ),
        case(
            "sse::bytes::large_text_crlf",
            &["SSE-TEXT-EXACT"],
            bytes::large_text_crlf,
        ),
        case(
            "sse::bytes::large_binary_exact",
            &["SSE-BINARY-EXACT", "SSE-BASE64-VALID"],
            bytes::large_binary_exact,
        ),
        case(
            "sse::live::final_append_on_close",
            &["SSE-LIVE", "SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION"],
            live::final_append_on_close,
        ),
        case(
            "sse::live::every_reader_receives",
            &["SSE-LIVE"],
            live::every_reader_receives,
        ),
        case(
            "sse::live::append_delivered",
            &[
                "SSE-LIVE",
                "SSE-CONTROL-AFTER-DATA",
                "SSE-CONTROL-OFFSET",
                "SSE-CONTROL-UP-TO-DATE",
                "SSE-CONTROL-CURSOR",
            ],
            live::append_delivered,
        ),
        case(
            "sse::live::binary_append_delivered",
            &["SSE-LIVE", "SSE-BINARY-EXACT"],
            live::binary_append_delivered,
        ),
        case(
            "sse::live::close_ends_connection",
            &["SSE-CLOSED-CONTROL", "SSE-CLOSE-CONNECTION"],
            live::close_ends_connection,
        ),
        case(
            "sse::live::closed_stream_from_start",
            &[
                "SSE-CLOSED-CONTROL",
                "SSE-CLOSE-CONNECTION",
                "SSE-TEXT-EXACT",
            ],
            live::closed_stream_from_start,
        ),
        case(
            "sse::live::closed_at_tail_at_once",
            &["SSE-CLOSED-AT-TAIL"],
            live::closed_at_tail_at_once,
        ),
        case(
            "sse::live::now_skips_history",
            &["SSE-NOW", "SSE-LIVE"],
            live::now_skips_history,
        ),
        case(
            "sse::live::now_on_closed_stream",
            &["SSE-CLOSED-AT-TAIL", "SSE-NOW"],
            live::now_on_closed_stream,
        ),
        case(
            "sse::live::resume_from_control_offsets",
            &["SSE-RESUME"],
            live::resume_from_control_offsets,
        ),
    ]
}

/// Bound for things the server should do at once (deliver, close).
pub(super) const PROMPT: Duration = Duration::from_secs(5);
