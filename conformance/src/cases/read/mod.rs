//! §5.6 Read Stream - Catch-up: reads from sentinels and minted offsets,
//! chunked reads followed by `Stream-Next-Offset`, the tail, EOF, errors.

use crate::case::{case, Case};

mod basic;
mod chunks;
mod errors;
mod tail;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "read::basic::from_minus_one",
            &["READ-FROM-OFFSET", "READ-UP-TO-DATE", "READ-NEXT-OFFSET"],
            basic::from_minus_one,
        ),
        case(
            "read::basic::omitted_offset_reads_from_start",
            &["READ-OFFSET-DEFAULT"],
            basic::omitted_offset_reads_from_start,
        ),
        case(
            "read::basic::from_minted_offsets",
            &["READ-FROM-OFFSET", "READ-NEXT-OFFSET"],
            basic::from_minted_offsets,
        ),
        case(
            "read::basic::binary_bytes_exact",
            &["READ-FROM-OFFSET"],
            basic::binary_bytes_exact,
        ),
        case(
            "read::basic::text_control_bytes_exact",
            &["READ-FROM-OFFSET"],
            basic::text_control_bytes_exact,
        ),
        case(
            "read::chunks::follow_next_offset",
            &[
                "READ-FOLLOW-CHUNKS",
                "READ-UP-TO-DATE",
                "READ-PARTIAL-NO-UP-TO-DATE",
                "READ-PARTIAL-NO-CLOSED",
            ],
            chunks::follow_next_offset,
        ),
        case(
            "read::chunks::closed_only_on_final_chunk",
            &[
                "READ-CLOSED-FINAL-CHUNK",
                "READ-FOLLOW-CHUNKS",
                "READ-PARTIAL-NO-CLOSED",
                "READ-CLOSED-TAIL-EOF",
            ],
            chunks::closed_only_on_final_chunk,
        ),
        case(
            "read::chunks::resume_from_chunk_offsets",
            &["READ-FOLLOW-CHUNKS", "READ-FROM-OFFSET"],
            chunks::resume_from_chunk_offsets,
        ),
        case(
            "read::tail::empty_with_same_offset",
            &["READ-TAIL-EMPTY", "READ-UP-TO-DATE"],
            tail::empty_with_same_offset,
        ),
        case(
            "read::tail::empty_stream_from_start",
            &["READ-UP-TO-DATE", "READ-NEXT-OFFSET"],
            tail::empty_stream_from_start,
        ),
        case(
            "read::tail::open_tail_not_closed",
            &["READ-CLOSED-TAIL-EOF"],
            tail::open_tail_not_closed,
        ),
        case(
            "read::tail::closed_tail_is_eof",
            &["READ-CLOSED-TAIL-EOF", "READ-UP-TO-DATE"],
            tail::closed_tail_is_eof,
        ),
        case(
            "read::tail::closed_final_data_chunk",
            &["READ-CLOSED-FINAL-CHUNK"],
            tail::closed_final_data_chunk,
        ),
        case(
            "read::tail::closed_after_read_discovered_at_next_offset",
            &["READ-CLOSED-TAIL-EOF"],
            tail::closed_after_read_discovered_at_next_offset,
        ),
        case(
            "read::tail::closed_empty_stream_from_start",
            &["READ-CLOSED-TAIL-EOF", "READ-UP-TO-DATE"],
            tail::closed_empty_stream_from_start,
        ),
        case(
            "read::errors::missing_stream_is_404",
            &["READ-404"],
            errors::missing_stream_is_404,
        ),
        case(
            "read::errors::deleted_stream_is_404",
            &["READ-404"],
            errors::deleted_stream_is_404,
        ),
        case(
            "read::errors::malformed_offset_is_400",
            &["READ-400-OFFSET"],
            errors::malformed_offset_is_400,
        ),
    ]
}
