//! §5.2 Append to Stream: success, ordering, content type, empty bodies,
//! `Stream-Seq`, error precedence.

use crate::case::{case, Case};

mod basic;
mod content_type;
mod precedence;
mod seq;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "append::basic::append_is_204_with_tail",
            &["APPEND-204"],
            basic::append_is_204_with_tail,
        ),
        case(
            "append::basic::order_preserved",
            &["STREAM-ORDER", "CT-BYTES-OPAQUE"],
            basic::order_preserved,
        ),
        case(
            "append::basic::large_bodies",
            &["STREAM-ORDER", "OFFSET-STABLE"],
            basic::large_bodies,
        ),
        case(
            "append::basic::chunked_body_is_accepted",
            &["APPEND-CHUNKED"],
            basic::chunked_body_is_accepted,
        ),
        case(
            "append::basic::empty_body_is_400",
            &["APPEND-EMPTY-BODY-400"],
            basic::empty_body_is_400,
        ),
        case(
            "append::basic::missing_stream_is_404",
            &["APPEND-404"],
            basic::missing_stream_is_404,
        ),
        case(
            "append::content_type::mismatch_is_409",
            &["APPEND-CT-MISMATCH-409"],
            content_type::mismatch_is_409,
        ),
        case(
            "append::content_type::missing_is_400",
            &["APPEND-CT-REQUIRED-400"],
            content_type::missing_is_400,
        ),
        case(
            "append::content_type::same_with_parameters_is_accepted",
            &["APPEND-204"],
            content_type::same_with_parameters_is_accepted,
        ),
        case(
            "append::content_type::media_type_case_is_ignored",
            &["CT-MEDIA-TYPE-CASE"],
            content_type::media_type_case_is_ignored,
        ),
        case(
            "append::seq::increasing_is_accepted",
            &["SEQ-INCREASING-ACCEPTED"],
            seq::increasing_is_accepted,
        ),
        case(
            "append::seq::rejected_append_does_not_consume_seq",
            &["SEQ-INCREASING-ACCEPTED"],
            seq::rejected_append_does_not_consume_seq,
        ),
        case(
            "append::seq::equal_is_409",
            &["SEQ-REGRESSION-409"],
            seq::equal_is_409,
        ),
        case(
            "append::seq::regression_is_409",
            &["SEQ-REGRESSION-409"],
            seq::regression_is_409,
        ),
        case(
            "append::seq::compared_bytewise_not_numerically",
            &["SEQ-LEXICOGRAPHIC"],
            seq::compared_bytewise_not_numerically,
        ),
        case(
            "append::seq::compared_bytewise_not_case_folded",
            &["SEQ-LEXICOGRAPHIC"],
            seq::compared_bytewise_not_case_folded,
        ),
        case(
            "append::precedence::closed_before_content_type",
            &["APPEND-ERROR-PRECEDENCE"],
            precedence::closed_before_content_type,
        ),
        case(
            "append::precedence::closed_before_seq",
            &["APPEND-ERROR-PRECEDENCE"],
            precedence::closed_before_seq,
        ),
    ]
}
