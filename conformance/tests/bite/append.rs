//! The append cases bite: each test breaks one §5.2 rule in front of the
//! reference server and asserts the matching case fails.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use ds_conformance::testing::bite;

async fn control_reference_passes_every_append_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("append::").passes().await;
}

async fn basic_append_answers_200() {
    let srv = crate::common::remapping_status(Method::POST, 204, 200).await;
    bite(&srv.root)
        .case("append::basic::append_is_204_with_tail")
        .fails_with("APPEND-204")
        .await;
}

async fn basic_bodies_reversed_or_truncated() {
    let srv = crate::common::with_request(|req| {
        if req.method() == Method::POST {
            return crate::common::map_body(req, |b| {
                let mut v = b.to_vec();
                v.truncate(100 * 1024);
                if v.len() > 1 && v.len() < 1000 {
                    v.reverse();
                }
                Bytes::from(v)
            });
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("append::basic::order_preserved", "STREAM-ORDER"),
            ("append::basic::large_bodies", "STREAM-ORDER"),
        ])
        .await;
}

async fn basic_empty_body_and_missing_stream_accepted() {
    // Empty POSTs are treated as close-only; POSTs to missing streams 204.
    let srv = crate::common::spawn(
        crate::common::config(500),
        Some(std::sync::Arc::new(|mut req: Request| {
            if req.method() == Method::POST
                && req.headers().get("content-length").is_none_or(|v| v == "0")
            {
                req.headers_mut()
                    .insert("stream-closed", HeaderValue::from_static("true"));
            }
            req
        })),
        Some(std::sync::Arc::new(
            |seen: &crate::common::Seen, mut resp: axum::response::Response| {
                if seen.method == Method::POST && resp.status() == StatusCode::NOT_FOUND {
                    crate::common::set_status(&mut resp, 204);
                }
                resp
            },
        )),
    )
    .await;
    bite(&srv.root)
        .each(&[
            ("append::basic::empty_body_is_400", "APPEND-EMPTY-BODY-400"),
            ("append::basic::missing_stream_is_404", "APPEND-404"),
        ])
        .await;
}

async fn content_type_not_enforced() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::POST {
            // Claim the stream's type whatever the client sent (or omitted).
            let ct = req.headers().get("content-type").cloned();
            if ct.as_ref().is_none_or(|v| v != "text/plain; charset=utf-8") {
                req.headers_mut()
                    .insert("content-type", HeaderValue::from_static("text/plain"));
            }
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "append::content_type::mismatch_is_409",
                "APPEND-CT-MISMATCH-409",
            ),
            (
                "append::content_type::missing_is_400",
                "APPEND-CT-REQUIRED-400",
            ),
        ])
        .await;
}

async fn content_type_parameters_refused() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let params = seen
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().contains(&b';'));
        if seen.method == Method::POST && params {
            crate::common::set_status(&mut resp, 409);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("append::content_type::same_with_parameters_is_accepted")
        .fails_with("APPEND-204")
        .await;
}

async fn seq_ignored() {
    let srv = crate::common::dropping_request_headers(&["stream-seq"]).await;
    bite(&srv.root)
        .each(&[
            ("append::seq::equal_is_409", "SEQ-REGRESSION-409"),
            ("append::seq::regression_is_409", "SEQ-REGRESSION-409"),
            (
                "append::seq::compared_bytewise_not_numerically",
                "SEQ-LEXICOGRAPHIC",
            ),
            (
                "append::seq::compared_bytewise_not_case_folded",
                "SEQ-LEXICOGRAPHIC",
            ),
        ])
        .await;
}

async fn seq_numeric_or_case_folded_or_refused() {
    // Numeric comparison: left-pad digit strings.
    let srv = crate::common::with_request(|mut req| {
        let seq = req
            .headers()
            .get("stream-seq")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(s) = seq.filter(|s| s.bytes().all(|b| b.is_ascii_digit())) {
            req.headers_mut().insert(
                "stream-seq",
                HeaderValue::from_str(&format!("{s:0>20}")).unwrap(),
            );
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("append::seq::compared_bytewise_not_numerically")
        .fails_with("SEQ-LEXICOGRAPHIC")
        .await;

    let srv = crate::common::with_request(|mut req| {
        let seq = req
            .headers()
            .get("stream-seq")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(s) = seq {
            req.headers_mut()
                .insert("stream-seq", HeaderValue::from_str(&s).unwrap());
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("append::seq::compared_bytewise_not_case_folded")
        .fails_with("SEQ-LEXICOGRAPHIC")
        .await;

    let srv = crate::common::setting_status(
        |seen, _| seen.headers.get("stream-seq").is_some_and(|v| v == "b0"),
        409,
    )
    .await;
    bite(&srv.root)
        .case("append::seq::increasing_is_accepted")
        .fails_with("SEQ-INCREASING-ACCEPTED")
        .await;
}

async fn precedence_closed_not_reported_first() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let body_append =
            seen.method == Method::POST && !seen.headers.contains_key("stream-closed");
        if body_append && resp.status() == StatusCode::CONFLICT {
            resp.headers_mut().remove("stream-closed");
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "append::precedence::closed_before_content_type",
                "APPEND-ERROR-PRECEDENCE",
            ),
            (
                "append::precedence::closed_before_seq",
                "APPEND-ERROR-PRECEDENCE",
            ),
        ])
        .await;
}

async fn basic_chunked_bodies_refused() {
    let srv = crate::common::setting_status(
        |seen, _| seen.method == Method::POST && !seen.headers.contains_key("content-length"),
        411,
    )
    .await;
    bite(&srv.root)
        .case("append::basic::chunked_body_is_accepted")
        .fails_with("APPEND-CHUNKED")
        .await;
}

async fn content_type_case_sensitive() {
    let srv = crate::common::with_response(|seen, mut resp| {
        let upper = seen
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().iter().any(u8::is_ascii_uppercase));
        if upper {
            crate::common::set_status(&mut resp, 409);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "append::content_type::media_type_case_is_ignored",
                "CT-MEDIA-TYPE-CASE",
            ),
            (
                "create::idempotent::content_type_case_is_ignored",
                "CT-MEDIA-TYPE-CASE",
            ),
        ])
        .await;
}

async fn seq_consumed_by_refused_appends() {
    // Simulates a server that records Stream-Seq before validating: the
    // retry with the same value after a refusal is rejected.
    let srv = crate::common::with_response(|seen, mut resp| {
        let six = seen.headers.get("stream-seq").is_some_and(|v| v == "6");
        let plain = seen
            .headers
            .get("content-type")
            .is_some_and(|v| v == "text/plain");
        if six && plain && resp.status() == StatusCode::NO_CONTENT {
            crate::common::set_status(&mut resp, 409);
        }
        resp
    })
    .await;
    bite(&srv.root)
        .case("append::seq::rejected_append_does_not_consume_seq")
        .fails_with("SEQ-INCREASING-ACCEPTED")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio control_reference_passes_every_append_case,
        tokio basic_append_answers_200,
        tokio basic_bodies_reversed_or_truncated,
        tokio basic_empty_body_and_missing_stream_accepted,
        tokio content_type_not_enforced,
        tokio content_type_parameters_refused,
        tokio seq_ignored,
        tokio seq_numeric_or_case_folded_or_refused,
        tokio precedence_closed_not_reported_first,
        tokio basic_chunked_bodies_refused,
        tokio content_type_case_sensitive,
        tokio seq_consumed_by_refused_appends,
    ]
}
