//! Cases for the `fork` area: §4.2 forks (creation, errors, idempotency,
//! sub-offsets), reading forks (§8, §9.1), live modes on forks (§5.7,
//! §5.8), soft-delete by DELETE and cascading cleanup (§4.2, §5.4), and
//! writer state across fork boundaries. Fork TTL/expiry is the ttl area's.

use crate::case::{case, Case};

mod create;
mod errors;
mod idempotent;
mod lifecycle;
mod live;
mod read;
mod suboffset;
pub(crate) mod util;
mod writers;

pub fn cases() -> Vec<Case> {
    vec![
        // create
        case(
            "fork::create::default_offset_is_source_tail",
            &["FORK-CREATE", "FORK-DEFAULT-OFFSET"],
            create::default_offset_is_source_tail,
        ),
        case(
            "fork::create::explicit_offset_inherits_prefix",
            &["FORK-CREATE", "FORK-OFFSET-EXCLUSIVE"],
            create::explicit_offset_inherits_prefix,
        ),
        case(
            "fork::create::fork_at_start_inherits_nothing",
            &["FORK-OFFSET-EXCLUSIVE", "FORK-INDEPENDENT"],
            create::fork_at_start_inherits_nothing,
        ),
        case(
            "fork::create::fork_of_empty_source",
            &["FORK-DEFAULT-OFFSET", "FORK-INDEPENDENT"],
            create::fork_of_empty_source,
        ),
        case(
            "fork::create::content_type_omitted_is_inherited",
            &["FORK-CT-INHERIT"],
            create::content_type_omitted_is_inherited,
        ),
        case(
            "fork::create::content_type_equal_is_accepted",
            &["FORK-CT-MATCH"],
            create::content_type_equal_is_accepted,
        ),
        case(
            "fork::create::closed_source_gives_open_fork",
            &["FORK-CLOSED-SOURCE", "FORK-INDEPENDENT"],
            create::closed_source_gives_open_fork,
        ),
        case(
            "fork::create::initial_body_follows_inherited",
            &["FORK-INITIAL-BODY"],
            create::initial_body_follows_inherited,
        ),
        // errors
        case(
            "fork::errors::source_missing_is_404",
            &["FORK-SOURCE-MISSING-404", "FORK-REJECT-NO-SIDE-EFFECT"],
            errors::source_missing_is_404,
        ),
        case(
            "fork::errors::source_deleted_is_404",
            &["FORK-SOURCE-MISSING-404", "FORK-REJECT-NO-SIDE-EFFECT"],
            errors::source_deleted_is_404,
        ),
        case(
            "fork::errors::self_as_source_is_404",
            &["FORK-SOURCE-MISSING-404", "FORK-REJECT-NO-SIDE-EFFECT"],
            errors::self_as_source_is_404,
        ),
        case(
            "fork::errors::offset_beyond_tail_is_400",
            &["FORK-OFFSET-BEYOND-400", "FORK-REJECT-NO-SIDE-EFFECT"],
            errors::offset_beyond_tail_is_400,
        ),
        case(
            "fork::errors::offset_malformed_is_400",
            &[
                "FORK-OFFSET-MALFORMED-400",
                "FORK-REJECT-NO-SIDE-EFFECT",
                "FORK-OFFSET-EXCLUSIVE",
            ],
            errors::offset_malformed_is_400,
        ),
        case(
            "fork::errors::sub_offset_invalid_is_400",
            &[
                "FORK-SUB-INVALID-400",
                "FORK-SUB-OVERSHOOT-400",
                "FORK-REJECT-NO-SIDE-EFFECT",
                "FORK-SUB-BYTES",
            ],
            errors::sub_offset_invalid_is_400,
        ),
        case(
            "fork::errors::content_type_mismatch_is_409",
            &["FORK-CT-MISMATCH-409", "FORK-REJECT-NO-SIDE-EFFECT"],
            errors::content_type_mismatch_is_409,
        ),
        case(
            "fork::errors::target_in_use_is_409",
            &["FORK-TARGET-IN-USE-409", "FORK-REJECT-NO-SIDE-EFFECT"],
            errors::target_in_use_is_409,
        ),
        case(
            "fork::errors::source_soft_deleted_is_409",
            &[
                "FORK-SOURCE-SOFTDELETED-409",
                "FORK-REJECT-NO-SIDE-EFFECT",
                "GC-CASCADE",
            ],
            errors::source_soft_deleted_is_409,
        ),
        case(
            "fork::errors::fork_headers_without_source_are_400",
            &["FORK-HEADERS-NEED-SOURCE"],
            errors::fork_headers_without_source_are_400,
        ),
        case(
            "fork::errors::sentinel_fork_offsets",
            &["FORK-OFFSET-SENTINEL"],
            errors::sentinel_fork_offsets,
        ),
        // idempotent re-PUT
        case(
            "fork::idempotent::same_config_is_200",
            &["FORK-IDEMPOTENT-200"],
            idempotent::same_config_is_200,
        ),
        case(
            "fork::idempotent::content_type_omitted_on_reput_is_200",
            &["FORK-IDEMPOTENT-200", "FORK-CT-INHERIT"],
            idempotent::content_type_omitted_on_reput_is_200,
        ),
        case(
            "fork::idempotent::sub_offset_zero_equals_omitted",
            &["FORK-SUB-ZERO-EQUIV"],
            idempotent::sub_offset_zero_equals_omitted,
        ),
        case(
            "fork::idempotent::after_own_appends_is_200",
            &["FORK-IDEMPOTENT-200"],
            idempotent::after_own_appends_is_200,
        ),
        case(
            "fork::idempotent::default_offset_reput_is_200",
            &["FORK-IDEMPOTENT-200", "FORK-IDEMPOTENT-RESOLVED-OFFSET"],
            idempotent::default_offset_reput_is_200,
        ),
        case(
            "fork::idempotent::other_offset_is_409",
            &["FORK-IDEMPOTENT-DIFF-409"],
            idempotent::other_offset_is_409,
        ),
        case(
            "fork::idempotent::other_source_is_409",
            &["FORK-IDEMPOTENT-DIFF-409", "FORK-REJECT-NO-SIDE-EFFECT"],
            idempotent::other_source_is_409,
        ),
        case(
            "fork::idempotent::other_sub_offset_is_409",
            &["FORK-IDEMPOTENT-DIFF-409", "FORK-IDEMPOTENT-200"],
            idempotent::other_sub_offset_is_409,
        ),
        case(
            "fork::idempotent::plain_put_on_fork_is_409",
            &["FORK-IDEMPOTENT-DIFF-409"],
            idempotent::plain_put_on_fork_is_409,
        ),
        case(
            "fork::idempotent::closed_fork_reput",
            &["FORK-IDEMPOTENT-DIFF-409", "FORK-IDEMPOTENT-200"],
            idempotent::closed_fork_reput,
        ),
        case(
            "fork::idempotent::fork_of_closed_source_reput",
            &["FORK-IDEMPOTENT-200", "FORK-CLOSED-SOURCE"],
            idempotent::fork_of_closed_source_reput,
        ),
        // sub-offsets
        case(
            "fork::suboffset::bytes_inside_append",
            &["FORK-SUB-BYTES"],
            suboffset::bytes_inside_append,
        ),
        case(
            "fork::suboffset::bytes_not_characters",
            &["FORK-SUB-BYTES"],
            suboffset::bytes_not_characters,
        ),
        case(
            "fork::suboffset::bytes_mid_stream_anchor",
            &["FORK-SUB-BYTES", "FORK-OFFSETS-SHARED"],
            suboffset::bytes_mid_stream_anchor,
        ),
        case(
            "fork::suboffset::bytes_at_boundary_is_accepted",
            &["FORK-SUB-AT-BOUNDARY"],
            suboffset::bytes_at_boundary_is_accepted,
        ),
        case(
            "fork::suboffset::bytes_past_boundary_is_400",
            &["FORK-SUB-OVERSHOOT-400", "FORK-REJECT-NO-SIDE-EFFECT"],
            suboffset::bytes_past_boundary_is_400,
        ),
        case(
            "fork::suboffset::past_tail_is_400",
            &[
                "FORK-SUB-OVERSHOOT-400",
                "FORK-SUB-ZERO-EQUIV",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ],
            suboffset::past_tail_is_400,
        ),
        case(
            "fork::suboffset::json_inside_batch",
            &["FORK-SUB-JSON", "FORK-JSON-ONE-ARRAY"],
            suboffset::json_inside_batch,
        ),
        case(
            "fork::suboffset::json_messages_with_commas",
            &["FORK-SUB-JSON"],
            suboffset::json_messages_with_commas,
        ),
        case(
            "fork::suboffset::json_boundary_and_past",
            &["FORK-SUB-AT-BOUNDARY", "FORK-SUB-OVERSHOOT-400"],
            suboffset::json_boundary_and_past,
        ),
        case(
            "fork::suboffset::chained_sub_offsets",
            &["FORK-SUB-BYTES", "FORK-CHAIN"],
            suboffset::chained_sub_offsets,
        ),
        // reads
        case(
            "fork::read::from_start",
            &["FORK-READ-STITCH"],
            read::from_start,
        ),
        case(
            "fork::read::from_every_source_offset",
            &["FORK-OFFSETS-SHARED"],
            read::from_every_source_offset,
        ),
        case(
            "fork::read::fork_at_every_source_offset",
            &["FORK-OFFSET-EXCLUSIVE"],
            read::fork_at_every_source_offset,
        ),
        case(
            "fork::read::from_fork_point_and_own_offsets",
            &["FORK-OFFSETS-SHARED", "FORK-READ-STITCH"],
            read::from_fork_point_and_own_offsets,
        ),
        case(
            "fork::read::source_appends_invisible",
            &["FORK-SOURCE-APPENDS-INVISIBLE", "FORK-INDEPENDENT"],
            read::source_appends_invisible,
        ),
        case(
            "fork::read::chunked_across_boundary",
            &["FORK-READ-STITCH", "FORK-OFFSETS-SHARED"],
            read::chunked_across_boundary,
        ),
        case(
            "fork::read::json_one_array",
            &["FORK-JSON-ONE-ARRAY"],
            read::json_one_array,
        ),
        case(
            "fork::read::chain_depth_three",
            &["FORK-CHAIN"],
            read::chain_depth_three,
        ),
        case(
            "fork::read::fork_of_fork_at_inherited_offset",
            &["FORK-CHAIN"],
            read::fork_of_fork_at_inherited_offset,
        ),
        case(
            "fork::read::chunk_offsets_valid_on_source",
            &["FORK-OFFSETS-SHARED"],
            read::chunk_offsets_valid_on_source,
        ),
        // live modes
        case(
            "fork::live::long_poll_inherited_is_immediate",
            &["FORK-LP-INHERITED"],
            live::long_poll_inherited_is_immediate,
        ),
        case(
            "fork::live::long_poll_ignores_source_appends",
            &["FORK-LP-SOURCE-NO-WAKE"],
            live::long_poll_ignores_source_appends,
        )
        .slow(),
        case(
            "fork::live::long_poll_woken_by_fork_append",
            &["FORK-LP-OWN-WAKE"],
            live::long_poll_woken_by_fork_append,
        ),
        case(
            "fork::live::long_poll_woken_by_fork_close",
            &["FORK-LP-CLOSE-WAKE"],
            live::long_poll_woken_by_fork_close,
        ),
        case(
            "fork::live::sse_inherited_then_own",
            &["FORK-SSE"],
            live::sse_inherited_then_own,
        ),
        case(
            "fork::live::sse_json_fork",
            &["FORK-SSE"],
            live::sse_json_fork,
        ),
        case(
            "fork::live::sse_from_inherited_offset",
            &["FORK-SSE"],
            live::sse_from_inherited_offset,
        ),
        case(
            "fork::live::long_poll_survives_source_delete",
            &["FORK-INDEPENDENT", "SOFTDEL-DELETE-204"],
            live::long_poll_survives_source_delete,
        ),
        // soft-delete and cleanup
        case(
            "fork::lifecycle::get_is_410",
            &["SOFTDEL-DELETE-204", "SOFTDEL-GET-410"],
            lifecycle::get_is_410,
        ),
        case(
            "fork::lifecycle::live_get_is_410",
            &["SOFTDEL-GET-410"],
            lifecycle::live_get_is_410,
        ),
        case(
            "fork::lifecycle::head_is_410",
            &["SOFTDEL-HEAD-410"],
            lifecycle::head_is_410,
        ),
        case(
            "fork::lifecycle::post_is_410",
            &["SOFTDEL-POST-410"],
            lifecycle::post_is_410,
        ),
        case(
            "fork::lifecycle::delete_again_is_410",
            &["SOFTDEL-DELETE-410"],
            lifecycle::delete_again_is_410,
        ),
        case(
            "fork::lifecycle::put_is_409",
            &["SOFTDEL-PUT-409"],
            lifecycle::put_is_409,
        ),
        case(
            "fork::lifecycle::fork_reads_after_source_deleted",
            &["SOFTDEL-FORK-READS", "FORK-CHAIN"],
            lifecycle::fork_reads_after_source_deleted,
        ),
        case(
            "fork::lifecycle::last_fork_delete_cascades",
            &["GC-CASCADE", "SOFTDEL-HEAD-410"],
            lifecycle::last_fork_delete_cascades,
        ),
        case(
            "fork::lifecycle::refcount_counts_every_fork",
            &["GC-REFCOUNT", "GC-CASCADE"],
            lifecycle::refcount_counts_every_fork,
        ),
        case(
            "fork::lifecycle::cascade_through_chain",
            &["GC-CASCADE-CHAIN", "SOFTDEL-FORK-READS"],
            lifecycle::cascade_through_chain,
        ),
        case(
            "fork::lifecycle::live_source_survives_fork_deletes",
            &["GC-LIVE-SOURCE-KEPT"],
            lifecycle::live_source_survives_fork_deletes,
        ),
        case(
            "fork::lifecycle::cascade_stops_at_live_source",
            &[
                "GC-LIVE-SOURCE-KEPT",
                "GC-CASCADE",
                "SOFTDEL-HEAD-410",
                "SOFTDEL-FORK-READS",
            ],
            lifecycle::cascade_stops_at_live_source,
        ),
        case(
            "fork::lifecycle::close_is_independent",
            &["FORK-INDEPENDENT"],
            lifecycle::close_is_independent,
        ),
        case(
            "fork::lifecycle::closed_source_soft_deleted",
            &[
                "SOFTDEL-POST-410",
                "SOFTDEL-GET-410",
                "SOFTDEL-HEAD-410",
                "SOFTDEL-PUT-409",
            ],
            lifecycle::closed_source_soft_deleted,
        ),
        case(
            "fork::lifecycle::concurrent_forks_refcount",
            &["GC-REFCOUNT", "GC-CASCADE"],
            lifecycle::concurrent_forks_refcount,
        ),
        // writer state
        case(
            "fork::writers::producer_dup_is_new_on_fork",
            &["FORK-NO-PRODUCER-STATE"],
            writers::producer_dup_is_new_on_fork,
        ),
        case(
            "fork::writers::producer_epoch_is_new_on_fork",
            &["FORK-NO-PRODUCER-STATE"],
            writers::producer_epoch_is_new_on_fork,
        ),
        case(
            "fork::writers::producer_across_sub_offset",
            &["FORK-NO-PRODUCER-STATE", "FORK-SUB-JSON"],
            writers::producer_across_sub_offset,
        ),
        case(
            "fork::writers::stream_seq_not_inherited",
            &["FORK-NO-SEQ-STATE"],
            writers::stream_seq_not_inherited,
        ),
    ]
}
