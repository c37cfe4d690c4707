//! The `read` cases (§5.6) bite: each test breaks one catch-up rule in
//! front of the reference server and checks that the right case fails.

use crate::common::{fails_each_with, fails_with, set_query};
use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::{assert_fails, run_prefixes};

/// A plain catch-up GET (no `live` parameter).
fn catch_up(seen: &crate::common::Seen) -> bool {
    seen.method == Method::GET && !seen.uri.query().unwrap_or("").contains("live=")
}

/// A server that adds `header: true` to every 200 catch-up response.
async fn catch_up_200_marked(header: &'static str) -> crate::common::Broken {
    crate::common::with_response(move |seen, mut resp| {
        if catch_up(seen) && resp.status() == StatusCode::OK {
            resp.headers_mut()
                .insert(header, HeaderValue::from_static("true"));
        }
        resp
    })
    .await
}

/// A server that strips `header` from every catch-up response.
async fn catch_up_without(header: &'static str) -> crate::common::Broken {
    crate::common::with_response(move |seen, mut resp| {
        if catch_up(seen) {
            resp.headers_mut().remove(header);
        }
        resp
    })
    .await
}

#[tokio::test]
async fn control_reference_passes_every_read_case() {
    crate::common::assert_area_passes("read::").await;
}

#[tokio::test]
async fn basic_flipped_byte_is_caught() {
    let srv = crate::common::with_response(|seen, resp| {
        if !catch_up(seen) || resp.status() != StatusCode::OK {
            return resp;
        }
        crate::common::map_frames(resp, |b| {
            let mut v = b.to_vec();
            if let Some(x) = v.first_mut() {
                *x ^= 0x01;
            }
            bytes::Bytes::from(v)
        })
    })
    .await;
    let runs = run_prefixes(&srv.root, &["read::basic::"], 500).await;
    fails_with(&runs, "read::basic::binary_bytes_exact", "READ-FROM-OFFSET");
    assert_fails(&runs, "read::basic::text_control_bytes_exact");
    assert_fails(&runs, "read::basic::from_minus_one");
}

#[tokio::test]
async fn basic_offset_ignored_is_caught() {
    let srv = crate::common::with_request(|mut req| {
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
    let srv = crate::common::with_request(|mut req| {
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
    let srv = catch_up_200_marked("stream-up-to-date").await;
    let runs = run_prefixes(&srv.root, &["read::chunks::"], 500).await;
    fails_with(
        &runs,
        "read::chunks::follow_next_offset",
        "READ-PARTIAL-NO-UP-TO-DATE",
    );
}

#[tokio::test]
async fn chunks_closed_on_every_chunk_is_caught() {
    let srv = catch_up_200_marked("stream-closed").await;
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
    let srv = catch_up_without("stream-closed").await;
    let runs = run_prefixes(&srv.root, &["read::tail::", "read::chunks::"], 500).await;
    fails_each_with(
        &runs,
        &[
            ("read::tail::closed_tail_is_eof", "READ-CLOSED-TAIL-EOF"),
            (
                "read::tail::closed_empty_stream_from_start",
                "READ-CLOSED-TAIL-EOF",
            ),
            (
                "read::tail::closed_final_data_chunk",
                "READ-CLOSED-FINAL-CHUNK",
            ),
        ],
    );
    assert_fails(
        &runs,
        "read::tail::closed_after_read_discovered_at_next_offset",
    );
    assert_fails(&runs, "read::chunks::closed_only_on_final_chunk");
}

#[tokio::test]
async fn tail_without_up_to_date_is_caught() {
    let srv = catch_up_without("stream-up-to-date").await;
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
    let srv = crate::common::with_response(|seen, mut resp| {
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

#[tokio::test]
async fn closed_on_partial_chunks_is_a_should_failure() {
    // Chunks of 4 bytes; every partial chunk of a closed stream says
    // Stream-Closed. That breaks a SHOULD NOT (§5.6), so cases reading such
    // a stream fail on READ-PARTIAL-NO-CLOSED, not on a MUST of their own.
    let closed = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let mut cfg = crate::common::config(500);
    cfg.max_chunk_bytes = 4;
    let srv = crate::common::spawn(
        cfg,
        None,
        Some(std::sync::Arc::new(
            move |seen: &crate::common::Seen, mut resp| {
                let path = seen.uri.path().to_string();
                let mut closed = closed.lock().unwrap();
                if seen.method == Method::POST
                    && seen
                        .headers
                        .get("stream-closed")
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
                {
                    closed.insert(path);
                } else if catch_up(seen)
                    && resp.status() == StatusCode::OK
                    && closed.contains(&path)
                    && !resp.headers().contains_key("stream-up-to-date")
                {
                    resp.headers_mut()
                        .insert("stream-closed", HeaderValue::from_static("true"));
                }
                resp
            },
        )),
    )
    .await;
    let runs = run_prefixes(&srv.root, &["read::tail::closed_final_data_chunk"], 500).await;
    fails_with(
        &runs,
        "read::tail::closed_final_data_chunk",
        "READ-PARTIAL-NO-CLOSED",
    );
}

/// §5.6: an offset a chunk returned is not a valid place to resume: the
/// second read from the same offset of a stream loses its first byte (a
/// server whose offsets drift once a cache entry exists).
#[tokio::test]
async fn resumed_chunk_offset_loses_a_byte() {
    let seen_offsets: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>> =
        Default::default();
    let srv = crate::common::with_middleware(
        500,
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let seen_offsets = seen_offsets.clone();
            async move {
                let key = req.uri().to_string();
                let repeat = req.method() == Method::GET
                    && key.contains("offset=")
                    && !key.contains("offset=-1")
                    && !seen_offsets.lock().unwrap().insert(key);
                let resp = next.run(req).await;
                if !repeat || resp.status() != StatusCode::OK {
                    return resp;
                }
                let (mut parts, body) = crate::common::body_bytes(resp).await;
                parts.headers.remove("content-length");
                crate::common::rebuild(parts, body.slice(body.len().min(1)..))
            }
        },
    )
    .await;
    crate::common::case_fails_with(
        &srv.root,
        "read::chunks::resume_from_chunk_offsets",
        "READ-FOLLOW-CHUNKS",
    )
    .await;
}
