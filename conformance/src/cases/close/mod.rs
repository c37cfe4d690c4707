//! §4.1 Stream Closure and §5.3 Close Stream: the `Stream-Closed` header
//! value, close-only and append-and-close, what a closed stream refuses.

use crate::case::{case, Case};

mod after_close;
mod close_only;
mod header_value;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "close::header_value::true_is_case_insensitive",
            &["CLOSE-TRUE-CASE-INSENSITIVE"],
            header_value::true_is_case_insensitive,
        ),
        case(
            "close::header_value::other_values_do_not_close",
            &["CLOSE-NON-TRUE-IGNORED", "CLOSE-NON-TRUE-NO-ERROR"],
            header_value::other_values_do_not_close,
        ),
        case(
            "close::header_value::other_values_on_empty_body_are_400",
            &["CLOSE-NON-TRUE-IGNORED"],
            header_value::other_values_on_empty_body_are_400,
        ),
        case(
            "close::close_only::is_204_with_closed_and_tail",
            &["CLOSE-ONLY-204", "CLOSE-OBSERVABLE", "CLOSE-DATA-READABLE"],
            close_only::is_204_with_closed_and_tail,
        ),
        case(
            "close::close_only::ignores_content_type",
            &["CLOSE-ONLY-IGNORES-CT"],
            close_only::ignores_content_type,
        ),
        case(
            "close::close_only::again_is_idempotent",
            &["CLOSE-IDEMPOTENT", "CLOSE-ONLY-IDEMPOTENT-204"],
            close_only::again_is_idempotent,
        ),
        case(
            "close::close_only::missing_stream_is_404",
            &["CLOSE-404"],
            close_only::missing_stream_is_404,
        ),
        case(
            "close::close_only::append_and_close",
            &["CLOSE-APPEND-AND-CLOSE", "CLOSE-DATA-READABLE"],
            close_only::append_and_close,
        ),
        case(
            "close::after_close::append_is_409_with_final_offset",
            &["APPEND-CLOSED-409"],
            after_close::append_is_409_with_final_offset,
        ),
        case(
            "close::after_close::append_and_close_is_409",
            &["CLOSE-APPEND-CLOSED-409"],
            after_close::append_and_close_is_409,
        ),
        case(
            "close::after_close::cannot_reopen",
            &["STREAM-CLOSED-MONOTONIC"],
            after_close::cannot_reopen,
        ),
        case(
            "close::after_close::reads_report_closed_at_tail",
            &["CLOSE-OBSERVABLE", "CLOSE-DATA-READABLE"],
            after_close::reads_report_closed_at_tail,
        ),
    ]
}
