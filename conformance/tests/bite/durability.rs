//! The durability group bites: a proxy in front of the reference app logs
//! every mutating request; its "restart" builds a fresh server and replays
//! the log through a lossy filter (forget everything, forget deletes, forget
//! producer headers, forget closes). Each loss must be caught.

use std::sync::{Arc, Mutex, RwLock};

use axum::extract::Request;
use axum::http::Method;
use axum::Router;

use crate::common::replay::{forward, fresh, replay, Logged};
use ds_conformance::testing::{test_session, Bite};

type Filter = fn(&Logged) -> Option<Logged>;

struct Proxy {
    inner: RwLock<Router>,
    log: Mutex<Vec<Logged>>,
}

/// Serve the proxy; returns the stream root and a restart hook applying `filter`.
async fn spawn(filter: Filter) -> (String, ds_conformance::client::RestartHook) {
    let proxy = Arc::new(Proxy {
        inner: RwLock::new(fresh()),
        log: Mutex::new(Vec::new()),
    });
    let p = proxy.clone();
    let app = Router::new().fallback(move |req: Request| {
        let p = p.clone();
        async move {
            let l = Logged::read(req).await;
            if l.mutates() {
                p.log.lock().unwrap().push(l.clone());
            }
            let router = p.inner.read().unwrap().clone();
            forward(router, &l).await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let hook: ds_conformance::client::RestartHook = Arc::new(move || {
        let proxy = proxy.clone();
        Box::pin(async move {
            let log: Vec<Logged> = proxy
                .log
                .lock()
                .unwrap()
                .iter()
                .filter_map(filter)
                .collect();
            let router = replay(&log).await;
            *proxy.inner.write().unwrap() = router;
            Ok(())
        })
    });
    (format!("http://{addr}/v1/stream"), hook)
}

/// A bite check against the proxy with its restart hook.
async fn restarting(filter: Filter) -> Bite {
    let (root, hook) = spawn(filter).await;
    let mut session = test_session(&root, 500);
    session.run.control.restart_hook = Some(hook);
    Bite::in_session(session)
}

fn keep(l: &Logged) -> Option<Logged> {
    Some(l.clone())
}

async fn a_faithful_log_passes_everything() {
    restarting(keep).await.area("durability::").passes().await;
}

async fn a_memory_only_restart_is_caught() {
    restarting(|_| None)
        .await
        .each(&[
            (
                "durability::restart::data_and_offsets_survive",
                "DUR-OFFSETS",
            ),
            ("durability::restart::json_messages_survive", "DUR-DATA"),
            ("durability::restart::closure_survives", "DUR-CLOSED"),
            ("durability::restart::config_survives", "DUR-CONFIG"),
            (
                "durability::restart::producer_state_survives",
                "DUR-PRODUCER",
            ),
            ("durability::restart::stream_seq_survives", "DUR-SEQ"),
            (
                "durability::restart::forks_and_soft_delete_survive",
                "DUR-FORKS",
            ),
        ])
        .await;
}

async fn forgotten_deletes_are_caught() {
    restarting(|l| (l.method != Method::DELETE).then(|| l.clone()))
        .await
        .each(&[
            ("durability::restart::deleted_stays_deleted", "DUR-DELETE"),
            (
                "durability::restart::forks_and_soft_delete_survive",
                "DUR-FORKS",
            ),
        ])
        .await;
}

async fn forgotten_producer_state_is_caught() {
    restarting(|l| {
        let mut l = l.clone();
        for h in ["producer-id", "producer-epoch", "producer-seq"] {
            l.headers.remove(h);
        }
        Some(l)
    })
    .await
    .case("durability::restart::producer_state_survives")
    .fails_with("DUR-PRODUCER")
    .await;
}

async fn forgotten_closes_and_seqs_are_caught() {
    restarting(|l| {
        let mut l = l.clone();
        l.headers.remove("stream-closed");
        l.headers.remove("stream-seq");
        if l.body.is_empty() && l.method == Method::POST {
            return None;
        }
        Some(l)
    })
    .await
    .each(&[
        ("durability::restart::closure_survives", "DUR-CLOSED"),
        ("durability::restart::stream_seq_survives", "DUR-SEQ"),
    ])
    .await;
}

pub fn trials() -> Vec<crate::Trial> {
    trials![
        tokio a_faithful_log_passes_everything,
        tokio a_memory_only_restart_is_caught,
        tokio forgotten_deletes_are_caught,
        tokio forgotten_producer_state_is_caught,
        tokio forgotten_closes_and_seqs_are_caught,
    ]
}
