//! The `read` cases (§5.6) bite: each test breaks one catch-up rule in
//! front of the reference server and checks that the right case fails.

mod common;

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use ds_conformance::testing::{assert_fails, assert_passes, run_prefixes, Ran};
use futures::StreamExt;

/// A plain catch-up GET (no `live` parameter).
fn catch_up(seen: &common::Seen) -> bool {
    seen.method == Method::GET && !seen.uri.query().unwrap_or("").contains("live=")
}

/// The case failed, and on the requirement the broken rule belongs to.
fn fails_with(runs: &[Ran], id: &str, req: &str) {
    let f = assert_fails(runs, id);
    assert_eq!(
        f.requirement.as_deref(),
        Some(req),
        "{id} failed for another reason: {f}"
    );
}

fn set_query(req: &mut axum::extract::Request, query: &str) {
    let path = req.uri().path().to_string();
    *req.uri_mut() = format!("{path}?{query}").parse().expect("valid URI");
}

#[tokio::test]
async fn control_reference_passes_every_read_case() {
    let srv = common::reference().await;
    let runs = run_prefixes(&srv.root, &["read::"], 500).await;
    for r in &runs {
        assert_passes(&runs, &r.id);
    }
}

#[tokio::test]
async fn basic_flipped_byte_is_caught() {
    let srv = common::with_response(|seen, resp| {
        if !catch_up(seen) || resp.status() != StatusCode::OK {
            return resp;
        }
        let (parts, body) = resp.into_parts();
        let flipped = body.into_data_stream().map(|chunk| {
            chunk.map(|b| {
                let mut v = b.to_vec();
                if let Some(x) = v.first_mut() {
                    *x ^= 0x01;
                }
                bytes::Bytes::from(v)
            })
        });
        Response::from_parts(parts, Body::from_stream(flipped))
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::basic::"], 500).await;
    fails_with(&runs, "read::basic::binary_bytes_exact", "READ-FROM-OFFSET");
    assert_fails(&runs, "read::basic::text_control_bytes_exact");
    assert_fails(&runs, "read::basic::from_minus_one");
}

#[tokio::test]
async fn basic_offset_ignored_is_caught() {
    let srv = common::with_request(|mut req| {
        let q = req.uri().query().unwrap_or("").to_string();
        if req.method() == Method::GET && q.starts_with("offset=") && !q.contains("live=") {
            set_query(&mut req, "offset=-1");
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::basic::", "read::chunks::"], 500).await;
    fails_with(
        &runs,
        "read::basic::from_minted_offsets",
        "READ-FROM-OFFSET",
    );
    assert_fails(&runs, "read::chunks::follow_next_offset");
}

#[tokio::test]
async fn basic_omitted_offset_read_from_tail_is_caught() {
    let srv = common::with_request(|mut req| {
        if req.method() == Method::GET && req.uri().query().is_none() {
            set_query(&mut req, "offset=now");
        }
        req
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::basic::"], 500).await;
    fails_with(
        &runs,
        "read::basic::omitted_offset_reads_from_start",
        "READ-OFFSET-DEFAULT",
    );
}

#[tokio::test]
async fn chunks_up_to_date_on_every_chunk_is_caught() {
    let srv = common::with_response(|seen, mut resp| {
        if catch_up(seen) && resp.status() == StatusCode::OK {
            resp.headers_mut()
                .insert("stream-up-to-date", HeaderValue::from_static("true"));
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::chunks::"], 500).await;
    fails_with(
        &runs,
        "read::chunks::follow_next_offset",
        "READ-PARTIAL-NO-UP-TO-DATE",
    );
}

#[tokio::test]
async fn chunks_closed_on_every_chunk_is_caught() {
    let srv = common::with_response(|seen, mut resp| {
        if catch_up(seen) && resp.status() == StatusCode::OK {
            resp.headers_mut()
                .insert("stream-closed", HeaderValue::from_static("true"));
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::chunks::", "read::tail::"], 500).await;
    fails_with(
        &runs,
        "read::chunks::closed_only_on_final_chunk",
        "READ-PARTIAL-NO-CLOSED",
    );
    assert_fails(&runs, "read::chunks::follow_next_offset");
    assert_fails(&runs, "read::tail::open_tail_not_closed");
}

#[tokio::test]
async fn tail_without_closed_is_caught() {
    let srv = common::with_response(|seen, mut resp| {
        if catch_up(seen) {
            resp.headers_mut().remove("stream-closed");
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::tail::", "read::chunks::"], 500).await;
    fails_with(
        &runs,
        "read::tail::closed_tail_is_eof",
        "READ-CLOSED-TAIL-EOF",
    );
    fails_with(
        &runs,
        "read::tail::closed_empty_stream_from_start",
        "READ-CLOSED-TAIL-EOF",
    );
    fails_with(
        &runs,
        "read::tail::closed_final_data_chunk",
        "READ-CLOSED-FINAL-CHUNK",
    );
    assert_fails(
        &runs,
        "read::tail::closed_after_read_discovered_at_next_offset",
    );
    assert_fails(&runs, "read::chunks::closed_only_on_final_chunk");
}

#[tokio::test]
async fn tail_without_up_to_date_is_caught() {
    let srv = common::with_response(|seen, mut resp| {
        if catch_up(seen) {
            resp.headers_mut().remove("stream-up-to-date");
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::tail::", "read::basic::"], 500).await;
    fails_with(
        &runs,
        "read::tail::empty_with_same_offset",
        "READ-UP-TO-DATE",
    );
    assert_fails(&runs, "read::tail::empty_stream_from_start");
    assert_fails(&runs, "read::basic::from_minus_one");
}

#[tokio::test]
async fn errors_answered_with_200_are_caught() {
    let srv = common::with_response(|seen, mut resp| {
        if catch_up(seen)
            && matches!(
                resp.status(),
                StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
            )
        {
            *resp.status_mut() = StatusCode::OK;
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::errors::"], 500).await;
    assert_fails(&runs, "read::errors::missing_stream_is_404");
    assert_fails(&runs, "read::errors::deleted_stream_is_404");
    fails_with(
        &runs,
        "read::errors::malformed_offset_is_400",
        "READ-400-OFFSET",
    );
}
