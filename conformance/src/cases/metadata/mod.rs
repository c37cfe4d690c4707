//! §5.5 Stream Metadata (HEAD) and §5.4 Delete Stream.

use crate::case::{case, Case};

mod delete;
mod head;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "metadata::head::reports_type_and_tail",
            &["HEAD-200"],
            head::reports_type_and_tail,
        ),
        case(
            "metadata::head::reports_closure",
            &["HEAD-CLOSED"],
            head::reports_closure,
        ),
        case(
            "metadata::head::reports_ttl",
            &["HEAD-TTL-EXPIRES"],
            head::reports_ttl,
        ),
        case(
            "metadata::head::reports_expires_at",
            &["HEAD-TTL-EXPIRES"],
            head::reports_expires_at,
        ),
        case(
            "metadata::head::not_cacheable",
            &["HEAD-NO-STORE"],
            head::not_cacheable,
        ),
        case(
            "metadata::head::sends_no_body",
            &["HEAD-NO-BODY"],
            head::sends_no_body,
        ),
        case(
            "metadata::head::missing_stream_is_404",
            &["HEAD-404"],
            head::missing_stream_is_404,
        ),
        case(
            "metadata::delete::is_204_then_404_everywhere",
            &["DELETE-204", "DELETE-GONE"],
            delete::is_204_then_404_everywhere,
        ),
        case(
            "metadata::delete::missing_stream_is_404",
            &["DELETE-404"],
            delete::missing_stream_is_404,
        ),
        case(
            "metadata::delete::recreated_stream_starts_empty",
            &["DELETE-RECREATE-FRESH"],
            delete::recreated_stream_starts_empty,
        ),
        case(
            "metadata::delete::closed_stream_can_be_deleted",
            &["DELETE-204", "DELETE-GONE"],
            delete::closed_stream_can_be_deleted,
        ),
    ]
}
