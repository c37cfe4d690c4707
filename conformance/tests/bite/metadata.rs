//! The HEAD and DELETE cases bite: each test breaks one §5.4/§5.5 rule in
//! front of the reference server and asserts the matching case fails.

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

async fn control_reference_passes_every_metadata_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("metadata::").passes().await;
}

async fn head_drops_its_headers() {
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::HEAD {
            for h in [
                "stream-next-offset",
                "stream-closed",
                "stream-ttl",
                "stream-expires-at",
            ] {
                resp.headers_mut().remove(h);
            }
            resp.headers_mut().insert(
                "cache-control",
                HeaderValue::from_static("public, max-age=60"),
            );
            if resp.status() == StatusCode::NOT_FOUND {
                crate::common::set_status(&mut resp, 200);
            }
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("metadata::head::reports_type_and_tail", "HEAD-200"),
            ("metadata::head::reports_closure", "HEAD-CLOSED"),
            ("metadata::head::reports_ttl", "HEAD-TTL-EXPIRES"),
            ("metadata::head::reports_expires_at", "HEAD-TTL-EXPIRES"),
            ("metadata::head::not_cacheable", "HEAD-NO-STORE"),
            ("metadata::head::missing_stream_is_404", "HEAD-404"),
        ])
        .await;
}

async fn head_reports_wrong_type_or_stale_tail() {
    let srv = crate::common::setting_response_header(
        |seen, _| seen.method == Method::HEAD,
        "content-type",
        "application/octet-stream",
    )
    .await;
    bite(&srv.root)
        .case("metadata::head::reports_type_and_tail")
        .fails_with("HEAD-200")
        .await;

    let srv = crate::common::setting_response_header(
        |seen, resp| seen.method == Method::HEAD && resp.status() == StatusCode::OK,
        "stream-next-offset",
        "stale",
    )
    .await;
    bite(&srv.root)
        .case("metadata::head::reports_type_and_tail")
        .fails_with("HEAD-200")
        .await;
}

async fn delete_status_and_ghost_streams() {
    let srv = crate::common::remapping_status(Method::DELETE, 204, 200).await;
    bite(&srv.root)
        .each(&[
            ("metadata::delete::is_204_then_404_everywhere", "DELETE-204"),
            (
                "metadata::delete::closed_stream_can_be_deleted",
                "DELETE-204",
            ),
        ])
        .await;

    // DELETE of a missing stream answers 204; reads of deleted ones 200.
    let srv = crate::common::with_response(|seen, mut resp| {
        if resp.status() == StatusCode::NOT_FOUND
            && (seen.method == Method::DELETE || seen.method == Method::GET)
        {
            crate::common::set_status(
                &mut resp,
                if seen.method == Method::DELETE {
                    204
                } else {
                    200
                },
            );
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("metadata::delete::missing_stream_is_404", "DELETE-404"),
            (
                "metadata::delete::is_204_then_404_everywhere",
                "DELETE-GONE",
            ),
        ])
        .await;
}

async fn delete_keeps_data() {
    // DELETE is a no-op that claims success; a re-PUT then finds old data.
    let srv = crate::common::spawn(
        crate::common::config(500),
        Some(std::sync::Arc::new(|mut req: axum::extract::Request| {
            if req.method() == Method::DELETE {
                *req.method_mut() = Method::HEAD;
                req.headers_mut()
                    .insert("x-was-delete", HeaderValue::from_static("1"));
            }
            if req.method() == Method::PUT {
                req.headers_mut()
                    .insert("content-type", HeaderValue::from_static("text/plain"));
            }
            req
        })),
        Some(std::sync::Arc::new(
            |seen: &crate::common::Seen, mut resp: axum::response::Response| {
                if seen.method == Method::HEAD
                    && resp.status() == StatusCode::OK
                    && seen.headers.contains_key("x-was-delete")
                {
                    crate::common::set_status(&mut resp, 204);
                }
                resp
            },
        )),
    )
    .await;
    bite(&srv.root)
        .case("metadata::delete::recreated_stream_starts_empty")
        .fails_with("DELETE-RECREATE-FRESH")
        .await;
}

/// A raw HTTP/1.1 double that answers PUT 201, DELETE 204 and HEAD with a
/// 200 that (wrongly) carries a body.
async fn head_with_body_server() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Read one request (headers + Content-Length body).
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + len);
                    let resp: &[u8] = if head.starts_with("put") {
                        b"HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\nstream-next-offset: 1\r\ncontent-length: 0\r\n\r\n"
                    } else if head.starts_with("head") {
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nstream-next-offset: 1\r\ncontent-length: 9\r\nconnection: close\r\n\r\nsome data"
                    } else {
                        b"HTTP/1.1 204 No Content\r\n\r\n"
                    };
                    if sock.write_all(resp).await.is_err() || head.starts_with("head") {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/v1/stream"), task)
}

async fn head_carries_a_body() {
    let (root, task) = head_with_body_server().await;
    bite(&root)
        .case("metadata::head::sends_no_body")
        .fails_with("HEAD-NO-BODY")
        .await;
    task.abort();
}

async fn head_tail_wrong_once_closed() {
    // HEAD reports a tail past the final offset once the stream is closed
    // (closure counted as a position): reports_closure used to look at
    // Stream-Closed only.
    let srv = crate::common::with_response(|seen, mut resp| {
        if seen.method == Method::HEAD && resp.headers().contains_key("stream-closed") {
            if let Some(v) = resp.headers().get("stream-next-offset") {
                let bumped = format!("{}z", v.to_str().unwrap_or(""));
                resp.headers_mut().insert(
                    "stream-next-offset",
                    HeaderValue::from_str(&bumped).expect("ascii"),
                );
            }
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("metadata::head::reports_closure")
        .fails_with("HEAD-200")
        .await;
}

async fn head_uncacheable_alternatives_pass_both_head_cases() {
    // §5.5 asks for "effectively non-cacheable" HEAD answers; these make
    // every cache revalidate before reuse. The two HEAD cache cases used to
    // disagree on `no-cache` (metadata accepted it, caching did not).
    for cc in [
        "no-cache",
        "max-age=0, must-revalidate",
        "private, max-age=0",
    ] {
        let srv = crate::common::setting_response_header(
            |seen, _| seen.method == Method::HEAD,
            "cache-control",
            cc,
        )
        .await;
        bite(&srv.root)
            .area("metadata::head::not_cacheable")
            .area("caching::cache_control::head_is_not_cacheable")
            .each(&[])
            .await;
        bite(&srv.root)
            .case("metadata::head::not_cacheable")
            .passes()
            .await;
        bite(&srv.root)
            .case("caching::cache_control::head_is_not_cacheable")
            .passes()
            .await;
    }
    // Still biting: a HEAD cacheable for a minute fails both.
    let srv = crate::common::setting_response_header(
        |seen, _| seen.method == Method::HEAD,
        "cache-control",
        "public, max-age=60",
    )
    .await;
    bite(&srv.root)
        .each(&[
            ("metadata::head::not_cacheable", "HEAD-NO-STORE"),
            (
                "caching::cache_control::head_is_not_cacheable",
                "CACHE-HEAD-NO-STORE",
            ),
        ])
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_metadata_case,
        tokio head_drops_its_headers,
        tokio head_reports_wrong_type_or_stale_tail,
        tokio delete_status_and_ghost_streams,
        tokio delete_keeps_data,
        tokio head_carries_a_body,
        tokio head_tail_wrong_once_closed,
        tokio head_uncacheable_alternatives_pass_both_head_cases,
    ]
}
