//! The durability group bites: a proxy in front of the reference app logs
//! every mutating request; its "restart" builds a fresh server and replays
//! the log through a lossy filter (forget everything, forget deletes, forget
//! producer headers, forget closes). Each loss must be caught.

use std::sync::{Arc, Mutex, RwLock};

use axum::extract::Request;
use axum::http::Method;
use axum::Router;

use crate::common::replay::{forward, fresh, replay, Logged};
use ds_conformance::testing::{assert_fails, assert_passes, run_on, test_session};

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

async fn run(filter: Filter) -> Vec<ds_conformance::testing::Ran> {
    let (root, hook) = spawn(filter).await;
    let mut target = test_session(&root, 500);
    target.run.control.restart_hook = Some(hook);
    run_on(Arc::new(target), &["durability::"]).await
}

fn keep(l: &Logged) -> Option<Logged> {
    Some(l.clone())
}

#[tokio::test]
async fn a_faithful_log_passes_everything() {
    let runs = run(keep).await;
    for r in &runs {
        assert_passes(&runs, &r.id);
    }
}

#[tokio::test]
async fn a_memory_only_restart_is_caught() {
    let runs = run(|_| None).await;
    for id in [
        "data_and_offsets_survive",
        "json_messages_survive",
        "closure_survives",
        "config_survives",
        "producer_state_survives",
        "stream_seq_survives",
        "forks_and_soft_delete_survive",
    ] {
        assert_fails(&runs, &format!("durability::restart::{id}"));
    }
}

#[tokio::test]
async fn forgotten_deletes_are_caught() {
    let runs = run(|l| (l.method != Method::DELETE).then(|| l.clone())).await;
    assert_fails(&runs, "durability::restart::deleted_stays_deleted");
    assert_fails(&runs, "durability::restart::forks_and_soft_delete_survive");
}

#[tokio::test]
async fn forgotten_producer_state_is_caught() {
    let runs = run(|l| {
        let mut l = l.clone();
        for h in ["producer-id", "producer-epoch", "producer-seq"] {
            l.headers.remove(h);
        }
        Some(l)
    })
    .await;
    assert_fails(&runs, "durability::restart::producer_state_survives");
}

#[tokio::test]
async fn forgotten_closes_and_seqs_are_caught() {
    let runs = run(|l| {
        let mut l = l.clone();
        l.headers.remove("stream-closed");
        l.headers.remove("stream-seq");
        if l.body.is_empty() && l.method == Method::POST {
            return None;
        }
        Some(l)
    })
    .await;
    assert_fails(&runs, "durability::restart::closure_survives");
    assert_fails(&runs, "durability::restart::stream_seq_survives");
}
