//! Proof that the `ttl` cases bite: each test serves the reference server
//! behind a wrapper that breaks one §4 / §4.2 / §5.1 / §5.5 expiry rule and
//! asserts the cases checking that rule fail; the control runs the whole
//! area against the unmodified server.

use std::sync::Arc;

use crate::common::Seen;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use ds_conformance::testing::bite;

type Intercept = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// The reference server, except that requests matching `f` are answered by
/// `f` and never reach it (like a cache in front of the origin: the stream's
/// TTL is not reset by them).
async fn intercepting(
    f: impl Fn(&Request) -> Option<Response> + Send + Sync + 'static,
) -> crate::common::Broken {
    let f: Intercept = Arc::new(f);
    let app = crate::common::reference_app(crate::common::config(500)).layer(middleware::from_fn(
        move |req: Request, next: Next| {
            let f = f.clone();
            async move {
                match f(&req) {
                    Some(resp) => resp,
                    None => next.run(req).await,
                }
            }
        },
    ));
    crate::common::serve(app).await
}

fn query(req: &Request) -> String {
    req.uri().query().unwrap_or("").to_string()
}

fn ok(status: u16, headers: &[(&str, &str)], body: &'static str) -> Response {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body)).unwrap()
}

/// The stream "s" of a `ttl::renewal::` case.
fn renewal_stream(req: &Request) -> bool {
    req.uri().path().ends_with("/s") && req.uri().path().contains("ttl.renewal")
}

async fn renewal_bites_when_operations_do_not_reach_the_ttl() {
    let srv = intercepting(|req| {
        if !renewal_stream(req) {
            return None;
        }
        let q = query(req);
        let m = req.method();
        let h = |n: &str| req.headers().contains_key(n);
        let tail = [
            ("stream-next-offset", "tail-token"),
            ("stream-up-to-date", "true"),
        ];
        if m == Method::GET && q.contains("live=sse") {
            return Some(ok(200, &[("content-type", "text/event-stream")], ""));
        }
        if m == Method::GET && q.contains("live=long-poll") {
            return Some(ok(204, &tail, ""));
        }
        if m == Method::GET && q.contains("offset=now") {
            return Some(ok(200, &tail, ""));
        }
        if m == Method::GET && q.contains("offset=-1") {
            return Some(ok(200, &tail, "abc"));
        }
        if m == Method::POST && h("producer-id") {
            return Some(ok(
                200,
                &[("producer-epoch", "0"), ("producer-seq", "0")],
                "",
            ));
        }
        if m == Method::POST {
            return Some(ok(204, &[("stream-closed", "true")], ""));
        }
        None
    })
    .await;
    // Each fails on its renewal rule: the stream was gone at TTL + 1.5 s
    // (not on a setup step or the later expiry check).
    bite(&srv.root)
        .each(&[
            ("ttl::renewal::catch_up_get_renews", "TTL-RENEW-READ"),
            ("ttl::renewal::offset_now_get_renews", "TTL-RENEW-READ"),
            ("ttl::renewal::long_poll_renews", "TTL-RENEW-LIVE"),
            ("ttl::renewal::sse_renews", "TTL-RENEW-LIVE"),
            ("ttl::renewal::append_renews", "TTL-RENEW-WRITE"),
            ("ttl::renewal::close_only_renews", "TTL-RENEW-WRITE"),
            ("ttl::renewal::producer_append_renews", "TTL-RENEW-WRITE"),
        ])
        .await;
    bite(&srv.root)
        .case("ttl::renewal::head_does_not_renew")
        .passes()
        .await;
}

async fn head_renewing_server_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        if req.method() == Method::HEAD {
            *req.method_mut() = Method::GET;
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("ttl::renewal::head_does_not_renew")
        .fails_with("TTL-HEAD-NO-RENEW")
        .await;
}

async fn expires_at_treated_as_sliding_ttl_is_caught() {
    let srv = crate::common::with_request(|mut req| {
        if req.headers_mut().remove("stream-expires-at").is_some() {
            req.headers_mut()
                .insert("stream-ttl", HeaderValue::from_static("2"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "ttl::expires_at::not_extended_by_reads_or_writes",
                "EXPIRES-AT-NOT-EXTENDED",
            ),
            ("ttl::headers::head_reports_expires_at", "TTL-HEAD-VALUE"),
        ])
        .await;
}

async fn wrong_head_expiry_headers_are_caught() {
    let srv = crate::common::with_response(|seen: &Seen, mut resp| {
        if seen.method == Method::HEAD {
            let h = resp.headers_mut();
            if h.remove("stream-ttl").is_none() && h.get("stream-expires-at").is_none() {
                h.insert("stream-ttl", HeaderValue::from_static("3600"));
            }
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("ttl::headers::head_reports_ttl", "TTL-HEAD-REPORTS"),
            ("ttl::headers::head_reports_no_expiry", "TTL-HEAD-VALUE"),
        ])
        .await;
}

/// A server adding Stream-Expires-At to a TTL stream's HEAD: `deadline`
/// maps the stream's TTL (seconds) to the value it reports.
async fn head_with_ttl_deadline(deadline: fn(i64) -> String) -> crate::common::Broken {
    crate::common::with_response(move |seen: &Seen, mut resp| {
        if seen.method == Method::HEAD {
            let h = resp.headers_mut();
            let ttl = h
                .get("stream-ttl")
                .and_then(|v| v.to_str().ok()?.parse().ok());
            if let Some(ttl) = ttl {
                let v = HeaderValue::from_str(&deadline(ttl)).unwrap();
                h.insert("stream-expires-at", v);
            }
        }
        resp
    })
    .await
}

async fn ttl_stream_reporting_its_deadline_passes_but_a_wrong_one_fails() {
    use time::format_description::well_known::Rfc3339;
    fn current(ttl: i64) -> String {
        let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(ttl);
        t.format(&Rfc3339).unwrap()
    }
    fn far_future(_: i64) -> String {
        "2099-01-01T00:00:00Z".into()
    }
    let id = "ttl::headers::head_reports_ttl";
    let right = head_with_ttl_deadline(current).await;
    bite(&right.root).case(id).passes().await;
    let wrong = head_with_ttl_deadline(far_future).await;
    bite(&wrong.root)
        .case(id)
        .fails_with("TTL-HEAD-VALUE")
        .await;
}

async fn expired_stream_still_answering_is_caught() {
    // POST on a missing stream "succeeds"; PUT re-creation claims 200.
    let srv = crate::common::with_response(|seen: &Seen, mut resp| {
        let s = resp.status();
        if seen.method == Method::POST && s == StatusCode::NOT_FOUND {
            *resp.status_mut() = StatusCode::NO_CONTENT;
        }
        if seen.method == Method::PUT
            && s == StatusCode::CREATED
            && seen.uri.path().contains("recreate")
        {
            *resp.status_mut() = StatusCode::OK;
        }
        resp
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("ttl::expired::ttl_every_operation_404", "TTL-EXPIRED-404"),
            (
                "ttl::expired::expires_at_every_operation_404",
                "TTL-EXPIRED-404",
            ),
            (
                "ttl::expired::recreate_after_expiry_is_fresh",
                "TTL-EXPIRED-RECREATE-FRESH",
            ),
        ])
        .await;
}

/// A server whose PUT path skips the expiry check: a PUT on a URL that had
/// a stream answers as if that stream still existed — 200 when the config
/// matches the first PUT's, 409 otherwise — although GET/HEAD say 404.
async fn put_reviving_expired_stream_is_caught() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    /// First-creation config (content type, TTL, Expires-At) per path.
    type Configs = HashMap<String, Vec<(String, String)>>;
    let first: Arc<Mutex<Configs>> = Default::default();
    let srv = crate::common::with_middleware(500, move |req: Request, next: Next| {
        let first = first.clone();
        async move {
            let put = req.method() == Method::PUT;
            let path = req.uri().path().to_string();
            let conf: Vec<(String, String)> = ["content-type", "stream-ttl", "stream-expires-at"]
                .iter()
                .map(|h| {
                    let v = req
                        .headers()
                        .get(*h)
                        .map(|v| v.to_str().unwrap_or("").to_string());
                    (h.to_string(), v.unwrap_or_default())
                })
                .collect();
            let mut resp = next.run(req).await;
            if put && resp.status() == StatusCode::CREATED {
                let mut seen = first.lock().unwrap();
                match seen.get(&path) {
                    Some(old) if *old == conf => crate::common::set_status(&mut resp, 200),
                    Some(_) => crate::common::set_status(&mut resp, 409),
                    None => {
                        seen.insert(path, conf);
                    }
                }
            }
            resp
        }
    })
    .await;
    let id = "ttl::expired::same_config_put_after_expiry_is_not_200";
    bite(&srv.root)
        .case(id)
        .fails_with("TTL-EXPIRED-RECREATE-FRESH")
        .await;
}

fn is_fork_put(req: &Request) -> bool {
    req.method() == Method::PUT && req.headers().contains_key("stream-forked-from")
}

/// A server that drops `header` from fork PUTs.
async fn fork_put_lacking(header: &'static str) -> crate::common::Broken {
    crate::common::with_request(move |mut req| {
        if is_fork_put(&req) {
            req.headers_mut().remove(header);
        }
        req
    })
    .await
}

async fn fork_ignoring_requested_ttl_is_caught() {
    let srv = fork_put_lacking("stream-ttl").await;
    bite(&srv.root)
        .each(&[
            ("ttl::fork_table::none_ttl", "TTL-HEAD-REPORTS"),
            ("ttl::fork_table::ttl_ttl", "FORKTTL-TTL-TTL"),
            ("ttl::fork_table::at_ttl", "FORKTTL-AT-TTL"),
            (
                "ttl::fork_expiry::none_ttl_fork_expires",
                "FORKTTL-NONE-TTL",
            ),
            ("ttl::fork_expiry::ttl_ttl_fork_expires", "FORKTTL-TTL-TTL"),
            ("ttl::fork_expiry::at_ttl_fork_outlives", "FORKTTL-AT-TTL"),
        ])
        .await;
}

async fn fork_ignoring_requested_expires_at_is_caught() {
    let srv = fork_put_lacking("stream-expires-at").await;
    bite(&srv.root)
        .each(&[
            ("ttl::fork_table::none_at", "TTL-HEAD-REPORTS"),
            ("ttl::fork_table::ttl_at", "FORKTTL-TTL-AT"),
            ("ttl::fork_table::at_at", "FORKTTL-AT-AT"),
            ("ttl::fork_expiry::none_at_fork_expires", "FORKTTL-NONE-AT"),
            ("ttl::fork_expiry::ttl_at_fork_expires", "FORKTTL-TTL-AT"),
            ("ttl::fork_expiry::at_at_fork_outlives", "FORKTTL-AT-AT"),
        ])
        .await;
}

async fn fork_not_inheriting_expiry_is_caught() {
    // The fork of an expiring source gets a long TTL of its own instead.
    let srv = crate::common::with_request(|mut req| {
        if is_fork_put(&req)
            && !req.headers().contains_key("stream-ttl")
            && !req.headers().contains_key("stream-expires-at")
        {
            req.headers_mut()
                .insert("stream-ttl", HeaderValue::from_static("3600"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("ttl::fork_table::none_none", "FORKTTL-NONE-NONE"),
            ("ttl::fork_table::ttl_none", "FORKTTL-TTL-NONE"),
            ("ttl::fork_table::at_none", "FORKTTL-AT-NONE"),
            (
                "ttl::fork_expiry::ttl_none_refreshed_independently",
                "FORKTTL-TTL-NONE",
            ),
            (
                "ttl::fork_expiry::at_none_fork_inherits_deadline",
                "FORKTTL-AT-NONE",
            ),
        ])
        .await;
}

async fn hard_deleting_expired_sources_is_caught() {
    let srv = crate::common::with_response(|_seen: &Seen, mut resp| {
        if resp.status() == StatusCode::GONE {
            *resp.status_mut() = StatusCode::NOT_FOUND;
        }
        resp
    })
    .await;
    // Every soft_delete case fails; a DELETEd source with a live fork
    // answering 404 breaks the MUST-level soft-delete rule, not the
    // (SHOULD) cleanup one.
    bite(&srv.root)
        .each(&[
            (
                "ttl::soft_delete::expired_source_with_fork_is_soft_deleted",
                "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED",
            ),
            (
                "ttl::soft_delete::last_fork_expiry_cleans_up_expired_source",
                "FORKTTL-EXPIRED-SOURCE-SOFT-DELETED",
            ),
            (
                "ttl::soft_delete::deleted_source_cleaned_up_by_fork_expiry",
                "SOFTDEL-HEAD-410",
            ),
        ])
        .await;
}

/// A server whose sources (`…/src`) answer 410, as soft-deleted, where
/// they would answer 404: a source is never cleaned up.
async fn source_never_cleaned_up() -> crate::common::Broken {
    crate::common::setting_status(
        |seen, resp| seen.uri.path().ends_with("/src") && resp.status() == StatusCode::NOT_FOUND,
        410,
    )
    .await
}

async fn never_cleaning_up_soft_deleted_sources_is_caught() {
    let srv = source_never_cleaned_up().await;
    // Every soft_delete case fails; cleanup after the last fork expired
    // MAY be asynchronous and is read from §4.2 by analogy: a SHOULD-level
    // failure.
    bite(&srv.root)
        .each(&[
            (
                "ttl::soft_delete::expired_source_with_fork_is_soft_deleted",
                "FORKTTL-EXPIRED-SOURCE-CLEANUP",
            ),
            (
                "ttl::soft_delete::last_fork_expiry_cleans_up_expired_source",
                "FORKTTL-EXPIRED-SOURCE-CLEANUP",
            ),
            (
                "ttl::soft_delete::deleted_source_cleaned_up_by_fork_expiry",
                "FORKTTL-FORK-EXPIRY-GC",
            ),
        ])
        .await;
}

/// Cleanup after the last fork goes may be asynchronous (§4.2), so a
/// source never cleaned up after its fork expired fails the case at SHOULD
/// level (like GC-CASCADE after a DELETE), while a source removed outright
/// on DELETE despite its fork still fails it at MUST level.
async fn fork_expiry_gc_deadline_is_should_level() {
    use ds_conformance::requirements::{Level, Requirements};
    let id = "ttl::soft_delete::deleted_source_cleaned_up_by_fork_expiry";
    let reqs = Requirements::embedded();
    let never_cleaned = source_never_cleaned_up().await;
    let hard_deleted =
        crate::common::setting_status(|_, resp| resp.status() == StatusCode::GONE, 404).await;
    tokio::join!(
        bite(&never_cleaned.root)
            .case(id)
            .fails_with("FORKTTL-FORK-EXPIRY-GC"),
        bite(&hard_deleted.root)
            .case(id)
            .fails_with("SOFTDEL-HEAD-410")
    );
    assert_eq!(
        reqs.get("FORKTTL-FORK-EXPIRY-GC").map(|r| r.level),
        Some(Level::Should)
    );
    assert_eq!(
        reqs.get("SOFTDEL-HEAD-410").map(|r| r.level),
        Some(Level::Must)
    );
}

async fn reference_server_passes_the_whole_ttl_area() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("ttl::").passes().await;
}

/// A fork created without expiry gets a 1 s TTL of its own.
async fn fork_without_expiry_gets_a_ttl() {
    let srv = crate::common::with_request(|mut req| {
        let h = req.headers();
        if req.method() == Method::PUT
            && h.contains_key("stream-forked-from")
            && !h.contains_key("stream-ttl")
            && !h.contains_key("stream-expires-at")
        {
            req.headers_mut()
                .insert("stream-ttl", HeaderValue::from_static("1"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("ttl::fork_expiry::none_none_never_expires")
        .fails_with("FORKTTL-NONE-NONE")
        .await;
}

/// §4.2 read by analogy for expiry: the server lets the name of an expired,
/// forked source be created again (PUT 201 instead of the advised 409). The
/// new stream lives under another name inside, so the fork is untouched;
/// with `drop_inherited` the fork then loses its inherited bytes.
async fn reused_expired_source(drop_inherited: bool) -> crate::common::Broken {
    use std::collections::HashSet;
    use std::sync::Mutex;
    fn with_path(mut req: Request, path: &str) -> Request {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(pq.parse().expect("path"));
        *req.uri_mut() = axum::http::Uri::from_parts(parts).expect("uri");
        req
    }
    let moved: Arc<Mutex<HashSet<String>>> = Arc::default();
    crate::common::with_middleware(500, move |req: Request, next: Next| {
        let moved = moved.clone();
        async move {
            let path = req.uri().path().to_string();
            if !path.contains("expired_source_with_fork_is_soft_deleted") {
                return next.run(req).await;
            }
            let again = format!("{path}-again");
            if path.ends_with("/src") {
                if moved.lock().unwrap().contains(&path) {
                    return next.run(with_path(req, &again)).await;
                }
                if req.method() != Method::PUT {
                    return next.run(req).await;
                }
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let first = next
                    .clone()
                    .run(Request::from_parts(
                        parts.clone(),
                        Body::from(bytes.clone()),
                    ))
                    .await;
                if first.status() != StatusCode::CONFLICT {
                    return first;
                }
                moved.lock().unwrap().insert(path.clone());
                let retry = with_path(Request::from_parts(parts, Body::from(bytes)), &again);
                return next.run(retry).await;
            }
            let reused = !moved.lock().unwrap().is_empty();
            if drop_inherited && reused && path.ends_with("/fork") && req.method() == Method::GET {
                let resp = next.run(req).await;
                let (mut parts, body) = crate::common::body_bytes(resp).await;
                let cut = match body.strip_prefix(b"hello".as_slice()) {
                    Some(rest) => bytes::Bytes::copy_from_slice(rest),
                    None => body,
                };
                parts.headers.remove(axum::http::header::CONTENT_LENGTH);
                return crate::common::rebuild(parts, cut);
            }
            next.run(req).await
        }
    })
    .await
}

const REUSED: &str = "ttl::soft_delete::expired_source_with_fork_is_soft_deleted";

async fn reused_expired_source_name_with_fork_intact_is_only_a_should_finding() {
    let srv = reused_expired_source(false).await;
    // The case carried on after the finding, re-read the fork (intact) and
    // reports only the SHOULD-level deviation.
    let f = bite(&srv.root)
        .case(REUSED)
        .fails_with("FORKTTL-EXPIRED-SOURCE-PUT-409")
        .await
        .failure;
    assert!(
        f.message.contains("also found"),
        "the case should have carried on past its first finding: {f}"
    );
}

async fn reused_expired_source_name_losing_fork_data_fails_at_must() {
    let srv = reused_expired_source(true).await;
    bite(&srv.root)
        .case(REUSED)
        .fails_with("FORKTTL-OUTLIVE-SOURCE")
        .await;
}

const LAST_FORK: &str = "ttl::soft_delete::last_fork_expiry_cleans_up_expired_source";

/// Expired sources answer 404 instead of 410 while their fork lives (a
/// SHOULD finding); with `drop_inherited`, the fork then also stops
/// serving the bytes it inherited.
async fn expired_source_gone(drop_inherited: bool) -> crate::common::Broken {
    use std::sync::atomic::{AtomicBool, Ordering};
    let gone = Arc::new(AtomicBool::new(false));
    crate::common::with_middleware(500, move |req: Request, next: Next| {
        let gone = gone.clone();
        async move {
            let path = req.uri().path().to_string();
            if !path.contains("last_fork_expiry_cleans_up_expired_source") {
                return next.run(req).await;
            }
            let fork_read = req.method() == Method::GET && path.ends_with("/fork");
            let mut resp = next.run(req).await;
            if path.ends_with("/src") && resp.status() == StatusCode::GONE {
                gone.store(true, Ordering::SeqCst);
                *resp.status_mut() = StatusCode::NOT_FOUND;
            }
            if !(drop_inherited && fork_read && gone.load(Ordering::SeqCst)) {
                return resp;
            }
            let (mut parts, body) = crate::common::body_bytes(resp).await;
            let cut = match body.strip_prefix(b"abc".as_slice()) {
                Some(rest) => bytes::Bytes::copy_from_slice(rest),
                None => body,
            };
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            crate::common::rebuild(parts, cut)
        }
    })
    .await
}

/// Fork intact: only the SHOULD finding (the case carried on to the fork's
/// expiry and the source's cleanup and found nothing else).
async fn expired_source_gone_with_fork_intact_is_only_a_should_finding() {
    let srv = expired_source_gone(false).await;
    let f = bite(&srv.root)
        .case(LAST_FORK)
        .fails_with("FORKTTL-EXPIRED-SOURCE-SOFT-DELETED")
        .await
        .failure;
    assert!(
        !f.message.contains("also found"),
        "only the SHOULD finding: {f}"
    );
}

async fn expired_source_gone_and_fork_losing_its_data_fails_at_must() {
    let srv = expired_source_gone(true).await;
    bite(&srv.root)
        .case(LAST_FORK)
        .fails_with("FORKTTL-OUTLIVE-SOURCE")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio renewal_bites_when_operations_do_not_reach_the_ttl,
        tokio head_renewing_server_is_caught,
        tokio expires_at_treated_as_sliding_ttl_is_caught,
        tokio wrong_head_expiry_headers_are_caught,
        tokio ttl_stream_reporting_its_deadline_passes_but_a_wrong_one_fails,
        tokio expired_stream_still_answering_is_caught,
        tokio put_reviving_expired_stream_is_caught,
        tokio fork_ignoring_requested_ttl_is_caught,
        tokio fork_ignoring_requested_expires_at_is_caught,
        tokio fork_not_inheriting_expiry_is_caught,
        tokio hard_deleting_expired_sources_is_caught,
        tokio never_cleaning_up_soft_deleted_sources_is_caught,
        tokio fork_expiry_gc_deadline_is_should_level,
        tokio reference_server_passes_the_whole_ttl_area,
        tokio fork_without_expiry_gets_a_ttl,
        tokio reused_expired_source_name_with_fork_intact_is_only_a_should_finding,
        tokio reused_expired_source_name_losing_fork_data_fails_at_must,
        tokio expired_source_gone_with_fork_intact_is_only_a_should_finding,
        tokio expired_source_gone_and_fork_losing_its_data_fails_at_must,
    ]
}
