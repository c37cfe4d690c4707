//! §10.1 caching: ETag / If-None-Match / 304 (and how closure and appends
//! change the ETag), Cache-Control of catch-up, `offset=now` (§8) and HEAD
//! (§5.5). Cursor rules live with the live modes (longpoll::cursor,
//! sse::control).

use crate::case::Case;

pub(crate) mod cache_control;
mod etag;

pub fn cases() -> Vec<Case> {
    [etag::cases as fn() -> Vec<Case>, cache_control::cases]
        .iter()
        .flat_map(|f| f())
        .collect()
}
