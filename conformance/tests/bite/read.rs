//! The `read` cases (§5.6) bite: each test breaks one catch-up rule in
//! front of the reference server and checks that the right case fails.

use crate::common::set_query;
use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

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
    crate::common::dropping_response_headers(|seen, _| catch_up(seen), &[header]).await
}

async fn control_reference_passes_every_read_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("read::").passes().await;
}

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
    bite(&srv.root)
        .each(&[
            ("read::basic::binary_bytes_exact", "READ-FROM-OFFSET"),
            ("read::basic::text_control_bytes_exact", "READ-FROM-OFFSET"),
            ("read::basic::from_minus_one", "READ-FROM-OFFSET"),
        ])
        .await;
}

async fn basic_offset_ignored_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        let q = req.uri().query().unwrap_or("").to_string();
        if req.method() == Method::GET && q.starts_with("offset=") && !q.contains("live=") {
            set_query(&mut req, "offset=-1");
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("read::basic::from_minted_offsets", "READ-FROM-OFFSET"),
            ("read::chunks::follow_next_offset", "READ-FOLLOW-CHUNKS"),
        ])
        .await;
}

async fn basic_omitted_offset_read_from_tail_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::GET && req.uri().query().is_none() {
            set_query(&mut req, "offset=now");
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("read::basic::omitted_offset_reads_from_start")
        .fails_with("READ-OFFSET-DEFAULT")
        .await;
}

async fn chunks_up_to_date_on_every_chunk_is_caught() {
    let srv = catch_up_200_marked("stream-up-to-date").await;
    bite(&srv.root)
        .case("read::chunks::follow_next_offset")
        .fails_with("READ-PARTIAL-NO-UP-TO-DATE")
        .await;
}

async fn chunks_closed_on_every_chunk_is_caught() {
    let srv = catch_up_200_marked("stream-closed").await;
    bite(&srv.root)
        .each(&[
            (
                "read::chunks::closed_only_on_final_chunk",
                "READ-PARTIAL-NO-CLOSED",
            ),
            (
                "read::chunks::follow_next_offset",
                "READ-CLOSED-FINAL-CHUNK",
            ),
            ("read::tail::open_tail_not_closed", "READ-CLOSED-TAIL-EOF"),
        ])
        .await;
}

async fn tail_without_closed_is_caught() {
    let srv = catch_up_without("stream-closed").await;
    bite(&srv.root)
        .each(&[
            ("read::tail::closed_tail_is_eof", "READ-CLOSED-TAIL-EOF"),
            (
                "read::tail::closed_empty_stream_from_start",
                "READ-CLOSED-TAIL-EOF",
            ),
            (
                "read::tail::closed_final_data_chunk",
                "READ-CLOSED-FINAL-CHUNK",
            ),
            (
                "read::tail::closed_after_read_discovered_at_next_offset",
                "READ-CLOSED-TAIL-EOF",
            ),
            (
                "read::chunks::closed_only_on_final_chunk",
                "READ-CLOSED-FINAL-CHUNK",
            ),
        ])
        .await;
}

async fn tail_without_up_to_date_is_caught() {
    let srv = catch_up_without("stream-up-to-date").await;
    bite(&srv.root)
        .each(&[
            ("read::tail::empty_with_same_offset", "READ-UP-TO-DATE"),
            ("read::tail::empty_stream_from_start", "READ-UP-TO-DATE"),
            ("read::basic::from_minus_one", "READ-UP-TO-DATE"),
        ])
        .await;
}

async fn errors_answered_with_200_are_caught() {
    let srv = crate::common::setting_status(
        |seen, resp| {
            catch_up(seen)
                && matches!(
                    resp.status(),
                    StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
                )
        },
        200,
    )
    .await;
    bite(&srv.root)
        .each(&[
            ("read::errors::missing_stream_is_404", "READ-404"),
            ("read::errors::deleted_stream_is_404", "READ-404"),
            ("read::errors::malformed_offset_is_400", "READ-400-OFFSET"),
        ])
        .await;
}

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
    bite(&srv.root)
        .case("read::tail::closed_final_data_chunk")
        .fails_with("READ-PARTIAL-NO-CLOSED")
        .await;
}

/// §5.6: an offset a chunk returned is not a valid place to resume: the
/// second read from the same offset of a stream loses its first byte (a
/// server whose offsets drift once a cache entry exists).
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
    bite(&srv.root)
        .case("read::chunks::resume_from_chunk_offsets")
        .fails_with("READ-FOLLOW-CHUNKS")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_read_case,
        tokio basic_flipped_byte_is_caught,
        tokio basic_offset_ignored_is_caught,
        tokio basic_omitted_offset_read_from_tail_is_caught,
        tokio chunks_up_to_date_on_every_chunk_is_caught,
        tokio chunks_closed_on_every_chunk_is_caught,
        tokio tail_without_closed_is_caught,
        tokio tail_without_up_to_date_is_caught,
        tokio errors_answered_with_200_are_caught,
        tokio closed_on_partial_chunks_is_a_should_failure,
        tokio resumed_chunk_offset_loses_a_byte,
    ]
}
