//! §6 Reserved Subscription APIs and §7 Subscription Delivery.
//!
//! - `config`: PUT body validation and the normalised configuration hash;
//! - `glob`: `*` / `**` patterns; `ssrf`: webhook URL checks (§12.8);
//! - `record`: subscription state, its records and the one `apply`;
//! - `log`: the durable record log (`--data-dir`);
//! - `signing`: Ed25519 key, JWKS, webhook signatures, tokens;
//! - `adapter`: the only coupling to the stream store;
//! - `delivery`: the background task (lease expiry, webhook delivery with
//!   retries, pull-wake wake events);
//! - `routes`: the HTTP handlers under `{stream-root}/__ds/`.
//!
//! Every operation takes the one state lock, validates against the state,
//! commits records (log write, then `apply`), releases the lock and syncs
//! the log before answering (`finish`, a group commit outside the lock).
//! Nothing slow happens under the lock: fsyncs, webhook requests and
//! wake-stream appends all run outside it. An append that only issues a
//! wake does not wait for any fsync: the wake is synced by the background
//! task before anything is delivered from it, and one lost in a crash is
//! issued again (the work is still pending).

pub mod adapter;
pub mod config;
pub mod delivery;
pub mod glob;
pub mod log;
pub mod record;
pub mod routes;
pub mod signing;
pub mod ssrf;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::sync::{Notify, Semaphore};

use crate::store::offsets::Offset;
use crate::store::Store;
use config::{Invalid, Kind, SubConfig, WebhookPolicy};
use log::SubLog;
use record::{apply, Record, State, Sub};
use signing::{Claims, Keys};

/// What the subscription service is configured with (from `Config`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stream root path without a trailing slash (`""` for `/`).
    pub root: String,
    pub webhooks: bool,
    pub allow_local_webhooks: bool,
    /// Bearer token required by `claim`; `None` accepts any caller.
    pub service_token: Option<String>,
    /// Whole-request limit of one webhook delivery.
    pub webhook_timeout: Duration,
    /// Webhook requests in flight at once, server-wide.
    pub max_deliveries: usize,
    /// Extra PEM root certificates for https webhooks (`--webhook-ca`).
    pub webhook_ca_pem: Option<Vec<u8>>,
}

/// A refusal: status, machine code, reason, and extra `error` members.
#[derive(Debug, Clone)]
pub struct SubError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl SubError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> SubError {
        SubError {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    fn not_found() -> SubError {
        SubError::new(
            StatusCode::NOT_FOUND,
            "SUBSCRIPTION_NOT_FOUND",
            "no such subscription",
        )
    }

    fn fenced(why: &str) -> SubError {
        SubError::new(StatusCode::CONFLICT, "FENCED", format!("stale wake: {why}"))
    }

    fn token(why: &str) -> SubError {
        SubError::new(StatusCode::UNAUTHORIZED, "TOKEN_INVALID", why)
    }

    fn storage() -> SubError {
        SubError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORAGE",
            "the data directory failed; retry later",
        )
    }

    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("code".into(), self.code.into());
        e.insert("message".into(), self.message.clone().into());
        for (k, v) in &self.extra {
            e.insert(k.clone(), v.clone());
        }
        json!({ "error": e })
    }
}

impl From<Invalid> for SubError {
    fn from(i: Invalid) -> SubError {
        SubError::new(StatusCode::BAD_REQUEST, i.code, i.message)
    }
}

/// Whether `given` equals the secret `expected`, in time that depends only
/// on the lengths (no early exit at the first differing byte), so the
/// answer time of a claim does not tell a caller how much of a guessed
/// service token was right (§12.1). The length may show; the token's
/// entropy does not. A fold by hand: one comparison does not need a crate.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let diff = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| std::hint::black_box(acc | (a ^ b)));
    given.len() == expected.len() && diff == 0
}

fn bad(msg: impl Into<String>) -> SubError {
    SubError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", msg)
}

/// Characters escaped in a URL path segment (RFC 3986 pchar).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", B64.encode(rand::random::<[u8; 12]>()))
}

/// One stream of a subscription as responses show it.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub path: String,
    pub explicit: bool,
    pub acked: u64,
    pub tail: u64,
}

impl LinkView {
    fn pending(&self) -> bool {
        self.tail > self.acked
    }

    fn link_type(&self) -> &'static str {
        if self.explicit {
            "explicit"
        } else {
            "glob"
        }
    }

    fn with_tail(&self, tail: u64) -> Value {
        json!({
            "path": self.path,
            "link_type": self.link_type(),
            "acked_offset": Offset(self.acked).to_string(),
            "tail_offset": Offset(tail).to_string(),
            "has_pending": tail > self.acked,
        })
    }
}

/// A parsed callback / ack / release body (§7.1, §7.2).
struct WakeRequest {
    wake_id: String,
    generation: u64,
    acks: Vec<(String, String)>,
    done: bool,
}

fn wake_request(body: &[u8], with_acks: bool) -> Result<WakeRequest, SubError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("body is not valid JSON: {e}")))?;
    let wake_id = v
        .get("wake_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("wake_id (string) is required"))?
        .to_string();
    let generation = v
        .get("generation")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("generation (non-negative integer) is required"))?;
    let mut acks = Vec::new();
    if with_acks {
        match v.get("acks") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for a in items {
                    let stream = a
                        .get("stream")
                        .or_else(|| a.get("path"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("each ack needs a stream (string)"))?;
                    let offset = a
                        .get("offset")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("each ack needs an offset (string)"))?;
                    acks.push((stream.to_string(), offset.to_string()));
                }
            }
            Some(_) => return Err(bad("acks must be an array")),
        }
    }
    let done = match v.get("done") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("done must be a boolean")),
    };
    Ok(WakeRequest {
        wake_id,
        generation,
        acks,
        done,
    })
}

pub(crate) struct Inner {
    state: State,
    log: Option<SubLog>,
    /// Subscriptions with a webhook request in flight, and its wake (at
    /// most one per wake).
    in_flight: HashMap<String, String>,
    /// Wake events waiting to be appended: (wake stream path, event).
    wake_writes: Vec<(String, Value)>,
    /// Wake events whose append failed (e.g. the application has not
    /// created the wake stream yet), retried from this time (unix ms)
    /// while the wake they announce is current and unclaimed.
    wake_retry: Vec<(String, Value, u64)>,
    /// The log failed: nothing more is accepted (a later record could
    /// otherwise depend on one that was not written).
    broken: bool,
}

/// The subscription service of one server.
pub struct Subscriptions {
    settings: Settings,
    keys: Keys,
    inner: Mutex<Inner>,
    /// The number of subscriptions, or one more while a creation scans the
    /// store (see [`Subscriptions::any`]): written under the lock, read
    /// without it, so an append to a server without subscriptions does not
    /// take the lock at all.
    live: AtomicUsize,
    /// How often the state lock was taken (tests: the fast paths take none).
    #[cfg(test)]
    locks: AtomicUsize,
    kick: Notify,
    /// The webhook client, built at the first delivery (building one loads
    /// the system's root certificates: not worth it for a server that never
    /// delivers).
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
    permits: Arc<Semaphore>,
    /// Fsyncs the log outside the lock (`None` in memory).
    syncer: Option<log::Syncer>,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Subscriptions {
    /// Opens the service; with a data directory its log is replayed and the
    /// persisted signing key reused (a new one is created and persisted on
    /// first start).
    pub fn open(settings: Settings, data_dir: Option<&Path>) -> std::io::Result<Subscriptions> {
        let (mut state, mut log) = match data_dir {
            Some(dir) => {
                let (state, log) = SubLog::open(dir)?;
                (state, Some(log))
            }
            None => (State::default(), None),
        };
        let seed = match state
            .signing_seed
            .as_deref()
            .and_then(|s| B64.decode(s).ok())
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
        {
            Some(seed) => seed,
            None => {
                let seed = Keys::random_seed();
                let rec = Record::SigningKey {
                    seed: B64.encode(seed),
                };
                if let Some(log) = log.as_mut() {
                    log.write(std::slice::from_ref(&rec))?;
                    log.sync()?;
                }
                apply(&mut state, &rec);
                seed
            }
        };
        let syncer = log.as_ref().map(SubLog::syncer).transpose()?;
        let keys = Keys::from_seed(seed);
        // Wake events of unclaimed pull-wake wakes are written again after
        // a restart: one lost in a crash (after its wake was logged, before
        // the append) would otherwise leave the workers uninformed.
        let wake_writes = state
            .subs
            .values()
            .filter(|s| s.wake.as_ref().is_some_and(|w| w.holder.is_none()))
            .filter_map(|s| {
                let wake = s.wake.as_ref()?;
                let first = wake
                    .snapshot
                    .iter()
                    .find(|(p, t)| s.links.get(p).is_some_and(|l| *t > l.acked))
                    .or(wake.snapshot.first())?;
                wake_event(&settings.root, s, &first.0, s.generation, now_ms())
            })
            .collect();
        Ok(Subscriptions {
            syncer,
            permits: Arc::new(Semaphore::new(settings.max_deliveries.max(1))),
            settings,
            keys,
            live: AtomicUsize::new(state.subs.len()),
            #[cfg(test)]
            locks: AtomicUsize::new(0),
            inner: Mutex::new(Inner {
                state,
                log,
                in_flight: HashMap::new(),
                wake_writes,
                wake_retry: Vec::new(),
                broken: false,
            }),
            kick: Notify::new(),
            client: std::sync::OnceLock::new(),
        })
    }

    /// The webhook client (see `webhook_client`).
    pub(crate) fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                webhook_client(&self.settings).map_err(|e| {
                    tracing::error!("no webhook client: {e}");
                    e.to_string()
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        #[cfg(test)]
        self.locks.fetch_add(1, Ordering::SeqCst);
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the state (tests, crash checks).
    pub fn state(&self) -> State {
        self.lock().state.clone()
    }

    /// Logs and applies one record.
    fn commit(&self, inner: &mut Inner, rec: Record) -> Result<(), SubError> {
        if inner.broken {
            return Err(SubError::storage());
        }
        if let Some(log) = inner.log.as_mut() {
            if let Err(e) = log.write(std::slice::from_ref(&rec)) {
                tracing::error!("subscriptions log write failed: {e}");
                inner.broken = true;
                return Err(SubError::storage());
            }
        }
        apply(&mut inner.state, &rec);
        self.live.store(inner.state.subs.len(), Ordering::SeqCst);
        Ok(())
    }

    /// Whether a subscription exists or is being created: when not, a
    /// write or a delete has nothing to link, reset or wake, and
    /// `stream_written` / `stream_deleted` return without the lock.
    ///
    /// No write is missed: `create` raises the count before it reads any
    /// stream's tail. A write that reads the count as zero was therefore
    /// stored before the creation read that stream (the store's own lock
    /// orders the two), so the new subscription starts at a tail that
    /// already includes it - exactly as if the write had taken the lock
    /// first.
    pub fn any(&self) -> bool {
        self.live.load(Ordering::SeqCst) != 0
    }

    /// Wakes the background task, releases the lock and makes every
    /// record written so far durable (the operation's own and any it
    /// observed).
    fn finish(&self, inner: MutexGuard<'_, Inner>) -> Result<(), SubError> {
        self.kick.notify_one();
        if inner.broken {
            return Err(SubError::storage());
        }
        let target = inner.log.as_ref().map_or(0, SubLog::written);
        drop(inner);
        self.sync_to(target)
    }

    /// Fsyncs the log up to record `target`, outside the state lock.
    fn sync_to(&self, target: u64) -> Result<(), SubError> {
        let Some(syncer) = &self.syncer else {
            return Ok(());
        };
        if let Err(e) = syncer.sync_to(target) {
            tracing::error!("subscriptions log sync failed: {e}");
            self.lock().broken = true;
            return Err(SubError::storage());
        }
        Ok(())
    }

    fn abs(&self, rel: &str) -> String {
        format!("{}/{rel}", self.settings.root)
    }

    /// The stream-root-relative path of a store path, if it is an
    /// application stream under the root.
    pub fn rel<'a>(&self, abs: &'a str) -> Option<&'a str> {
        let rel = abs.strip_prefix(&self.settings.root)?.strip_prefix('/')?;
        let first = rel.split('/').next()?;
        (!rel.is_empty() && first != "__ds").then_some(rel)
    }

    fn tail(&self, store: &Store, rel: &str) -> u64 {
        adapter::tail(store, &self.abs(rel)).unwrap_or(0)
    }

    fn views(&self, store: &Store, sub: &Sub) -> Vec<LinkView> {
        sub.links
            .iter()
            .map(|(path, l)| LinkView {
                path: path.clone(),
                explicit: l.explicit,
                acked: l.acked,
                tail: self.tail(store, path),
            })
            .collect()
    }

    fn jwks_url(&self, base: &str) -> String {
        format!("{base}{}/__ds/jwks.json", self.settings.root)
    }

    fn action_url(&self, sub: &Sub, action: &str) -> String {
        let id: String = percent_encoding::utf8_percent_encode(&sub.id, SEGMENT).collect();
        format!(
            "{}{}/__ds/subscriptions/{id}/{action}",
            sub.base_url, self.settings.root
        )
    }

    /// The §6.3 representation.
    fn serialize(&self, sub: &Sub, base: &str) -> Value {
        let streams: Vec<Value> = sub
            .links
            .iter()
            .map(|(path, l)| {
                json!({
                    "path": path,
                    "link_type": if l.explicit { "explicit" } else { "glob" },
                    "acked_offset": Offset(l.acked).to_string(),
                })
            })
            .collect();
        let webhook = sub.config.webhook_url.as_ref().map(|url| {
            json!({
                "url": url,
                "signing": {
                    "alg": "ed25519",
                    "kid": self.keys.kid(),
                    "jwks_url": self.jwks_url(base),
                }
            })
        });
        let created = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(sub.created_at_ms) * 1_000_000,
        )
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        });
        json!({
            "id": sub.id,
            "subscription_id": sub.id,
            "type": sub.config.kind.name(),
            "pattern": sub.config.pattern,
            "streams": streams,
            "webhook": webhook,
            "wake_stream": sub.config.wake_stream,
            "lease_ttl_ms": sub.config.lease_ttl_ms,
            "created_at": created,
            "status": if sub.retry.is_some() { "failed" } else { "active" },
            "description": sub.config.description,
        })
    }

    fn policy(&self) -> WebhookPolicy {
        WebhookPolicy {
            enabled: self.settings.webhooks,
            allow_local: self.settings.allow_local_webhooks,
        }
    }

    // ---- §6.2-6.4 ----

    /// §6.2 create or re-confirm: `(created, representation)`.
    pub fn create(
        &self,
        store: &Store,
        id: &str,
        body: &[u8],
        base: &str,
    ) -> Result<(bool, Value), SubError> {
        let parsed = SubConfig::parse(body, self.policy());
        let mut inner = self.lock();
        if let Some(existing) = inner.state.subs.get(id) {
            match &parsed {
                Ok(cfg) if cfg.hash() == existing.hash => {
                    // 200 only once the subscription is durable (its
                    // creation's fsync may still be running).
                    let shown = self.serialize(existing, base);
                    self.finish(inner)?;
                    return Ok((false, shown));
                }
                // Malformed JSON is a 400; any other object differs (409).
                Err(_) if serde_json::from_slice::<Map<String, Value>>(body).is_err() => {
                    return Err(parsed
                        .err()
                        .map(SubError::from)
                        .unwrap_or_else(SubError::storage));
                }
                _ => {}
            }
            return Err(SubError::new(
                StatusCode::CONFLICT,
                "SUBSCRIPTION_ALREADY_EXISTS",
                "a subscription with this id exists with a different configuration",
            ));
        }
        let cfg = parsed?;
        // Before the first tail is read (see `any`); `commit` sets the
        // exact count again, and so does every way out before it.
        self.live.fetch_add(1, Ordering::SeqCst);
        let hash = cfg.hash();
        let mut links = std::collections::BTreeMap::new();
        for path in &cfg.streams {
            links.insert(
                path.clone(),
                record::Link {
                    glob: false,
                    explicit: true,
                    acked: self.tail(store, path),
                },
            );
        }
        if let Some(glob) = cfg.glob() {
            // §6.2 eager backfill at the current tail.
            for abs in adapter::list(store) {
                let Some(rel) = self.rel(&abs) else { continue };
                if !glob.matches(rel) || cfg.wake_channel() == Some(rel) {
                    continue;
                }
                let tail = self.tail(store, rel);
                links
                    .entry(rel.to_string())
                    .or_insert(record::Link {
                        glob: false,
                        explicit: false,
                        acked: tail,
                    })
                    .glob = true;
            }
        }
        let sub = Sub {
            id: id.to_string(),
            incarnation: random_id(""),
            config: cfg,
            hash,
            created_at_ms: now_ms(),
            base_url: base.to_string(),
            links,
            generation: 0,
            wake: None,
            retry: None,
        };
        let shown = self.serialize(&sub, base);
        let committed = self.commit(&mut inner, Record::Created { sub: Box::new(sub) });
        self.live.store(inner.state.subs.len(), Ordering::SeqCst);
        committed?;
        self.finish(inner)?;
        Ok((true, shown))
    }

    pub fn get(&self, id: &str, base: &str) -> Result<Value, SubError> {
        let inner = self.lock();
        let sub = inner.state.subs.get(id).ok_or_else(SubError::not_found)?;
        Ok(self.serialize(sub, base))
    }

    /// §6.3 delete: later callbacks, acks and releases find nothing.
    pub fn delete(&self, id: &str) -> Result<(), SubError> {
        let mut inner = self.lock();
        if !inner.state.subs.contains_key(id) {
            return Err(SubError::not_found());
        }
        self.commit(&mut inner, Record::Deleted { id: id.into() })?;
        inner.in_flight.remove(id);
        self.finish(inner)
    }

    /// §6.4 add explicit links at the current tail (idempotent).
    pub fn add_streams(&self, store: &Store, id: &str, body: &[u8]) -> Result<(), SubError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| bad(format!("body is not valid JSON: {e}")))?;
        let streams = config::stream_list(v.get("streams").unwrap_or(&Value::Null))?;
        let mut inner = self.lock();
        let sub = inner.state.subs.get(id).ok_or_else(SubError::not_found)?;
        if let Some(w) = sub.config.wake_channel() {
            if streams.iter().any(|s| s == w) {
                return Err(bad(
                    "the wake stream cannot be one of the subscription's own streams",
                ));
            }
        }
        let mut records = Vec::new();
        for path in streams {
            if sub.links.get(&path).is_some_and(|l| l.explicit) {
                continue;
            }
            records.push(Record::Linked {
                id: id.into(),
                acked: self.tail(store, &path),
                path,
                explicit: true,
            });
        }
        for r in records {
            self.commit(&mut inner, r)?;
        }
        self.finish(inner)
    }

    /// §6.4 remove an explicit link; a matching glob link stays.
    pub fn remove_stream(&self, store: &Store, id: &str, raw_path: &str) -> Result<(), SubError> {
        let path = config::stream_path(raw_path)?;
        let mut inner = self.lock();
        let sub = inner.state.subs.get(id).ok_or_else(SubError::not_found)?;
        let Some(link) = sub.links.get(&path) else {
            return Ok(());
        };
        if !link.explicit {
            return Ok(());
        }
        let keep_glob = !link.glob
            && sub.config.glob().is_some_and(|g| g.matches(&path))
            && sub.config.wake_channel() != Some(path.as_str())
            && adapter::tail(store, &self.abs(&path)).is_some();
        if keep_glob {
            let rec = Record::Linked {
                id: id.into(),
                path: path.clone(),
                explicit: false,
                acked: link.acked,
            };
            self.commit(&mut inner, rec)?;
        }
        self.commit(
            &mut inner,
            Record::Unlinked {
                id: id.into(),
                path,
                explicit: true,
            },
        )?;
        self.finish(inner)
    }

    // ---- stream events (from the HTTP stream handlers) ----

    /// A stream was created (`created`) or appended to: link it where a
    /// pattern matches (before the data, so it counts as pending) and
    /// wake idle subscriptions with pending work (§6.2, §7).
    pub fn stream_written(&self, store: &Store, abs: &str, created: bool) {
        if !self.any() {
            return;
        }
        let Some(rel) = self.rel(abs) else { return };
        let mut inner = self.lock();
        let ids: Vec<String> = inner.state.subs.keys().cloned().collect();
        let (mut linked, mut woke) = (false, false);
        for id in ids {
            let Some(sub) = inner.state.subs.get(&id) else {
                continue;
            };
            let matched = sub.config.glob().is_some_and(|g| g.matches(rel))
                && sub.config.wake_channel() != Some(rel);
            let link = sub.links.get(rel).cloned();
            let mut records = Vec::new();
            match &link {
                Some(l) => {
                    if created && l.acked != 0 {
                        records.push(Record::Reset {
                            id: id.clone(),
                            path: rel.into(),
                            acked: 0,
                        });
                    }
                    if matched && !l.glob {
                        records.push(Record::Linked {
                            id: id.clone(),
                            path: rel.into(),
                            explicit: false,
                            acked: l.acked,
                        });
                    }
                }
                None if matched => records.push(Record::Linked {
                    id: id.clone(),
                    path: rel.into(),
                    explicit: false,
                    acked: 0,
                }),
                None => continue,
            }
            // Link changes are synced before the append is answered (a
            // lost link would lose the appended data's wake); a wake alone
            // is not waited for (see the module notes).
            linked |= !records.is_empty();
            for r in records {
                if self.commit(&mut inner, r).is_err() {
                    return;
                }
            }
            match self.maybe_wake(&mut inner, store, &id) {
                Ok(w) => woke |= w,
                Err(_) => return,
            }
        }
        if linked {
            let _ = self.finish(inner);
        } else if woke {
            self.kick.notify_one();
        }
    }

    /// A stream was deleted: glob links go, explicit links restart at 0.
    pub fn stream_deleted(&self, abs: &str) {
        if !self.any() {
            return;
        }
        let Some(rel) = self.rel(abs) else { return };
        let mut inner = self.lock();
        let mut records = Vec::new();
        for (id, sub) in &inner.state.subs {
            if let Some(l) = sub.links.get(rel) {
                if l.glob {
                    records.push(Record::Unlinked {
                        id: id.clone(),
                        path: rel.into(),
                        explicit: false,
                    });
                }
                if l.explicit && l.acked != 0 {
                    records.push(Record::Reset {
                        id: id.clone(),
                        path: rel.into(),
                        acked: 0,
                    });
                }
            }
        }
        if records.is_empty() {
            return;
        }
        for r in records {
            if self.commit(&mut inner, r).is_err() {
                return;
            }
        }
        let _ = self.finish(inner);
    }

    // ---- §7 ----

    /// Issues a new wake when the subscription is idle and has pending
    /// work (§7): generation +1, new wake id, snapshot of the tails.
    fn maybe_wake(&self, inner: &mut Inner, store: &Store, id: &str) -> Result<bool, SubError> {
        let Some(sub) = inner.state.subs.get(id) else {
            return Ok(false);
        };
        if sub.wake.is_some() || (sub.config.kind == Kind::Webhook && !self.settings.webhooks) {
            return Ok(false);
        }
        let views = self.views(store, sub);
        let Some(first) = views.iter().find(|v| v.pending()) else {
            return Ok(false);
        };
        let now = now_ms();
        let generation = sub.generation + 1;
        let wake_id = random_id("w_");
        let lease_until_ms =
            (sub.config.kind == Kind::Webhook).then_some(now + sub.config.lease_ttl_ms);
        let event = wake_event(&self.settings.root, sub, &first.path, generation, now);
        let snapshot = views.iter().map(|v| (v.path.clone(), v.tail)).collect();
        self.commit(
            inner,
            Record::Woken {
                id: id.into(),
                generation,
                wake_id,
                snapshot,
                lease_until_ms,
            },
        )?;
        if let Some(e) = event {
            inner.wake_writes.push(e);
        }
        Ok(true)
    }

    /// Token and fencing checks of §7.3 for callback / ack / release.
    fn check_wake(
        &self,
        sub: &Sub,
        token: Option<&str>,
        kind: &str,
        req: &WakeRequest,
    ) -> Result<(), SubError> {
        let token =
            token.ok_or_else(|| SubError::token("Authorization: Bearer <token> is required"))?;
        let claims = self
            .keys
            .check(token)
            .ok_or_else(|| SubError::token("the token is not one this server issued"))?;
        if claims.sub != sub.id || claims.inc != sub.incarnation || claims.kind != kind {
            return Err(SubError::token("the token is not for this subscription"));
        }
        let wake = sub
            .wake
            .as_ref()
            .ok_or_else(|| SubError::fenced("no wake is in flight"))?;
        if claims.gen != sub.generation || claims.wake != wake.id {
            return Err(SubError::fenced("the token is for an earlier wake"));
        }
        if req.generation != sub.generation {
            return Err(SubError::fenced("generation is not the current one"));
        }
        if req.wake_id != wake.id {
            return Err(SubError::fenced("wake_id is not the current wake"));
        }
        if kind == "claim" && wake.holder.is_none() {
            return Err(SubError::fenced("the lease has been released or expired"));
        }
        Ok(())
    }

    /// Validates acks (all or nothing) into positions.
    fn check_acks(
        &self,
        store: &Store,
        sub: &Sub,
        acks: &[(String, String)],
    ) -> Result<Vec<(String, u64)>, SubError> {
        let conflict = |m: String| SubError::new(StatusCode::CONFLICT, "INVALID_OFFSET", m);
        let mut out = Vec::new();
        for (stream, offset) in acks {
            let path = config::stream_path(stream)?;
            let link = sub.links.get(&path).ok_or_else(|| {
                conflict(format!("{path:?} is not a stream of this subscription"))
            })?;
            let pos = Offset::parse(offset)
                .map_err(|_| {
                    bad(format!(
                        "ack offset {offset:?} is not an offset of this server"
                    ))
                })?
                .0;
            if pos < link.acked {
                return Err(conflict(format!(
                    "ack for {path:?} moves its cursor backwards"
                )));
            }
            if pos > self.tail(store, &path) {
                return Err(conflict(format!(
                    "ack for {path:?} is beyond the stream's tail"
                )));
            }
            out.push((path, pos));
        }
        Ok(out)
    }

    /// §7.1 callback and §7.2 ack: apply acks; `done` ends the wake (and
    /// wakes again if work is pending), otherwise the lease is extended.
    pub fn acknowledge(
        &self,
        store: &Store,
        id: &str,
        token: Option<&str>,
        body: &[u8],
        kind: Kind,
    ) -> Result<Value, SubError> {
        let mut inner = self.lock();
        let sub = inner.state.subs.get(id).ok_or_else(SubError::not_found)?;
        if sub.config.kind != kind {
            return Err(bad(format!(
                "this is a {} subscription; use {}",
                sub.config.kind.name(),
                if sub.config.kind == Kind::Webhook {
                    "callback"
                } else {
                    "ack"
                }
            )));
        }
        let token_kind = if kind == Kind::Webhook {
            "callback"
        } else {
            "claim"
        };
        let req = wake_request(body, true);
        // A bad token is refused before the body is judged.
        let req = match req {
            Ok(r) => r,
            Err(e) => {
                let probe = WakeRequest {
                    wake_id: String::new(),
                    generation: 0,
                    acks: vec![],
                    done: false,
                };
                if let Err(t) = self.check_wake(sub, token, token_kind, &probe) {
                    if t.status == StatusCode::UNAUTHORIZED {
                        return Err(t);
                    }
                }
                return Err(e);
            }
        };
        self.check_wake(sub, token, token_kind, &req)?;
        let acks = self.check_acks(store, sub, &req.acks)?;
        let ttl = sub.config.lease_ttl_ms;
        if !acks.is_empty() {
            self.commit(
                &mut inner,
                Record::Acked {
                    id: id.into(),
                    acks,
                },
            )?;
        }
        let mut next_wake = false;
        if req.done {
            self.commit(&mut inner, Record::Finished { id: id.into() })?;
            next_wake = self.maybe_wake(&mut inner, store, id)?;
        } else {
            self.commit(
                &mut inner,
                Record::LeaseExtended {
                    id: id.into(),
                    lease_until_ms: now_ms() + ttl,
                },
            )?;
        }
        self.finish(inner)?;
        Ok(json!({ "ok": true, "next_wake": next_wake }))
    }

    /// §7.2 release: ends the wake without acking; wakes again if pending.
    pub fn release(
        &self,
        store: &Store,
        id: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<(), SubError> {
        let mut inner = self.lock();
        let sub = inner.state.subs.get(id).ok_or_else(SubError::not_found)?;
        if sub.config.kind != Kind::PullWake {
            return Err(bad("release is for pull-wake subscriptions"));
        }
        let req = wake_request(body, false)?;
        self.check_wake(sub, token, "claim", &req)?;
        self.commit(&mut inner, Record::Finished { id: id.into() })?;
        self.maybe_wake(&mut inner, store, id)?;
        self.finish(inner)
    }

    /// §7.2 claim: the caller becomes the lease holder of the current wake
    /// (one is issued if work is pending and none is in flight).
    pub fn claim(
        &self,
        store: &Store,
        id: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Value, SubError> {
        if let Some(expected) = &self.settings.service_token {
            if !authorization.is_some_and(|a| same_secret(a.as_bytes(), expected.as_bytes())) {
                return Err(SubError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "claim needs Authorization: Bearer <service token>",
                ));
            }
        }
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| bad(format!("body is not valid JSON: {e}")))?;
        let worker = v
            .get("worker")
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty() && w.len() <= 256)
            .ok_or_else(|| bad("worker must be a non-empty string (at most 256 bytes)"))?
            .to_string();
        let mut inner = self.lock();
        let sub = inner.state.subs.get(id).ok_or_else(SubError::not_found)?;
        if sub.config.kind != Kind::PullWake {
            return Err(bad("claim is for pull-wake subscriptions"));
        }
        if let Some(holder) = sub.wake.as_ref().and_then(|w| w.holder.clone()) {
            let mut e = SubError::new(
                StatusCode::CONFLICT,
                "ALREADY_CLAIMED",
                "another worker holds the lease",
            );
            e.extra.insert("current_holder".into(), holder.into());
            e.extra.insert("generation".into(), sub.generation.into());
            return Err(e);
        }
        if sub.wake.is_none() && !self.maybe_wake(&mut inner, store, id)? {
            return Err(SubError::new(
                StatusCode::CONFLICT,
                "NO_PENDING_WORK",
                "the subscription has no pending work",
            ));
        }
        let ttl = inner.state.subs[id].config.lease_ttl_ms;
        self.commit(
            &mut inner,
            Record::Claimed {
                id: id.into(),
                holder: worker,
                lease_until_ms: now_ms() + ttl,
            },
        )?;
        let sub = &inner.state.subs[id];
        let wake = sub.wake.as_ref().ok_or_else(SubError::storage)?;
        let token = self.keys.mint(&Claims {
            sub: sub.id.clone(),
            inc: sub.incarnation.clone(),
            gen: sub.generation,
            wake: wake.id.clone(),
            kind: "claim".into(),
        });
        let streams: Vec<Value> = self
            .views(store, sub)
            .iter()
            .map(|v| v.with_tail(v.tail))
            .collect();
        let answer = json!({
            "wake_id": wake.id,
            "generation": sub.generation,
            "token": token,
            "streams": streams,
            "lease_ttl_ms": sub.config.lease_ttl_ms,
        });
        self.finish(inner)?;
        Ok(answer)
    }
}

/// The §7.2 wake event of a pull-wake subscription's wake `generation`
/// and where it goes: `(absolute wake stream path, event)`.
fn wake_event(
    root: &str,
    sub: &Sub,
    stream: &str,
    generation: u64,
    now: u64,
) -> Option<(String, Value)> {
    let w = sub.config.wake_channel()?;
    Some((
        format!("{root}/{w}"),
        json!({
            "type": "wake",
            "subscription_id": sub.id,
            "stream": stream,
            "generation": generation,
            "ts": now,
        }),
    ))
}

/// The webhook HTTP client (§7.1): https through rustls with the system's
/// root certificates plus `--webhook-ca`; every host name resolved and
/// checked at connect time (§12.8, `ssrf::CheckedResolver`); no redirects;
/// bounded by the webhook timeout. Without system roots (a bare container)
/// only `--webhook-ca` roots are trusted, and a warning says so.
fn webhook_client(settings: &Settings) -> std::io::Result<reqwest::Client> {
    let extra = match &settings.webhook_ca_pem {
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem).map_err(std::io::Error::other)?,
        None => Vec::new(),
    };
    let builder = || {
        reqwest::Client::builder()
            .timeout(settings.webhook_timeout)
            .connect_timeout(settings.webhook_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(ssrf::CheckedResolver {
                allow_local: settings.allow_local_webhooks,
            }))
    };
    match builder().tls_certs_merge(extra.clone()).build() {
        Ok(c) => Ok(c),
        Err(e) => {
            tracing::warn!(
                "no system root certificates ({e}); https webhooks trust only --webhook-ca"
            );
            builder()
                .tls_certs_only(extra)
                .build()
                .map_err(std::io::Error::other)
        }
    }
}

/// §7.1 retry delay before attempt `count` (1-based): 1 s doubling to
/// 60 s, ±20% jitter.
pub fn backoff_ms(count: u32, jitter: f64) -> u64 {
    let base = 1000u64
        .saturating_mul(1u64 << count.saturating_sub(1).min(16))
        .min(60_000) as f64;
    (base * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0))).round() as u64
}

#[cfg(test)]
mod tests;
