//! §6/§7 subscriptions over real HTTP: a spawned ds-server, a loopback
//! webhook receiver (axum on 127.0.0.1:0) that verifies every signature
//! against the server's JWKS, and restarts over one data directory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use ds_reference_server::subscriptions::signing::verify_with_jwks;
use ds_reference_server::{spawn, Config, RunningServer};
use serde_json::{json, Value};
use tokio::sync::mpsc;

struct Res {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Bytes,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// One client for every request: building one loads the TLS roots (reqwest
/// with rustls), which in a debug build took long enough per request to
/// let the 1 s leases of these tests expire. No idle pooling, so no
/// connection outlives the test runtime that opened it.
static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
});

async fn req(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Res {
    let mut r = CLIENT.request(method.parse().unwrap(), url);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.body(b);
    }
    let res = tokio::time::timeout(Duration::from_secs(10), r.send())
        .await
        .expect("answer within 10 s")
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.bytes().await.unwrap();
    Res {
        status,
        headers,
        body,
    }
}

struct Srv {
    server: Option<RunningServer>,
    config: Config,
}

impl Srv {
    async fn start(config: Config) -> Srv {
        let server = spawn(config.clone()).await.unwrap();
        Srv {
            server: Some(server),
            config,
        }
    }

    async fn dev() -> Srv {
        Srv::start(dev_config(None)).await
    }

    fn root(&self) -> String {
        format!("{}/v1/stream", self.server.as_ref().unwrap().url)
    }

    fn sub(&self, id: &str) -> String {
        format!("{}/__ds/subscriptions/{id}", self.root())
    }

    async fn put_sub(&self, id: &str, body: Value) -> Res {
        req(
            "PUT",
            &self.sub(id),
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    async fn get_sub(&self, id: &str) -> Value {
        let r = req("GET", &self.sub(id), &[], None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.json()
    }

    async fn post(&self, url: &str, token: Option<&str>, body: Value) -> Res {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            h.push(("authorization", a.as_str()));
        }
        req("POST", url, &h, Some(body.to_string().into_bytes())).await
    }

    /// Creates (PUT) a JSON stream, with optional initial messages.
    async fn stream(&self, path: &str, body: Option<Value>) -> Res {
        let r = req(
            "PUT",
            &format!("{}/{path}", self.root()),
            &[("content-type", "application/json")],
            body.map(|b| b.to_string().into_bytes()),
        )
        .await;
        assert!(
            r.status == 201 || r.status == 200,
            "create {path}: {}",
            r.status
        );
        r
    }

    /// Appends one JSON message; returns the new tail offset.
    async fn append(&self, path: &str, msg: Value) -> String {
        let r = req(
            "POST",
            &format!("{}/{path}", self.root()),
            &[("content-type", "application/json")],
            Some(msg.to_string().into_bytes()),
        )
        .await;
        assert!(r.status < 300, "append {path}: {}", r.status);
        r.headers["stream-next-offset"]
            .to_str()
            .unwrap()
            .to_string()
    }

    async fn read_json(&self, path: &str) -> Vec<Value> {
        let r = req(
            "GET",
            &format!("{}/{path}?offset=-1", self.root()),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        r.json().as_array().cloned().unwrap()
    }

    async fn restart(&mut self) {
        self.server.take().unwrap().shutdown().await;
        self.server = Some(spawn(self.config.clone()).await.unwrap());
    }
}

fn dev_config(data_dir: Option<PathBuf>) -> Config {
    Config {
        webhooks: true,
        allow_local_webhooks: true,
        data_dir,
        ..Config::default()
    }
}

fn acked(sub: &Value, path: &str) -> Option<String> {
    sub["streams"]
        .as_array()?
        .iter()
        .find(|s| s["path"] == path)
        .map(|s| s["acked_offset"].as_str().unwrap().to_string())
}

fn link_type(sub: &Value, path: &str) -> Option<String> {
    sub["streams"]
        .as_array()?
        .iter()
        .find(|s| s["path"] == path)
        .map(|s| s["link_type"].as_str().unwrap().to_string())
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

// ---------- a loopback webhook receiver ----------

struct Hook {
    url: String,
    rx: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
    reply: Arc<Mutex<(u16, String)>>,
    task: tokio::task::JoinHandle<()>,
}

type HookState = (
    mpsc::UnboundedSender<(HeaderMap, Bytes)>,
    Arc<Mutex<(u16, String)>>,
);

async fn hook_handler(
    State((tx, reply)): State<HookState>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let _ = tx.send((headers, body));
    let (status, body) = reply.lock().unwrap().clone();
    (StatusCode::from_u16(status).unwrap(), body)
}

impl Hook {
    async fn start(status: u16, body: &str) -> Hook {
        let (tx, rx) = mpsc::unbounded_channel();
        let reply = Arc::new(Mutex::new((status, body.to_string())));
        let app = axum::Router::new()
            .fallback(hook_handler)
            .with_state((tx, reply.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hook {
            url,
            rx,
            reply,
            task,
        }
    }

    fn set_reply(&self, status: u16, body: &str) {
        *self.reply.lock().unwrap() = (status, body.to_string());
    }

    /// The next delivery, its signature verified against `jwks`.
    async fn next(&mut self, jwks: &Value) -> Value {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a webhook within 10 s")
            .unwrap();
        let sig = headers["webhook-signature"].to_str().unwrap();
        assert!(verify_with_jwks(jwks, sig, &body), "bad signature {sig}");
        assert!(
            !verify_with_jwks(jwks, sig, b"{}"),
            "signature verifies anything"
        );
        assert_eq!(headers["content-type"], "application/json");
        serde_json::from_slice(&body).unwrap()
    }

    async fn nothing_for(&mut self, ms: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(ms), self.rx.recv())
            .await
            .is_err()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn jwks(srv: &Srv) -> Value {
    let r = req("GET", &format!("{}/__ds/jwks.json", srv.root()), &[], None).await;
    assert_eq!(r.status, 200);
    r.json()
}

// ---------- §6.2 / §6.3 ----------

#[tokio::test]
async fn create_reconfirm_conflict_get_delete() {
    let srv = Srv::dev().await;
    let hook = Hook::start(200, "").await;
    let body = json!({
        "type": "webhook", "pattern": "events/*",
        "webhook": {"url": hook.url}, "lease_ttl_ms": 1000, "description": "d"
    });
    let r = srv.put_sub("s1", body.clone()).await;
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["id"], "s1");
    assert_eq!(created["subscription_id"], "s1");
    assert_eq!(created["type"], "webhook");
    assert_eq!(created["status"], "active");
    assert_eq!(created["lease_ttl_ms"], 1000);
    assert_eq!(created["wake_stream"], Value::Null);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let signing = &created["webhook"]["signing"];
    assert_eq!(signing["alg"], "ed25519");
    assert_eq!(
        signing["jwks_url"],
        format!("{}/__ds/jwks.json", srv.root())
    );
    assert!(created.to_string().find("secret").is_none());
    let keys = jwks(&srv).await;
    assert!(keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == signing["kid"] && k["kty"] == "OKP" && k["crv"] == "Ed25519"));
    // Re-confirm with an equivalent (normalised) configuration.
    let same = json!({
        "type": "webhook", "pattern": "/events/*/",
        "webhook": {"url": hook.url}, "lease_ttl_ms": 1000, "description": "d"
    });
    assert_eq!(srv.put_sub("s1", same).await.status, 200);
    let mut other = body.clone();
    other["description"] = json!("other");
    let r = srv.put_sub("s1", other).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "SUBSCRIPTION_ALREADY_EXISTS");
    assert_eq!(srv.get_sub("s1").await["description"], "d");
    let r = req("DELETE", &srv.sub("s1"), &[], None).await;
    assert_eq!(r.status, 204);
    let r = req("GET", &srv.sub("s1"), &[], None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "SUBSCRIPTION_NOT_FOUND");
    assert_eq!(req("DELETE", &srv.sub("s1"), &[], None).await.status, 404);
}

#[tokio::test]
async fn bad_input_is_a_4xx_with_a_reason() {
    let srv = Srv::dev().await;
    let cases: Vec<(&[u8], u16, &str)> = vec![
        (b"{not json", 400, "INVALID_REQUEST"),
        (br#"{"type":"poll","pattern":"a"}"#, 400, "INVALID_REQUEST"),
        (
            br#"{"type":"pull-wake","wake_stream":"w"}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            br#"{"type":"pull-wake","pattern":"a*","wake_stream":"w"}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            br#"{"type":"pull-wake","pattern":"a","wake_stream":"w","lease_ttl_ms":999}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            br#"{"type":"pull-wake","pattern":"a","wake_stream":"w","lease_ttl_ms":600001}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            br#"{"type":"pull-wake","pattern":"a"}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            br#"{"type":"webhook","pattern":"a"}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            br#"{"type":"webhook","pattern":"a","webhook":{"url":"http://10.0.0.1/hook"}}"#,
            400,
            "WEBHOOK_URL_REJECTED",
        ),
        (
            br#"{"type":"webhook","pattern":"a","webhook":{"url":"https://169.254.169.254/x"}}"#,
            400,
            "WEBHOOK_URL_REJECTED",
        ),
        (
            br#"{"type":"webhook","pattern":"a","webhook":{"url":"http://example.com/x"}}"#,
            400,
            "WEBHOOK_URL_REJECTED",
        ),
    ];
    for (body, status, code) in cases {
        let r = req("PUT", &srv.sub("x"), &[], Some(body.to_vec())).await;
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.code(), code, "{}", String::from_utf8_lossy(body));
        assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
    }
    let big = vec![b' '; 70 * 1024];
    assert_eq!(req("PUT", &srv.sub("x"), &[], Some(big)).await.status, 413);
    // Unknown subscription for every action.
    for action in ["callback", "ack", "release", "claim", "streams"] {
        let r = srv
            .post(
                &format!("{}/{action}", srv.sub("nope")),
                Some("t"),
                json!({"wake_id":"w","generation":1,"worker":"w","streams":[]}),
            )
            .await;
        assert_eq!(r.status, 404, "{action}");
    }
    assert_eq!(req("PATCH", &srv.sub("x"), &[], None).await.status, 405);
    assert_eq!(
        req("GET", &format!("{}/__ds/nothing", srv.root()), &[], None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn reserved_prefix_is_not_a_stream() {
    let srv = Srv::dev().await;
    for path in ["__ds/mine", "%5F%5Fds/mine", "__ds"] {
        let r = req(
            "PUT",
            &format!("{}/{path}", srv.root()),
            &[("content-type", "text/plain")],
            Some(b"x".to_vec()),
        )
        .await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reserved"));
    }
    // A __ds segment deeper down is an ordinary stream.
    let r = req(
        "PUT",
        &format!("{}/a/__ds", srv.root()),
        &[("content-type", "text/plain")],
        None,
    )
    .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn webhooks_off_by_default_and_ssrf_without_the_dev_flag() {
    let srv = Srv::start(Config::default()).await;
    let r = srv
        .put_sub(
            "w",
            json!({"type":"webhook","pattern":"a","webhook":{"url":"https://w.example/h"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "WEBHOOKS_DISABLED");
    let srv = Srv::start(Config {
        webhooks: true,
        ..Config::default()
    })
    .await;
    let r = srv
        .put_sub(
            "w",
            json!({"type":"webhook","pattern":"a","webhook":{"url":"http://127.0.0.1:9/h"}}),
        )
        .await;
    assert_eq!(r.code(), "WEBHOOK_URL_REJECTED");
    let r = srv
        .put_sub(
            "w",
            json!({"type":"webhook","pattern":"a","webhook":{"url":"https://w.example/h"}}),
        )
        .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn jwks_headers() {
    let srv = Srv::dev().await;
    let r = req("GET", &format!("{}/__ds/jwks.json", srv.root()), &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/jwk-set+json");
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    let k = &r.json()["keys"][0];
    assert_eq!(k["kty"], "OKP");
    assert_eq!(k["crv"], "Ed25519");
    assert_eq!(k["alg"], "EdDSA");
    assert_eq!(k["use"], "sig");
    assert!(k["kid"].as_str().unwrap().starts_with("ds_"));
    assert!(k.get("d").is_none(), "private key published");
}

// ---------- §6.1 / §6.4 membership ----------

#[tokio::test]
async fn membership_backfill_globs_and_explicit_links() {
    let srv = Srv::dev().await;
    srv.stream("wake/m", None).await;
    srv.stream("ev/a", Some(json!([1, 2]))).await;
    srv.stream("ev/a/deep", Some(json!([1]))).await;
    srv.stream("other/x", Some(json!([1]))).await;
    let r = srv
        .put_sub("m", json!({"type":"pull-wake","pattern":"ev/**","streams":["manual/a"],"wake_stream":"wake/m"}))
        .await;
    assert_eq!(r.status, 201);
    let s = r.json();
    // Backfilled at the current tail: nothing historical is pending.
    let tail_a = req("HEAD", &format!("{}/ev/a", srv.root()), &[], None)
        .await
        .headers["stream-next-offset"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(acked(&s, "ev/a").as_deref(), Some(tail_a.as_str()));
    assert_eq!(link_type(&s, "ev/a/deep").as_deref(), Some("glob"));
    assert_eq!(link_type(&s, "manual/a").as_deref(), Some("explicit"));
    assert!(acked(&s, "other/x").is_none());
    // A later stream matching the pattern is linked before its data.
    srv.stream("ev/new", Some(json!({"n": 1}))).await;
    let s = srv.get_sub("m").await;
    assert_eq!(
        acked(&s, "ev/new").as_deref(),
        Some("0000000000000000_0000000000000000")
    );
    // Explicit add is idempotent and wins over glob; removing it keeps the glob link.
    for _ in 0..2 {
        let r = srv
            .post(
                &format!("{}/streams", srv.sub("m")),
                None,
                json!({"streams": ["ev/a", "x/y"]}),
            )
            .await;
        assert_eq!(r.status, 204);
    }
    let s = srv.get_sub("m").await;
    assert_eq!(link_type(&s, "ev/a").as_deref(), Some("explicit"));
    assert_eq!(link_type(&s, "x/y").as_deref(), Some("explicit"));
    let enc = |p: &str| p.replace('/', "%2F");
    for p in ["ev/a", "x/y", "not/linked"] {
        let r = req(
            "DELETE",
            &format!("{}/streams/{}", srv.sub("m"), enc(p)),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{p}");
    }
    let s = srv.get_sub("m").await;
    assert_eq!(link_type(&s, "ev/a").as_deref(), Some("glob"));
    assert_eq!(acked(&s, "ev/a").as_deref(), Some(tail_a.as_str()));
    assert!(link_type(&s, "x/y").is_none());
    // Bad input.
    let r = srv
        .post(
            &format!("{}/streams", srv.sub("m")),
            None,
            json!({"streams": "ev/a"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = srv
        .post(
            &format!("{}/streams", srv.sub("m")),
            None,
            json!({"streams": ["wake/m"]}),
        )
        .await;
    assert_eq!(r.status, 400);
}

// ---------- §7.2 pull-wake, §7.3 fencing and leases ----------

async fn claim(srv: &Srv, id: &str, worker: &str) -> Res {
    srv.post(
        &format!("{}/claim", srv.sub(id)),
        None,
        json!({"worker": worker}),
    )
    .await
}

#[tokio::test]
async fn pull_wake_claim_ack_release_and_fencing() {
    let srv = Srv::dev().await;
    srv.stream("wake/p", None).await;
    let r = srv
        .put_sub("p", json!({"type":"pull-wake","pattern":"jobs/*","wake_stream":"wake/p","lease_ttl_ms":3000}))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(claim(&srv, "p", "w1").await.code(), "NO_PENDING_WORK");
    srv.stream("jobs/1", Some(json!({"job": 1}))).await;
    eventually("a wake event", || async {
        srv.read_json("wake/p")
            .await
            .iter()
            .any(|e| e["subscription_id"] == "p")
    })
    .await;
    let ev = srv.read_json("wake/p").await[0].clone();
    assert_eq!(ev["type"], "wake");
    assert_eq!(ev["stream"], "jobs/1");
    assert_eq!(ev["generation"], 1);
    assert!(ev["ts"].as_u64().unwrap() > 1_700_000_000_000);

    let claimed_at = std::time::Instant::now();
    let c = claim(&srv, "p", "w1").await;
    assert_eq!(c.status, 200);
    let c = c.json();
    assert_eq!(c["generation"], 1);
    assert_eq!(c["lease_ttl_ms"], 3000);
    let token = c["token"].as_str().unwrap().to_string();
    let s = &c["streams"][0];
    assert_eq!(s["path"], "jobs/1");
    assert_eq!(s["has_pending"], true);
    let tail = s["tail_offset"].as_str().unwrap().to_string();
    let busy = claim(&srv, "p", "w2").await;
    assert_eq!(busy.status, 409);
    assert_eq!(busy.code(), "ALREADY_CLAIMED");
    assert_eq!(busy.json()["error"]["current_holder"], "w1");
    assert_eq!(busy.json()["error"]["generation"], 1);

    let ack_url = format!("{}/ack", srv.sub("p"));
    let wake = c["wake_id"].as_str().unwrap().to_string();
    // Wrong tokens: 401; stale generation or wake id: 409 FENCED.
    let r = srv
        .post(
            &ack_url,
            Some("forged.token"),
            json!({"wake_id": wake, "generation": 1}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (401, "TOKEN_INVALID"));
    let r = srv
        .post(&ack_url, None, json!({"wake_id": wake, "generation": 1}))
        .await;
    assert_eq!(r.status, 401);
    let r = srv
        .post(
            &ack_url,
            Some(&token),
            json!({"wake_id": wake, "generation": 0}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FENCED"));
    let r = srv
        .post(
            &ack_url,
            Some(&token),
            json!({"wake_id": "w_other", "generation": 1}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FENCED"));
    // Bad acks: nothing applied.
    let r = srv
        .post(&ack_url, Some(&token), json!({"wake_id": wake, "generation": 1, "acks": [{"stream": "jobs/1", "offset": "junk"}]}))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = srv
        .post(&ack_url, Some(&token), json!({"wake_id": wake, "generation": 1, "acks": [{"stream": "jobs/1", "offset": "0000000000000000_0000000000009999"}]}))
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "INVALID_OFFSET"));
    let r = srv
        .post(&ack_url, Some(&token), json!({"wake_id": wake, "generation": 1, "acks": [{"stream": "nope/x", "offset": tail}]}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        acked(&srv.get_sub("p").await, "jobs/1").as_deref(),
        Some("0000000000000000_0000000000000000")
    );
    // Heartbeat keeps the lease past its TTL.
    // (3 s leases, beats every second: a loaded machine has 2 s of slack.)
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let r = srv
            .post(
                &ack_url,
                Some(&token),
                json!({"wake_id": wake, "generation": 1}),
            )
            .await;
        assert_eq!(
            r.status,
            200,
            "heartbeat {:?} {:?} after the claim",
            r.body,
            claimed_at.elapsed()
        );
        assert_eq!(r.json(), json!({"ok": true, "next_wake": false}));
    }
    // Ack done.
    let r = srv
        .post(&ack_url, Some(&token), json!({"wake_id": wake, "generation": 1, "acks": [{"stream": "jobs/1", "offset": tail}], "done": true}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true, "next_wake": false}));
    assert_eq!(acked(&srv.get_sub("p").await, "jobs/1"), Some(tail.clone()));
    // The same request again is stale.
    let r = srv
        .post(
            &ack_url,
            Some(&token),
            json!({"wake_id": wake, "generation": 1, "done": true}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FENCED"));

    // New work: new generation; release re-wakes because work is pending.
    srv.append("jobs/1", json!({"job": 2})).await;
    let c2 = claim(&srv, "p", "w1").await.json();
    assert_eq!(c2["generation"], 2);
    let rel = srv
        .post(
            &format!("{}/release", srv.sub("p")),
            Some(c2["token"].as_str().unwrap()),
            json!({"wake_id": c2["wake_id"], "generation": 2}),
        )
        .await;
    assert_eq!(rel.status, 204);
    eventually("a wake event for generation 3", || async {
        srv.read_json("wake/p")
            .await
            .iter()
            .any(|e| e["generation"] == 3)
    })
    .await;
    // An old token cannot act on the new wake.
    let c3 = claim(&srv, "p", "w2").await.json();
    assert_eq!(c3["generation"], 3);
    let r = srv
        .post(
            &ack_url,
            Some(c2["token"].as_str().unwrap()),
            json!({"wake_id": c3["wake_id"], "generation": 3}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FENCED"));

    // Lease expiry (3 s): holder cleared, pending work wakes again.
    tokio::time::sleep(Duration::from_millis(3400)).await;
    let r = srv
        .post(
            &ack_url,
            Some(c3["token"].as_str().unwrap()),
            json!({"wake_id": c3["wake_id"], "generation": 3}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FENCED"));
    let c4 = claim(&srv, "p", "w3").await;
    assert_eq!(c4.status, 200);
    assert_eq!(c4.json()["generation"], 4);

    // Deleted: later acks fail and move nothing.
    let before = acked(&srv.get_sub("p").await, "jobs/1");
    let c4 = c4.json();
    assert_eq!(req("DELETE", &srv.sub("p"), &[], None).await.status, 204);
    let t4 = c4["streams"][0]["tail_offset"].clone();
    let r = srv
        .post(&ack_url, Some(c4["token"].as_str().unwrap()), json!({"wake_id": c4["wake_id"], "generation": 4, "acks": [{"stream":"jobs/1","offset": t4}], "done": true}))
        .await;
    assert_eq!(r.status, 404);
    // Re-created under the same id: the old token is not valid for it.
    srv.put_sub(
        "p",
        json!({"type":"pull-wake","streams":["jobs/1"],"wake_stream":"wake/p"}),
    )
    .await;
    let s = srv.get_sub("p").await;
    assert_ne!(acked(&s, "jobs/1"), before.map(|_| "stale".to_string()));
    let r = srv
        .post(
            &ack_url,
            Some(c4["token"].as_str().unwrap()),
            json!({"wake_id": c4["wake_id"], "generation": 4}),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn service_token_guards_claim() {
    let srv = Srv::start(Config {
        service_token: Some("s3cret".into()),
        ..dev_config(None)
    })
    .await;
    srv.stream("wake/t", None).await;
    srv.put_sub(
        "t",
        json!({"type":"pull-wake","streams":["j"],"wake_stream":"wake/t"}),
    )
    .await;
    srv.stream("j", Some(json!(1))).await;
    let url = format!("{}/claim", srv.sub("t"));
    assert_eq!(
        srv.post(&url, None, json!({"worker":"w"})).await.status,
        401
    );
    assert_eq!(
        srv.post(&url, Some("nope"), json!({"worker":"w"}))
            .await
            .status,
        401
    );
    assert_eq!(
        srv.post(&url, Some("s3cret"), json!({"worker":"w"}))
            .await
            .status,
        200
    );
}

// ---------- §7.1 webhooks ----------

#[tokio::test]
async fn webhook_done_auto_acks_and_new_events_wake_again() {
    let srv = Srv::dev().await;
    let mut hook = Hook::start(200, r#"{"done":true}"#).await;
    let keys = jwks(&srv).await;
    let r = srv
        .put_sub("h", json!({"type":"webhook","pattern":"ev/*","webhook":{"url": hook.url},"lease_ttl_ms":5000}))
        .await;
    assert_eq!(r.status, 201);
    srv.stream("ev/1", Some(json!({"n": 1}))).await;
    let n = hook.next(&keys).await;
    assert_eq!(n["subscription_id"], "h");
    assert_eq!(n["generation"], 1);
    assert!(n["wake_id"].as_str().unwrap().starts_with("w_"));
    assert_eq!(n["callback_url"], format!("{}/callback", srv.sub("h")));
    let s = &n["streams"][0];
    assert_eq!(s["path"], "ev/1");
    assert_eq!(s["has_pending"], true);
    let tail = s["tail_offset"].as_str().unwrap().to_string();
    eventually("the snapshot acked", || async {
        acked(&srv.get_sub("h").await, "ev/1").as_deref() == Some(tail.as_str())
    })
    .await;
    let t2 = srv.append("ev/1", json!({"n": 2})).await;
    let n2 = hook.next(&keys).await;
    assert_eq!(n2["generation"], 2);
    assert_ne!(n2["wake_id"], n["wake_id"]);
    assert_eq!(n2["streams"][0]["tail_offset"], t2.as_str());
    assert!(hook.nothing_for(300).await, "woken without pending work");
}

#[tokio::test]
async fn webhook_callback_acks_extends_and_fences() {
    let srv = Srv::dev().await;
    let mut hook = Hook::start(200, "{}").await;
    let keys = jwks(&srv).await;
    srv.put_sub("c", json!({"type":"webhook","streams":["ev/c"],"webhook":{"url": hook.url},"lease_ttl_ms":3000}))
        .await;
    srv.stream("ev/c", Some(json!({"n": 1}))).await;
    let n = hook.next(&keys).await;
    let token = n["callback_token"].as_str().unwrap();
    let url = n["callback_url"].as_str().unwrap();
    let tail = n["streams"][0]["tail_offset"].clone();
    // A claim token is not a callback token and vice versa.
    let r = srv
        .post(
            &format!("{}/ack", srv.sub("c")),
            Some(token),
            json!({"wake_id": n["wake_id"], "generation": 1}),
        )
        .await;
    assert_eq!(r.status, 400);
    // Heartbeat past the 3 s lease.
    // (3 s leases, beats every second: a loaded machine has 2 s of slack.)
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let r = srv
            .post(
                url,
                Some(token),
                json!({"wake_id": n["wake_id"], "generation": 1}),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let body = json!({"wake_id": n["wake_id"], "generation": 1, "acks": [{"stream": "ev/c", "offset": tail}], "done": true});
    let r = srv.post(url, Some(token), body.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true, "next_wake": false}));
    let r = srv.post(url, Some(token), body).await;
    assert_eq!((r.status, r.code().as_str()), (409, "FENCED"));
    assert_eq!(
        acked(&srv.get_sub("c").await, "ev/c"),
        tail.as_str().map(str::to_string)
    );
    // Without a callback, the lease expires and the pending work is redelivered.
    srv.append("ev/c", json!({"n": 2})).await;
    let n2 = hook.next(&keys).await;
    assert_eq!(n2["generation"], 2);
    let n3 = hook.next(&keys).await;
    assert_eq!(n3["generation"], 3, "lease expiry re-wakes");
    let r = srv
        .post(
            url,
            Some(n2["callback_token"].as_str().unwrap()),
            json!({"wake_id": n2["wake_id"], "generation": 2}),
        )
        .await;
    assert_eq!(r.code(), "FENCED");
}

#[tokio::test]
async fn failed_deliveries_retry_with_backoff_and_status_failed() {
    let srv = Srv::dev().await;
    let mut hook = Hook::start(500, "").await;
    let keys = jwks(&srv).await;
    srv.put_sub("f", json!({"type":"webhook","streams":["ev/f"],"webhook":{"url": hook.url},"lease_ttl_ms":60000}))
        .await;
    srv.stream("ev/f", Some(json!(1))).await;
    let first = hook.next(&keys).await;
    eventually("status failed", || async {
        srv.get_sub("f").await["status"] == "failed"
    })
    .await;
    // Retried about 1 s later (0.8-1.2 s), with the same wake.
    let t0 = std::time::Instant::now();
    hook.set_reply(200, r#"{"done":true}"#);
    let second = hook.next(&keys).await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "retried after {waited:?}"
    );
    assert_eq!(second["wake_id"], first["wake_id"]);
    eventually("status active", || async {
        srv.get_sub("f").await["status"] == "active"
    })
    .await;
    eventually("acked", || async {
        acked(&srv.get_sub("f").await, "ev/f")
            == first["streams"][0]["tail_offset"]
                .as_str()
                .map(str::to_string)
    })
    .await;
}

#[tokio::test]
async fn a_dead_receiver_never_stalls_stream_operations() {
    // A receiver that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/h", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let srv = Srv::dev().await;
    for i in 0..5 {
        srv.put_sub(
            &format!("d{i}"),
            json!({"type":"webhook","pattern":"ev/*","webhook":{"url": url}}),
        )
        .await;
    }
    srv.stream("ev/x", Some(json!(0))).await;
    for i in 0..20 {
        tokio::time::timeout(Duration::from_secs(2), srv.append("ev/x", json!(i)))
            .await
            .expect("append answered while the receiver hangs");
    }
    hold.abort();
}

// ---------- durability ----------

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ds-subs-{name}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test]
async fn restart_keeps_subscriptions_cursors_leases_key_and_retry_schedule() {
    let dir = temp_dir("restart");
    let mut srv = Srv::start(dev_config(Some(dir.clone()))).await;
    let kid = jwks(&srv).await["keys"][0]["kid"].clone();
    srv.stream("wake/d", None).await;
    srv.put_sub("d", json!({"type":"pull-wake","pattern":"ev/*","streams":["x/e"],"wake_stream":"wake/d","lease_ttl_ms":60000}))
        .await;
    srv.stream("ev/1", Some(json!([1, 2]))).await;
    let c = claim(&srv, "d", "w1").await.json();
    let tail = c["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "ev/1")
        .unwrap()["tail_offset"]
        .clone();
    let r = srv
        .post(&format!("{}/ack", srv.sub("d")), Some(c["token"].as_str().unwrap()), json!({"wake_id": c["wake_id"], "generation": c["generation"], "acks": [{"stream":"ev/1","offset": tail}]}))
        .await;
    assert_eq!(r.status, 200);
    srv.append("ev/1", json!(3)).await;
    // A webhook subscription whose receiver is down: a retry is scheduled.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    srv.put_sub(
        "wh",
        json!({"type":"webhook","streams":["ev/w"],"webhook":{"url": format!("http://{dead}/h")}}),
    )
    .await;
    srv.stream("ev/w", Some(json!(1))).await;
    eventually("status failed", || async {
        srv.get_sub("wh").await["status"] == "failed"
    })
    .await;
    let before = srv.get_sub("d").await;
    let state_before = before.clone();

    srv.restart().await;

    assert_eq!(
        jwks(&srv).await["keys"][0]["kid"],
        kid,
        "signing key changed"
    );
    let after = srv.get_sub("d").await;
    assert_eq!(after["streams"], state_before["streams"]);
    assert_eq!(after["created_at"], state_before["created_at"]);
    assert_eq!(acked(&after, "ev/1"), tail.as_str().map(str::to_string));
    assert_eq!(link_type(&after, "x/e").as_deref(), Some("explicit"));
    // The lease survived: the holder still holds it, its token still works.
    let busy = claim(&srv, "d", "w2").await;
    assert_eq!(busy.code(), "ALREADY_CLAIMED");
    assert_eq!(busy.json()["error"]["generation"], c["generation"]);
    let r = srv
        .post(
            &format!("{}/ack", srv.sub("d")),
            Some(c["token"].as_str().unwrap()),
            json!({"wake_id": c["wake_id"], "generation": c["generation"], "done": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["next_wake"], true);
    assert_eq!(srv.get_sub("wh").await["status"], "failed");
    srv.server.take().unwrap().shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------- https webhooks (§7.1 over TLS, §12.8 at connect time) ----------

/// A TLS listener for axum: rustls over a loopback TCP listener with a
/// self-signed certificate for `localhost` / 127.0.0.1.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A signed-delivery receiver over https; returns it and the PEM of its
/// self-signed certificate.
async fn tls_hook(reply: &str) -> (Hook, String) {
    use tokio_rustls::rustls;
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let pem = cert.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let reply = Arc::new(Mutex::new((200, reply.to_string())));
    let app = axum::Router::new()
        .fallback(hook_handler)
        .with_state((tx, reply.clone()));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let hook = Hook {
        url: format!("https://localhost:{port}/hook"),
        rx,
        reply,
        task,
    };
    (hook, pem)
}

#[tokio::test]
async fn https_webhooks_are_delivered_signed_to_a_trusted_receiver() {
    let (mut hook, pem) = tls_hook(r#"{"done":true}"#).await;
    let dir = temp_dir("tls");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    // Trusted through --webhook-ca; `https://localhost` passes the URL
    // check and the connect-time check only under --allow-local-webhooks.
    let srv = Srv::start(Config {
        webhook_ca: Some(ca),
        ..dev_config(None)
    })
    .await;
    let keys = jwks(&srv).await;
    let r = srv
        .put_sub(
            "t",
            json!({"type":"webhook","streams":["ev/t"],"webhook":{"url": hook.url}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    srv.stream("ev/t", Some(json!(1))).await;
    let n = hook.next(&keys).await;
    assert_eq!(n["subscription_id"], "t");
    let tail = n["streams"][0]["tail_offset"].as_str().unwrap().to_string();
    eventually("the https delivery's done acked", || async {
        acked(&srv.get_sub("t").await, "ev/t").as_deref() == Some(tail.as_str())
    })
    .await;
    assert_eq!(srv.get_sub("t").await["status"], "active");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_failed_delivery() {
    let (mut hook, _pem) = tls_hook(r#"{"done":true}"#).await;
    let srv = Srv::dev().await;
    srv.put_sub(
        "u",
        json!({"type":"webhook","streams":["ev/u"],"webhook":{"url": hook.url}}),
    )
    .await;
    srv.stream("ev/u", Some(json!(1))).await;
    eventually("status failed", || async {
        srv.get_sub("u").await["status"] == "failed"
    })
    .await;
    assert!(
        hook.nothing_for(300).await,
        "delivered over an untrusted certificate"
    );
}

#[tokio::test]
async fn a_bad_webhook_ca_file_is_a_start_error() {
    let dir = temp_dir("badca");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let e = ds_reference_server::AppState::new(Config {
        webhook_ca: Some(ca.clone()),
        ..dev_config(None)
    })
    .err()
    .expect("a start error");
    assert!(e.to_string().contains("--webhook-ca"), "{e}");
    let e = ds_reference_server::AppState::new(Config {
        webhook_ca: Some(dir.join("missing.pem")),
        ..dev_config(None)
    })
    .err()
    .expect("a start error");
    assert!(e.to_string().contains("--webhook-ca"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_wake_event_that_could_not_be_written_is_written_later_and_after_restart() {
    let dir = temp_dir("lostwake");
    let mut srv = Srv::start(dev_config(Some(dir.clone()))).await;
    srv.stream("wake/l", None).await;
    srv.put_sub(
        "l",
        json!({"type":"pull-wake","streams":["ev/l"],"wake_stream":"wake/l"}),
    )
    .await;
    // The application deletes its wake stream; the wake's event append fails.
    let r = req("DELETE", &format!("{}/wake/l", srv.root()), &[], None).await;
    assert_eq!(r.status, 204);
    srv.stream("ev/l", Some(json!(1))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    srv.restart().await;
    // Re-created: the event for the still unclaimed wake arrives.
    srv.stream("wake/l", None).await;
    eventually("the wake event", || async {
        srv.read_json("wake/l")
            .await
            .iter()
            .any(|e| e["subscription_id"] == "l" && e["generation"] == 1 && e["stream"] == "ev/l")
    })
    .await;
    // Once claimed, nothing more is rewritten.
    let c = claim(&srv, "l", "w").await;
    assert_eq!(c.status, 200);
    let n = srv.read_json("wake/l").await.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(srv.read_json("wake/l").await.len(), n);
    srv.server.take().unwrap().shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_webhook_subscription_may_name_a_wake_stream_as_in_the_spec_example() {
    let srv = Srv::dev().await;
    let mut hook = Hook::start(200, r#"{"done":true}"#).await;
    let keys = jwks(&srv).await;
    srv.stream("wake/pool", None).await;
    let body = json!({"type":"webhook","pattern":"events/*","streams":["events/manual-a"],
        "webhook":{"url": hook.url},"wake_stream":"wake/pool","lease_ttl_ms":30000,
        "description":"event processor"});
    assert_eq!(srv.put_sub("ex", body.clone()).await.status, 201);
    assert_eq!(srv.put_sub("ex", body.clone()).await.status, 200);
    let mut other = body.clone();
    other["wake_stream"] = json!("wake/other");
    assert_eq!(srv.put_sub("ex", other).await.status, 409);
    assert_eq!(srv.get_sub("ex").await["wake_stream"], "wake/pool");
    srv.stream("events/manual-a", Some(json!(1))).await;
    hook.next(&keys).await;
    // Webhooks are its wake channel: nothing is written to the stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(srv.read_json("wake/pool").await.is_empty());
}

/// Malformed bodies, ids and tokens on every `__ds` endpoint, against a
/// live subscription of each kind (with a wake in flight) and an unknown
/// one: always a 4xx with a reason, and the server keeps serving.
#[tokio::test]
async fn malformed_input_on_every_control_endpoint_is_a_4xx() {
    let srv = Srv::dev().await;
    let hook = Hook::start(200, "{}").await;
    srv.stream("wake/f", None).await;
    srv.put_sub(
        "pw",
        json!({"type":"pull-wake","streams":["f/a"],"wake_stream":"wake/f"}),
    )
    .await;
    srv.put_sub(
        "wh",
        json!({"type":"webhook","streams":["f/a"],"webhook":{"url": hook.url}}),
    )
    .await;
    srv.stream("f/a", Some(json!(1))).await;
    let c = claim(&srv, "pw", "w").await.json();
    let token = c["token"].as_str().unwrap().to_string();
    let deep = "[".repeat(100_000);
    let long_str = format!("\"{}\"", "x".repeat(60_000));
    let bodies: Vec<Vec<u8>> = [
        "",
        "{",
        "null",
        "[]",
        "\"x\"",
        "1e400",
        "{\"a\":1}garbage",
        deep.as_str(),
        long_str.as_str(),
        r#"{"wake_id":5,"generation":"1"}"#,
        r#"{"wake_id":"w","generation":-1}"#,
        r#"{"wake_id":"w","generation":1e30}"#,
        r#"{"wake_id":"w","generation":18446744073709551616}"#,
        r#"{"wake_id":"w","generation":1,"acks":{}}"#,
        r#"{"wake_id":"w","generation":1,"acks":[{"stream":null,"offset":1}]}"#,
        r#"{"wake_id":"w","generation":1,"acks":[{"stream":"f/a","offset":"-1"}]}"#,
        r#"{"wake_id":"w","generation":1,"done":"yes"}"#,
        r#"{"worker":""}"#,
        r#"{"worker":7}"#,
        r#"{"streams":"f/a"}"#,
        r#"{"streams":[null]}"#,
        r#"{"streams":["../x"]}"#,
        r#"{"type":"pull-wake","pattern":"a/**b","wake_stream":"w"}"#,
        r#"{"type":"webhook","pattern":"a","webhook":{"url":"https://[::1"}}"#,
    ]
    .iter()
    .map(|b| b.as_bytes().to_vec())
    .chain([
        vec![0xff, 0xfe, b'{'],
        b"{\"worker\":\"\xc3\x28\"}".to_vec(),
    ])
    .collect();
    let ids = ["pw", "wh", "nope", "%00", &"i".repeat(2000)];
    let auths = [None, Some(token.as_str())];
    let mut n = 0;
    for id in ids {
        let base = srv.sub(id);
        let targets = [
            ("PUT", base.clone()),
            ("POST", format!("{base}/callback")),
            ("POST", format!("{base}/ack")),
            ("POST", format!("{base}/release")),
            ("POST", format!("{base}/claim")),
            ("POST", format!("{base}/streams")),
            ("DELETE", format!("{base}/streams/%2F%2E%2E")),
        ];
        for (method, url) in &targets {
            for body in &bodies {
                for auth in auths {
                    let bearer = auth.map(|t| format!("Bearer {t}"));
                    let mut h = vec![("content-type", "application/json")];
                    if let Some(b) = &bearer {
                        h.push(("authorization", b.as_str()));
                    }
                    let r = req(method, url, &h, Some(body.clone())).await;
                    let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
                    assert!(
                        (400..500).contains(&r.status),
                        "{method} {url} {shown:?} auth {auth:?}: {} {:?}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    );
                    if r.status != 405 && r.status != 413 {
                        assert!(
                            !r.json()["error"]["message"]
                                .as_str()
                                .unwrap_or("")
                                .is_empty(),
                            "{method} {url} {shown:?}: no reason"
                        );
                    }
                    n += 1;
                }
            }
        }
    }
    assert!(n > 500);
    // Still serving, and nothing moved.
    let s = srv.get_sub("pw").await;
    assert_eq!(
        acked(&s, "f/a"),
        Some("0000000000000000_0000000000000000".into())
    );
    assert_eq!(srv.get_sub("wh").await["type"], "webhook");
}
