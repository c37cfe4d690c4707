//! A small subscription server (§6–7) for the subscriptions bite tests,
//! written only to be broken one rule at a time (`Flaw`): the reference
//! app serves the streams, this layer serves `{root}/__ds/...`, watches
//! stream writes, writes wake events and delivers signed webhooks. It
//! trusts its own offset format (the reference server's fixed-width
//! tokens compare as strings); the harness never does.
// Handlers return an axum Response as their error: size is no concern here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde_json::{json, Value};
use tower::ServiceExt;

/// One rule the stub breaks on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flaw {
    ReservedPrefixIsStream,
    Delete200,
    ReconfirmOrderSensitive,
    ConflictIs200,
    AcceptNoTarget,
    AcceptAnyLease,
    DefaultLease60s,
    GetNoCreatedAt,
    LeakSecret,
    WrongSigningKid,
    StarMatchesMany,
    DoubleStarNeedsOne,
    BackfillFromStart,
    WakeOnBackfill,
    DiscoverAfterAppend,
    AddAtStart,
    AddDuplicates,
    RemoveNeedsRawSlashes,
    RemoveDropsGlob,
    GlobPrecedence,
    WakeEventNoTs,
    ClaimNoTail,
    ClaimNotExclusive,
    HeartbeatNoExtend,
    DoneNoRelease,
    DoneNextWakeAlwaysFalse,
    WakeWhileHeld,
    GenerationReused,
    ReleaseNoRewake,
    NoFencing,
    FenceIgnoresWakeId,
    LeaseNeverExpires,
    TokenAnySubscription,
    TokenUnsigned,
    TokenFromQuery,
    TokenNoIncarnation,
    DeletedStillAcks,
    JwksWrongType,
    JwksNoCache,
    JwksPrivateKey,
    JwksNewKidEachFetch,
    SignWrongBody,
    SignOldTimestamp,
    DeliveryNoCallbackUrl,
    DoneIgnored,
    DoneAcksCurrentTail,
    DoneNoRewake,
    CallbackNoFencing,
    CallbackNoExtend,
    LateDoneApplies,
    RetryNoBackoff,
    StatusAlwaysActive,
    HttpAnyHost,
    HttpWholeLoopback,
    AcceptPrivateV4,
    AcceptIpv6,
    AcceptMetadataNames,
    FollowRedirects,
    NoWebhooks,
    /// A deleted webhook subscription's failing delivery keeps retrying.
    DeleteKeepsDelivering,
    /// Claims are granted whatever their Authorization (the stub was
    /// spawned with a service token).
    ClaimIgnoresServiceToken,
    /// A restart loses every subscription (memory-only state).
    ForgetOnRestart,
    /// A restart makes a new signing key.
    NewKeyOnRestart,
}

const ROOT: &str = "/v1/stream";

#[derive(Clone, Debug, Default)]
struct Link {
    glob: bool,
    explicit: bool,
    acked: String,
}

#[derive(Clone, Debug)]
struct Sub {
    id: String,
    incarnation: u64,
    cfg: Value,
    kind: String,
    pattern: Option<String>,
    webhook: Option<String>,
    wake_stream: Option<String>,
    lease_ms: u64,
    created_at: String,
    failed: bool,
    links: BTreeMap<String, Link>,
    generation: i64,
    wake_id: Option<String>,
    holder: Option<String>,
    deadline: Option<Instant>,
    snapshot: BTreeMap<String, String>,
    retries: u32,
    deleted: bool,
}

pub struct Stub {
    flaws: HashSet<Flaw>,
    subs: Mutex<BTreeMap<String, Sub>>,
    /// Root-relative stream path -> tail offset.
    streams: Mutex<BTreeMap<String, String>>,
    inner: Router,
    key: SigningKey,
    kid: Mutex<String>,
    base: Mutex<String>,
    next: Mutex<u64>,
    http: reqwest::Client,
    /// Bearer token a claim must carry (None: any claim).
    service_token: Option<String>,
}

type S = Arc<Stub>;

impl Stub {
    fn has(&self, f: Flaw) -> bool {
        self.flaws.contains(&f)
    }
    fn fresh(&self) -> u64 {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        *n
    }
    fn tail(&self, path: &str) -> String {
        self.streams
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_else(|| "0000000000000000_0000000000000000".into())
    }
}

/// Serve the stub (with `flaws`) on 127.0.0.1:0; returns the handle.
pub async fn spawn(flaws: &[Flaw]) -> crate::common::Broken {
    spawn_with(flaws).await.0
}

impl Stub {
    /// What a restart does to the stub: nothing, unless a flaw says so.
    pub fn restart(&self) {
        if self.has(Flaw::ForgetOnRestart) {
            self.subs.lock().unwrap().clear();
        }
        if self.has(Flaw::NewKeyOnRestart) {
            *self.kid.lock().unwrap() = format!("stub-key-{}", self.fresh());
        }
    }
}

/// As `spawn`, also returning the stub (for restart hooks).
pub async fn spawn_with(flaws: &[Flaw]) -> (crate::common::Broken, Arc<Stub>) {
    spawn_full(flaws, None).await
}

/// As `spawn`, with claims requiring `Authorization: Bearer <token>`.
pub async fn spawn_with_service_token(flaws: &[Flaw], token: &str) -> crate::common::Broken {
    spawn_full(flaws, Some(token.to_string())).await.0
}

async fn spawn_full(
    flaws: &[Flaw],
    service_token: Option<String>,
) -> (crate::common::Broken, Arc<Stub>) {
    let inner = crate::common::reference_app(crate::common::config(500));
    let listener = crate::common::listener().await;
    let addr = listener.local_addr().expect("addr");
    let stub = Arc::new(Stub {
        flaws: flaws.iter().copied().collect(),
        subs: Mutex::new(BTreeMap::new()),
        streams: Mutex::new(BTreeMap::new()),
        inner: inner.clone(),
        key: SigningKey::from_bytes(&[9u8; 32]),
        kid: Mutex::new("stub-key-1".into()),
        base: Mutex::new(format!("http://{addr}")),
        next: Mutex::new(0),
        http: reqwest::Client::builder()
            .redirect(if flaws.contains(&Flaw::FollowRedirects) {
                reqwest::redirect::Policy::limited(5)
            } else {
                reqwest::redirect::Policy::none()
            })
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        service_token,
    });
    let ticker = stub.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            expire_leases(&ticker);
        }
    });
    let ds = format!("{ROOT}/__ds");
    let mut app = Router::new()
        .route(&format!("{ds}/jwks.json"), get(jwks))
        .route(&format!("{ds}/subscriptions/{{id}}"), any(sub_base))
        .route(
            &format!("{ds}/subscriptions/{{id}}/streams"),
            post(add_streams),
        )
        .route(
            &format!("{ds}/subscriptions/{{id}}/streams/{{*path}}"),
            any(remove_stream),
        )
        .route(
            &format!("{ds}/subscriptions/{{id}}/{{action}}"),
            post(action),
        );
    if !stub.has(Flaw::ReservedPrefixIsStream) {
        app = app.route(
            &format!("{ds}/{{*rest}}"),
            any(|| async { StatusCode::NOT_FOUND }),
        );
    }
    // The flaw stores `__ds/...` paths as ordinary streams. The reference app
    // refuses that prefix itself, so hand it the path under another name.
    let inner = if stub.has(Flaw::ReservedPrefixIsStream) {
        inner.layer(middleware::map_request(|mut req: Request| async move {
            let uri = req
                .uri()
                .to_string()
                .replacen("/__ds/", "/reserved-as-stream/", 1);
            *req.uri_mut() = uri.parse().expect("valid URI");
            req
        }))
    } else {
        inner
    };
    let app = app
        .fallback_service(inner.layer(middleware::from_fn_with_state(stub.clone(), watch)))
        .with_state(stub.clone());
    (crate::common::serve_on(listener, app), stub)
}

fn rel_of(path: &str) -> Option<String> {
    let r = path.strip_prefix(ROOT)?.trim_start_matches('/');
    (!r.is_empty() && !r.starts_with("__ds")).then(|| r.to_string())
}

/// Watch stream writes going to the reference app.
async fn watch(State(stub): State<S>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let rel = rel_of(req.uri().path());
    let resp = next.run(req).await;
    let Some(rel) = rel else { return resp };
    let ok = resp.status().is_success();
    let tail = resp
        .headers()
        .get("stream-next-offset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match (method, ok, tail) {
        (Method::PUT, true, Some(t)) => {
            stub.streams.lock().unwrap().insert(rel, t);
        }
        (Method::POST, true, Some(t)) => on_append(&stub, &rel, &t).await,
        (Method::DELETE, true, _) => {
            stub.streams.lock().unwrap().remove(&rel);
        }
        _ => {}
    }
    resp
}

fn glob(stub: &Stub, pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let s: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    fn m(stub: &Stub, p: &[&str], s: &[&str]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(&"**") => {
                let min = usize::from(stub.has(Flaw::DoubleStarNeedsOne));
                (min..=s.len()).any(|i| m(stub, &p[1..], &s[i..]))
            }
            Some(&"*") if stub.has(Flaw::StarMatchesMany) => {
                (1..=s.len()).any(|i| m(stub, &p[1..], &s[i..]))
            }
            Some(seg) => {
                !s.is_empty() && (*seg == "*" || *seg == s[0]) && m(stub, &p[1..], &s[1..])
            }
        }
    }
    m(stub, &p, &s)
}

async fn on_append(stub: &S, rel: &str, tail: &str) {
    let before = stub
        .streams
        .lock()
        .unwrap()
        .insert(rel.to_string(), tail.to_string())
        .unwrap_or_default();
    let ids: Vec<String> = stub.subs.lock().unwrap().keys().cloned().collect();
    for id in ids {
        let wake = {
            let mut subs = stub.subs.lock().unwrap();
            let Some(sub) = subs.get_mut(&id) else {
                continue;
            };
            if sub.deleted {
                continue;
            }
            if let Some(p) = sub.pattern.clone() {
                if glob(stub, &p, rel) && !sub.links.contains_key(rel) {
                    let acked = if stub.has(Flaw::DiscoverAfterAppend) {
                        tail.to_string()
                    } else {
                        before.clone()
                    };
                    sub.links.insert(
                        rel.to_string(),
                        Link {
                            glob: true,
                            explicit: false,
                            acked,
                        },
                    );
                }
            }
            sub.links.contains_key(rel) && idle(stub, sub) && pending(stub, sub)
        };
        if wake {
            new_wake(stub, &id, rel).await;
        }
    }
}

fn idle(stub: &Stub, sub: &Sub) -> bool {
    stub.has(Flaw::WakeWhileHeld) || (sub.wake_id.is_none() && sub.holder.is_none())
}

fn pending(stub: &Stub, sub: &Sub) -> bool {
    sub.links.iter().any(|(p, l)| stub.tail(p) > l.acked)
}

fn infos(stub: &Stub, sub: &Sub) -> Vec<Value> {
    sub.links
        .iter()
        .map(|(p, l)| {
            let tail = stub.tail(p);
            let lt = if (l.explicit && !stub.has(Flaw::GlobPrecedence)) || !l.glob {
                "explicit"
            } else {
                "glob"
            };
            let mut v = json!({"path": p, "link_type": lt, "acked_offset": l.acked,
                "tail_offset": tail, "has_pending": tail > l.acked});
            if stub.has(Flaw::ClaimNoTail) {
                v.as_object_mut().map(|o| o.remove("tail_offset"));
            }
            v
        })
        .collect()
}

fn token(stub: &Stub, sub: &Sub) -> String {
    let payload = json!({"sub": sub.id, "inc": sub.incarnation, "gen": sub.generation}).to_string();
    let sig = stub.key.sign(payload.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

/// Start a wake: new generation and wake id, snapshot, event or delivery.
fn new_wake<'a>(stub: &'a S, id: &'a str, stream: &'a str) -> futures::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        let (event, delivery) = {
            let mut subs = stub.subs.lock().unwrap();
            let Some(sub) = subs.get_mut(id) else { return };
            if !stub.has(Flaw::GenerationReused) || sub.generation == 0 {
                sub.generation += 1;
            }
            let n = stub.fresh();
            sub.wake_id = Some(format!("w_{n}"));
            sub.snapshot = sub
                .links
                .keys()
                .map(|p| (p.clone(), stub.tail(p)))
                .collect();
            if sub.kind == "webhook" {
                sub.deadline = Some(Instant::now() + Duration::from_millis(sub.lease_ms));
                (None, Some(sub.clone()))
            } else {
                let mut ev = json!({"type": "wake", "subscription_id": id, "stream": stream,
                "generation": sub.generation, "ts": now_ms()});
                if stub.has(Flaw::WakeEventNoTs) {
                    ev.as_object_mut().map(|o| o.remove("ts"));
                }
                (sub.wake_stream.clone().map(|w| (w, ev)), None)
            }
        };
        if let Some((wake, ev)) = event {
            let req = Request::builder()
                .method("POST")
                .uri(format!("{ROOT}/{wake}"))
                .header("content-type", "application/json")
                .body(Body::from(ev.to_string()))
                .expect("request");
            let _ = stub.inner.clone().oneshot(req).await;
        }
        if let Some(sub) = delivery {
            let stub = stub.clone();
            tokio::spawn(async move { deliver(stub, sub).await });
        }
    })
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn sign_header(stub: &Stub, body: &str) -> String {
    let mut t = time::OffsetDateTime::now_utc().unix_timestamp();
    if stub.has(Flaw::SignOldTimestamp) {
        t -= 3600;
    }
    let signed = if stub.has(Flaw::SignWrongBody) {
        format!("{t}.{body} ")
    } else {
        format!("{t}.{body}")
    };
    let sig = stub.key.sign(signed.as_bytes());
    format!(
        "t={t},kid={},ed25519={}",
        stub.kid.lock().unwrap(),
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

/// Deliver the wake `sub` (a snapshot of the subscription) until answered.
async fn deliver(stub: S, sub: Sub) {
    let wake_id = sub.wake_id.clone().unwrap_or_default();
    let tok = token(&stub, &sub);
    let base = stub.base.lock().unwrap().clone();
    let mut body = json!({"subscription_id": sub.id, "wake_id": wake_id,
        "generation": sub.generation, "streams": infos(&stub, &sub),
        "callback_url": format!("{base}{ROOT}/__ds/subscriptions/{}/callback", sub.id),
        "callback_token": tok});
    if stub.has(Flaw::DeliveryNoCallbackUrl) {
        body.as_object_mut().map(|o| o.remove("callback_url"));
    }
    let body = body.to_string();
    loop {
        // Each attempt (first or retry) is made only while the
        // subscription that issued the wake still exists.
        {
            let subs = stub.subs.lock().unwrap();
            match subs.get(&sub.id) {
                None if stub.has(Flaw::DeleteKeepsDelivering) => {}
                None => return,
                Some(cur) if cur.incarnation != sub.incarnation || cur.deleted => return,
                Some(_) => {}
            }
        }
        let r = stub
            .http
            .post(sub.webhook.clone().unwrap_or_default())
            .header("content-type", "application/json")
            .header("webhook-signature", sign_header(&stub, &body))
            .body(body.clone())
            .send()
            .await;
        let answer = match r {
            Ok(r) if r.status().is_success() => Some(
                serde_json::from_slice::<Value>(&r.bytes().await.unwrap_or_default())
                    .unwrap_or(Value::Null),
            ),
            _ => None,
        };
        let delay = 'delay: {
            let mut subs = stub.subs.lock().unwrap();
            let Some(cur) = subs.get_mut(&sub.id) else {
                if answer.is_none() && stub.has(Flaw::DeleteKeepsDelivering) {
                    break 'delay Some(1000);
                }
                return;
            };
            if cur.incarnation != sub.incarnation || cur.deleted {
                return;
            }
            match &answer {
                Some(_) => {
                    cur.failed = false;
                    cur.retries = 0;
                    None
                }
                None if cur.wake_id.as_deref() != Some(wake_id.as_str()) => return,
                None => {
                    cur.failed = !stub.has(Flaw::StatusAlwaysActive);
                    cur.retries += 1;
                    Some(if stub.has(Flaw::RetryNoBackoff) {
                        100
                    } else {
                        1000u64 << (cur.retries - 1).min(6)
                    })
                }
            }
        };
        match (delay, answer) {
            (Some(ms), _) => tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await,
            (None, Some(v)) => {
                if v["done"] == json!(true) && !stub.has(Flaw::DoneIgnored) {
                    finish_done(&stub, &sub, &wake_id).await;
                }
                return;
            }
            (None, None) => return,
        }
    }
}

async fn finish_done(stub: &S, sub: &Sub, wake_id: &str) {
    let next = {
        let mut subs = stub.subs.lock().unwrap();
        let Some(cur) = subs.get_mut(&sub.id) else {
            return;
        };
        if cur.wake_id.as_deref() != Some(wake_id) && !stub.has(Flaw::LateDoneApplies) {
            return;
        }
        let snap = if stub.has(Flaw::DoneAcksCurrentTail) || stub.has(Flaw::LateDoneApplies) {
            cur.snapshot
                .keys()
                .map(|p| (p.clone(), stub.tail(p)))
                .collect()
        } else {
            sub.snapshot.clone()
        };
        for (p, t) in snap {
            if let Some(l) = cur.links.get_mut(&p) {
                l.acked = t;
            }
        }
        clear(cur);
        (pending(stub, cur) && !stub.has(Flaw::DoneNoRewake)).then(|| first_pending(stub, cur))
    };
    if let Some(s) = next {
        new_wake(stub, &sub.id, &s).await;
    }
}

fn clear(sub: &mut Sub) {
    sub.wake_id = None;
    sub.holder = None;
    sub.deadline = None;
}

fn first_pending(stub: &Stub, sub: &Sub) -> String {
    sub.links
        .iter()
        .find(|(p, l)| stub.tail(p) > l.acked)
        .map(|(p, _)| p.clone())
        .unwrap_or_default()
}

fn expire_leases(stub: &S) {
    if stub.has(Flaw::LeaseNeverExpires) {
        return;
    }
    let now = Instant::now();
    let expired: Vec<(String, String)> = {
        let mut subs = stub.subs.lock().unwrap();
        subs.values_mut()
            .filter(|s| !s.deleted && s.deadline.is_some_and(|d| d <= now))
            .filter_map(|s| {
                clear(s);
                pending(stub, s).then(|| (s.id.clone(), first_pending(stub, s)))
            })
            .collect()
    };
    for (id, stream) in expired {
        let stub = stub.clone();
        tokio::spawn(async move { new_wake(&stub, &id, &stream).await });
    }
}

fn err(status: u16, code: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"error": {"code": code}})),
    )
        .into_response()
}

async fn jwks(State(stub): State<S>) -> Response {
    if stub.has(Flaw::JwksNewKidEachFetch) {
        *stub.kid.lock().unwrap() = format!("stub-key-{}", stub.fresh());
    }
    let mut key = json!({"kty": "OKP", "crv": "Ed25519", "kid": *stub.kid.lock().unwrap(),
        "use": "sig", "alg": "EdDSA", "x": URL_SAFE_NO_PAD.encode(stub.key.verifying_key().as_bytes())});
    if stub.has(Flaw::JwksPrivateKey) {
        key["d"] = json!(URL_SAFE_NO_PAD.encode(stub.key.to_bytes()));
    }
    let ct = if stub.has(Flaw::JwksWrongType) {
        "application/json"
    } else {
        "application/jwk-set+json"
    };
    let mut resp = ([("content-type", ct)], json!({ "keys": [key] }).to_string()).into_response();
    if !stub.has(Flaw::JwksNoCache) {
        resp.headers_mut()
            .insert("cache-control", "public, max-age=300".parse().unwrap());
    }
    resp
}

fn ip_refused(stub: &Stub, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !stub.has(Flaw::AcceptPrivateV4)
                && (v4.is_private()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            if stub.has(Flaw::AcceptIpv6) {
                return false;
            }
            if let Some(v4) = v6.to_ipv4_mapped() {
                return ip_refused(stub, IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xfe00) == 0xfc00
                || seg[..6] == [0, 0, 0, 0, 0, 0]
        }
    }
}

/// §6.2 / §12.8 webhook URL check.
fn url_ok(stub: &Stub, raw: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(raw) else {
        return false;
    };
    let host = u.host_str().unwrap_or("");
    let ip: Option<IpAddr> = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok();
    let dev = match ip {
        None => host == "localhost",
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            o[0] == 127 && (stub.has(Flaw::HttpWholeLoopback) || (o[1] == 0 && o[2] == 0))
        }
        Some(IpAddr::V6(_)) => false,
    };
    match u.scheme() {
        "http" => dev || stub.has(Flaw::HttpAnyHost),
        "https" => match ip {
            Some(ip) => !ip_refused(stub, ip),
            None if host.is_empty() => false,
            None => {
                let d = host.trim_end_matches('.');
                stub.has(Flaw::AcceptMetadataNames)
                    || !matches!(d, "localhost" | "metadata" | "metadata.google.internal")
            }
        },
        _ => false,
    }
}

/// Parse and normalise a configuration (§6.2), or the 400 reason.
fn normalise(stub: &Stub, v: &Value) -> Result<Value, String> {
    let kind = v["type"].as_str().ok_or("type missing")?;
    if kind != "webhook" && kind != "pull-wake" {
        return Err("bad type".into());
    }
    let pattern = v["pattern"].as_str().filter(|p| !p.is_empty());
    let mut streams: Vec<String> = match &v["streams"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .map(|s| s.as_str().map(str::to_string).ok_or("streams"))
            .collect::<Result<_, _>>()?,
        _ => return Err("streams".into()),
    };
    if !stub.has(Flaw::ReconfirmOrderSensitive) {
        streams.sort();
        streams.dedup();
    }
    if pattern.is_none() && streams.is_empty() && !stub.has(Flaw::AcceptNoTarget) {
        return Err("pattern or streams".into());
    }
    let default = if stub.has(Flaw::DefaultLease60s) {
        60000
    } else {
        30000
    };
    let lease = match &v["lease_ttl_ms"] {
        Value::Null => default,
        x => x.as_u64().ok_or("lease")?,
    };
    if !(1000..=600_000).contains(&lease) && !stub.has(Flaw::AcceptAnyLease) {
        return Err("lease".into());
    }
    let url = v["webhook"]["url"].as_str();
    let wake = v["wake_stream"].as_str();
    match kind {
        "webhook" => {
            if stub.has(Flaw::NoWebhooks) {
                return Err("webhooks are disabled".into());
            }
            let u = url.ok_or("webhook.url")?;
            if !url_ok(stub, u) {
                return Err("webhook url refused".into());
            }
        }
        _ => {
            wake.ok_or("wake_stream")?;
        }
    }
    Ok(
        json!({"type": kind, "pattern": pattern, "streams": streams, "url": url,
        "wake_stream": wake, "lease_ttl_ms": lease, "description": v["description"]}),
    )
}

fn serialise(stub: &Stub, sub: &Sub) -> Value {
    let links: Vec<Value> = infos(stub, sub)
        .into_iter()
        .map(|i| json!({"path": i["path"], "link_type": i["link_type"], "acked_offset": i["acked_offset"]}))
        .collect();
    let base = stub.base.lock().unwrap().clone();
    let webhook = sub.webhook.as_ref().map(|u| {
        let kid = if stub.has(Flaw::WrongSigningKid) {
            "not-a-key".to_string()
        } else {
            stub.kid.lock().unwrap().clone()
        };
        let mut w = json!({"url": u, "signing": {"alg": "ed25519", "kid": kid,
            "jwks_url": format!("{base}{ROOT}/__ds/jwks.json")}});
        if stub.has(Flaw::LeakSecret) {
            w["signing_secret"] = json!("whsec_0123456789");
        }
        w
    });
    let mut v = json!({"id": sub.id, "subscription_id": sub.id, "type": sub.kind,
        "pattern": sub.pattern, "streams": links, "webhook": webhook,
        "wake_stream": sub.wake_stream, "lease_ttl_ms": sub.lease_ms,
        "created_at": sub.created_at,
        "status": if sub.failed { "failed" } else { "active" },
        "description": sub.cfg["description"]});
    if stub.has(Flaw::GetNoCreatedAt) {
        v.as_object_mut().map(|o| o.remove("created_at"));
    }
    v
}

async fn sub_base(
    State(stub): State<S>,
    Path(id): Path<String>,
    method: Method,
    body: Bytes,
) -> Response {
    match method {
        Method::GET => {
            let subs = stub.subs.lock().unwrap();
            match subs.get(&id).filter(|s| !s.deleted) {
                Some(s) => axum::Json(serialise(&stub, s)).into_response(),
                None => err(404, "SUBSCRIPTION_NOT_FOUND"),
            }
        }
        Method::DELETE => {
            let mut subs = stub.subs.lock().unwrap();
            if stub.has(Flaw::DeletedStillAcks) {
                if let Some(s) = subs.get_mut(&id) {
                    s.deleted = true;
                }
            } else {
                subs.remove(&id);
            }
            if stub.has(Flaw::Delete200) {
                StatusCode::OK.into_response()
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        Method::PUT => {
            let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                return err(400, "INVALID_REQUEST");
            };
            let cfg = match normalise(&stub, &v) {
                Ok(c) => c,
                Err(_) => return err(400, "INVALID_REQUEST"),
            };
            let mut subs = stub.subs.lock().unwrap();
            if let Some(old) = subs.get(&id).filter(|s| !s.deleted) {
                return if old.cfg == cfg || stub.has(Flaw::ConflictIs200) {
                    StatusCode::OK.into_response()
                } else {
                    err(409, "SUBSCRIPTION_ALREADY_EXISTS")
                };
            }
            let incarnation = if stub.has(Flaw::TokenNoIncarnation) {
                0
            } else {
                stub.fresh()
            };
            let mut sub = Sub {
                id: id.clone(),
                incarnation,
                kind: cfg["type"].as_str().unwrap_or_default().into(),
                pattern: cfg["pattern"].as_str().map(str::to_string),
                webhook: cfg["url"].as_str().map(str::to_string),
                wake_stream: cfg["wake_stream"].as_str().map(str::to_string),
                lease_ms: cfg["lease_ttl_ms"].as_u64().unwrap_or(30000),
                created_at: "2026-12-06T00:00:00Z".into(),
                failed: false,
                links: BTreeMap::new(),
                generation: 0,
                wake_id: None,
                holder: None,
                deadline: None,
                snapshot: BTreeMap::new(),
                retries: 0,
                deleted: false,
                cfg: cfg.clone(),
            };
            for s in cfg["streams"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
            {
                let acked = stub.tail(s);
                sub.links.insert(
                    s.into(),
                    Link {
                        glob: false,
                        explicit: true,
                        acked,
                    },
                );
            }
            if let Some(p) = &sub.pattern {
                let all: Vec<(String, String)> = stub
                    .streams
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect();
                for (path, tail) in all {
                    if glob(&stub, p, &path) {
                        let acked = if stub.has(Flaw::BackfillFromStart) {
                            "-1".into()
                        } else {
                            tail
                        };
                        let l = sub.links.entry(path).or_insert(Link {
                            acked,
                            ..Default::default()
                        });
                        l.glob = true;
                    }
                }
            }
            let wake_now = stub.has(Flaw::WakeOnBackfill) && !sub.links.is_empty();
            let first = sub.links.keys().next().cloned().unwrap_or_default();
            subs.insert(id.clone(), sub);
            drop(subs);
            if wake_now {
                let stub = stub.clone();
                tokio::spawn(async move { new_wake(&stub, &id, &first).await });
            }
            StatusCode::CREATED.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

async fn add_streams(State(stub): State<S>, Path(id): Path<String>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut subs = stub.subs.lock().unwrap();
    let Some(sub) = subs.get_mut(&id).filter(|s| !s.deleted) else {
        return err(404, "SUBSCRIPTION_NOT_FOUND");
    };
    for p in v["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
    {
        let acked = if stub.has(Flaw::AddAtStart) {
            "-1".into()
        } else {
            stub.tail(p)
        };
        if stub.has(Flaw::AddDuplicates) && sub.links.contains_key(p) {
            sub.links.insert(
                format!("{p}/"),
                Link {
                    explicit: true,
                    acked: acked.clone(),
                    ..Default::default()
                },
            );
        }
        sub.links
            .entry(p.to_string())
            .or_insert(Link {
                acked,
                ..Default::default()
            })
            .explicit = true;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_stream(
    State(stub): State<S>,
    Path((id, path)): Path<(String, String)>,
    req: Request,
) -> Response {
    if req.method() != Method::DELETE {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if stub.has(Flaw::RemoveNeedsRawSlashes) && req.uri().path().contains("%2F") {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut subs = stub.subs.lock().unwrap();
    let Some(sub) = subs.get_mut(&id).filter(|s| !s.deleted) else {
        return err(404, "SUBSCRIPTION_NOT_FOUND");
    };
    if let Some(l) = sub.links.get_mut(&path) {
        l.explicit = false;
        if !l.glob || stub.has(Flaw::RemoveDropsGlob) {
            sub.links.remove(&path);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

fn check_token(
    stub: &Stub,
    sub: &Sub,
    token: Option<&str>,
    body: &Value,
    fencing: bool,
) -> Result<(), Response> {
    let Some(token) = token else {
        return Err(err(401, "TOKEN_INVALID"));
    };
    let (p, s) = token.split_once('.').unwrap_or((token, ""));
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let Some(payload) = payload else {
        return Err(err(401, "TOKEN_INVALID"));
    };
    if !stub.has(Flaw::TokenUnsigned) {
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
            .map(|b| ed25519_dalek::Signature::from_bytes(&b));
        let good = sig.is_some_and(|sig| {
            stub.key
                .verifying_key()
                .verify(&URL_SAFE_NO_PAD.decode(p).unwrap_or_default(), &sig)
                .is_ok()
        });
        if !good {
            return Err(err(401, "TOKEN_INVALID"));
        }
    }
    if !stub.has(Flaw::TokenAnySubscription) && payload["sub"] != json!(sub.id) {
        return Err(err(401, "TOKEN_INVALID"));
    }
    if payload["inc"] != json!(sub.incarnation) && !stub.has(Flaw::TokenAnySubscription) {
        return Err(err(401, "TOKEN_INVALID"));
    }
    if !fencing || stub.has(Flaw::NoFencing) {
        return Ok(());
    }
    let wake_ok =
        stub.has(Flaw::FenceIgnoresWakeId) || body["wake_id"].as_str() == sub.wake_id.as_deref();
    if payload["gen"] != json!(sub.generation)
        || body["generation"] != json!(sub.generation)
        || !wake_ok
        || sub.wake_id.is_none()
    {
        return Err(err(409, "FENCED"));
    }
    Ok(())
}

async fn action(
    State(stub): State<S>,
    Path((id, act)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return err(400, "INVALID_REQUEST"),
    };
    let mut token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    if token.is_none() && stub.has(Flaw::TokenFromQuery) {
        token = q.get("token").cloned();
    }
    let next = {
        let mut subs = stub.subs.lock().unwrap();
        let Some(sub) = subs
            .get_mut(&id)
            .filter(|s| !s.deleted || stub.has(Flaw::DeletedStillAcks))
        else {
            return err(404, "SUBSCRIPTION_NOT_FOUND");
        };
        if act == "claim" {
            if let Some(t) = &stub.service_token {
                let auth = headers.get("authorization").and_then(|h| h.to_str().ok());
                if auth != Some(format!("Bearer {t}").as_str())
                    && !stub.has(Flaw::ClaimIgnoresServiceToken)
                {
                    return err(401, "UNAUTHORIZED");
                }
            }
            if sub.kind != "pull-wake" {
                return err(400, "INVALID_REQUEST");
            }
            let worker = v["worker"].as_str().unwrap_or("").to_string();
            if sub.holder.is_some() && !stub.has(Flaw::ClaimNotExclusive) {
                return err_claimed(sub);
            }
            if !pending(&stub, sub) {
                return err(409, "NO_PENDING_WORK");
            }
            if sub.wake_id.is_none() {
                sub.generation += 1;
                sub.wake_id = Some(format!("w_{}", stub.fresh()));
            }
            sub.holder = Some(worker);
            sub.deadline = Some(Instant::now() + Duration::from_millis(sub.lease_ms));
            sub.snapshot = sub
                .links
                .keys()
                .map(|p| (p.clone(), stub.tail(p)))
                .collect();
            return axum::Json(json!({"wake_id": sub.wake_id, "generation": sub.generation,
                "token": token_for(&stub, sub), "streams": infos(&stub, sub), "lease_ttl_ms": sub.lease_ms}))
            .into_response();
        }
        let kind_ok = match act.as_str() {
            "callback" => sub.kind == "webhook",
            "ack" | "release" => sub.kind == "pull-wake",
            _ => return StatusCode::NOT_FOUND.into_response(),
        };
        if !kind_ok {
            return err(400, "INVALID_REQUEST");
        }
        let fencing = !(act == "callback" && stub.has(Flaw::CallbackNoFencing));
        if let Err(r) = check_token(&stub, sub, token.as_deref(), &v, fencing) {
            return r;
        }
        if act == "release" {
            clear(sub);
            let p = (pending(&stub, sub) && !stub.has(Flaw::ReleaseNoRewake))
                .then(|| first_pending(&stub, sub));
            Err(p)
        } else {
            Ok(ack(&stub, sub, &act, &v))
        }
    };
    match next {
        Err(rewake) => {
            if let Some(s) = rewake {
                new_wake(&stub, &id, &s).await;
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(resp)) => resp,
        Ok(Ok(next)) => {
            let next_wake = next.is_some() && !stub.has(Flaw::DoneNextWakeAlwaysFalse);
            if let Some(s) = next {
                new_wake(&stub, &id, &s).await;
            }
            axum::Json(json!({"ok": true, "next_wake": next_wake})).into_response()
        }
    }
}

/// Apply an ack or callback body; Ok(Some(stream)) when a new wake is due.
fn ack(stub: &Stub, sub: &mut Sub, act: &str, v: &Value) -> Result<Option<String>, Response> {
    for a in v["acks"].as_array().into_iter().flatten() {
        let p = a["stream"].as_str().unwrap_or_default();
        let o = a["offset"].as_str().unwrap_or_default();
        match sub.links.get_mut(p) {
            Some(l) if o >= l.acked.as_str() && o <= stub.tail(p).as_str() => {
                l.acked = o.to_string()
            }
            _ => return Err(err(409, "INVALID_OFFSET")),
        }
    }
    let done = v["done"] == json!(true);
    let no_extend = (act == "ack" && stub.has(Flaw::HeartbeatNoExtend))
        || (act == "callback" && stub.has(Flaw::CallbackNoExtend));
    let extend = !no_extend;
    if !done && extend {
        sub.deadline = Some(Instant::now() + Duration::from_millis(sub.lease_ms));
    }
    if done && !stub.has(Flaw::DoneNoRelease) {
        clear(sub);
    }
    Ok((done && pending(stub, sub) && sub.wake_id.is_none()).then(|| first_pending(stub, sub)))
}

fn token_for(stub: &Stub, sub: &Sub) -> String {
    token(stub, sub)
}

fn err_claimed(sub: &Sub) -> Response {
    (
        StatusCode::CONFLICT,
        axum::Json(json!({"error": {"code": "ALREADY_CLAIMED",
            "current_holder": sub.holder, "generation": sub.generation}})),
    )
        .into_response()
}
