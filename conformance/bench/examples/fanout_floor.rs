//! The machine's fan-out FLOOR for scripts/bench.sh. This is NOT a Durable
//! Streams server: no store, no protocol rules, no validation beyond what
//! `ds-bench fanout` needs to drive it. It is the least work any server on
//! the reference server's HTTP stack (axum/hyper/tokio) can do to deliver
//! one small append to N waiting long-poll requests and N open SSE
//! responses over loopback, so a fan-out figure can be read as a ratio to
//! it, as append throughput is read against noop_server's HTTP ceiling.
//!
//! What it answers (the subset `ds-bench fanout` uses):
//! - `PUT /any/path`: creates a topic (201).
//! - `POST /any/path` with a body: keeps the body as the next record and
//!   wakes every waiter of that topic (204). The record's SSE frame (a
//!   `data` event and a `control` event naming the next offset) is built
//!   here, once, and the same bytes are shared by every SSE connection.
//! - `GET ?offset=K&live=long-poll`: the records after the K-th (offsets
//!   are record counts, `-1` is 0), or waits for one (204 after 30 s).
//! - `GET ?offset=K&live=sse`: a text/event-stream response that writes
//!   each new record's prebuilt frame, never ending.
//!
//! Records are written as one `data:` line: the bench's records (`r000001;`)
//! have no line breaks. Binds 127.0.0.1 (port from the first argument,
//! default 0 = any free one) and prints `listening on http://ADDR`.
//!
//! `cargo run --release -p ds-bench --example fanout_floor -- [PORT]`

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// How long a long-poll waits before answering 204.
const LONG_POLL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Records {
    /// Each append's body, in order.
    bodies: Vec<Bytes>,
    /// The same appends as SSE frames, built once per append.
    frames: Vec<Bytes>,
}

struct Topic {
    records: Mutex<Records>,
    /// How many records there are; every waiter watches it.
    count: watch::Sender<usize>,
}

type Topics = Arc<Mutex<HashMap<String, Arc<Topic>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = common::listen(common::port_arg()).await?;
    axum::serve(listener, app()).await
}

fn app() -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .with_state(Topics::default())
}

async fn handle(
    State(topics): State<Topics>,
    method: Method,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if method == Method::PUT {
        let (count, _) = watch::channel(0);
        topics.lock().unwrap().entry(path).or_insert_with(|| {
            Arc::new(Topic {
                records: Mutex::default(),
                count,
            })
        });
        return StatusCode::CREATED.into_response();
    }
    let Some(topic) = topics.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match method {
        Method::POST => append(&topic, body),
        Method::GET => {
            let from = match q.get("offset").map(String::as_str) {
                None | Some("-1") => 0,
                Some(k) => match k.parse() {
                    Ok(k) => k,
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                },
            };
            match q.get("live").map(String::as_str) {
                Some("sse") => sse(topic, from),
                _ => long_poll(topic, from).await,
            }
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

fn append(topic: &Topic, body: Bytes) -> Response {
    let count = {
        let mut r = topic.records.lock().unwrap();
        let next = r.bodies.len() + 1;
        let frame = format!(
            "event: data\ndata:{}\n\nevent: control\ndata:{{\"streamNextOffset\":\"{next}\"}}\n\n",
            String::from_utf8_lossy(&body)
        );
        r.bodies.push(body);
        r.frames.push(Bytes::from(frame));
        next
    };
    topic.count.send_replace(count);
    with_offset(StatusCode::NO_CONTENT, count, Body::empty())
}

async fn long_poll(topic: Arc<Topic>, from: usize) -> Response {
    let mut count = topic.count.subscribe();
    let give_up = tokio::time::Instant::now() + LONG_POLL;
    loop {
        count.borrow_and_update();
        {
            let r = topic.records.lock().unwrap();
            if r.bodies.len() > from {
                let body = r.bodies[from..].concat();
                return with_offset(StatusCode::OK, r.bodies.len(), Body::from(body));
            }
        }
        match tokio::time::timeout_at(give_up, count.changed()).await {
            Ok(Ok(())) => continue,
            _ => return with_offset(StatusCode::NO_CONTENT, from, Body::empty()),
        }
    }
}

fn sse(topic: Arc<Topic>, from: usize) -> Response {
    let count = topic.count.subscribe();
    let frames =
        futures::stream::unfold((topic, count, from), |(topic, mut count, pos)| async move {
            loop {
                count.borrow_and_update();
                let next: Vec<Bytes> = {
                    let r = topic.records.lock().unwrap();
                    r.frames.get(pos..).unwrap_or_default().to_vec()
                };
                if !next.is_empty() {
                    let n = pos + next.len();
                    // One append: the shared frame itself, no copy.
                    let chunk = match next.len() {
                        1 => next[0].clone(),
                        _ => Bytes::from(next.concat()),
                    };
                    return Some((Ok::<_, Infallible>(chunk), (topic, count, n)));
                }
                count.changed().await.ok()?;
            }
        });
    let mut res = Body::from_stream(frames).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

fn with_offset(status: StatusCode, next: usize, body: Body) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert("stream-next-offset", HeaderValue::from(next));
    h.insert("stream-up-to-date", HeaderValue::from_static("true"));
    res
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    /// The floor on 127.0.0.1:0 driven the way scripts/bench.sh drives it:
    /// `ds-bench fanout` creates a topic, appends one round, and every
    /// long-poll and SSE reader must get it (the run checks that itself).
    /// Bounded; no timing is asserted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_append_reaches_every_long_poll_and_sse_reader() {
        let listener = super::common::listen(0).await.unwrap();
        let url = format!("http://{}/floor", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, super::app()).await });
        let cli = ds_bench::Cli::try_parse_from([
            "ds-bench",
            "--quiet",
            "fanout",
            "--long-poll",
            "3",
            "--sse",
            "3",
            "--rounds",
            "1",
        ])
        .unwrap();
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            ds_bench::run(&cli, &url),
        )
        .await
        .expect("bounded run")
        .unwrap();
        server.abort();
        let table = r.table(&url);
        assert!(r.verified(), "{table}");
        assert_eq!(r.get("sse_delivery").unwrap()["count"], 3, "{table}");
        assert_eq!(r.get("long_poll_delivery").unwrap()["count"], 3, "{table}");
        assert_eq!(r.get("readers_not_ready").unwrap(), 0, "{table}");
    }
}
