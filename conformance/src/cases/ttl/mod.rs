//! §4 "TTL/Expiry", §5.1 Stream-TTL / Stream-Expires-At, §5.5 HEAD metadata,
//! §4.2 fork expiry table and expiry-induced soft-delete.

use crate::case::{case, Case};

mod expired;
mod expires_at;
mod fork_expiry;
mod fork_table;
mod headers;
mod renewal;
mod soft_delete;
mod util;

pub fn cases() -> Vec<Case> {
    vec![
        // renewal: every read/write kind resets the TTL, HEAD does not
        case(
            "ttl::renewal::catch_up_get_renews",
            &["TTL-RENEW-READ", "TTL-EXPIRES-IDLE"],
            renewal::catch_up_get_renews,
        )
        .slow(),
        case(
            "ttl::renewal::offset_now_get_renews",
            &["TTL-RENEW-READ", "TTL-EXPIRES-IDLE"],
            renewal::offset_now_get_renews,
        )
        .slow(),
        case(
            "ttl::renewal::long_poll_renews",
            &["TTL-RENEW-LIVE", "TTL-EXPIRES-IDLE"],
            renewal::long_poll_renews,
        )
        .slow(),
        case(
            "ttl::renewal::sse_renews",
            &["TTL-RENEW-LIVE", "TTL-EXPIRES-IDLE"],
            renewal::sse_renews,
        )
        .slow(),
        case(
            "ttl::renewal::append_renews",
            &["TTL-RENEW-WRITE", "TTL-EXPIRES-IDLE"],
            renewal::append_renews,
        )
        .slow(),
        case(
            "ttl::renewal::close_only_renews",
            &["TTL-RENEW-WRITE", "TTL-EXPIRES-IDLE"],
            renewal::close_only_renews,
        )
        .slow(),
        case(
            "ttl::renewal::producer_append_renews",
            &["TTL-RENEW-WRITE", "TTL-EXPIRES-IDLE"],
            renewal::producer_append_renews,
        )
        .slow(),
        case(
            "ttl::renewal::head_does_not_renew",
            &["TTL-HEAD-NO-RENEW", "TTL-EXPIRES-IDLE"],
            renewal::head_does_not_renew,
        )
        .slow(),
        // absolute expiry
        case(
            "ttl::expires_at::not_extended_by_reads_or_writes",
            &[
                "EXPIRES-AT-NOT-EXTENDED",
                "EXPIRES-AT-EXPIRES",
                "TTL-EXPIRED-404",
            ],
            expires_at::not_extended_by_reads_or_writes,
        )
        .slow(),
        // HEAD metadata
        case(
            "ttl::headers::head_reports_ttl",
            &["TTL-HEAD-VALUE", "TTL-HEAD-REPORTS"],
            headers::head_reports_ttl,
        ),
        case(
            "ttl::headers::head_reports_expires_at",
            &["TTL-HEAD-VALUE", "TTL-HEAD-REPORTS"],
            headers::head_reports_expires_at,
        ),
        case(
            "ttl::headers::head_reports_no_expiry",
            &["TTL-HEAD-VALUE"],
            headers::head_reports_no_expiry,
        ),
        // after expiry
        case(
            "ttl::expired::ttl_every_operation_404",
            &["TTL-EXPIRED-404", "TTL-EXPIRES-IDLE"],
            expired::ttl_every_operation_404,
        )
        .slow(),
        case(
            "ttl::expired::expires_at_every_operation_404",
            &["TTL-EXPIRED-404", "EXPIRES-AT-EXPIRES"],
            expired::expires_at_every_operation_404,
        )
        .slow(),
        case(
            "ttl::expired::recreate_after_expiry_is_fresh",
            &["TTL-EXPIRED-RECREATE-FRESH", "TTL-EXPIRES-IDLE"],
            expired::recreate_after_expiry_is_fresh,
        )
        .slow(),
        case(
            "ttl::expired::same_config_put_after_expiry_is_not_200",
            &["TTL-EXPIRED-RECREATE-FRESH", "TTL-EXPIRES-IDLE"],
            expired::same_config_put_after_expiry_is_not_200,
        )
        .slow(),
        // §4.2 fork expiry table through HEAD
        case(
            "ttl::fork_table::none_none",
            &["FORKTTL-NONE-NONE"],
            fork_table::none_none,
        ),
        case(
            "ttl::fork_table::none_ttl",
            &["FORKTTL-NONE-TTL", "TTL-HEAD-REPORTS"],
            fork_table::none_ttl,
        ),
        case(
            "ttl::fork_table::none_at",
            &["FORKTTL-NONE-AT", "TTL-HEAD-REPORTS"],
            fork_table::none_at,
        ),
        case(
            "ttl::fork_table::ttl_none",
            &["FORKTTL-TTL-NONE", "TTL-HEAD-REPORTS"],
            fork_table::ttl_none,
        ),
        case(
            "ttl::fork_table::ttl_ttl",
            &["FORKTTL-TTL-TTL", "TTL-HEAD-REPORTS"],
            fork_table::ttl_ttl,
        ),
        case(
            "ttl::fork_table::ttl_at",
            &["FORKTTL-TTL-AT", "TTL-HEAD-REPORTS"],
            fork_table::ttl_at,
        ),
        case(
            "ttl::fork_table::at_none",
            &["FORKTTL-AT-NONE", "TTL-HEAD-REPORTS"],
            fork_table::at_none,
        ),
        case(
            "ttl::fork_table::at_ttl",
            &["FORKTTL-AT-TTL", "TTL-HEAD-REPORTS"],
            fork_table::at_ttl,
        ),
        case(
            "ttl::fork_table::at_at",
            &["FORKTTL-AT-AT", "TTL-HEAD-REPORTS"],
            fork_table::at_at,
        ),
        // §4.2 fork expiry table through actual expiry
        case(
            "ttl::fork_expiry::none_none_never_expires",
            &["FORKTTL-NONE-NONE"],
            fork_expiry::none_none_never_expires,
        )
        .slow(),
        case(
            "ttl::fork_expiry::none_ttl_fork_expires",
            &["FORKTTL-NONE-TTL"],
            fork_expiry::none_ttl_fork_expires,
        )
        .slow(),
        case(
            "ttl::fork_expiry::none_at_fork_expires",
            &["FORKTTL-NONE-AT"],
            fork_expiry::none_at_fork_expires,
        )
        .slow(),
        case(
            "ttl::fork_expiry::ttl_none_refreshed_independently",
            &["FORKTTL-TTL-NONE"],
            fork_expiry::ttl_none_refreshed_independently,
        )
        .slow(),
        case(
            "ttl::fork_expiry::ttl_ttl_fork_expires",
            &["FORKTTL-TTL-TTL"],
            fork_expiry::ttl_ttl_fork_expires,
        )
        .slow(),
        case(
            "ttl::fork_expiry::ttl_at_fork_expires",
            &["FORKTTL-TTL-AT"],
            fork_expiry::ttl_at_fork_expires,
        )
        .slow(),
        case(
            "ttl::fork_expiry::at_none_fork_inherits_deadline",
            &["FORKTTL-AT-NONE"],
            fork_expiry::at_none_fork_inherits_deadline,
        )
        .slow(),
        case(
            "ttl::fork_expiry::at_ttl_fork_outlives",
            &["FORKTTL-AT-TTL", "FORKTTL-OUTLIVE-SOURCE"],
            fork_expiry::at_ttl_fork_outlives,
        )
        .slow(),
        case(
            "ttl::fork_expiry::at_at_fork_outlives",
            &["FORKTTL-AT-AT", "FORKTTL-OUTLIVE-SOURCE"],
            fork_expiry::at_at_fork_outlives,
        )
        .slow(),
        // expiry-induced soft-delete and cleanup
        case(
            "ttl::soft_delete::expired_source_with_fork_is_soft_deleted",
            &[
                "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED",
                "FORKTTL-EXPIRED-SOURCE-PUT-409",
                "FORKTTL-OUTLIVE-SOURCE",
                "FORKTTL-EXPIRED-SOURCE-CLEANUP",
            ],
            soft_delete::expired_source_with_fork_is_soft_deleted,
        )
        .slow(),
        case(
            "ttl::soft_delete::last_fork_expiry_cleans_up_expired_source",
            &[
                "FORKTTL-EXPIRED-SOURCE-CLEANUP",
                "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED",
            ],
            soft_delete::last_fork_expiry_cleans_up_expired_source,
        )
        .slow(),
        case(
            "ttl::soft_delete::deleted_source_cleaned_up_by_fork_expiry",
            &[
                "FORKTTL-FORK-EXPIRY-GC",
                "SOFTDEL-DELETE-204",
                "SOFTDEL-HEAD-410",
                "TTL-EXPIRES-IDLE",
            ],
            soft_delete::deleted_source_cleaned_up_by_fork_expiry,
        )
        .slow(),
    ]
}
