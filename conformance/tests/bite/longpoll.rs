//! The `longpoll` cases (§5.7, §10.1 cursors) bite: each test breaks one
//! long-poll rule in front of the reference server (long-poll timeout
//! 500 ms) and checks that the right case fails.

use std::time::{Duration, Instant};

use crate::common::rewrite_query;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use ds_conformance::testing::bite;

const LP_MS: u64 = 500;

fn is_long_poll(seen: &crate::common::Seen) -> bool {
    crate::common::is_live(seen, "long-poll")
}

fn query_param(seen: &crate::common::Seen, key: &str) -> Option<String> {
    seen.uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// A server whose long-poll answers always carry `Stream-Cursor: cursor`.
async fn with_fixed_cursor(cursor: &'static str) -> crate::common::Broken {
    crate::common::setting_response_header(|seen, _| is_long_poll(seen), "stream-cursor", cursor)
        .await
}

/// A server whose long-poll answers lack the header `name`.
async fn long_polls_without(name: &'static str) -> crate::common::Broken {
    crate::common::dropping_response_headers(|seen, _| is_long_poll(seen), &[name]).await
}

/// A server that holds each long-poll answer for which `held` is true
/// until the long-poll timeout runs out (counted from the request).
async fn long_polls_held_until_timeout(held: fn(&Response) -> bool) -> crate::common::Broken {
    crate::common::with_middleware(LP_MS, move |req: Request, next: Next| async move {
        let long_poll = req.uri().query().unwrap_or("").contains("live=long-poll");
        let started = Instant::now();
        let resp = next.run(req).await;
        if long_poll && held(&resp) {
            let due = Duration::from_millis(LP_MS);
            tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        }
        resp
    })
    .await
}

async fn control_reference_passes_every_longpoll_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("longpoll::").passes().await;
}

async fn basic_long_poll_treated_as_catch_up_is_caught() {
    let srv = crate::common::with_request(|req| {
        rewrite_query(req, |q| {
            q.replace("&live=long-poll", "")
                .replace("live=long-poll&", "")
                .replace("live=long-poll", "")
        })
    })
    .await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            (
                "longpoll::basic::missing_offset_is_400",
                "LP-OFFSET-REQUIRED",
            ),
            ("longpoll::basic::append_wakes_waiter", "LP-WAKE-ON-APPEND"),
            (
                "longpoll::basic::timeout_is_204_with_headers",
                "LP-204-TIMEOUT",
            ),
        ])
        .await;
}

async fn basic_missing_cursor_is_caught() {
    let srv = long_polls_without("stream-cursor").await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            (
                "longpoll::basic::available_data_returns_at_once",
                "LP-200-CURSOR",
            ),
            ("longpoll::basic::append_wakes_waiter", "LP-200-CURSOR"),
            (
                "longpoll::basic::timeout_is_204_with_headers",
                "LP-204-CURSOR",
            ),
        ])
        .await;
}

async fn basic_204_without_up_to_date_is_caught() {
    let srv = crate::common::dropping_response_headers(
        |seen, resp| is_long_poll(seen) && resp.status() == 204,
        &["stream-up-to-date"],
    )
    .await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            (
                "longpoll::basic::timeout_is_204_with_headers",
                "LP-204-UP-TO-DATE",
            ),
            ("longpoll::now::timeout_reports_tail", "LP-204-UP-TO-DATE"),
        ])
        .await;
}

async fn closure_waiting_for_the_timeout_is_caught() {
    // A server that answers closed-stream long-polls only when its timeout
    // runs out (and so also fails to wake waiters on close).
    let srv =
        long_polls_held_until_timeout(|resp| resp.headers().contains_key("stream-closed")).await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            (
                "longpoll::closure::closed_at_tail_returns_at_once",
                "LP-CLOSED-NO-WAIT",
            ),
            ("longpoll::closure::close_wakes_waiter", "LP-CLOSE-WAKES"),
            (
                "longpoll::now::closed_stream_returns_at_once",
                "LP-CLOSED-NO-WAIT",
            ),
        ])
        .await;
}

async fn closure_without_closed_header_is_caught() {
    let srv = long_polls_without("stream-closed").await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            (
                "longpoll::closure::closed_at_tail_returns_at_once",
                "LP-CLOSED-204",
            ),
            ("longpoll::closure::close_wakes_waiter", "LP-CLOSE-WAKES"),
            (
                "longpoll::closure::final_data_carries_closed",
                "READ-CLOSED-FINAL-CHUNK",
            ),
        ])
        .await;
}

async fn now_read_from_start_is_caught() {
    let srv = crate::common::with_request(|req| {
        rewrite_query(req, |q| {
            if q.contains("live=long-poll") {
                q.replace("offset=now", "offset=-1")
            } else {
                q.to_string()
            }
        })
    })
    .await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            (
                "longpoll::now::waits_for_next_append_only",
                "LP-NOW-NEW-DATA",
            ),
            ("longpoll::now::timeout_reports_tail", "LP-NOW-NEW-DATA"),
        ])
        .await;
}

async fn cursor_constant_is_caught() {
    let srv = with_fixed_cursor("1000").await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            ("longpoll::cursor::echoed_cursor_advances", "CURSOR-ADVANCE"),
            ("longpoll::cursor::future_cursor_advances", "CURSOR-ADVANCE"),
            (
                "longpoll::cursor::timeout_advances_echoed_cursor",
                "CURSOR-ADVANCE",
            ),
        ])
        .await;
}

async fn cursor_not_decimal_is_caught() {
    let srv = with_fixed_cursor("c-1000").await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .case("longpoll::cursor::decimal_interval_number")
        .fails_with("CURSOR-DECIMAL")
        .await;
}

async fn cursor_following_a_stale_echo_backwards_is_caught() {
    // Returns the echoed cursor + 1: always "greater than the client's",
    // but a stale echo drags the cursor behind the current interval.
    let srv = crate::common::with_response(|seen, mut resp| {
        let echoed = query_param(seen, "cursor").and_then(|c| c.parse::<u64>().ok());
        if let (true, Some(c)) = (is_long_poll(seen), echoed) {
            let v = HeaderValue::from_str(&(c + 1).to_string()).expect("digits");
            resp.headers_mut().insert("stream-cursor", v);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .case("longpoll::cursor::old_cursor_not_backwards")
        .fails_with("CURSOR-MONOTONIC")
        .await;
}

async fn basic_only_first_waiter_woken_is_caught() {
    // A server that wakes one waiter per append: any long-poll arriving
    // while another is in flight runs into the timeout (204).
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let srv = crate::common::with_middleware(LP_MS, move |req: Request, next: Next| {
        let in_flight = in_flight.clone();
        async move {
            use std::sync::atomic::Ordering::SeqCst;
            if !req.uri().query().unwrap_or("").contains("live=long-poll") {
                return next.run(req).await;
            }
            if in_flight.fetch_add(1, SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(LP_MS)).await;
                in_flight.fetch_sub(1, SeqCst);
                let mut r = Response::new(axum::body::Body::empty());
                *r.status_mut() = axum::http::StatusCode::NO_CONTENT;
                return r;
            }
            let resp = next.run(req).await;
            in_flight.fetch_sub(1, SeqCst);
            resp
        }
    })
    .await;
    bite(&srv.root)
        .case("longpoll::basic::append_wakes_every_waiter")
        .fails_with("LP-WAKE-ON-APPEND")
        .await;
}

async fn basic_waiter_held_until_the_timeout_is_caught() {
    // A server that answers a long-poll which got data only when its
    // timeout runs out (it never wakes waiters early).
    let srv = long_polls_held_until_timeout(|resp| resp.status() == 200).await;
    bite(&srv.root)
        .long_poll(LP_MS)
        .each(&[
            ("longpoll::basic::append_wakes_waiter", "LP-WAKE-ON-APPEND"),
            (
                "longpoll::basic::append_wakes_every_waiter",
                "LP-WAKE-ON-APPEND",
            ),
            (
                "longpoll::now::waits_for_next_append_only",
                "LP-WAKE-ON-APPEND",
            ),
        ])
        .await;
}

/// §5.7: a server that answers a long-poll on a missing stream as if it
/// had waited at an empty tail (204) instead of 404.
async fn missing_stream_answered_204() {
    let srv = crate::common::setting_status(
        |seen, resp| is_long_poll(seen) && resp.status() == axum::http::StatusCode::NOT_FOUND,
        204,
    )
    .await;
    bite(&srv.root)
        .case("longpoll::basic::missing_stream_is_404")
        .fails_with("LP-404")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_longpoll_case,
        tokio basic_long_poll_treated_as_catch_up_is_caught,
        tokio basic_missing_cursor_is_caught,
        tokio basic_204_without_up_to_date_is_caught,
        tokio closure_waiting_for_the_timeout_is_caught,
        tokio closure_without_closed_header_is_caught,
        tokio now_read_from_start_is_caught,
        tokio cursor_constant_is_caught,
        tokio cursor_not_decimal_is_caught,
        tokio cursor_following_a_stale_echo_backwards_is_caught,
        tokio basic_only_first_waiter_woken_is_caught,
        tokio basic_waiter_held_until_the_timeout_is_caught,
        tokio missing_stream_answered_204,
    ]
}
