//! Proof that the `producer` cases bite: the reference server behind a
//! wrapper that breaks one §5.2.1 rule; the control runs the whole area
//! against the unmodified server.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::Seen;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use ds_conformance::testing::bite;

fn producer(seen: &Seen) -> bool {
    seen.method == Method::POST && seen.headers.contains_key("producer-id")
}

/// The three producer headers.
const PRODUCER_HEADERS: [&str; 3] = ["producer-id", "producer-epoch", "producer-seq"];

/// Turn a producer request into a plain append.
fn drop_producer_headers(req: &mut Request) {
    for h in PRODUCER_HEADERS {
        req.headers_mut().remove(h);
    }
}

/// Replace each Producer-Epoch / Producer-Seq value `v` by `read(v)` where
/// that is Some (how a server reading them otherwise would take them).
fn reread_producer_values(req: &mut Request, read: fn(&str) -> Option<String>) {
    for h in ["producer-epoch", "producer-seq"] {
        let fixed = req
            .headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .and_then(read);
        if let Some(f) = fixed {
            req.headers_mut()
                .insert(h, HeaderValue::from_str(&f).unwrap());
        }
    }
}

/// The value of the request header `name` ("" if missing or not text).
fn header<'r>(req: &'r Request, name: &str) -> &'r str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// "path id epoch seq" of a producer request (a missing header reads "").
fn producer_tuple(req: &Request) -> String {
    format!(
        "{} {} {} {}",
        req.uri().path(),
        header(req, "producer-id"),
        header(req, "producer-epoch"),
        header(req, "producer-seq")
    )
}

async fn wrong_success_headers_are_caught() {
    // Duplicates report the retried seq instead of the highest accepted one.
    let srv = crate::common::with_response(|seen: &Seen, mut resp| {
        if producer(seen) && resp.status() == StatusCode::NO_CONTENT {
            if let Some(v) = seen.headers.get("producer-seq") {
                resp.headers_mut().insert("producer-seq", v.clone());
            }
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("producer::validation::duplicate_is_204_not_appended")
        .fails_with("PROD-RESP-SEQ")
        .await;
}

async fn missing_producer_headers_are_caught() {
    let srv = crate::common::dropping_response_headers(
        |seen, _| producer(seen),
        &[
            "producer-epoch",
            "producer-seq",
            "producer-expected-seq",
            "producer-received-seq",
        ],
    )
    .await;
    bite(&srv.root)
        .each(&[
            (
                "producer::validation::new_producer_accepted",
                "PROD-RESP-EPOCH",
            ),
            ("producer::validation::next_seq_accepted", "PROD-RESP-EPOCH"),
            (
                "producer::validation::duplicate_is_204_not_appended",
                "PROD-RESP-EPOCH",
            ),
            (
                "producer::validation::gap_is_409_with_expected_and_received",
                "PROD-SEQ-GAP",
            ),
            (
                "producer::validation::epoch_bump_accepted",
                "PROD-RESP-EPOCH",
            ),
            (
                "producer::validation::stale_epoch_is_403_with_current_epoch",
                "PROD-STALE-EPOCH",
            ),
        ])
        .await;
}

async fn wrong_statuses_are_caught() {
    // 400 for a bumped epoch with seq != 0 becomes 409; 403 becomes 409;
    // a new producer's non-zero seq is "accepted" as 200.
    let srv = crate::common::with_response(|seen: &Seen, mut resp| {
        if producer(seen) {
            let s = resp.status();
            if s == StatusCode::BAD_REQUEST || s == StatusCode::FORBIDDEN {
                *resp.status_mut() = StatusCode::CONFLICT;
            } else if s == StatusCode::CONFLICT && !resp.headers().contains_key("stream-closed") {
                *resp.status_mut() = StatusCode::OK;
            }
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "producer::validation::gap_is_409_with_expected_and_received",
                "PROD-SEQ-GAP",
            ),
            (
                "producer::validation::epoch_bump_with_nonzero_seq_is_400",
                "PROD-EPOCH-BUMP-SEQ-400",
            ),
            (
                "producer::validation::stale_epoch_is_403_with_current_epoch",
                "PROD-STALE-EPOCH",
            ),
        ])
        .await;
}

async fn new_producer_at_nonzero_seq_accepted_is_caught() {
    let srv = crate::common::with_response(|seen: &Seen, mut resp| {
        let s = resp.status();
        if producer(seen) && (s == StatusCode::BAD_REQUEST || s == StatusCode::CONFLICT) {
            *resp.status_mut() = StatusCode::OK;
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("producer::validation::new_producer_nonzero_seq_rejected")
        .fails_with("PROD-NEW-PRODUCER")
        .await;
}

/// Producer header values as a lenient parser would read them.
fn lenient(v: &str) -> Option<String> {
    let t = v.trim().trim_start_matches('+');
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| (f.abs().min(1e15) as u64).to_string())
}

async fn lenient_header_parsing_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        reread_producer_values(&mut req, lenient);
        // Partial sets are ignored instead of rejected; empty ids get a name.
        let n = PRODUCER_HEADERS
            .iter()
            .filter(|h| req.headers().contains_key(**h))
            .count();
        if n > 0 && n < 3 {
            drop_producer_headers(&mut req);
        }
        if req
            .headers()
            .get("producer-id")
            .is_some_and(|v| v.is_empty())
        {
            req.headers_mut()
                .insert("producer-id", HeaderValue::from_static("anon"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "producer::syntax::non_integer_values_are_400",
                "PROD-VALUE-INTEGER",
            ),
            (
                "producer::syntax::values_above_2_pow_53_minus_1_are_400",
                "PROD-VALUE-MAX",
            ),
            (
                "producer::syntax::non_canonical_integers_are_400",
                "PROD-VALUE-CANONICAL",
            ),
            (
                "producer::syntax::partial_header_sets_are_400",
                "PROD-ALL-OR-NONE",
            ),
            (
                "producer::syntax::empty_producer_id_is_400",
                "PROD-ID-NON-EMPTY",
            ),
        ])
        .await;
}

async fn max_values_rejected_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        for h in ["producer-epoch", "producer-seq"] {
            if req
                .headers()
                .get(h)
                .is_some_and(|v| v == "9007199254740991")
            {
                req.headers_mut().insert(h, HeaderValue::from_static("x"));
            }
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("producer::syntax::max_values_accepted")
        .fails_with("PROD-VALUE-MAX")
        .await;
}

async fn shared_producer_state_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers().contains_key("producer-id") {
            req.headers_mut()
                .insert("producer-id", HeaderValue::from_static("everyone"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("producer::concurrency::producers_are_independent")
        .fails_with("PROD-INDEPENDENT")
        .await;
}

/// A server that validates concurrent twins against the same state: while
/// a request for (path, id, epoch, seq) is in flight, its twin is appended
/// without deduplication and answered 200.
async fn unserialized_validation_is_caught() {
    let inflight: Arc<Mutex<HashSet<String>>> = Arc::default();
    let srv = crate::common::with_middleware(500, move |mut req: Request, next: Next| {
        let inflight = inflight.clone();
        async move {
            if req.method() != Method::POST || !req.headers().contains_key("producer-id") {
                return next.run(req).await;
            }
            let key = producer_tuple(&req);
            let seq = header(&req, "producer-seq").to_string();
            let twin = !inflight.lock().unwrap().insert(key.clone());
            if twin {
                drop_producer_headers(&mut req);
                let mut resp = next.run(req).await;
                *resp.status_mut() = StatusCode::OK;
                resp.headers_mut()
                    .insert("producer-seq", HeaderValue::from_str(&seq).unwrap());
                return resp;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
            let resp = next.run(req).await;
            inflight.lock().unwrap().remove(&key);
            resp
        }
    })
    .await;
    bite(&srv.root)
        .case("producer::concurrency::pipelined_retries_append_once")
        .fails_with("PROD-SERIALIZE")
        .await;
}

async fn closed_stream_producer_answers_are_caught() {
    // Duplicate closes answered 409; other tuples on a closed stream lose
    // Stream-Closed; zombies are told 403 rather than "closed".
    let srv = crate::common::with_response(|seen: &Seen, mut resp| {
        if producer(seen) && resp.headers().contains_key("stream-closed") {
            match resp.status() {
                StatusCode::NO_CONTENT => *resp.status_mut() = StatusCode::CONFLICT,
                StatusCode::CONFLICT => {
                    resp.headers_mut().remove("stream-closed");
                }
                _ => {}
            }
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("producer::close::duplicate_close_is_204", "PROD-CLOSE-DUP"),
            (
                "producer::close::close_only_with_producer_headers",
                "PROD-CLOSE-WITH-APPEND",
            ),
            (
                "producer::close::other_tuple_on_closed_is_409",
                "PROD-CLOSED-OTHER-409",
            ),
            (
                "producer::close::zombie_after_close_rejected",
                "PROD-CLOSED-ZOMBIE",
            ),
        ])
        .await;
}

async fn close_not_applied_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers().contains_key("producer-id") && req.headers().contains_key("content-type") {
            req.headers_mut().remove("stream-closed");
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("producer::close::close_with_final_append")
        .fails_with("PROD-CLOSE-WITH-APPEND")
        .await;
}

async fn stream_seq_ignored_with_producers_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers().contains_key("producer-id") {
            req.headers_mut().remove("stream-seq");
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("producer::stream_seq::stream_seq_rejection_does_not_advance_producer")
        .fails_with("PROD-STREAM-SEQ-ATOMIC")
        .await;
}

async fn duplicates_appended_again_are_caught() {
    // The retry of a producer request that carried a Stream-Seq is
    // appended again (as a plain append with a fresh Stream-Seq) and
    // answered 200 as if it were new.
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let srv = crate::common::with_middleware(500, move |mut req: Request, next: Next| {
        let seen = seen.clone();
        async move {
            let h = req.headers();
            let key = (h.contains_key("stream-seq") && h.contains_key("producer-id"))
                .then(|| producer_tuple(&req));
            let retry = key.is_some_and(|k| !seen.lock().unwrap().insert(k));
            if !retry {
                return next.run(req).await;
            }
            req.headers_mut()
                .insert("stream-seq", HeaderValue::from_static("zz"));
            drop_producer_headers(&mut req);
            let mut resp = next.run(req).await;
            if resp.status() == StatusCode::NO_CONTENT {
                crate::common::set_status(&mut resp, 200);
            }
            resp
        }
    })
    .await;
    bite(&srv.root)
        .case("producer::stream_seq::retry_with_stream_seq_appends_once")
        .fails_with("PROD-SEQ-DUP")
        .await;
}

/// `-0` spells zero, a non-negative integer (§5.2.1): a server reading it
/// as 0 is non-canonical (SHOULD) but not non-integer (MUST).
async fn minus_zero_read_as_zero_is_only_a_should_finding() {
    let srv = crate::common::with_request(|mut req| {
        for h in ["producer-epoch", "producer-seq"] {
            if req.headers().get(h).is_some_and(|v| v == "-0") {
                req.headers_mut().insert(h, HeaderValue::from_static("0"));
            }
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("producer::syntax::non_canonical_integers_are_400")
        .fails_with("PROD-VALUE-CANONICAL")
        .await;
    bite(&srv.root)
        .case("producer::syntax::non_integer_values_are_400")
        .passes()
        .await;
}

async fn reference_server_passes_the_whole_producer_area() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("producer::").passes().await;
}

/// Is this producer value a non-canonical spelling of an integer (a sign
/// or a leading zero)? Returns the canonical spelling.
fn canonical(v: &str) -> Option<String> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    let non_canonical = v.starts_with(['+', '-']) || (digits.len() > 1 && digits.starts_with('0'));
    if !non_canonical || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    (n == 0 || !v.starts_with('-')).then(|| n.to_string())
}

/// Non-canonical values read as the integers they spell, each applied
/// exactly as answered: only the SHOULD, found for every value (the case
/// carried on past the first).
async fn non_canonical_values_read_as_integers_are_only_a_should_finding() {
    let srv = crate::common::with_request(|mut req| {
        reread_producer_values(&mut req, canonical);
        req
    })
    .await;
    let bitten = bite(&srv.root)
        .case("producer::syntax::non_canonical_integers_are_400")
        .fails_with("PROD-VALUE-CANONICAL")
        .await;
    // "+1" was accepted as epoch and as seq, so was "01": each a finding.
    let m = &bitten.failure.message;
    assert!(m.matches("also found").count() >= 3, "{m}");
}

/// Non-canonical values accepted, but as plain appends (the producer
/// headers dropped): answered 204 as duplicates, stored every time. The
/// case carries on past the SHOULD finding and fails on the MUST.
async fn non_canonical_values_accepted_as_plain_appends_are_caught() {
    let srv = crate::common::with_request(|mut req| {
        let lenient = ["producer-epoch", "producer-seq"].iter().any(|h| {
            req.headers()
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .and_then(canonical)
                .is_some()
        });
        if lenient {
            drop_producer_headers(&mut req);
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("producer::syntax::non_canonical_integers_are_400")
        .fails_with("PROD-SEQ-DUP")
        .await;
}

/// The reference app, where producer POSTs on a stream that an earlier
/// POST already closed are answered with SHOULD-level deviations (a
/// duplicate close 200 instead of 204, a closed-stream 409 as a 403 stale
/// epoch); with `reopen`, such a request also reopens the stream (deleted
/// and created again, open, with the same data).
async fn closed_stream_deviations(reopen: bool) -> crate::common::Broken {
    use tower::ServiceExt;
    let app = crate::common::reference_app(crate::common::config(500));
    let inner = app.clone();
    let closed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let layer = axum::middleware::from_fn(move |req: Request, next: Next| {
        let (inner, closed) = (inner.clone(), closed.clone());
        async move {
            let path = req.uri().path().to_string();
            let is_producer =
                req.method() == Method::POST && req.headers().contains_key("producer-id");
            let mut resp = next.run(req).await;
            let says_closed = resp
                .headers()
                .get("stream-closed")
                .is_some_and(|v| v == "true");
            if is_producer && says_closed && !closed.lock().unwrap().insert(path.clone()) {
                match resp.status() {
                    StatusCode::NO_CONTENT => crate::common::set_status(&mut resp, 200),
                    StatusCode::CONFLICT => {
                        crate::common::set_status(&mut resp, 403);
                        resp.headers_mut().remove("stream-closed");
                        resp.headers_mut()
                            .insert("producer-epoch", HeaderValue::from_static("1"));
                    }
                    _ => {}
                }
                if reopen {
                    let call = |method: Method, uri: String, body: bytes::Bytes| {
                        let inner = inner.clone();
                        async move {
                            let req = axum::http::Request::builder()
                                .method(method)
                                .uri(uri)
                                .header("content-type", "text/plain")
                                .body(axum::body::Body::from(body))
                                .unwrap();
                            let resp = inner.oneshot(req).await.unwrap();
                            crate::common::body_bytes(resp).await.1
                        }
                    };
                    let data = call(
                        Method::GET,
                        format!("{path}?offset=-1"),
                        bytes::Bytes::new(),
                    )
                    .await;
                    call(Method::DELETE, path.clone(), bytes::Bytes::new()).await;
                    call(Method::PUT, path.clone(), data).await;
                }
            }
            resp
        }
    });
    crate::common::serve(app.layer(layer)).await
}

const ON_CLOSED: [(&str, &str); 3] = [
    ("producer::close::duplicate_close_is_204", "PROD-CLOSE-DUP"),
    (
        "producer::close::close_only_with_producer_headers",
        "PROD-CLOSE-DUP",
    ),
    (
        "producer::close::zombie_after_close_rejected",
        "PROD-CLOSED-PRECEDENCE",
    ),
];

/// Requests on a closed stream answered with SHOULD-level deviations, the
/// stream intact: only those SHOULDs.
async fn closed_stream_should_deviations_with_state_intact() {
    let srv = closed_stream_deviations(false).await;
    bite(&srv.root).each(&ON_CLOSED).await;
}

/// The same answers, but each such request reopened the stream: every case
/// re-checks the closure after the request and fails on the MUST.
async fn closed_stream_reopened_behind_should_deviations_is_caught() {
    let srv = closed_stream_deviations(true).await;
    let each: Vec<(&str, &str)> = ON_CLOSED
        .iter()
        .map(|(id, _)| (*id, "STREAM-CLOSED-MONOTONIC"))
        .collect();
    bite(&srv.root).each(&each).await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio wrong_success_headers_are_caught,
        tokio missing_producer_headers_are_caught,
        tokio wrong_statuses_are_caught,
        tokio new_producer_at_nonzero_seq_accepted_is_caught,
        tokio lenient_header_parsing_is_caught,
        tokio max_values_rejected_is_caught,
        tokio shared_producer_state_is_caught,
        tokio unserialized_validation_is_caught,
        tokio closed_stream_producer_answers_are_caught,
        tokio close_not_applied_is_caught,
        tokio stream_seq_ignored_with_producers_is_caught,
        tokio duplicates_appended_again_are_caught,
        tokio minus_zero_read_as_zero_is_only_a_should_finding,
        tokio reference_server_passes_the_whole_producer_area,
        tokio non_canonical_values_read_as_integers_are_only_a_should_finding,
        tokio non_canonical_values_accepted_as_plain_appends_are_caught,
        tokio closed_stream_should_deviations_with_state_intact,
        tokio closed_stream_reopened_behind_should_deviations_is_caught,
    ]
}
