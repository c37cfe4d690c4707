//! The closure cases bite: each test breaks one §4.1/§5.3 rule in front of
//! the reference server and asserts the matching case fails.

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

async fn control_reference_passes_every_close_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("close::").passes().await;
}

async fn header_value_case_sensitive() {
    let srv = crate::common::with_request(|mut req| {
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
    bite(&srv.root)
        .case("close::header_value::true_is_case_insensitive")
        .fails_with("CLOSE-TRUE-CASE-INSENSITIVE")
        .await;
}

async fn header_value_any_value_closes() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers().contains_key("stream-closed") {
            req.headers_mut()
                .insert("stream-closed", HeaderValue::from_static("true"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "close::header_value::other_values_do_not_close",
                "CLOSE-NON-TRUE-IGNORED",
            ),
            (
                "close::header_value::other_values_on_empty_body_are_400",
                "CLOSE-NON-TRUE-IGNORED",
            ),
        ])
        .await;
}

/// Refuses appends whose Stream-Closed value is one of `refused` (400,
/// never reaching the store), rewrites the value to `true` for those in
/// `closes`, and (with `store_refused`) stores the refused ones anyway.
async fn non_true_values(
    refused: &'static [&'static str],
    closes: &'static [&'static str],
    store_refused: bool,
) -> crate::common::Broken {
    crate::common::with_middleware(
        500,
        move |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            let value = req
                .headers()
                .get("stream-closed")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(v) = value else {
                return next.run(req).await;
            };
            if closes.contains(&v.as_str()) {
                req.headers_mut()
                    .insert("stream-closed", HeaderValue::from_static("true"));
            }
            if refused.contains(&v.as_str()) && req.method() == Method::POST {
                let mut resp = if store_refused {
                    next.run(req).await
                } else {
                    axum::response::IntoResponse::into_response(StatusCode::OK)
                };
                crate::common::set_status(&mut resp, 400);
                return resp;
            }
            next.run(req).await
        },
    )
    .await
}

/// Refusing appends with a non-`true` Stream-Closed value, the stream left
/// as it was: only the SHOULD (the case carried on through every value).
async fn header_value_other_values_refused() {
    let srv = non_true_values(&["false", "yes"], &[], false).await;
    let bitten = bite(&srv.root)
        .case("close::header_value::other_values_do_not_close")
        .fails_with("CLOSE-NON-TRUE-NO-ERROR")
        .await;
    // Both refusals were found: the case did not stop at the first.
    assert!(
        bitten.failure.message.contains("also found"),
        "{}",
        bitten.failure
    );
}

/// Refusing `false` (a SHOULD finding) and closing on `closed`: the case
/// carries on past the finding and fails on the MUST.
async fn header_value_refused_then_closing_on_another_value() {
    let srv = non_true_values(&["false"], &["closed"], false).await;
    bite(&srv.root)
        .case("close::header_value::other_values_do_not_close")
        .fails_with("CLOSE-NON-TRUE-IGNORED")
        .await;
}

/// Answering 400 to an append it stored anyway: the stream holds data
/// the client was told was refused (MUST).
async fn header_value_refused_but_stored() {
    let srv = non_true_values(&["yes"], &[], true).await;
    let bitten = bite(&srv.root)
        .case("close::header_value::other_values_do_not_close")
        .fails_with("CLOSE-NON-TRUE-IGNORED")
        .await;
    assert!(
        bitten.failure.message.contains("refused"),
        "{}",
        bitten.failure
    );
}

async fn close_only_without_stream_closed_header() {
    let srv = crate::common::dropping_response_headers(
        |seen, resp| seen.method == Method::POST && resp.status() == StatusCode::NO_CONTENT,
        &["stream-closed"],
    )
    .await;
    bite(&srv.root)
        .each(&[
            (
                "close::close_only::is_204_with_closed_and_tail",
                "CLOSE-ONLY-204",
            ),
            (
                "close::close_only::append_and_close",
                "CLOSE-APPEND-AND-CLOSE",
            ),
            (
                "close::close_only::again_is_idempotent",
                "CLOSE-ONLY-IDEMPOTENT-204",
            ),
        ])
        .await;
}

async fn close_only_rejects_by_type_and_invents_streams() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let json = seen
            .headers
            .get("content-type")
            .is_some_and(|v| v == "application/json");
        if seen.method == Method::POST && seen.headers.contains_key("stream-closed") && json {
            crate::common::set_status(&mut resp, 409);
        }
        if seen.method == Method::POST && resp.status() == StatusCode::NOT_FOUND {
            crate::common::set_status(&mut resp, 204);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "close::close_only::ignores_content_type",
                "CLOSE-ONLY-IGNORES-CT",
            ),
            ("close::close_only::missing_stream_is_404", "CLOSE-404"),
        ])
        .await;
}

async fn close_again_is_unstable() {
    // Second close answers 409 without Stream-Closed: neither success nor a
    // stable "already closed" answer.
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::POST
            && seen.headers.contains_key("stream-closed")
            && resp.headers().contains_key("stream-closed")
        {
            let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n % 2 == 1 {
                crate::common::set_status(&mut resp, 409);
                resp.headers_mut().remove("stream-closed");
            }
        }
        resp
    })
    .await;
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    bite(&srv.root)
        .case("close::close_only::again_is_idempotent")
        .fails_with("CLOSE-IDEMPOTENT")
        .await;
}

async fn after_close_409_without_headers_or_reopens() {
    let srv = crate::common::dropping_response_headers(
        |seen, resp| seen.method == Method::POST && resp.status() == StatusCode::CONFLICT,
        &["stream-next-offset", "stream-closed"],
    )
    .await;
    bite(&srv.root)
        .each(&[
            (
                "close::after_close::append_is_409_with_final_offset",
                "APPEND-CLOSED-409",
            ),
            (
                "close::after_close::append_and_close_is_409",
                "CLOSE-APPEND-CLOSED-409",
            ),
        ])
        .await;

    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::PUT && resp.status() == StatusCode::CONFLICT {
            crate::common::set_status(&mut resp, 200);
        }
        if seen.method == Method::GET {
            resp.headers_mut().remove("stream-closed");
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "close::after_close::cannot_reopen",
                "STREAM-CLOSED-MONOTONIC",
            ),
            (
                "close::after_close::reads_report_closed_at_tail",
                "CLOSE-OBSERVABLE",
            ),
        ])
        .await;
}

/// Append "z" to a response's Stream-Next-Offset (a later, made-up tail).
fn bump_next_offset(resp: &mut axum::response::Response) {
    if let Some(v) = resp.headers().get("stream-next-offset") {
        let bumped = format!("{}z", v.to_str().unwrap_or(""));
        resp.headers_mut().insert(
            "stream-next-offset",
            HeaderValue::from_str(&bumped).expect("ascii"),
        );
    }
}

async fn close_again_moves_the_final_offset() {
    // Every repeated close-only request "succeeds" but moves the stream's
    // final offset (as a server writing an EOF marker per close would): the
    // repeat and HEAD report the moved tail. Before the fix only the SHOULD
    // id noticed; moving the final offset breaks the MUST.
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let closed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let moved: Arc<Mutex<HashSet<String>>> = Arc::default();
    let srv = crate::common::with_response(move |seen, mut resp| {
        let path = seen.uri.path().to_string();
        let close_only = seen.method == Method::POST
            && seen.headers.contains_key("stream-closed")
            && seen.headers.get("content-length").is_none_or(|v| v == "0");
        if close_only
            && resp.status() == StatusCode::NO_CONTENT
            && !closed.lock().unwrap().insert(path.clone())
        {
            moved.lock().unwrap().insert(path.clone());
        }
        let is_moved = moved.lock().unwrap().contains(&path);
        if is_moved && (close_only || seen.method == Method::HEAD) {
            bump_next_offset(&mut resp);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("close::close_only::again_is_idempotent")
        .fails_with("CLOSE-IDEMPOTENT")
        .await;
}

async fn close_moves_the_tail_seen_by_reads() {
    // The close answers the unchanged tail, but reads of the closed stream
    // end at another offset: the close did move the tail.
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::GET && resp.headers().contains_key("stream-closed") {
            bump_next_offset(&mut resp);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("close::close_only::is_204_with_closed_and_tail")
        .fails_with("CLOSE-ONLY-204")
        .await;
}

async fn reopen_attempt_crashes_the_server() {
    // A PUT on a closed stream answered 500: no refusal, a server error
    // (it used to pass as "status >= 400").
    let srv = crate::common::remapping_status(Method::PUT, 409, 500).await;
    bite(&srv.root)
        .case("close::after_close::cannot_reopen")
        .fails_with("STREAM-CLOSED-MONOTONIC")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_close_case,
        tokio header_value_case_sensitive,
        tokio header_value_any_value_closes,
        tokio header_value_other_values_refused,
        tokio header_value_refused_then_closing_on_another_value,
        tokio header_value_refused_but_stored,
        tokio close_only_without_stream_closed_header,
        tokio close_only_rejects_by_type_and_invents_streams,
        tokio close_again_is_unstable,
        tokio after_close_409_without_headers_or_reopens,
        tokio close_again_moves_the_final_offset,
        tokio close_moves_the_tail_seen_by_reads,
        tokio reopen_attempt_crashes_the_server,
    ]
}
