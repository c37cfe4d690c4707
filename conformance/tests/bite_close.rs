//! The closure cases bite: each test breaks one §4.1/§5.3 rule in front of
//! the reference server and asserts the matching case fails.

mod common;

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::{assert_fails, run_prefixes};

#[tokio::test]
async fn control_reference_passes_every_close_case() {
    common::assert_area_passes("close::").await;
}

#[tokio::test]
async fn header_value_case_sensitive() {
    let srv = common::with_request(|mut req| {
        if req
            .headers()
            .get("stream-closed")
            .is_some_and(|v| v != "true")
        {
            req.headers_mut().remove("stream-closed");
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::header_value::true"], 500).await;
    assert_fails(&runs, "close::header_value::true_is_case_insensitive");
}

#[tokio::test]
async fn header_value_any_value_closes() {
    let srv = common::with_request(|mut req| {
        if req.headers().contains_key("stream-closed") {
            req.headers_mut()
                .insert("stream-closed", HeaderValue::from_static("true"));
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::header_value::other"], 500).await;
    assert_fails(&runs, "close::header_value::other_values_do_not_close");
    assert_fails(
        &runs,
        "close::header_value::other_values_on_empty_body_are_400",
    );
}

#[tokio::test]
async fn header_value_other_values_refused() {
    let srv = common::with_response(|seen, mut resp| {
        if seen
            .headers
            .get("stream-closed")
            .is_some_and(|v| v == "yes")
        {
            common::set_status(&mut resp, 400);
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::header_value::other_values_do"], 500).await;
    let f = assert_fails(&runs, "close::header_value::other_values_do_not_close");
    assert_eq!(f.requirement.as_deref(), Some("CLOSE-NON-TRUE-NO-ERROR"));
}

#[tokio::test]
async fn close_only_without_stream_closed_header() {
    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::POST && resp.status() == StatusCode::NO_CONTENT {
            resp.headers_mut().remove("stream-closed");
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::close_only::"], 500).await;
    assert_fails(&runs, "close::close_only::is_204_with_closed_and_tail");
    assert_fails(&runs, "close::close_only::append_and_close");
    let f = assert_fails(&runs, "close::close_only::again_is_idempotent");
    assert_eq!(f.requirement.as_deref(), Some("CLOSE-ONLY-IDEMPOTENT-204"));
}

#[tokio::test]
async fn close_only_rejects_by_type_and_invents_streams() {
    let srv = common::with_response(|seen, mut resp| {
        let json = seen
            .headers
            .get("content-type")
            .is_some_and(|v| v == "application/json");
        if seen.method == Method::POST && seen.headers.contains_key("stream-closed") && json {
            common::set_status(&mut resp, 409);
        }
        if seen.method == Method::POST && resp.status() == StatusCode::NOT_FOUND {
            common::set_status(&mut resp, 204);
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::close_only::"], 500).await;
    assert_fails(&runs, "close::close_only::ignores_content_type");
    assert_fails(&runs, "close::close_only::missing_stream_is_404");
}

#[tokio::test]
async fn close_again_is_unstable() {
    // Second close answers 409 without Stream-Closed: neither success nor a
    // stable "already closed" answer.
    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::POST
            && seen.headers.contains_key("stream-closed")
            && resp.headers().contains_key("stream-closed")
        {
            let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n % 2 == 1 {
                common::set_status(&mut resp, 409);
                resp.headers_mut().remove("stream-closed");
            }
        }
        resp
    })
    .await;
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let runs = run_prefixes(&srv.root, &["close::close_only::again"], 500).await;
    let f = assert_fails(&runs, "close::close_only::again_is_idempotent");
    assert_eq!(f.requirement.as_deref(), Some("CLOSE-IDEMPOTENT"));
}

#[tokio::test]
async fn after_close_409_without_headers_or_reopens() {
    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::POST && resp.status() == StatusCode::CONFLICT {
            resp.headers_mut().remove("stream-next-offset");
            resp.headers_mut().remove("stream-closed");
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::after_close::"], 500).await;
    assert_fails(&runs, "close::after_close::append_is_409_with_final_offset");
    assert_fails(&runs, "close::after_close::append_and_close_is_409");

    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::PUT && resp.status() == StatusCode::CONFLICT {
            common::set_status(&mut resp, 200);
        }
        if seen.method == Method::GET {
            resp.headers_mut().remove("stream-closed");
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["close::after_close::"], 500).await;
    assert_fails(&runs, "close::after_close::cannot_reopen");
    assert_fails(&runs, "close::after_close::reads_report_closed_at_tail");
}
