//! The create cases bite: each test serves the reference server behind a
//! rewrite that breaks one §5.1 rule and asserts the matching case fails.

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

async fn control_reference_passes_every_create_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("create::").passes().await;
}

async fn basic_without_location_or_content_type_or_body() {
    let srv = crate::common::dropping_response_headers(
        |seen, _| seen.method == Method::PUT,
        &["location", "content-type"],
    )
    .await;
    bite(&srv.root)
        .each(&[
            ("create::basic::location_on_201", "CREATE-LOCATION"),
            ("create::basic::response_headers", "CREATE-RESP-HEADERS"),
        ])
        .await;

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
    bite(&srv.root)
        .case("create::basic::initial_body_is_first_content")
        .fails_with("CREATE-INITIAL-BODY")
        .await;
}

async fn basic_default_content_type_not_octet_stream() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::PUT && !req.headers().contains_key("content-type") {
            req.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("create::basic::default_content_type")
        .fails_with("CREATE-DEFAULT-CT")
        .await;
}

async fn idempotent_conflicts_answered_200() {
    let srv = crate::common::remapping_status(Method::PUT, 409, 200).await;
    bite(&srv.root)
        .each(&[
            (
                "create::idempotent::content_type_mismatch_is_409",
                "CREATE-CONFLICT-409",
            ),
            (
                "create::idempotent::ttl_mismatch_is_409",
                "CREATE-CONFLICT-409",
            ),
            (
                "create::idempotent::expires_at_mismatch_is_409",
                "CREATE-CONFLICT-409",
            ),
            (
                "create::idempotent::reput_closed_stream",
                "CREATE-CLOSURE-MATCH",
            ),
            (
                "create::idempotent::reput_closed_on_open_stream_is_409",
                "CREATE-CLOSURE-MATCH",
            ),
        ])
        .await;
}

async fn idempotent_reput_answered_201() {
    let srv = crate::common::remapping_status(Method::PUT, 200, 201).await;
    bite(&srv.root)
        .case("create::idempotent::same_config_is_200")
        .fails_with("CREATE-IDEMPOTENT-200")
        .await;
}

async fn closed_create_ignores_stream_closed() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::PUT {
            req.headers_mut().remove("stream-closed");
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("create::closed::empty_closed_stream", "CREATE-CLOSED"),
            ("create::closed::body_is_final_content", "CREATE-CLOSED"),
        ])
        .await;
}

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
    bite(&srv.root)
        .each(&[
            ("create::validation::ttl_syntax_is_400", "CREATE-TTL-SYNTAX"),
            (
                "create::validation::expires_at_syntax_is_400",
                "CREATE-EXPIRES-SYNTAX",
            ),
            (
                "create::validation::ttl_and_expires_at_is_400",
                "CREATE-TTL-AND-EXPIRES-400",
            ),
        ])
        .await;
}

async fn validation_rejects_valid_ttl() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers().get("stream-ttl").is_some_and(|v| v == "3600") {
            req.headers_mut()
                .insert("stream-ttl", HeaderValue::from_static("+3600"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("create::validation::valid_ttl_is_201")
        .fails_with("CREATE-TTL-SYNTAX")
        .await;
}

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
    bite(&srv.root)
        .case("create::idempotent::reput_closed_stream")
        .fails_with("CREATE-IDEMPOTENT-200")
        .await;
}

/// §5.1: a server answering 200 (as for an idempotent re-create) when a
/// stream is created for the first time.
async fn new_stream_answered_200() {
    let srv = crate::common::remapping_status(Method::PUT, 201, 200).await;
    bite(&srv.root)
        .case("create::basic::new_stream_is_201")
        .fails_with("CREATE-NEW-201")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_create_case,
        tokio basic_without_location_or_content_type_or_body,
        tokio basic_default_content_type_not_octet_stream,
        tokio idempotent_conflicts_answered_200,
        tokio idempotent_reput_answered_201,
        tokio closed_create_ignores_stream_closed,
        tokio validation_accepts_anything,
        tokio validation_rejects_valid_ttl,
        tokio idempotent_closed_reput_resets_the_stream,
        tokio new_stream_answered_200,
    ]
}
