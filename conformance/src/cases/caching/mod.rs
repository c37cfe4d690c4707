//! §10.1 caching: ETag / If-None-Match / 304 (and how closure and appends
//! change the ETag), Cache-Control of catch-up, `offset=now` (§8) and HEAD
//! (§5.5). Cursor rules live with the live modes (longpoll::cursor,
//! sse::control).

use crate::case::{case, Case};

pub(crate) mod cache_control;
mod etag;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "caching::etag::present_on_catch_up",
            &["ETAG-PRESENT"],
            etag::present_on_catch_up,
        ),
        case(
            "caching::etag::present_on_long_poll_200",
            &["ETAG-PRESENT"],
            etag::present_on_long_poll_200,
        ),
        case(
            "caching::etag::if_none_match_is_304",
            &["ETAG-304"],
            etag::if_none_match_is_304,
        ),
        case(
            "caching::etag::mismatch_is_200",
            &["ETAG-MISMATCH-200"],
            etag::mismatch_is_200,
        ),
        case(
            "caching::etag::changes_on_close",
            &["ETAG-CLOSE-CHANGES"],
            etag::changes_on_close,
        ),
        case(
            "caching::etag::changes_on_append",
            &["ETAG-APPEND-CHANGES"],
            etag::changes_on_append,
        ),
        case(
            "caching::etag::absent_on_offset_now",
            &["ETAG-NOW-ABSENT"],
            etag::absent_on_offset_now,
        ),
        case(
            "caching::cache_control::catch_up_is_cacheable",
            &["CACHE-CATCHUP"],
            cache_control::catch_up_is_cacheable,
        ),
        case(
            "caching::cache_control::long_poll_200_is_cacheable",
            &["CACHE-LONG-POLL"],
            cache_control::long_poll_200_is_cacheable,
        ),
        case(
            "caching::cache_control::offset_now_is_no_store",
            &["CACHE-NOW-NO-STORE"],
            cache_control::offset_now_is_no_store,
        ),
        case(
            "caching::cache_control::head_is_not_cacheable",
            &["CACHE-HEAD-NO-STORE"],
            cache_control::head_is_not_cacheable,
        ),
    ]
}
