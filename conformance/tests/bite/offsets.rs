//! The offset cases bite: each test breaks one §8 rule in front of the
//! reference server and asserts the matching case fails.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

fn query(req: &Request) -> String {
    req.uri().query().unwrap_or("").to_string()
}

/// Rewrite the request's query string.
fn set_query(req: &mut Request, q: &str) {
    let path = req.uri().path().to_string();
    let uri = if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    };
    *req.uri_mut() = uri.parse().unwrap();
}

async fn control_reference_passes_every_offsets_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("offsets::").passes().await;
}

async fn sentinels_swapped() {
    // No offset reads from the tail; offset=now reads from the start.
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::GET {
            let q = query(&req);
            if q.is_empty() {
                set_query(&mut req, "offset=now");
            } else if q == "offset=now" {
                set_query(&mut req, "offset=-1");
            }
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "offsets::sentinels::minus_one_equals_omitted",
                "OFFSET-MINUS-ONE",
            ),
            (
                "offsets::sentinels::now_is_empty_at_tail",
                "OFFSET-NOW-CATCHUP",
            ),
            (
                "offsets::sentinels::now_on_closed_stream",
                "OFFSET-NOW-CLOSED",
            ),
        ])
        .await;
}

async fn sentinels_now_cacheable() {
    let srv = crate::common::setting_response_header(
        |seen, _| seen.uri.query() == Some("offset=now"),
        "cache-control",
        "public, max-age=60",
    )
    .await;
    bite(&srv.root)
        .case("offsets::sentinels::now_is_not_cacheable")
        .fails_with("OFFSET-NOW-NO-STORE")
        .await;
}

async fn minted_offsets_broken() {
    // Appends return a constant offset; HEAD offsets get a '/' and grow long.
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::POST && resp.status() == StatusCode::NO_CONTENT {
            resp.headers_mut()
                .insert("stream-next-offset", HeaderValue::from_static("0"));
        }
        if seen.method == Method::HEAD {
            let long = format!("a/{}", "x".repeat(300));
            resp.headers_mut()
                .insert("stream-next-offset", HeaderValue::from_str(&long).unwrap());
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("offsets::minted::strictly_increasing", "OFFSET-INCREASING"),
            (
                "offsets::minted::never_reserved_or_forbidden",
                "OFFSET-CHARS",
            ),
            ("offsets::minted::reasonably_short", "OFFSET-SHORT"),
        ])
        .await;
}

async fn minted_offsets_not_honoured_on_reads() {
    // Reads from any real offset start from the beginning.
    let srv = crate::common::with_request(|mut req| {
        let q = query(&req);
        if req.method() == Method::GET
            && q.starts_with("offset=")
            && q != "offset=-1"
            && q != "offset=now"
        {
            set_query(&mut req, "offset=-1");
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "offsets::minted::tail_read_is_empty_200",
                "OFFSET-TAIL-READ",
            ),
            ("offsets::minted::rereads_are_stable", "OFFSET-STABLE"),
        ])
        .await;
}

async fn malformed_offsets_accepted_or_crash() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::GET && resp.status() == StatusCode::BAD_REQUEST {
            *resp.status_mut() = if seen.uri.query().is_some_and(|q| q.contains("%2C")) {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "offsets::malformed::forbidden_characters_are_400",
                "OFFSET-MALFORMED-400",
            ),
            (
                "offsets::malformed::garbage_is_never_5xx",
                "SEC-BAD-INPUT-4XX",
            ),
        ])
        .await;
}

async fn query_parameters_mishandled() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let q = seen.uri.query().unwrap_or("");
        if q.matches("offset=").count() > 1 && resp.status() == StatusCode::BAD_REQUEST {
            *resp.status_mut() = StatusCode::OK;
        }
        if q.contains("foo=bar") {
            *resp.status_mut() = StatusCode::BAD_REQUEST;
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "offsets::malformed::repeated_offset_is_400",
                "OFFSET-DUPLICATE-400",
            ),
            (
                "offsets::malformed::unknown_parameters_are_ignored",
                "READ-UNKNOWN-PARAMS-IGNORED",
            ),
        ])
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_offsets_case,
        tokio sentinels_swapped,
        tokio sentinels_now_cacheable,
        tokio minted_offsets_broken,
        tokio minted_offsets_not_honoured_on_reads,
        tokio malformed_offsets_accepted_or_crash,
        tokio query_parameters_mishandled,
    ]
}
