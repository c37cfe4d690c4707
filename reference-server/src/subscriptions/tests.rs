//! Unit tests of the state machine: replay equals the live state, cursors
//! never move backwards, retry backoff bounds, restart from the log.

use super::record::{apply, Record, State};
use super::*;
use crate::store::ttl::Clock;
use crate::store::{CreateRequest, Store};

fn settings() -> Settings {
    Settings {
        root: "/r".into(),
        webhooks: true,
        allow_local_webhooks: true,
        service_token: None,
        webhook_timeout: Duration::from_secs(1),
        max_deliveries: 4,
        webhook_ca_pem: None,
    }
}

fn stream(store: &Store, subs: &Subscriptions, path: &str, body: &[u8]) {
    store
        .create(CreateRequest {
            path: path.into(),
            content_type: Some("text/plain".into()),
            body: bytes::Bytes::copy_from_slice(body),
            ..CreateRequest::default()
        })
        .applied()
        .unwrap();
    subs.stream_written(store, path, true);
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ds-subs-unit-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn backoff_doubles_from_1s_to_60s_with_20_percent_jitter() {
    assert_eq!(backoff_ms(1, 0.0), 1000);
    assert_eq!(backoff_ms(2, 0.0), 2000);
    assert_eq!(backoff_ms(6, 0.0), 32_000);
    assert_eq!(backoff_ms(7, 0.0), 60_000);
    assert_eq!(backoff_ms(40, 0.0), 60_000);
    assert_eq!(backoff_ms(1, 1.0), 1200);
    assert_eq!(backoff_ms(1, -1.0), 800);
    assert_eq!(backoff_ms(9, 1.0), 72_000);
}

#[test]
fn acks_never_move_a_cursor_backwards() {
    let mut st = State::default();
    let mut sub_links = std::collections::BTreeMap::new();
    sub_links.insert(
        "a".to_string(),
        record::Link {
            glob: false,
            explicit: true,
            acked: 5,
        },
    );
    let sub = Sub {
        id: "s".into(),
        incarnation: "i".into(),
        config: config::SubConfig::parse(
            br#"{"type":"pull-wake","streams":["a"],"wake_stream":"w"}"#,
            WebhookPolicy {
                enabled: false,
                allow_local: false,
            },
        )
        .unwrap(),
        hash: String::new(),
        created_at_ms: 0,
        base_url: String::new(),
        links: sub_links,
        generation: 0,
        wake: None,
        retry: None,
    };
    apply(&mut st, &Record::Created { sub: Box::new(sub) });
    apply(
        &mut st,
        &Record::Acked {
            id: "s".into(),
            acks: vec![("a".into(), 3)],
        },
    );
    assert_eq!(st.subs["s"].links["a"].acked, 5);
    apply(
        &mut st,
        &Record::Acked {
            id: "s".into(),
            acks: vec![("a".into(), 9)],
        },
    );
    assert_eq!(st.subs["s"].links["a"].acked, 9);
}

#[tokio::test]
async fn the_log_replays_to_the_live_state() {
    let dir = temp("replay");
    let store = Store::new(Clock::System);
    let live = {
        let subs = Subscriptions::open(settings(), Some(&dir)).unwrap();
        stream(&store, &subs, "/r/wake", b"");
        let body = br#"{"type":"pull-wake","pattern":"ev/*","streams":["x"],"wake_stream":"wake","lease_ttl_ms":5000}"#;
        assert!(subs.create(&store, "s", body, "http://h").unwrap().0);
        stream(&store, &subs, "/r/ev/1", b"abc");
        let c = subs.claim(&store, "s", None, br#"{"worker":"w"}"#).unwrap();
        let token = c["token"].as_str().unwrap().to_string();
        let ack = json!({
            "wake_id": c["wake_id"], "generation": c["generation"],
            "acks": [{"stream": "ev/1", "offset": Offset(2).to_string()}]
        });
        subs.acknowledge(
            &store,
            "s",
            Some(&token),
            ack.to_string().as_bytes(),
            Kind::PullWake,
        )
        .unwrap();
        subs.add_streams(&store, "s", br#"{"streams":["y/z"]}"#)
            .unwrap();
        subs.remove_stream(&store, "s", "x").unwrap();
        subs.state()
    };
    let (replayed, _) = log::SubLog::open(&dir).unwrap();
    assert_eq!(replayed, live);
    assert_eq!(replayed.subs["s"].links["ev/1"].acked, 2);
    assert_eq!(replayed.subs["s"].generation, 1);
    assert_eq!(
        replayed.subs["s"].wake.as_ref().unwrap().holder.as_deref(),
        Some("w")
    );
    // Compacted on open: replaying the compacted log gives the same state.
    let (again, _) = log::SubLog::open(&dir).unwrap();
    assert_eq!(again, live);
    let reopened = Subscriptions::open(settings(), Some(&dir)).unwrap();
    assert_eq!(reopened.state(), live);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_signing_key_is_persisted_once() {
    let dir = temp("key");
    let kid = Subscriptions::open(settings(), Some(&dir))
        .unwrap()
        .keys()
        .kid()
        .to_string();
    let again = Subscriptions::open(settings(), Some(&dir)).unwrap();
    assert_eq!(again.keys().kid(), kid);
    let mem = Subscriptions::open(settings(), None).unwrap();
    assert_ne!(mem.keys().kid(), kid);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_retry_schedule_survives_a_restart() {
    let dir = temp("retry");
    let store = Store::new(Clock::System);
    let subs = Subscriptions::open(settings(), Some(&dir)).unwrap();
    let body = br#"{"type":"webhook","streams":["ev"],"webhook":{"url":"http://127.0.0.1:9/h"}}"#;
    assert!(subs.create(&store, "h", body, "http://h").unwrap().0);
    stream(&store, &subs, "/r/ev", b"abc");
    let (mut deliveries, _, _) = subs.scan(&store);
    assert_eq!(deliveries.len(), 1);
    let d = deliveries.pop().unwrap();
    subs.delivered(&store, &d, Err("refused".into()));
    let (again, _, _) = subs.scan(&store);
    assert!(again.is_empty(), "retried before its time");
    let retry = subs.state().subs["h"].retry.clone().unwrap();
    assert_eq!(retry.count, 1);
    assert!(retry.next_attempt_at_ms > now_ms() + 500);
    drop(subs);
    let reopened = Subscriptions::open(settings(), Some(&dir)).unwrap();
    let st = reopened.state();
    assert_eq!(st.subs["h"].retry.as_ref(), Some(&retry));
    let (early, _, next) = reopened.scan(&store);
    assert!(early.is_empty(), "a restart retried at once");
    assert!(next.is_some_and(|t| t <= retry.next_attempt_at_ms));
    // The next failure continues the doubling from the persisted count.
    std::thread::sleep(Duration::from_millis(
        retry.next_attempt_at_ms.saturating_sub(now_ms()) + 50,
    ));
    let (mut due, _, _) = reopened.scan(&store);
    assert_eq!(due.len(), 1, "the persisted retry is attempted when due");
    reopened.delivered(&store, &due.pop().unwrap(), Err("refused".into()));
    let second = reopened.state().subs["h"].retry.clone().unwrap();
    assert_eq!(second.count, 2);
    assert!(second.next_attempt_at_ms >= now_ms() + 1500);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn service_token_comparison_needs_every_byte_and_the_length() {
    assert!(super::same_secret(b"Bearer s3cret", b"Bearer s3cret"));
    for other in [
        &b"Bearer s3cres"[..],
        b"Bearer s3cret ",
        b"Bearer s3cre",
        b"xearer s3cret",
        b"",
    ] {
        assert!(!super::same_secret(other, b"Bearer s3cret"), "{other:?}");
    }
}

/// Appends `body` to the existing stream at `path` and reports the write.
fn append(store: &Store, subs: &Subscriptions, path: &str, body: &[u8]) {
    store
        .append(
            path,
            crate::store::AppendRequest {
                essence: Some("text/plain".into()),
                payload: crate::store::Payload::Bytes(bytes::Bytes::copy_from_slice(body)),
                close: false,
                stream_seq: None,
                producer: None,
            },
        )
        .applied()
        .unwrap();
    subs.stream_written(store, path, false);
}

#[test]
fn without_subscriptions_writes_and_deletes_take_no_lock() {
    let store = Store::new(Clock::System);
    let subs = Subscriptions::open(settings(), None).unwrap();
    assert!(!subs.any());
    let before = subs.locks.load(Ordering::SeqCst);
    stream(&store, &subs, "/r/ev/1", b"abc");
    append(&store, &subs, "/r/ev/1", b"def");
    subs.stream_deleted("/r/ev/1");
    assert_eq!(subs.locks.load(Ordering::SeqCst), before);
    assert!(subs.state().subs.is_empty());
}

#[test]
fn with_a_subscription_an_append_still_links_and_wakes() {
    let store = Store::new(Clock::System);
    let subs = Subscriptions::open(settings(), None).unwrap();
    stream(&store, &subs, "/r/wake", b"");
    let body = br#"{"type":"pull-wake","pattern":"ev/*","wake_stream":"wake","lease_ttl_ms":5000}"#;
    assert!(subs.create(&store, "s", body, "http://h").unwrap().0);
    assert!(subs.any());
    // Created before any data: linked at 0, nothing pending yet.
    stream(&store, &subs, "/r/ev/1", b"");
    assert!(subs.state().subs["s"].links.contains_key("ev/1"));
    assert!(subs.state().subs["s"].wake.is_none());
    let before = subs.locks.load(Ordering::SeqCst);
    append(&store, &subs, "/r/ev/1", b"abc");
    assert!(subs.locks.load(Ordering::SeqCst) > before);
    let wake = subs.state().subs["s"].wake.clone();
    assert!(wake.is_some(), "the append woke the subscription");
    assert_eq!(subs.state().subs["s"].generation, 1);
    // Deleting the subscription brings the fast path back.
    subs.delete("s").unwrap();
    assert!(!subs.any());
    let before = subs.locks.load(Ordering::SeqCst);
    append(&store, &subs, "/r/ev/1", b"ghi");
    assert_eq!(subs.locks.load(Ordering::SeqCst), before);
}

#[test]
fn a_replayed_subscription_counts_for_the_fast_path() {
    let dir = temp("fastpath");
    let store = Store::new(Clock::System);
    {
        let subs = Subscriptions::open(settings(), Some(&dir)).unwrap();
        let body =
            br#"{"type":"pull-wake","pattern":"ev/*","wake_stream":"wake","lease_ttl_ms":5000}"#;
        assert!(subs.create(&store, "s", body, "http://h").unwrap().0);
    }
    let subs = Subscriptions::open(settings(), Some(&dir)).unwrap();
    assert!(subs.any());
    stream(&store, &subs, "/r/ev/2", b"x");
    assert!(subs.state().subs["s"].links.contains_key("ev/2"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_refused_creation_leaves_the_fast_path_on() {
    let store = Store::new(Clock::System);
    let subs = Subscriptions::open(settings(), None).unwrap();
    assert!(subs.create(&store, "s", b"{not json", "http://h").is_err());
    assert!(!subs.any());
}
