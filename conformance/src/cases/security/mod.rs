//! §12.7 browser security headers and CORS; bad input (malformed headers,
//! offsets, bodies, paths) is answered with a 4xx, never a 5xx or a hang.

use crate::case::{case, Case};

mod bad_input;
mod cors;
mod headers;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "security::headers::nosniff_on_every_response",
            &["SEC-NOSNIFF"],
            headers::nosniff_on_every_response,
        ),
        case(
            "security::headers::corp_on_every_response",
            &["SEC-CORP"],
            headers::corp_on_every_response,
        ),
        case(
            "security::cors::preflight_allows_origin_and_methods",
            &["CORS-PREFLIGHT"],
            cors::preflight_allows_origin_and_methods,
        ),
        case(
            "security::cors::preflight_allows_protocol_headers",
            &["CORS-ALLOW-HEADERS"],
            cors::preflight_allows_protocol_headers,
        ),
        case(
            "security::cors::responses_allow_origin",
            &["CORS-ALLOW-ORIGIN"],
            cors::responses_allow_origin,
        ),
        case(
            "security::cors::responses_expose_protocol_headers",
            &["CORS-EXPOSE-HEADERS"],
            cors::responses_expose_protocol_headers,
        ),
        case(
            "security::cors::head_exposes_ttl_and_expiry",
            &["CORS-EXPOSE-HEADERS"],
            cors::head_exposes_ttl_and_expiry,
        ),
        case(
            "security::bad_input::malformed_headers_are_4xx",
            &["SEC-BAD-INPUT-4XX"],
            bad_input::malformed_headers_are_4xx,
        ),
        case(
            "security::bad_input::odd_header_values_are_never_5xx",
            &["SEC-BAD-INPUT-4XX"],
            bad_input::odd_header_values_are_never_5xx,
        ),
        case(
            "security::bad_input::malformed_bodies_are_4xx",
            &["SEC-BAD-INPUT-4XX", "SEC-LIMITS-4XX"],
            bad_input::malformed_bodies_are_4xx,
        ),
        case(
            "security::bad_input::odd_queries_are_never_5xx",
            &["SEC-BAD-INPUT-4XX"],
            bad_input::odd_queries_are_never_5xx,
        ),
        case(
            "security::bad_input::odd_paths_are_never_5xx",
            &["SEC-PATH-SANITIZE"],
            bad_input::odd_paths_are_never_5xx,
        ),
        case(
            "security::bad_input::unsupported_method_is_4xx",
            &["SEC-BAD-INPUT-4XX"],
            bad_input::unsupported_method_is_4xx,
        ),
    ]
}
