//! The JSON-mode cases bite: each test breaks one §9.1 rule in front of the
//! reference server and asserts the matching case fails.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

fn is_json(req: &Request) -> bool {
    req.headers()
        .get("content-type")
        .is_some_and(|v| v == "application/json")
}

async fn control_reference_passes_every_json_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("json::").passes().await;
}

async fn flatten_not_applied() {
    // Wrapping every valid POST body in one more array = no flattening.
    let srv = crate::common::with_request(|req| {
        if req.method() == Method::POST && is_json(&req) {
            return crate::common::map_body(req, |b| {
                if serde_json::from_slice::<serde_json::Value>(&b).is_ok() && b.as_ref() != b"[]" {
                    Bytes::from([b"[".as_ref(), &b, b"]"].concat())
                } else {
                    b
                }
            });
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("json::flatten::spec_examples", "JSON-FLATTEN"),
            ("json::flatten::scalars_and_nested", "JSON-FLATTEN"),
            ("json::flatten::boundaries_kept", "JSON-BOUNDARIES"),
            ("json::reads::read_is_one_json_array", "CREATE-INITIAL-BODY"),
        ])
        .await;
}

async fn validation_accepts_everything() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if resp.status() == StatusCode::BAD_REQUEST {
            crate::common::set_status(
                &mut resp,
                if seen.method == Method::PUT { 201 } else { 204 },
            );
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "json::validation::empty_array_post_is_400",
                "JSON-EMPTY-ARRAY-POST-400",
            ),
            ("json::validation::invalid_post_is_400", "JSON-INVALID-400"),
            ("json::validation::non_utf8_is_400", "JSON-INVALID-400"),
            ("json::validation::invalid_put_is_400", "JSON-INVALID-400"),
        ])
        .await;
}

async fn validation_empty_array_put_stores_a_message() {
    let srv = crate::common::with_request(|req| {
        if req.method() == Method::PUT && is_json(&req) {
            return crate::common::map_body(req, |b| {
                if b.as_ref() == b"[]" {
                    Bytes::from_static(b"[null]")
                } else {
                    b
                }
            });
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("json::validation::empty_array_put_creates_empty_stream")
        .fails_with("JSON-EMPTY-ARRAY-PUT")
        .await;
}

async fn reads_wrong_type_ignore_offsets() {
    let srv = crate::common::setting_response_header(
        |seen, resp| seen.method == Method::GET && resp.status() == StatusCode::OK,
        "content-type",
        "text/plain",
    )
    .await;
    bite(&srv.root)
        .case("json::reads::read_is_one_json_array")
        .fails_with("JSON-READ-ARRAY")
        .await;

    // Reads that always start at the beginning.
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::GET {
            *req.uri_mut() = req.uri().path().parse().unwrap();
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "json::reads::middle_offset_returns_later_messages",
                "JSON-BOUNDARIES",
            ),
            (
                "json::reads::empty_ranges_are_empty_arrays",
                "JSON-EMPTY-RANGE",
            ),
        ])
        .await;
}

async fn json_mode_lost_with_parameters() {
    // Streams created with parameters are stored as opaque bytes.
    let srv = crate::common::with_request(|mut req| {
        let params = req
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/json; charset=utf-8");
        if params {
            req.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/x-json"),
            );
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("json::reads::charset_parameter_keeps_json_mode")
        .fails_with("JSON-MODE-PARAMS")
        .await;
}

async fn flatten_misses_arrays_behind_whitespace() {
    // A server that spots a batch by its first byte being `[`: a body with
    // leading whitespace is stored as one message (emulated by wrapping it
    // in one more array before the reference server sees it).
    let srv = crate::common::with_request(|req| {
        if req.method() != axum::http::Method::POST {
            return req;
        }
        crate::common::map_body(req, |b| {
            let trimmed = b.iter().position(|c| !c.is_ascii_whitespace());
            match trimmed {
                Some(i) if i > 0 && b[i] == b'[' => {
                    let mut out = b"[".to_vec();
                    out.extend_from_slice(&b);
                    out.push(b']');
                    out.into()
                }
                _ => b,
            }
        })
    })
    .await;
    bite(&srv.root)
        .case("json::flatten::scalars_and_nested")
        .fails_with("JSON-FLATTEN")
        .await;
}

async fn put_array_stored_as_one_message() {
    // A PUT array kept whole: wrapping a non-empty JSON PUT array in one
    // more array stores it as a single array-valued message.
    let srv = crate::common::with_request(|req| {
        if req.method() == Method::PUT && is_json(&req) {
            return crate::common::map_body(req, |b| {
                if b.first() == Some(&b'[') && b.as_ref() != b"[]" {
                    Bytes::from([b"[".as_ref(), &b, b"]"].concat())
                } else {
                    b
                }
            });
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("json::flatten::put_array_is_initial_messages")
        .fails_with("JSON-PUT-ARRAY-MESSAGES")
        .await;
}

async fn closed_json_tail_read_without_array() {
    // Reads at the tail of a closed JSON stream come back as 0 bytes
    // instead of `[]` (as for a byte stream).
    let srv = crate::common::with_middleware(
        500,
        |req: Request, next: axum::middleware::Next| async move {
            let get = req.method() == Method::GET;
            let resp = next.run(req).await;
            let closed = resp
                .headers()
                .get("stream-closed")
                .is_some_and(|v| v == "true");
            let json = resp
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if !(get && closed && json) {
                return resp;
            }
            let (parts, body) = crate::common::body_bytes(resp).await;
            if body.as_ref() == b"[]" {
                crate::common::rebuild(parts, Bytes::new())
            } else {
                crate::common::rebuild(parts, body)
            }
        },
    )
    .await;
    bite(&srv.root)
        .case("json::reads::empty_ranges_are_empty_arrays")
        .fails_with("JSON-EMPTY-RANGE")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_json_case,
        tokio flatten_not_applied,
        tokio validation_accepts_everything,
        tokio validation_empty_array_put_stores_a_message,
        tokio reads_wrong_type_ignore_offsets,
        tokio json_mode_lost_with_parameters,
        tokio flatten_misses_arrays_behind_whitespace,
        tokio put_array_stored_as_one_message,
        tokio closed_json_tail_read_without_array,
    ]
}
