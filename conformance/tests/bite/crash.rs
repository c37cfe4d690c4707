//! The crash group bites. The target is a TCP front (127.0.0.1) piping to
//! a logging HTTP layer over the reference app: "kill" drops the listener
//! and every open connection at once (requests already received still run,
//! their answers are lost, as when a server dies after applying them);
//! "restart" builds a fresh app, replays the log of mutating requests
//! through a filter and listens again on the same port. A faithful filter
//! must pass; each lossy one must be caught with the rule it breaks.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::common::replay::{forward, fresh, replay, Logged};
use ds_conformance::client::RestartHook;
use ds_conformance::testing::{test_session, Bite};

/// Rewrites the log at a restart (what the "durable store" kept).
type Filter = fn(Vec<Logged>) -> Vec<Logged>;
/// Rewrites a live request before the app sees it (None: answer 204 without
/// applying it).
type Live = fn(&Logged) -> Option<Logged>;

struct App {
    router: tokio::sync::Mutex<Router>,
    log: Mutex<Vec<Logged>>,
    live: Live,
}

/// The app behind the front: serialised, so the log order is the order
/// the app applied the requests in; only accepted (2xx) requests are logged.
async fn serve_app(app: Arc<App>) -> std::net::SocketAddr {
    let svc = Router::new().fallback(move |req: Request| {
        let app = app.clone();
        async move {
            let l = Logged::read(req).await;
            let router = app.router.lock().await;
            let Some(l) = (app.live)(&l) else {
                return axum::http::StatusCode::NO_CONTENT.into_response_parts();
            };
            let resp = forward(router.clone(), &l).await;
            if l.mutates() && resp.status().is_success() {
                app.log.lock().unwrap().push(l);
            }
            resp
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, svc).await;
    });
    addr
}

trait IntoResp {
    fn into_response_parts(self) -> axum::response::Response;
}
impl IntoResp for axum::http::StatusCode {
    fn into_response_parts(self) -> axum::response::Response {
        let mut r = axum::response::Response::new(Body::empty());
        *r.status_mut() = self;
        r.headers_mut()
            .insert("stream-closed", "true".parse().unwrap());
        r
    }
}

/// The TCP front: pipes every connection to the app; `kill` drops them all.
struct Front {
    addr: std::net::SocketAddr,
    app_addr: std::net::SocketAddr,
    conns: Mutex<Option<JoinSet<()>>>,
}

impl Front {
    async fn listen(self: &Arc<Self>) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    let mut set = JoinSet::new();
                    let app_addr = self.app_addr;
                    set.spawn(accept(listener, app_addr));
                    *self.conns.lock().unwrap() = Some(set);
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(format!("cannot rebind {}: {last}", self.addr))
    }
    fn kill(&self) {
        if let Some(mut set) = self.conns.lock().unwrap().take() {
            set.abort_all();
            drop(set);
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn accept(listener: TcpListener, app: std::net::SocketAddr) {
    let mut pipes = JoinSet::new();
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            break;
        };
        pipes.spawn(async move {
            if let Ok(mut upstream) = TcpStream::connect(app).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

/// The reference app behind a front that the harness can kill and restart:
/// a restart keeps what `filter` leaves of the log; `live` rewrites live
/// requests. The front is killed once the check is done with it.
async fn crash_target(filter: Filter, live: Live) -> Bite {
    let app = Arc::new(App {
        router: tokio::sync::Mutex::new(fresh()),
        log: Mutex::new(Vec::new()),
        live,
    });
    let app_addr = serve_app(app.clone()).await;
    let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let front = Arc::new(Front {
        addr,
        app_addr,
        conns: Mutex::new(None),
    });
    front.listen().await.unwrap();
    let f = front.clone();
    let kill: RestartHook = Arc::new(move || {
        let f = f.clone();
        Box::pin(async move {
            f.kill();
            Ok(())
        })
    });
    let (f, a) = (front.clone(), app.clone());
    let restart: RestartHook = Arc::new(move || {
        let (f, a) = (f.clone(), a.clone());
        Box::pin(async move {
            let mut router = a.router.lock().await;
            let log = filter(a.log.lock().unwrap().clone());
            let fresh_router = replay(&log).await;
            *a.log.lock().unwrap() = log;
            *router = fresh_router;
            drop(router);
            f.listen().await
        })
    });
    let mut session = test_session(&format!("http://{addr}/v1/stream"), 500);
    session.run.control.kill_hook = Some(kill);
    session.run.control.restart_hook = Some(restart);
    session.run.control.crash_rounds = 3;
    session.run.case_timeout = std::time::Duration::from_secs(120);
    Bite::in_session(session)
}

fn keep(log: Vec<Logged>) -> Vec<Logged> {
    log
}
fn as_is(l: &Logged) -> Option<Logged> {
    Some(l.clone())
}

const APPENDS: &str = "crash::appends::acked_appends_survive_kills";
const LIFECYCLE: &str = "crash::lifecycle::shown_state_survives_kills";

async fn a_faithful_store_passes() {
    crash_target(keep, as_is)
        .await
        .area("crash::")
        .passes()
        .await;
}

/// The last acknowledged append before the crash is lost.
async fn losing_acknowledged_appends_is_caught() {
    crash_target(
        |mut log| {
            // Drop every append of the last 20 logged requests.
            let n = log.len();
            let mut k = 0;
            log.retain(|l| {
                k += 1;
                !(k + 20 > n && l.method == Method::POST && !l.body.is_empty())
            });
            log
        },
        as_is,
    )
    .await
    .case(APPENDS)
    .fails_with_one_of(&["DUR-DATA"])
    .await;
}

/// The last append is kept half written (a torn tail).
async fn a_torn_append_is_caught() {
    crash_target(
        |mut log| {
            if let Some(l) = log.iter_mut().rev().find(|l| {
                l.method == Method::POST
                    && l.body.len() > 4
                    && l.headers
                        .get("content-type")
                        .is_some_and(|v| v == "application/octet-stream")
            }) {
                l.body = l.body.slice(..l.body.len() / 2);
            }
            log
        },
        as_is,
    )
    .await
    .case(APPENDS)
    .fails_with_one_of(&["CRASH-APPEND-ATOMIC"])
    .await;
}

/// Producer state is not persisted: after a restart the server no longer
/// knows what it acknowledged (SHOULD-level, §5.2.1).
async fn forgotten_producer_state_is_caught() {
    crash_target(
        |log| {
            log.into_iter()
                .map(|mut l| {
                    for h in ["producer-id", "producer-epoch", "producer-seq"] {
                        l.headers.remove(h);
                    }
                    l
                })
                .collect()
        },
        as_is,
    )
    .await
    .case(APPENDS)
    .fails_with_one_of(&["DUR-PRODUCER"])
    .await;
}

/// Closes are not persisted: a stream shown closed is open after a restart.
async fn forgotten_closes_are_caught() {
    crash_target(
        |log| {
            log.into_iter()
                .filter(|l| !(l.method == Method::POST && l.body.is_empty()))
                .map(|mut l| {
                    l.headers.remove("stream-closed");
                    l
                })
                .collect()
        },
        as_is,
    )
    .await
    .case(LIFECYCLE)
    .fails_with_one_of(&["DUR-CLOSED"])
    .await;
}

/// DELETEs are not persisted: deleted and soft-deleted streams come back.
async fn forgotten_deletes_are_caught() {
    crash_target(
        |log| {
            log.into_iter()
                .filter(|l| l.method != Method::DELETE)
                .collect()
        },
        as_is,
    )
    .await
    .case(LIFECYCLE)
    .fails_with_one_of(&["DUR-FORKS", "DUR-DELETE"])
    .await;
}

/// A close-only POST is acknowledged but not applied (the stream stays
/// open, as when a racing append overwrites the close): later appends are
/// accepted although the close was acknowledged first.
async fn appends_accepted_after_an_acknowledged_close_are_caught() {
    crash_target(keep, |l| {
        let close_only = l.method == Method::POST
            && l.body.is_empty()
            && l.headers.get("stream-closed").is_some();
        (!close_only).then(|| l.clone())
    })
    .await
    .case(LIFECYCLE)
    .fails_with_one_of(&["STREAM-CLOSED-MONOTONIC", "DUR-CLOSED"])
    .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        multi a_faithful_store_passes,
        multi losing_acknowledged_appends_is_caught,
        multi a_torn_append_is_caught,
        multi forgotten_producer_state_is_caught,
        multi forgotten_closes_are_caught,
        multi forgotten_deletes_are_caught,
        multi appends_accepted_after_an_acknowledged_close_are_caught,
    ]
}
