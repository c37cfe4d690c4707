//! The HEAD and DELETE cases bite: each test breaks one §5.4/§5.5 rule in
//! front of the reference server and asserts the matching case fails.

mod common;

use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::{assert_fails, assert_passes, run_prefixes};

fn status(resp: &mut axum::response::Response, code: u16) {
    *resp.status_mut() = StatusCode::from_u16(code).unwrap();
}

#[tokio::test]
async fn control_reference_passes_every_metadata_case() {
    let srv = common::reference().await;
    let runs = run_prefixes(&srv.root, &["metadata::"], 500).await;
    for r in &runs {
        assert_passes(&runs, &r.id);
    }
}

#[tokio::test]
async fn head_drops_its_headers() {
    let srv = common::with_response(|seen, mut resp| {
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
                status(&mut resp, 200);
            }
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["metadata::head::"], 500).await;
    for id in [
        "reports_type_and_tail",
        "reports_closure",
        "reports_ttl",
        "reports_expires_at",
        "not_cacheable",
        "missing_stream_is_404",
    ] {
        assert_fails(&runs, &format!("metadata::head::{id}"));
    }
}

#[tokio::test]
async fn head_reports_wrong_type_or_stale_tail() {
    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::HEAD {
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/octet-stream"),
            );
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["metadata::head::reports_type"], 500).await;
    assert_fails(&runs, "metadata::head::reports_type_and_tail");

    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::HEAD && resp.status() == StatusCode::OK {
            resp.headers_mut()
                .insert("stream-next-offset", HeaderValue::from_static("stale"));
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["metadata::head::reports_type"], 500).await;
    assert_fails(&runs, "metadata::head::reports_type_and_tail");
}

#[tokio::test]
async fn delete_status_and_ghost_streams() {
    let srv = common::with_response(|seen, mut resp| {
        if seen.method == Method::DELETE && resp.status() == StatusCode::NO_CONTENT {
            status(&mut resp, 200);
        }
        resp
    })
    .await;
    let runs = run_prefixes(&srv.root, &["metadata::delete::"], 500).await;
    assert_fails(&runs, "metadata::delete::is_204_then_404_everywhere");
    assert_fails(&runs, "metadata::delete::closed_stream_can_be_deleted");

    // DELETE of a missing stream answers 204; reads of deleted ones 200.
    let srv = common::with_response(|seen, mut resp| {
        if resp.status() == StatusCode::NOT_FOUND
            && (seen.method == Method::DELETE || seen.method == Method::GET)
        {
            status(
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
    let runs = run_prefixes(&srv.root, &["metadata::delete::"], 500).await;
    assert_fails(&runs, "metadata::delete::missing_stream_is_404");
    assert_fails(&runs, "metadata::delete::is_204_then_404_everywhere");
}

#[tokio::test]
async fn delete_keeps_data() {
    // DELETE is a no-op that claims success; a re-PUT then finds old data.
    let srv = common::spawn(
        common::config(500),
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
            |seen: &common::Seen, mut resp: axum::response::Response| {
                if seen.method == Method::HEAD
                    && resp.status() == StatusCode::OK
                    && seen.headers.contains_key("x-was-delete")
                {
                    status(&mut resp, 204);
                }
                resp
            },
        )),
    )
    .await;
    let runs = run_prefixes(&srv.root, &["metadata::delete::recreated"], 500).await;
    let f = assert_fails(&runs, "metadata::delete::recreated_stream_starts_empty");
    assert_eq!(f.requirement.as_deref(), Some("DELETE-RECREATE-FRESH"));
}
