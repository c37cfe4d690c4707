//! The security cases bite: each test removes one §12.7 header or turns a
//! bad-input 4xx into a 5xx in front of the reference server.

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::{assert_fails, run_prefixes};

#[tokio::test]
async fn control_reference_passes_every_security_case() {
    crate::common::assert_area_passes("security::").await;
}

#[tokio::test]
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
    let runs = run_prefixes(&srv.root, &["security::headers::"], 500).await;
    assert_fails(&runs, "security::headers::nosniff_on_every_response");
    assert_fails(&runs, "security::headers::corp_on_every_response");
}

#[tokio::test]
async fn headers_missing_on_304_and_410() {
    for code in [StatusCode::NOT_MODIFIED, StatusCode::GONE] {
        let srv = crate::common::with_response(move |_, mut resp| {
            if resp.status() == code {
                resp.headers_mut().remove("x-content-type-options");
            }
            resp
        })
        .await;
        let runs = run_prefixes(&srv.root, &["security::headers::nosniff"], 500).await;
        assert_fails(&runs, "security::headers::nosniff_on_every_response");
    }
}

#[tokio::test]
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
    let runs = run_prefixes(&srv.root, &["security::cors::"], 500).await;
    assert_fails(&runs, "security::cors::preflight_allows_origin_and_methods");
    assert_fails(&runs, "security::cors::preflight_allows_protocol_headers");
    assert_fails(&runs, "security::cors::responses_allow_origin");
    assert_fails(&runs, "security::cors::responses_expose_protocol_headers");
    assert_fails(&runs, "security::cors::head_exposes_ttl_and_expiry");
}

#[tokio::test]
async fn cors_producer_headers_not_exposed() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::POST {
            resp.headers_mut().insert(
                "access-control-expose-headers",
                HeaderValue::from_static("stream-next-offset"),
            );
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["security::cors::responses_expose"], 500).await;
    assert_fails(&runs, "security::cors::responses_expose_protocol_headers");
}

#[tokio::test]
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
    let runs = run_prefixes(&srv.root, &["security::bad_input::"], 500).await;
    crate::common::assert_each_fails(
        &runs,
        "security::bad_input::",
        &[
            "malformed_headers_are_4xx",
            "odd_header_values_are_never_5xx",
            "malformed_bodies_are_4xx",
            "odd_queries_are_never_5xx",
            "odd_paths_are_never_5xx",
            "unsupported_method_is_4xx",
        ],
    );
}

/// RFC 9110 §9.1: 501 is the recommended answer to an unrecognised method,
/// so a server answering 501 (not 405) passes; a 500 still fails.
#[tokio::test]
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
        let runs = run_prefixes(&srv.root, &[id], 500).await;
        if passes {
            ds_conformance::testing::assert_passes(&runs, id);
        } else {
            assert_fails(&runs, id);
        }
    }
}

/// A server that sets the §12.7 headers on ordinary responses but not on
/// its SSE responses (built on a separate path) is caught.
#[tokio::test]
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
    let runs = run_prefixes(&srv.root, &["security::headers::"], 500).await;
    assert_fails(&runs, "security::headers::nosniff_on_every_response");
    assert_fails(&runs, "security::headers::corp_on_every_response");
}

/// A server that answers 500 to well-formed JSON nested 100000 deep (but
/// 400 to the unbalanced one) fails the robustness check, at SHOULD level
/// (the spec sets no depth limit).
#[tokio::test]
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
    let runs = run_prefixes(&srv.root, &["security::bad_input::malformed_bodies"], 500).await;
    crate::common::fails_with(
        &runs,
        "security::bad_input::malformed_bodies_are_4xx",
        "SEC-LIMITS-4XX",
    );
}
