//! The `caching` cases (§10.1 ETag/304, Cache-Control) bite: each test
//! breaks one caching rule in front of the reference server and checks
//! that the right case fails.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ds_conformance::testing::bite;

/// A server doing its own ETags from the URL and, if `with_end`, the
/// response's `Stream-Next-Offset`, but never the closure status.
async fn own_etags(mut req: Request, next: Next, with_end: bool) -> Response {
    let key = req.uri().to_string();
    let inm = req.headers_mut().remove("if-none-match");
    let mut resp = next.run(req).await;
    if resp.status() != StatusCode::OK || !resp.headers().contains_key("etag") {
        return resp;
    }
    let end = match (with_end, resp.headers().get("stream-next-offset")) {
        (true, Some(v)) => v.to_str().unwrap_or("").to_string(),
        _ => String::new(),
    };
    let etag = format!("\"{}|{end}\"", key.replace('"', ""));
    if inm.as_ref().and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        let mut not_modified = Response::new(Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        return not_modified;
    }
    resp.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).expect("ascii"));
    resp
}

async fn control_reference_passes_every_caching_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("caching::").passes().await;
}

async fn etag_missing_is_caught() {
    let srv =
        crate::common::dropping_response_headers(|seen, _| seen.method == Method::GET, &["etag"])
            .await;
    bite(&srv.root)
        .each(&[
            ("caching::etag::present_on_catch_up", "ETAG-PRESENT"),
            ("caching::etag::present_on_long_poll_200", "ETAG-PRESENT"),
        ])
        .await;
}

async fn etag_if_none_match_ignored_is_caught() {
    let srv = crate::common::dropping_request_headers(&["if-none-match"]).await;
    bite(&srv.root)
        .case("caching::etag::if_none_match_is_304")
        .fails_with("ETAG-304")
        .await;
}

async fn etag_any_if_none_match_is_304_is_caught() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.headers.contains_key("if-none-match") && resp.status() == StatusCode::OK {
            resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("caching::etag::mismatch_is_200", "ETAG-MISMATCH-200"),
            ("caching::etag::changes_on_close", "ETAG-CLOSE-CHANGES"),
            ("caching::etag::changes_on_append", "ETAG-APPEND-CHANGES"),
        ])
        .await;
}

async fn etag_blind_to_closure_is_caught() {
    let srv =
        crate::common::with_middleware(500, |req: Request, next: Next| own_etags(req, next, true))
            .await;
    bite(&srv.root)
        .case("caching::etag::changes_on_close")
        .fails_with("ETAG-CLOSE-CHANGES")
        .await;
    bite(&srv.root)
        .case("caching::etag::changes_on_append")
        .passes()
        .await;
    bite(&srv.root)
        .case("caching::etag::if_none_match_is_304")
        .passes()
        .await;
}

async fn etag_blind_to_appends_is_caught() {
    let srv =
        crate::common::with_middleware(500, |req: Request, next: Next| own_etags(req, next, false))
            .await;
    bite(&srv.root)
        .case("caching::etag::changes_on_append")
        .fails_with("ETAG-APPEND-CHANGES")
        .await;
}

async fn etag_on_offset_now_is_caught() {
    let srv = crate::common::setting_response_header(
        |seen, _| seen.uri.query().unwrap_or("").contains("offset=now"),
        "etag",
        "\"now\"",
    )
    .await;
    bite(&srv.root)
        .case("caching::etag::absent_on_offset_now")
        .fails_with("ETAG-NOW-ABSENT")
        .await;
}

async fn cache_control_no_store_everywhere_is_caught() {
    let srv =
        crate::common::setting_response_header(|_, _| true, "cache-control", "no-store").await;
    bite(&srv.root)
        .case("caching::cache_control::catch_up_is_cacheable")
        .fails_with("CACHE-CATCHUP")
        .await;
    bite(&srv.root)
        .case("caching::cache_control::head_is_not_cacheable")
        .passes()
        .await;
}

async fn cache_control_missing_is_caught() {
    let srv = crate::common::dropping_response_headers(|_, _| true, &["cache-control"]).await;
    bite(&srv.root)
        .each(&[
            (
                "caching::cache_control::catch_up_is_cacheable",
                "CACHE-CATCHUP",
            ),
            (
                "caching::cache_control::offset_now_is_no_store",
                "CACHE-NOW-NO-STORE",
            ),
            (
                "caching::cache_control::head_is_not_cacheable",
                "CACHE-HEAD-NO-STORE",
            ),
        ])
        .await;
}

async fn long_poll_200_marked_no_store_is_caught() {
    // Every live answer no-store, data or not: catch-up stays cacheable, so
    // only the long-poll case can see it.
    let srv = crate::common::setting_response_header(
        |seen, _| crate::common::is_live(seen, "long-poll"),
        "cache-control",
        "no-store",
    )
    .await;
    bite(&srv.root)
        .case("caching::cache_control::long_poll_200_is_cacheable")
        .fails_with("CACHE-LONG-POLL")
        .await;
    bite(&srv.root)
        .case("caching::cache_control::catch_up_is_cacheable")
        .passes()
        .await;
}

async fn closed_final_chunk_without_stream_closed_names_its_rule() {
    // Reads never carry Stream-Closed: the read from -1 after closing is a
    // final chunk of data, so the failure names READ-CLOSED-FINAL-CHUNK
    // (it used to name the tail-EOF rule).
    let srv = crate::common::dropping_response_headers(
        |seen, _| seen.method == Method::GET,
        &["stream-closed"],
    )
    .await;
    bite(&srv.root)
        .case("caching::etag::changes_on_close")
        .fails_with("READ-CLOSED-FINAL-CHUNK")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_caching_case,
        tokio etag_missing_is_caught,
        tokio etag_if_none_match_ignored_is_caught,
        tokio etag_any_if_none_match_is_304_is_caught,
        tokio etag_blind_to_closure_is_caught,
        tokio etag_blind_to_appends_is_caught,
        tokio etag_on_offset_now_is_caught,
        tokio cache_control_no_store_everywhere_is_caught,
        tokio cache_control_missing_is_caught,
        tokio long_poll_200_marked_no_store_is_caught,
        tokio closed_final_chunk_without_stream_closed_names_its_rule,
    ]
}
