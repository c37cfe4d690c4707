//! The create cases bite: each test serves the reference server behind a
//! rewrite that breaks one §5.1 rule and asserts the matching case fails.

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::{assert_fails, run_prefixes};

#[tokio::test]
async fn control_reference_passes_every_create_case() {
    crate::common::assert_area_passes("create::").await;
}

#[tokio::test]
async fn basic_without_location_or_content_type_or_body() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::PUT {
            resp.headers_mut().remove("location");
            resp.headers_mut().remove("content-type");
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::basic::"], 500).await;
    assert_fails(&runs, "create::basic::location_on_201");
    assert_fails(&runs, "create::basic::response_headers");

    // A server that ignores the PUT body.
    let srv = crate::common::with_request(|req| {
        if req.method() == Method::PUT {
            let (mut parts, _) = req.into_parts();
            parts.headers.remove("content-length");
            return axum::extract::Request::from_parts(parts, axum::body::Body::empty());
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::basic::initial_body"], 500).await;
    assert_fails(&runs, "create::basic::initial_body_is_first_content");
}

#[tokio::test]
async fn basic_default_content_type_not_octet_stream() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::PUT && !req.headers().contains_key("content-type") {
            req.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain"));
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::basic::default_content_type"], 500).await;
    assert_fails(&runs, "create::basic::default_content_type");
}

#[tokio::test]
async fn idempotent_conflicts_answered_200() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::PUT && resp.status() == StatusCode::CONFLICT {
            crate::common::set_status(&mut resp, 200);
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::idempotent::"], 500).await;
    assert_fails(&runs, "create::idempotent::content_type_mismatch_is_409");
    assert_fails(&runs, "create::idempotent::ttl_mismatch_is_409");
    assert_fails(&runs, "create::idempotent::expires_at_mismatch_is_409");
    assert_fails(&runs, "create::idempotent::reput_closed_stream");
    assert_fails(
        &runs,
        "create::idempotent::reput_closed_on_open_stream_is_409",
    );
}

#[tokio::test]
async fn idempotent_reput_answered_201() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::PUT && resp.status() == StatusCode::OK {
            crate::common::set_status(&mut resp, 201);
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::idempotent::same_config"], 500).await;
    assert_fails(&runs, "create::idempotent::same_config_is_200");
}

#[tokio::test]
async fn closed_create_ignores_stream_closed() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::PUT {
            req.headers_mut().remove("stream-closed");
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::closed::"], 500).await;
    assert_fails(&runs, "create::closed::empty_closed_stream");
    assert_fails(&runs, "create::closed::body_is_final_content");
}

#[tokio::test]
async fn validation_accepts_anything() {
    // A server that ignores malformed TTL/expiry headers instead of 400.
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::PUT {
            let h = req.headers_mut();
            let ttl_ok = h
                .get("stream-ttl")
                .is_none_or(|v| v == "3600" || v == "7200");
            if !ttl_ok || h.contains_key("stream-expires-at") {
                h.remove("stream-ttl");
                h.remove("stream-expires-at");
            }
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::validation::"], 500).await;
    assert_fails(&runs, "create::validation::ttl_syntax_is_400");
    assert_fails(&runs, "create::validation::expires_at_syntax_is_400");
    assert_fails(&runs, "create::validation::ttl_and_expires_at_is_400");
}

#[tokio::test]
async fn validation_rejects_valid_ttl() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers().get("stream-ttl").is_some_and(|v| v == "3600") {
            req.headers_mut()
                .insert("stream-ttl", HeaderValue::from_static("+3600"));
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["create::validation::valid_ttl"], 500).await;
    assert_fails(&runs, "create::validation::valid_ttl_is_201");
}

#[tokio::test]
async fn idempotent_closed_reput_resets_the_stream() {
    // An idempotent PUT + Stream-Closed on a closed stream answers 200 but
    // re-creates it from the (empty) body: reads then find no data.
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let reset: Arc<Mutex<HashSet<String>>> = Arc::default();
    let srv = crate::common::with_response(move |seen, resp| {
        let path = seen.uri.path().to_string();
        if seen.method == Method::PUT
            && resp.status() == StatusCode::OK
            && resp.headers().contains_key("stream-closed")
        {
            reset.lock().unwrap().insert(path.clone());
        }
        if seen.method == Method::GET && reset.lock().unwrap().contains(&path) {
            let (mut parts, _) = resp.into_parts();
            parts.headers.remove("content-length");
            return crate::common::rebuild(parts, axum::body::Body::empty());
        }
        resp
    })
    .await;
    crate::common::case_fails_with(
        &srv.root,
        "create::idempotent::reput_closed_stream",
        "CREATE-IDEMPOTENT-200",
    )
    .await;
}

/// §5.1: a server answering 200 (as for an idempotent re-create) when a
/// stream is created for the first time.
#[tokio::test]
async fn new_stream_answered_200() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::PUT && resp.status() == StatusCode::CREATED {
            crate::common::set_status(&mut resp, 200);
        }
        resp
    })
    .await;
    crate::common::case_fails_with(
        &srv.root,
        "create::basic::new_stream_is_201",
        "CREATE-NEW-201",
    )
    .await;
}
