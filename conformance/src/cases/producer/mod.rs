//! §5.2.1 Idempotent Producers: validation table, header syntax, response
//! headers, concurrency, closure, interplay with Stream-Seq (§5.2).

use crate::case::{case, Case};

mod close;
mod concurrency;
mod stream_seq;
mod syntax;
mod util;
mod validation;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "producer::validation::new_producer_accepted",
            &["PROD-NEW-PRODUCER", "PROD-RESP-EPOCH", "PROD-RESP-SEQ"],
            validation::new_producer_accepted,
        ),
        case(
            "producer::validation::new_producer_nonzero_seq_rejected",
            &["PROD-NEW-PRODUCER"],
            validation::new_producer_nonzero_seq_rejected,
        ),
        case(
            "producer::validation::next_seq_accepted",
            &["PROD-SEQ-NEXT", "PROD-RESP-EPOCH", "PROD-RESP-SEQ"],
            validation::next_seq_accepted,
        ),
        case(
            "producer::validation::duplicate_is_204_not_appended",
            &["PROD-SEQ-DUP", "PROD-RESP-EPOCH", "PROD-RESP-SEQ"],
            validation::duplicate_is_204_not_appended,
        ),
        case(
            "producer::validation::gap_is_409_with_expected_and_received",
            &["PROD-SEQ-GAP"],
            validation::gap_is_409_with_expected_and_received,
        ),
        case(
            "producer::validation::epoch_bump_accepted",
            &["PROD-EPOCH-BUMP", "PROD-RESP-EPOCH", "PROD-RESP-SEQ"],
            validation::epoch_bump_accepted,
        ),
        case(
            "producer::validation::epoch_bump_with_nonzero_seq_is_400",
            &["PROD-EPOCH-BUMP-SEQ-400"],
            validation::epoch_bump_with_nonzero_seq_is_400,
        ),
        case(
            "producer::validation::stale_epoch_is_403_with_current_epoch",
            &["PROD-STALE-EPOCH"],
            validation::stale_epoch_is_403_with_current_epoch,
        ),
        case(
            "producer::syntax::non_integer_values_are_400",
            &["PROD-VALUE-INTEGER"],
            syntax::non_integer_values_are_400,
        ),
        case(
            "producer::syntax::values_above_2_pow_53_minus_1_are_400",
            &["PROD-VALUE-MAX"],
            syntax::values_above_2_pow_53_minus_1_are_400,
        ),
        case(
            "producer::syntax::non_canonical_integers_are_400",
            &["PROD-VALUE-CANONICAL"],
            syntax::non_canonical_integers_are_400,
        ),
        case(
            "producer::syntax::max_values_accepted",
            &["PROD-VALUE-MAX", "PROD-SEQ-GAP"],
            syntax::max_values_accepted,
        ),
        case(
            "producer::syntax::partial_header_sets_are_400",
            &["PROD-ALL-OR-NONE"],
            syntax::partial_header_sets_are_400,
        ),
        case(
            "producer::syntax::empty_producer_id_is_400",
            &["PROD-ID-NON-EMPTY"],
            syntax::empty_producer_id_is_400,
        ),
        case(
            "producer::concurrency::producers_are_independent",
            &["PROD-INDEPENDENT"],
            concurrency::producers_are_independent,
        ),
        case(
            "producer::concurrency::pipelined_retries_append_once",
            &["PROD-SERIALIZE", "PROD-RESP-SEQ"],
            concurrency::pipelined_retries_append_once,
        ),
        case(
            "producer::close::close_with_final_append",
            &["PROD-CLOSE-WITH-APPEND"],
            close::close_with_final_append,
        ),
        case(
            "producer::close::duplicate_close_is_204",
            &["PROD-CLOSE-DUP", "PROD-SEQ-DUP"],
            close::duplicate_close_is_204,
        ),
        case(
            "producer::close::close_only_with_producer_headers",
            &["PROD-CLOSE-WITH-APPEND", "PROD-CLOSE-DUP"],
            close::close_only_with_producer_headers,
        ),
        case(
            "producer::close::other_tuple_on_closed_is_409",
            &["PROD-CLOSED-OTHER-409"],
            close::other_tuple_on_closed_is_409,
        ),
        case(
            "producer::close::zombie_after_close_rejected",
            &[
                "PROD-CLOSED-ZOMBIE",
                "PROD-CLOSED-PRECEDENCE",
                "PROD-STALE-EPOCH",
            ],
            close::zombie_after_close_rejected,
        ),
        case(
            "producer::stream_seq::stream_seq_rejection_does_not_advance_producer",
            &["PROD-STREAM-SEQ-ATOMIC"],
            stream_seq::stream_seq_rejection_does_not_advance_producer,
        ),
        case(
            "producer::stream_seq::retry_with_stream_seq_appends_once",
            &["PROD-SEQ-DUP"],
            stream_seq::retry_with_stream_seq_appends_once,
        ),
    ]
}
