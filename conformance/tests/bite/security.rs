//! The security cases bite: each test removes one §12.7 header or turns a
//! bad-input 4xx into a 5xx in front of the reference server.

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

/// The §12.7 header cases, each on its requirement.
const HEADER_CASES: &[(&str, &str)] = &[
    (
        "security::headers::nosniff_on_every_response",
        "SEC-NOSNIFF",
    ),
    ("security::headers::corp_on_every_response", "SEC-CORP"),
];

async fn control_reference_passes_every_security_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("security::").passes().await;
}

async fn headers_missing_on_errors() {
    let srv = crate::common::with_response(|_, mut resp| {
        match resp.status() {
            StatusCode::NOT_FOUND => {
                resp.headers_mut().remove("x-content-type-options");
            }
            StatusCode::CONFLICT => {
                resp.headers_mut().insert(
                    "cross-origin-resource-policy",
                    HeaderValue::from_static("everyone"),
                );
            }
            _ => {}
        }
        resp
    })
    .await;
    bite(&srv.root).each(HEADER_CASES).await;
}

async fn headers_missing_on_304_and_410() {
    for code in [StatusCode::NOT_MODIFIED, StatusCode::GONE] {
        let srv = crate::common::dropping_response_headers(
            move |_, resp| resp.status() == code,
            &["x-content-type-options"],
        )
        .await;
        bite(&srv.root)
            .case("security::headers::nosniff_on_every_response")
            .fails_with("SEC-NOSNIFF")
            .await;
    }
}

async fn cors_broken() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let h = resp.headers_mut();
        if seen.method == Method::OPTIONS {
            h.insert(
                "access-control-allow-headers",
                HeaderValue::from_static("content-type, stream-seq"),
            );
            h.insert(
                "access-control-allow-methods",
                HeaderValue::from_static("GET, POST"),
            );
        }
        if seen.method == Method::GET || seen.method == Method::HEAD {
            h.remove("access-control-expose-headers");
        }
        if resp.status() == StatusCode::CONFLICT {
            resp.headers_mut().remove("access-control-allow-origin");
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "security::cors::preflight_allows_origin_and_methods",
                "CORS-PREFLIGHT",
            ),
            (
                "security::cors::preflight_allows_protocol_headers",
                "CORS-ALLOW-HEADERS",
            ),
            (
                "security::cors::responses_allow_origin",
                "CORS-ALLOW-ORIGIN",
            ),
            (
                "security::cors::responses_expose_protocol_headers",
                "CORS-EXPOSE-HEADERS",
            ),
            (
                "security::cors::head_exposes_ttl_and_expiry",
                "CORS-EXPOSE-HEADERS",
            ),
        ])
        .await;
}

async fn cors_producer_headers_not_exposed() {
    let srv = crate::common::setting_response_header(
        |seen, _| seen.method == Method::POST,
        "access-control-expose-headers",
        "stream-next-offset",
    )
    .await;
    bite(&srv.root)
        .case("security::cors::responses_expose_protocol_headers")
        .fails_with("CORS-EXPOSE-HEADERS")
        .await;
}

async fn bad_input_crashes() {
    // Every 400/405 becomes a 500, and odd paths crash.
    let srv = crate::common::with_response(|seen, mut resp| {
        let odd_path = seen.uri.path().contains("%00");
        if matches!(resp.status().as_u16(), 400 | 405 | 413) || odd_path {
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "security::bad_input::malformed_headers_are_4xx",
                "SEC-BAD-INPUT-4XX",
            ),
            (
                "security::bad_input::odd_header_values_are_never_5xx",
                "SEC-BAD-INPUT-4XX",
            ),
            (
                "security::bad_input::malformed_bodies_are_4xx",
                "SEC-BAD-INPUT-4XX",
            ),
            (
                "security::bad_input::odd_queries_are_never_5xx",
                "SEC-BAD-INPUT-4XX",
            ),
            (
                "security::bad_input::odd_paths_are_never_5xx",
                "SEC-PATH-SANITIZE",
            ),
            (
                "security::bad_input::unsupported_method_is_4xx",
                "SEC-BAD-INPUT-4XX",
            ),
        ])
        .await;
}

/// RFC 9110 §9.1: 501 is the recommended answer to an unrecognised method,
/// so a server answering 501 (not 405) passes; a 500 still fails.
async fn unsupported_method_501_passes_but_500_fails() {
    for (code, passes) in [(501u16, true), (500, false)] {
        let srv = crate::common::with_response(move |seen, mut resp| {
            if !matches!(
                seen.method,
                Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::DELETE
            ) && seen.method != Method::OPTIONS
            {
                crate::common::set_status(&mut resp, code);
            }
            resp
        })
        .await;
        let id = "security::bad_input::unsupported_method_is_4xx";
        if passes {
            bite(&srv.root).case(id).passes().await;
        } else {
            bite(&srv.root)
                .case(id)
                .fails_with("SEC-BAD-INPUT-4XX")
                .await;
        }
    }
}

/// A server that sets the §12.7 headers on ordinary responses but not on
/// its SSE responses (built on a separate path) is caught.
async fn headers_missing_on_sse() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if crate::common::is_live(seen, "sse") {
            let h = resp.headers_mut();
            h.remove("x-content-type-options");
            h.remove("cross-origin-resource-policy");
        }
        resp
    })
    .await;
    bite(&srv.root).each(HEADER_CASES).await;
}

/// A server that answers 500 to well-formed JSON nested 100000 deep (but
/// 400 to the unbalanced one) fails the robustness check, at SHOULD level
/// (the spec sets no depth limit).
async fn deep_valid_json_500_is_a_should_finding() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let deep_ok = seen
            .headers
            .get("content-length")
            .is_some_and(|v| v.as_bytes() == b"200001");
        if seen.method == axum::http::Method::POST && deep_ok {
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("security::bad_input::malformed_bodies_are_4xx")
        .fails_with("SEC-LIMITS-4XX")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_security_case,
        tokio headers_missing_on_errors,
        tokio headers_missing_on_304_and_410,
        tokio cors_broken,
        tokio cors_producer_headers_not_exposed,
        tokio bad_input_crashes,
        tokio unsupported_method_501_passes_but_500_fails,
        tokio headers_missing_on_sse,
        tokio deep_valid_json_500_is_a_should_finding,
    ]
}
