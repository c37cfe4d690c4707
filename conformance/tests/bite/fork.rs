//! Proof that the fork area's cases bite: each test serves the reference
//! server behind a middleware that breaks ONE rule of §4.2 / §5.4 / §5.7 /
//! §5.8 / §8 / §9.1, runs a topic of `fork::` against it, and asserts that
//! the cases checking that rule fail. A control test runs the whole area
//! against the unmodified reference server.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use ds_conformance::testing::bite;

/// What the middleware knows across requests.
struct Shared {
    /// `http://127.0.0.1:PORT` of this server (for requests to itself).
    origin: String,
    http: reqwest::Client,
    /// fork path -> source path, for every fork PUT that answered 201.
    forks: Mutex<HashMap<String, String>>,
    /// Paths that answered 410 at least once, or whose DELETE answered 204
    /// while they had forks (soft-deleted).
    gone: Mutex<HashSet<String>>,
}

impl Shared {
    fn is_fork(&self, path: &str) -> bool {
        self.forks.lock().unwrap().contains_key(path)
    }
    fn forks_of(&self, path: &str) -> Vec<String> {
        let f = self.forks.lock().unwrap();
        f.iter()
            .filter(|(_, s)| s.as_str() == path)
            .map(|(k, _)| k.clone())
            .collect()
    }
    /// The source of the fork at `path` (None: not a fork).
    fn source_of(&self, path: &str) -> Option<String> {
        self.forks.lock().unwrap().get(path).cloned()
    }
    fn is_gone(&self, path: &str) -> bool {
        self.gone.lock().unwrap().contains(path)
    }
    /// The URL of `path` (and query) on this server.
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }
    /// DELETE `path` on this server, whatever it answers.
    async fn delete(&self, path: &str) {
        let _ = self.http.delete(self.url(path)).send().await;
    }
}

type Fut = Pin<Box<dyn Future<Output = Response> + Send>>;

type Srv = crate::common::Broken;

/// Serve the reference app (long-poll timeout `lp_ms`) behind `mw`, which
/// sees each request, the rest of the stack and the shared state.
async fn serve_with<F>(lp_ms: u64, mw: F) -> Srv
where
    F: Fn(Request, Next, Arc<Shared>) -> Fut + Send + Sync + Clone + 'static,
{
    let listener = crate::common::listener().await;
    let addr = listener.local_addr().expect("addr");
    let shared = Arc::new(Shared {
        origin: format!("http://{addr}"),
        http: reqwest::Client::new(),
        forks: Mutex::new(HashMap::new()),
        gone: Mutex::new(HashSet::new()),
    });
    let app = crate::common::reference_app(crate::common::config(lp_ms)).layer(
        middleware::from_fn(move |req: Request, next: Next| {
            let (mw, shared) = (mw.clone(), shared.clone());
            async move {
                let path = req.uri().path().to_string();
                let fork_src = fork_put_source(&req);
                let is_delete = req.method() == Method::DELETE;
                let resp = mw(req, next, shared.clone()).await;
                if resp.status() == StatusCode::CREATED {
                    if let Some(src) = fork_src {
                        shared.forks.lock().unwrap().insert(path.clone(), src);
                    }
                }
                let soft_deleted = is_delete
                    && resp.status() == StatusCode::NO_CONTENT
                    && !shared.forks_of(&path).is_empty();
                if resp.status() == StatusCode::GONE || soft_deleted {
                    shared.gone.lock().unwrap().insert(path);
                }
                resp
            }
        }),
    );
    crate::common::serve_on(listener, app)
}

fn status(code: u16) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .unwrap()
}

fn is_fork_put(req: &Request) -> bool {
    req.method() == Method::PUT && req.headers().contains_key("stream-forked-from")
}

/// The `Stream-Forked-From` of a PUT (None: not a fork PUT).
fn fork_put_source(req: &Request) -> Option<String> {
    let src = req.headers().get("stream-forked-from")?.to_str().ok()?;
    (req.method() == Method::PUT).then(|| src.to_string())
}

/// The same, as a response rewrite sees the request.
fn seen_fork_put(seen: &crate::common::Seen) -> bool {
    seen.method == Method::PUT && seen.headers.contains_key("stream-forked-from")
}

/// A long-poll GET of a fork.
fn is_fork_long_poll(req: &Request, shared: &Shared) -> bool {
    req.method() == Method::GET
        && shared.is_fork(req.uri().path())
        && req.uri().query().unwrap_or("").contains("live=long-poll")
}

/// `resp` one byte short: its body without the last byte (and without
/// Content-Length).
async fn cut_last_byte(resp: Response) -> Response {
    let (mut parts, body) = crate::common::body_bytes(resp).await;
    let cut = body.slice(..body.len().saturating_sub(1));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    crate::common::rebuild(parts, cut)
}

// ---------------------------------------------------------------- create

async fn create_fork_offset_ignored() {
    let srv = crate::common::dropping_request_headers(&["stream-fork-offset"]).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::create::explicit_offset_inherits_prefix",
                "FORK-OFFSET-EXCLUSIVE",
            ),
            (
                "fork::create::fork_at_start_inherits_nothing",
                "FORK-OFFSET-EXCLUSIVE",
            ),
        ])
        .await;
}

async fn create_content_type_not_inherited() {
    let srv = serve_with(500, |mut req, next, _| {
        Box::pin(async move {
            if is_fork_put(&req) && !req.headers().contains_key("content-type") {
                req.headers_mut().insert(
                    "content-type",
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::create::content_type_omitted_is_inherited")
        .fails_with("FORK-CREATE")
        .await;
}

async fn create_fork_of_closed_source_is_closed() {
    let srv = crate::common::with_request(|mut req| {
        if is_fork_put(&req) {
            req.headers_mut()
                .insert("stream-closed", HeaderValue::from_static("true"));
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("fork::create::closed_source_gives_open_fork")
        .fails_with("FORK-CLOSED-SOURCE")
        .await;
}

/// Forks without an explicit offset inherit nothing: the double redirects
/// them to a fresh empty stream next to the source.
async fn create_default_offset_is_not_tail() {
    let srv = serve_with(500, |mut req, next, shared| {
        Box::pin(async move {
            let src = fork_put_source(&req);
            if let (Some(src), false) = (src, req.headers().contains_key("stream-fork-offset")) {
                let empty = format!("{src}.empty{}", rand_suffix());
                let _ = shared
                    .http
                    .put(shared.url(&empty))
                    .header("content-type", "text/plain")
                    .send()
                    .await;
                req.headers_mut()
                    .insert("stream-forked-from", HeaderValue::from_str(&empty).unwrap());
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::create::default_offset_is_source_tail")
        .fails_with("FORK-DEFAULT-OFFSET")
        .await;
}

fn rand_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

// ---------------------------------------------------------------- errors

async fn errors_missing_source_is_400() {
    let srv = crate::common::remapping_status(Method::PUT, 404, 400).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::errors::source_missing_is_404",
                "FORK-SOURCE-MISSING-404",
            ),
            (
                "fork::errors::source_deleted_is_404",
                "FORK-SOURCE-MISSING-404",
            ),
            (
                "fork::errors::self_as_source_is_404",
                "FORK-SOURCE-MISSING-404",
            ),
        ])
        .await;
}

async fn errors_bad_offsets_are_409() {
    let srv = crate::common::remapping_status(Method::PUT, 400, 409).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::errors::offset_beyond_tail_is_400",
                "FORK-OFFSET-BEYOND-400",
            ),
            (
                "fork::errors::offset_malformed_is_400",
                "FORK-OFFSET-MALFORMED-400",
            ),
            (
                "fork::errors::sub_offset_invalid_is_400",
                "FORK-SUB-INVALID-400",
            ),
        ])
        .await;
}

async fn errors_conflicts_are_400() {
    let srv = crate::common::remapping_status(Method::PUT, 409, 400).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::errors::content_type_mismatch_is_409",
                "FORK-CT-MISMATCH-409",
            ),
            (
                "fork::errors::target_in_use_is_409",
                "FORK-TARGET-IN-USE-409",
            ),
            (
                "fork::errors::source_soft_deleted_is_409",
                "FORK-SOURCE-SOFTDELETED-409",
            ),
        ])
        .await;
}

/// A server that pins the source on every rejected fork (the reference is
/// taken before validation): rejected forks leak a reference.
async fn errors_rejected_fork_pins_source() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let fork_src = fork_put_source(&req);
            let target = req.uri().path().to_string();
            let resp = next.run(req).await;
            if let Some(src) = fork_src {
                if resp.status().is_client_error()
                    && resp.status() != StatusCode::NOT_FOUND
                    && resp.status() != StatusCode::GONE
                {
                    // The leaked reference: a hidden fork of the source.
                    let _ = shared
                        .http
                        .put(shared.url(&format!("{target}.leak{}", rand_suffix())))
                        .header("stream-forked-from", src)
                        .send()
                        .await;
                }
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "fork::errors::offset_malformed_is_400",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ),
            (
                "fork::errors::sub_offset_invalid_is_400",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ),
            (
                "fork::errors::content_type_mismatch_is_409",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ),
            (
                "fork::errors::offset_beyond_tail_is_400",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ),
            (
                "fork::suboffset::bytes_past_boundary_is_400",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ),
            (
                "fork::idempotent::other_source_is_409",
                "FORK-REJECT-NO-SIDE-EFFECT",
            ),
        ])
        .await;
}

// ---------------------------------------------------------------- idempotent

async fn idempotent_reput_is_409() {
    let srv = crate::common::setting_status(
        |seen, resp| seen_fork_put(seen) && resp.status() == StatusCode::OK,
        409,
    )
    .await;
    bite(&srv.root)
        .each(&[
            (
                "fork::idempotent::same_config_is_200",
                "FORK-IDEMPOTENT-200",
            ),
            ("fork::idempotent::closed_fork_reput", "FORK-IDEMPOTENT-200"),
            (
                "fork::idempotent::fork_of_closed_source_reput",
                "FORK-IDEMPOTENT-200",
            ),
            (
                "fork::idempotent::content_type_omitted_on_reput_is_200",
                "FORK-IDEMPOTENT-200",
            ),
            (
                "fork::idempotent::sub_offset_zero_equals_omitted",
                "FORK-SUB-ZERO-EQUIV",
            ),
            (
                "fork::idempotent::after_own_appends_is_200",
                "FORK-IDEMPOTENT-200",
            ),
            (
                "fork::idempotent::default_offset_reput_is_200",
                "FORK-IDEMPOTENT-200",
            ),
        ])
        .await;
}

async fn idempotent_any_reput_is_200() {
    let srv = crate::common::remapping_status(Method::PUT, 409, 200).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::idempotent::other_offset_is_409",
                "FORK-IDEMPOTENT-DIFF-409",
            ),
            (
                "fork::idempotent::closed_fork_reput",
                "FORK-IDEMPOTENT-DIFF-409",
            ),
            (
                "fork::idempotent::other_source_is_409",
                "FORK-IDEMPOTENT-DIFF-409",
            ),
            (
                "fork::idempotent::other_sub_offset_is_409",
                "FORK-IDEMPOTENT-DIFF-409",
            ),
            (
                "fork::idempotent::plain_put_on_fork_is_409",
                "FORK-IDEMPOTENT-DIFF-409",
            ),
        ])
        .await;
}

// ---------------------------------------------------------------- suboffset

async fn suboffset_ignored() {
    let srv = crate::common::dropping_request_headers(&["stream-fork-sub-offset"]).await;
    bite(&srv.root)
        .each(&[
            ("fork::suboffset::bytes_inside_append", "FORK-SUB-BYTES"),
            ("fork::suboffset::bytes_not_characters", "FORK-SUB-BYTES"),
            ("fork::suboffset::bytes_mid_stream_anchor", "FORK-SUB-BYTES"),
            (
                "fork::suboffset::bytes_at_boundary_is_accepted",
                "FORK-SUB-AT-BOUNDARY",
            ),
            (
                "fork::suboffset::bytes_past_boundary_is_400",
                "FORK-SUB-OVERSHOOT-400",
            ),
            (
                "fork::suboffset::past_tail_is_400",
                "FORK-SUB-OVERSHOOT-400",
            ),
            ("fork::suboffset::json_inside_batch", "FORK-SUB-JSON"),
            (
                "fork::suboffset::json_messages_with_commas",
                "FORK-SUB-JSON",
            ),
            (
                "fork::suboffset::json_boundary_and_past",
                "FORK-SUB-AT-BOUNDARY",
            ),
            ("fork::suboffset::chained_sub_offsets", "FORK-CHAIN"),
        ])
        .await;
}

async fn suboffset_off_by_one() {
    // The sub-offset is taken as one unit more than asked.
    let srv = crate::common::with_request(|mut req| {
        let n = req
            .headers()
            .get("stream-fork-sub-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = n {
            req.headers_mut().insert(
                "stream-fork-sub-offset",
                HeaderValue::from_str(&(n + 1).to_string()).unwrap(),
            );
        }
        req
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("fork::suboffset::bytes_inside_append", "FORK-SUB-BYTES"),
            ("fork::suboffset::bytes_not_characters", "FORK-SUB-BYTES"),
            (
                "fork::suboffset::bytes_at_boundary_is_accepted",
                "FORK-SUB-AT-BOUNDARY",
            ),
            ("fork::suboffset::json_inside_batch", "FORK-SUB-JSON"),
            (
                "fork::suboffset::json_boundary_and_past",
                "FORK-SUB-AT-BOUNDARY",
            ),
        ])
        .await;
}

// ---------------------------------------------------------------- read / live

/// Source appends are mirrored into every fork of the source (a server that
/// shares the source's tail with its forks).
fn mirror_source_appends(req: Request, next: Next, shared: Arc<Shared>) -> Fut {
    Box::pin(async move {
        let path = req.uri().path().to_string();
        let post = req.method() == Method::POST;
        let ct = req.headers().get("content-type").cloned();
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let resp = next
            .run(Request::from_parts(parts, Body::from(bytes.clone())))
            .await;
        if post && resp.status().is_success() && !bytes.is_empty() {
            for fork in shared.forks_of(&path) {
                let mut q = shared.http.post(shared.url(&fork)).body(bytes.clone());
                if let Some(ct) = &ct {
                    q = q.header("content-type", ct.to_str().unwrap_or(""));
                }
                let _ = q.send().await;
            }
        }
        resp
    })
}

async fn read_source_appends_leak_into_forks() {
    let srv = serve_with(500, mirror_source_appends).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::read::source_appends_invisible",
                "FORK-SOURCE-APPENDS-INVISIBLE",
            ),
            (
                "fork::read::from_every_source_offset",
                "FORK-OFFSETS-SHARED",
            ),
            ("fork::read::chain_depth_three", "FORK-CHAIN"),
        ])
        .await;
}

async fn live_source_appends_wake_fork_waiters() {
    let srv = serve_with(500, mirror_source_appends).await;
    bite(&srv.root)
        .each(&[
            (
                "fork::live::long_poll_ignores_source_appends",
                "FORK-LP-SOURCE-NO-WAKE",
            ),
            ("fork::live::sse_inherited_then_own", "FORK-SSE"),
            ("fork::live::sse_json_fork", "FORK-SSE"),
        ])
        .await;
}

/// Catch-up reads of forks lose the first byte of each chunk (bytes) or
/// split JSON into two arrays.
async fn read_fork_bodies_corrupted() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let fork_get = req.method() == Method::GET
                && shared.is_fork(req.uri().path())
                && !req.uri().query().unwrap_or("").contains("live=");
            let resp = next.run(req).await;
            if !fork_get || resp.status() != StatusCode::OK {
                return resp;
            }
            let json = resp
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let (parts, body) = crate::common::body_bytes(resp).await;
            let body = if json {
                let s = String::from_utf8_lossy(&body).to_string();
                // "[a,b,...]" -> "[a][b,...]" when there are at least two messages.
                match s.find("},{") {
                    Some(i) => format!("{}}}][{}", &s[..i], &s[i + 2..]).into_bytes(),
                    None => s.into_bytes(),
                }
            } else if body.is_empty() {
                body.to_vec()
            } else {
                body[1..].to_vec()
            };
            let mut resp = crate::common::rebuild(parts, body);
            resp.headers_mut().remove("content-length");
            resp
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("fork::read::from_start", "FORK-READ-STITCH"),
            (
                "fork::read::chunk_offsets_valid_on_source",
                "FORK-READ-STITCH",
            ),
            (
                "fork::read::from_every_source_offset",
                "FORK-OFFSETS-SHARED",
            ),
            (
                "fork::read::fork_at_every_source_offset",
                "FORK-OFFSET-EXCLUSIVE",
            ),
            (
                "fork::read::from_fork_point_and_own_offsets",
                "FORK-READ-STITCH",
            ),
            ("fork::read::chunked_across_boundary", "FORK-READ-STITCH"),
            ("fork::read::json_one_array", "FORK-JSON-ONE-ARRAY"),
            ("fork::read::chain_depth_three", "FORK-CHAIN"),
            ("fork::read::fork_of_fork_at_inherited_offset", "FORK-CHAIN"),
        ])
        .await;
}

/// Long-polls on forks wait for the whole timeout before doing anything.
async fn live_fork_long_polls_always_wait() {
    let lp = 2000;
    let srv = serve_with(lp, move |req, next, shared| {
        Box::pin(async move {
            if is_fork_long_poll(&req, &shared) {
                tokio::time::sleep(Duration::from_millis(lp)).await;
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .long_poll(lp)
        .each(&[
            (
                "fork::live::long_poll_inherited_is_immediate",
                "FORK-LP-INHERITED",
            ),
            (
                "fork::live::long_poll_woken_by_fork_close",
                "FORK-LP-CLOSE-WAKE",
            ),
        ])
        .await;
}

/// Long-polls on forks answer 204 at once (no waiting, no data).
async fn live_fork_long_polls_empty() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            if is_fork_long_poll(&req, &shared) {
                return status(204);
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "fork::live::long_poll_inherited_is_immediate",
                "FORK-LP-INHERITED",
            ),
            (
                "fork::live::long_poll_woken_by_fork_append",
                "FORK-LP-OWN-WAKE",
            ),
            (
                "fork::live::long_poll_woken_by_fork_close",
                "FORK-LP-CLOSE-WAKE",
            ),
        ])
        .await;
}

// ---------------------------------------------------------------- lifecycle

async fn lifecycle_gone_is_404() {
    let srv = crate::common::setting_status(|_, resp| resp.status() == StatusCode::GONE, 404).await;
    bite(&srv.root)
        .each(&[
            ("fork::lifecycle::get_is_410", "SOFTDEL-GET-410"),
            ("fork::lifecycle::live_get_is_410", "SOFTDEL-GET-410"),
            ("fork::lifecycle::head_is_410", "SOFTDEL-HEAD-410"),
            ("fork::lifecycle::post_is_410", "SOFTDEL-POST-410"),
            ("fork::lifecycle::delete_again_is_410", "SOFTDEL-DELETE-410"),
            ("fork::lifecycle::refcount_counts_every_fork", "GC-REFCOUNT"),
            (
                "fork::lifecycle::closed_source_soft_deleted",
                "SOFTDEL-POST-410",
            ),
            ("fork::lifecycle::cascade_through_chain", "SOFTDEL-HEAD-410"),
            (
                "fork::lifecycle::last_fork_delete_cascades",
                "SOFTDEL-HEAD-410",
            ),
            (
                "fork::lifecycle::cascade_stops_at_live_source",
                "SOFTDEL-HEAD-410",
            ),
        ])
        .await;
}

async fn lifecycle_soft_deleted_path_recreatable() {
    let srv = crate::common::remapping_status(Method::PUT, 409, 201).await;
    bite(&srv.root)
        .case("fork::lifecycle::put_is_409")
        .fails_with("SOFTDEL-PUT-409")
        .await;
}

/// DELETE of a source deletes its forks too (no soft-delete).
async fn lifecycle_delete_takes_forks_along() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            if req.method() == Method::DELETE {
                for fork in shared.forks_of(req.uri().path()) {
                    shared.delete(&fork).await;
                }
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("fork::lifecycle::get_is_410", "SOFTDEL-GET-410"),
            ("fork::lifecycle::head_is_410", "SOFTDEL-HEAD-410"),
            ("fork::lifecycle::post_is_410", "SOFTDEL-POST-410"),
            (
                "fork::lifecycle::fork_reads_after_source_deleted",
                "SOFTDEL-FORK-READS",
            ),
            (
                "fork::lifecycle::cascade_through_chain",
                "SOFTDEL-DELETE-204",
            ),
            (
                "fork::lifecycle::refcount_counts_every_fork",
                "FORK-INDEPENDENT",
            ),
            (
                "fork::lifecycle::concurrent_forks_refcount",
                "FORK-INDEPENDENT",
            ),
        ])
        .await;
    bite(&srv.root)
        .case("fork::live::long_poll_survives_source_delete")
        .fails_with("FORK-INDEPENDENT")
        .await;
}

/// Soft-deleted streams are never cleaned up (410 forever).
async fn lifecycle_no_cascade() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let resp = next.run(req).await;
            if resp.status() == StatusCode::NOT_FOUND && shared.is_gone(&path) {
                return status(410);
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("fork::lifecycle::last_fork_delete_cascades", "GC-CASCADE"),
            ("fork::lifecycle::refcount_counts_every_fork", "GC-CASCADE"),
            ("fork::lifecycle::concurrent_forks_refcount", "GC-CASCADE"),
            ("fork::lifecycle::cascade_through_chain", "GC-CASCADE-CHAIN"),
        ])
        .await;
    bite(&srv.root)
        .case("fork::errors::source_soft_deleted_is_409")
        .fails_with("GC-CASCADE")
        .await;
}

/// DELETE of a source with forks removes it outright (404 from then on)
/// while its forks keep their data, as a copy-on-fork server without
/// soft-delete would: the cleanup a case waits for is then no evidence.
async fn lifecycle_hard_delete_with_forks() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let path = req.uri().path().to_string();
            if req.method() != Method::PUT && shared.is_gone(&path) {
                return status(404);
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "fork::lifecycle::last_fork_delete_cascades",
                "SOFTDEL-HEAD-410",
            ),
            (
                "fork::lifecycle::cascade_stops_at_live_source",
                "SOFTDEL-HEAD-410",
            ),
            ("fork::lifecycle::get_is_410", "SOFTDEL-GET-410"),
            ("fork::lifecycle::head_is_410", "SOFTDEL-HEAD-410"),
        ])
        .await;
}

/// Cascading cleanup does not stop at a live ancestor: when a soft-deleted
/// fork is cleaned up and its (live) source loses its last reference, the
/// source is removed too.
async fn lifecycle_cascade_removes_live_ancestor() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let deleting = req.method() == Method::DELETE;
            let resp = next.run(req).await;
            if deleting && resp.status() == StatusCode::NO_CONTENT {
                let mut at = shared.source_of(&path);
                while let Some(a) = at {
                    if !shared.is_gone(&a) {
                        // `a` is live: a correct cascade stops here.
                        if !shared.forks_of(&a).is_empty() {
                            shared.delete(&a).await;
                        }
                        break;
                    }
                    at = shared.source_of(&a);
                }
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::lifecycle::cascade_stops_at_live_source")
        .fails_with("GC-LIVE-SOURCE-KEPT")
        .await;
}

/// A spec-allowed server whose cleanup and reference release are
/// asynchronous: a deleted stream that had forks answers 410 instead of 404
/// for 1.5 s after any DELETE in its case's folder (each case works under
/// its own prefix; a server-wide lag would never end while 77 cases delete
/// concurrently on a loaded machine). Every fork case still passes.
async fn lifecycle_async_cleanup_passes() {
    let last_delete: Arc<Mutex<HashMap<String, std::time::Instant>>> = Arc::default();
    let folder = |path: &str| path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string();
    let srv = serve_with(500, move |req, next, shared| {
        let last_delete = last_delete.clone();
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let method = req.method().clone();
            let mut resp = next.run(req).await;
            if method == Method::DELETE && resp.status() == StatusCode::NO_CONTENT {
                last_delete
                    .lock()
                    .unwrap()
                    .insert(folder(&path), std::time::Instant::now());
            }
            let lagging = last_delete
                .lock()
                .unwrap()
                .get(&folder(&path))
                .is_some_and(|t| t.elapsed() < Duration::from_millis(1500));
            if (method == Method::GET || method == Method::HEAD)
                && resp.status() == StatusCode::NOT_FOUND
                && lagging
                && !shared.forks_of(&path).is_empty()
            {
                crate::common::set_status(&mut resp, 410);
            }
            resp
        })
    })
    .await;
    bite(&srv.root).area("fork::").passes().await;
}

/// Closing a fork closes its source too.
async fn lifecycle_close_propagates() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let src = shared.source_of(req.uri().path());
            let closing = req.method() == Method::POST
                && req
                    .headers()
                    .get("stream-closed")
                    .is_some_and(|v| v == "true");
            let resp = next.run(req).await;
            if let (Some(src), true) = (src, closing) {
                let _ = shared
                    .http
                    .post(shared.url(&src))
                    .header("stream-closed", "true")
                    .send()
                    .await;
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            ("fork::lifecycle::close_is_independent", "FORK-INDEPENDENT"),
            (
                "fork::live::long_poll_woken_by_fork_close",
                "FORK-INDEPENDENT",
            ),
        ])
        .await;
}

// ---------------------------------------------------------------- writers

/// Fork appends with producer (epoch 0, seq 0) or Stream-Seq are treated
/// as if the source's writer state applied (duplicate / stale / conflict).
async fn writers_state_inherited() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            if req.method() == Method::POST && shared.is_fork(req.uri().path()) {
                let h = req.headers();
                if h.get("producer-epoch").is_some_and(|v| v == "0")
                    && h.get("producer-seq").is_some_and(|v| v == "0")
                {
                    return status(204);
                }
                if h.contains_key("stream-seq") {
                    return status(409);
                }
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .each(&[
            (
                "fork::writers::producer_dup_is_new_on_fork",
                "FORK-NO-PRODUCER-STATE",
            ),
            (
                "fork::writers::producer_epoch_is_new_on_fork",
                "FORK-NO-PRODUCER-STATE",
            ),
            (
                "fork::writers::producer_across_sub_offset",
                "FORK-NO-PRODUCER-STATE",
            ),
            (
                "fork::writers::stream_seq_not_inherited",
                "FORK-NO-SEQ-STATE",
            ),
        ])
        .await;
}

// ---------------------------------------------------------------- control

async fn control_reference_passes_every_fork_case() {
    let srv = crate::common::reference().await;
    bite(&srv.root).area("fork::").passes().await;
}

/// The body of a fork PUT is dropped.
async fn create_fork_body_dropped() {
    let srv = crate::common::with_request(|mut req| {
        if is_fork_put(&req) {
            *req.body_mut() = Body::empty();
            req.headers_mut().remove("content-length");
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("fork::create::initial_body_follows_inherited")
        .fails_with("FORK-INITIAL-BODY")
        .await;
}

/// Takes a fork offset of `-1` as "no offset" (the source's tail): drops
/// it. Did it?
fn drop_sentinel_fork_offset(req: &mut Request) -> bool {
    let sentinel = req
        .headers()
        .get("stream-fork-offset")
        .is_some_and(|v| v == "-1");
    if sentinel {
        req.headers_mut().remove("stream-fork-offset");
    }
    sentinel
}

/// Ignores fork offset headers that come without `Stream-Forked-From`:
/// drops them. Did it drop any?
fn drop_fork_headers_without_source(req: &mut Request) -> bool {
    if req.headers().contains_key("stream-forked-from") {
        return false;
    }
    let h = req.headers_mut();
    h.remove("stream-fork-offset").is_some() | h.remove("stream-fork-sub-offset").is_some()
}

/// A server that, in the case whose paths contain `case`, rewrites each
/// request with `deviate` (true: it deviated from a SHOULD); once such a
/// request created a stream (201), it serves the case's source (`…/s`)
/// one byte short, so the case must carry on past the SHOULD finding and
/// fail at MUST.
async fn deviation_then_source_cut(case: &'static str, deviate: fn(&mut Request) -> bool) -> Srv {
    use std::sync::atomic::{AtomicBool, Ordering};
    let accepted = Arc::new(AtomicBool::new(false));
    crate::common::with_middleware(500, move |mut req: Request, next: Next| {
        let accepted = accepted.clone();
        async move {
            let path = req.uri().path().to_string();
            if !path.contains(case) {
                return next.run(req).await;
            }
            if deviate(&mut req) {
                let resp = next.run(req).await;
                if resp.status() == StatusCode::CREATED {
                    accepted.store(true, Ordering::SeqCst);
                }
                return resp;
            }
            let source_read = req.method() == Method::GET && path.ends_with("/s");
            let resp = next.run(req).await;
            if !(source_read && accepted.load(Ordering::SeqCst)) {
                return resp;
            }
            cut_last_byte(resp).await
        }
    })
    .await
}

/// A fork offset of `-1` is taken as "no offset" (the source's tail).
async fn errors_sentinel_minus_one_means_tail() {
    let srv = crate::common::with_request(|mut req| {
        drop_sentinel_fork_offset(&mut req);
        req
    })
    .await;
    // Accepted with another meaning, state intact: only the SHOULD finding.
    bite(&srv.root)
        .case("fork::errors::sentinel_fork_offsets")
        .fails_with("FORK-OFFSET-SENTINEL")
        .await;
}

/// As above, and once it accepted such a fork the server serves its source
/// one byte short: the case carries on past the SHOULD finding and fails
/// at MUST.
async fn errors_sentinel_fork_that_alters_its_source_fails_at_must() {
    let srv = deviation_then_source_cut("sentinel_fork_offsets", drop_sentinel_fork_offset).await;
    bite(&srv.root)
        .case("fork::errors::sentinel_fork_offsets")
        .fails_with("FORK-INDEPENDENT")
        .await;
}

/// SSE on forks ignores the requested offset and starts from the beginning.
async fn live_sse_offset_ignored() {
    let srv = crate::common::with_request(|mut req| {
        let q = req.uri().query().unwrap_or("").to_string();
        if q.contains("live=sse") {
            let path = req.uri().path().to_string();
            *req.uri_mut() = format!("{path}?offset=-1&live=sse").parse().unwrap();
        }
        req
    })
    .await;
    bite(&srv.root)
        .case("fork::live::sse_from_inherited_offset")
        .fails_with("FORK-SSE")
        .await;
}

/// A server without forks (like Node 0.2.2): the fork headers are ignored,
/// so a "fork" is a new, empty, plain stream. Cases whose subject is a
/// fork's lifetime or offsets must notice that it inherited nothing.
async fn server_ignoring_fork_headers_fails_fork_lifetime_cases() {
    let srv = crate::common::dropping_request_headers(&[
        "stream-forked-from",
        "stream-fork-offset",
        "stream-fork-sub-offset",
    ])
    .await;
    let ids = [
        "fork::lifecycle::live_source_survives_fork_deletes",
        "fork::read::chunk_offsets_valid_on_source",
        "ttl::fork_expiry::none_at_fork_expires",
        "ttl::fork_expiry::none_none_never_expires",
        "ttl::fork_expiry::none_ttl_fork_expires",
        "ttl::fork_expiry::ttl_at_fork_expires",
        "ttl::fork_expiry::ttl_ttl_fork_expires",
        "ttl::fork_table::none_none",
    ];
    bite(&srv.root)
        .each(&ids.map(|id| (id, "FORK-READ-STITCH")))
        .await;
}

/// A server answering 400 to every PUT that carries `header` (a fork
/// feature it does not support), whatever the value.
async fn rejecting_every(header: &'static str) -> crate::common::Broken {
    crate::common::with_middleware(500, move |req: Request, next: Next| async move {
        if req.method() == Method::PUT && req.headers().contains_key(header) {
            return status(400);
        }
        next.run(req).await
    })
    .await
}

/// The fork-error cases for malformed offsets check a control request:
/// a server rejecting every Stream-Fork-Offset / Stream-Fork-Sub-Offset
/// does not pass them on its unrelated 400s.
async fn blanket_400_for_fork_offsets_is_caught() {
    let srv = rejecting_every("stream-fork-offset").await;
    bite(&srv.root)
        .case("fork::errors::offset_malformed_is_400")
        .fails_with("FORK-OFFSET-EXCLUSIVE")
        .await;
    let srv = rejecting_every("stream-fork-sub-offset").await;
    bite(&srv.root)
        .case("fork::errors::sub_offset_invalid_is_400")
        .fails_with("FORK-SUB-BYTES")
        .await;
}

// ------------------------------------------------- cases no bite covered yet

/// §4.2: a server that cannot fork an empty source (400, as if the fork
/// offset were beyond the tail).
async fn create_empty_source_refused() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            if let Some(src) = fork_put_source(&req) {
                let r = shared
                    .http
                    .get(shared.url(&format!("{src}?offset=-1")))
                    .send()
                    .await;
                if let Ok(r) = r {
                    if r.bytes().await.is_ok_and(|b| b.is_empty()) {
                        return Response::builder()
                            .status(StatusCode::BAD_REQUEST)
                            .body(axum::body::Body::from(
                                "fork offset beyond the source's tail",
                            ))
                            .expect("response");
                    }
                }
            }
            next.run(req).await
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::create::fork_of_empty_source")
        .fails_with("FORK-CREATE")
        .await;
}

/// §4.2: a server that refuses a fork PUT carrying any Content-Type, even
/// the source's own (409).
async fn create_equal_content_type_refused() {
    let srv = crate::common::setting_status(
        |seen, _| seen_fork_put(seen) && seen.headers.contains_key("content-type"),
        409,
    )
    .await;
    bite(&srv.root)
        .case("fork::create::content_type_equal_is_accepted")
        .fails_with("FORK-CT-MATCH")
        .await;
}

/// §4.2: fork offset headers without `Stream-Forked-From` silently
/// ignored: a plain stream is created (201) instead of a 400. The case
/// carries on, finds every stream intact: only the SHOULD finding.
async fn errors_fork_headers_without_source_ignored() {
    let srv = crate::common::with_request(|mut req| {
        drop_fork_headers_without_source(&mut req);
        req
    })
    .await;
    bite(&srv.root)
        .case("fork::errors::fork_headers_without_source_are_400")
        .fails_with("FORK-HEADERS-NEED-SOURCE")
        .await;
}

// ------------------------------------------- bites on each case's own rule

/// The fork is created (and behaves as JSON) but its PUT response and HEAD
/// report another Content-Type than the inherited one.
async fn inherited_content_type_misreported() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let fork_put = is_fork_put(&req) && !req.headers().contains_key("content-type");
            let head_of_fork = req.method() == Method::HEAD && shared.is_fork(&path);
            let mut resp = next.run(req).await;
            if fork_put || head_of_fork {
                resp.headers_mut().insert(
                    "content-type",
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::create::content_type_omitted_is_inherited")
        .fails_with("FORK-CT-INHERIT")
        .await;
}

/// A fork PUT answers a Stream-Next-Offset that is not its source's tail.
async fn fork_tail_not_the_source_tail() {
    let srv = serve_with(500, |req, next, _| {
        Box::pin(async move {
            let fork_put = is_fork_put(&req);
            let mut resp = next.run(req).await;
            if fork_put && resp.status() == StatusCode::CREATED {
                resp.headers_mut().insert(
                    "stream-next-offset",
                    HeaderValue::from_static("not-the-source-tail"),
                );
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::create::fork_of_empty_source")
        .fails_with("FORK-DEFAULT-OFFSET")
        .await;
}

/// Offsets a fork mints are its own: `f` + the reference offset on fork
/// reads (decoded again on fork requests), so the source refuses them.
async fn fork_offsets_not_valid_on_source() {
    let srv = serve_with(500, |mut req, next, shared| {
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let on_fork = shared.is_fork(&path);
            if on_fork {
                req = crate::common::rewrite_query(req, |q| {
                    q.split('&')
                        .map(|kv| match kv.strip_prefix("offset=f") {
                            Some(o) => format!("offset={o}"),
                            None => kv.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("&")
                });
            }
            let mut resp = next.run(req).await;
            if on_fork {
                if let Some(v) = resp
                    .headers()
                    .get("stream-next-offset")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!("f{v}"))
                {
                    resp.headers_mut()
                        .insert("stream-next-offset", HeaderValue::from_str(&v).unwrap());
                }
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::read::chunk_offsets_valid_on_source")
        .fails_with("FORK-OFFSETS-SHARED")
        .await;
}

/// Deleting a fork of a plain (non-fork) stream takes that live source
/// along.
async fn fork_delete_takes_live_source() {
    let srv = serve_with(500, |req, next, shared| {
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let source = (req.method() == Method::DELETE)
                .then(|| shared.source_of(&path))
                .flatten()
                .filter(|src| !shared.is_fork(src));
            let resp = next.run(req).await;
            if let (Some(src), StatusCode::NO_CONTENT) = (source, resp.status()) {
                shared.delete(&src).await;
            }
            resp
        })
    })
    .await;
    bite(&srv.root)
        .case("fork::lifecycle::live_source_survives_fork_deletes")
        .fails_with("GC-LIVE-SOURCE-KEPT")
        .await;
}

// ------------------------------------- carrying on after a SHOULD finding

/// A server that refuses (409) a re-PUT naming the resolved default offset
/// explicitly; with `corrupt`, once it did so it serves the fork one byte
/// short.
async fn resolved_offset_refused(corrupt: bool) -> Srv {
    use std::sync::atomic::{AtomicBool, Ordering};
    let refused = Arc::new(AtomicBool::new(false));
    crate::common::with_middleware(500, move |req: Request, next: Next| {
        let refused = refused.clone();
        async move {
            let path = req.uri().path().to_string();
            if !path.contains("default_offset_reput_is_200") {
                return next.run(req).await;
            }
            if is_fork_put(&req) && req.headers().contains_key("stream-fork-offset") {
                let resp = next.run(req).await;
                if resp.status() != StatusCode::OK {
                    return resp;
                }
                refused.store(true, Ordering::SeqCst);
                return status(409);
            }
            let fork_read = req.method() == Method::GET && path.ends_with("/f");
            let resp = next.run(req).await;
            if !(corrupt && fork_read && refused.load(Ordering::SeqCst)) {
                return resp;
            }
            cut_last_byte(resp).await
        }
    })
    .await
}

const RESOLVED: &str = "fork::idempotent::default_offset_reput_is_200";

/// Refusing the explicit resolved offset, fork intact: only the SHOULD
/// finding (the case carried on and found nothing else).
async fn idempotent_resolved_offset_refused_is_only_a_should_finding() {
    let srv = resolved_offset_refused(false).await;
    let f = bite(&srv.root)
        .case(RESOLVED)
        .fails_with("FORK-IDEMPOTENT-RESOLVED-OFFSET")
        .await
        .failure;
    assert!(
        !f.message.contains("also found"),
        "only the SHOULD finding: {f}"
    );
}

/// The same, but the fork loses a byte afterwards: a MUST failure.
async fn idempotent_resolved_offset_refused_then_fork_altered_fails_at_must() {
    let srv = resolved_offset_refused(true).await;
    let f = bite(&srv.root)
        .case(RESOLVED)
        .fails_with("FORK-IDEMPOTENT-200")
        .await
        .failure;
    assert!(
        f.message.contains("FORK-IDEMPOTENT-RESOLVED-OFFSET") || f.message.contains("also found"),
        "the SHOULD finding is reported too: {f}"
    );
}

/// Fork offset headers without `Stream-Forked-From` accepted as a plain
/// stream (SHOULD finding), after which the server serves the stream
/// whose offset was named one byte short: a MUST failure.
async fn errors_fork_headers_without_source_accepted_then_source_altered_fails_at_must() {
    let srv = deviation_then_source_cut("fork_headers_without_source", |req| {
        req.method() == Method::PUT && drop_fork_headers_without_source(req)
    })
    .await;
    bite(&srv.root)
        .case("fork::errors::fork_headers_without_source_are_400")
        .fails_with("FORK-INDEPENDENT")
        .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio create_fork_offset_ignored,
        tokio create_content_type_not_inherited,
        tokio create_fork_of_closed_source_is_closed,
        tokio create_default_offset_is_not_tail,
        tokio errors_missing_source_is_400,
        tokio errors_bad_offsets_are_409,
        tokio errors_conflicts_are_400,
        tokio errors_rejected_fork_pins_source,
        tokio idempotent_reput_is_409,
        tokio idempotent_any_reput_is_200,
        tokio suboffset_ignored,
        tokio suboffset_off_by_one,
        tokio read_source_appends_leak_into_forks,
        tokio live_source_appends_wake_fork_waiters,
        tokio read_fork_bodies_corrupted,
        tokio live_fork_long_polls_always_wait,
        tokio live_fork_long_polls_empty,
        tokio lifecycle_gone_is_404,
        tokio lifecycle_soft_deleted_path_recreatable,
        tokio lifecycle_delete_takes_forks_along,
        tokio lifecycle_no_cascade,
        tokio lifecycle_hard_delete_with_forks,
        tokio lifecycle_cascade_removes_live_ancestor,
        tokio lifecycle_async_cleanup_passes,
        tokio lifecycle_close_propagates,
        tokio writers_state_inherited,
        tokio control_reference_passes_every_fork_case,
        tokio create_fork_body_dropped,
        tokio errors_sentinel_minus_one_means_tail,
        tokio errors_sentinel_fork_that_alters_its_source_fails_at_must,
        tokio live_sse_offset_ignored,
        tokio server_ignoring_fork_headers_fails_fork_lifetime_cases,
        tokio blanket_400_for_fork_offsets_is_caught,
        tokio create_empty_source_refused,
        tokio create_equal_content_type_refused,
        tokio errors_fork_headers_without_source_ignored,
        tokio inherited_content_type_misreported,
        tokio fork_tail_not_the_source_tail,
        tokio fork_offsets_not_valid_on_source,
        tokio fork_delete_takes_live_source,
        tokio idempotent_resolved_offset_refused_is_only_a_should_finding,
        tokio idempotent_resolved_offset_refused_then_fork_altered_fails_at_must,
        tokio errors_fork_headers_without_source_accepted_then_source_altered_fails_at_must,
    ]
}
