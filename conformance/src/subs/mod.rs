//! Subscriptions (§6–7) seen from outside: the control API under
//! `{stream-root}/__ds/`, the capability probe that decides whether a
//! target implements them at all, the webhook receiver (`receiver`), JWKS
//! signature checks (`jwks`) and the pull-wake model of §7 (`model`).
//! Stream paths in bodies are stream-root-relative (`Ctx::rel`); nothing
//! here assumes an offset format or URL layout beyond the reserved prefix.

pub mod jwks;
pub mod model;
pub mod receiver;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::case::Failure;
use crate::client::{Ctx, Resp};
pub use receiver::{Delivery, Mailbox, Receiver, Reply};

/// Run-wide subscription settings (CLI flags) and what the probe found.
pub struct SubsSettings {
    /// `--webhook-listen`: where the receiver binds (default 127.0.0.1:0).
    pub webhook_listen: Option<SocketAddr>,
    /// `--webhook-public-url`: the receiver's URL as the target sees it.
    pub webhook_public_url: Option<String>,
    /// `--lease-granularity-ms`: slack added to every wait on a server
    /// timer (lease expiry, retry backoff) for targets with coarse timers.
    pub timer_slack: Duration,
    /// `--service-token`: bearer credential for pull-wake claims (§7.2).
    pub service_token: Option<String>,
    pub(crate) capability: tokio::sync::OnceCell<Capability>,
    pub(crate) receiver: tokio::sync::OnceCell<Result<Arc<Receiver>, String>>,
}

impl Default for SubsSettings {
    fn default() -> Self {
        SubsSettings {
            webhook_listen: None,
            webhook_public_url: None,
            timer_slack: Duration::from_millis(400),
            service_token: None,
            capability: tokio::sync::OnceCell::new(),
            receiver: tokio::sync::OnceCell::new(),
        }
    }
}

/// Does the target offer a delivery mechanism?
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Not offered; the reason names what the target answered.
    No(String),
}

/// What the capability probe found.
#[derive(Clone, Debug)]
pub struct Capability {
    pub pull_wake: Support,
    pub webhooks: Support,
}

/// What a case needs from the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The subscription API at all (either delivery type).
    Api,
    PullWake,
    Webhooks,
}

/// A case's verdict when the target lacks what it needs: not a failure of
/// the rule, the group is unimplemented there (a failure only under
/// `--require subscriptions`).
pub fn unimplemented(message: String) -> Failure {
    Failure::unimplemented("subscriptions", message)
}

/// The case's handle on the subscription API, once the target has shown
/// it implements what the case needs.
pub async fn require(ctx: &Ctx, need: Need) -> Result<Subs, Failure> {
    let subs = Subs::new(ctx);
    let cap = ctx
        .target()
        .subs
        .capability
        .get_or_init(|| probe(&subs))
        .await
        .clone();
    let missing = |what: &str, s: &Support| match s {
        Support::Yes => None,
        Support::No(why) => Some(format!("{what}: {why}")),
    };
    let no_api =
        matches!((&cap.pull_wake, &cap.webhooks), (Support::No(a), Support::No(b)) if a == b);
    let lack = match need {
        _ if no_api => missing("subscriptions (§6)", &cap.pull_wake),
        Need::PullWake => missing("pull-wake subscriptions (§7.2)", &cap.pull_wake),
        Need::Webhooks => missing("webhook subscriptions (§7.1)", &cap.webhooks),
        Need::Api => match (&cap.pull_wake, &cap.webhooks) {
            (Support::No(a), Support::No(_)) => Some(format!("subscriptions (§6): {a}")),
            _ => None,
        },
    };
    match lack {
        Some(why) => Err(unimplemented(why)),
        None => Ok(subs),
    }
}

/// Does a status say "no such API" (rather than "bad request")?
fn absent(status: u16) -> bool {
    matches!(status, 404 | 405 | 501)
}

/// One probe per run: a pull-wake and a webhook subscription that match
/// nothing, created and deleted again.
async fn probe(subs: &Subs) -> Capability {
    let ctx = &subs.ctx;
    ctx.note("capability probe: does the target implement §6-7 subscriptions?");
    let wake = "probe-wake";
    let _ = ctx.put(wake).ct("application/json").send().await;
    let none = format!("{}/*", ctx.rel("probe-none"));
    let pull_id = subs.id("probe-pull");
    let pull = subs
        .put(
            &pull_id,
            &json!({"type": "pull-wake", "pattern": none, "wake_stream": ctx.rel(wake)}),
        )
        .await;
    let mut pull_wake = match &pull {
        Ok(r) if absent(r.status) => Support::No(format!(
            "the target answers {} to PUT {}",
            r.status,
            subs.sub_url(&pull_id)
        )),
        Ok(_) => Support::Yes,
        Err(e) => Support::No(format!("the probe got no answer: {e}")),
    };
    if pull.as_ref().is_ok_and(|r| (200..300).contains(&r.status)) {
        // A server without §6 may just have created a stream there.
        let g = subs.get(&pull_id).await;
        let is_sub = g
            .as_ref()
            .ok()
            .and_then(|g| serde_json::from_slice::<Value>(&g.body).ok());
        if !is_sub.is_some_and(|v| v["type"] == json!("pull-wake")) {
            pull_wake = Support::No(format!(
                "PUT {} created something that does not read back as a subscription (an ordinary stream under the reserved __ds prefix?)",
                subs.sub_url(&pull_id)
            ));
        }
    }
    let _ = subs.delete(&pull_id).await;
    if let Support::No(why) = &pull_wake {
        // 404/405/501 on the subscription resource: no API at all.
        return Capability {
            pull_wake: pull_wake.clone(),
            webhooks: Support::No(why.clone()),
        };
    }
    let webhooks = match subs.mailbox().await {
        Err(e) => Support::No(e.message),
        Ok(mb) => {
            let hook_id = subs.id("probe-hook");
            let r = subs
                .put(
                    &hook_id,
                    &json!({"type": "webhook", "pattern": none, "webhook": {"url": mb.url()}}),
                )
                .await;
            let _ = subs.delete(&hook_id).await;
            match r {
                Ok(r) if (200..300).contains(&r.status) => Support::Yes,
                Ok(r) => Support::No(format!(
                    "the target answers {} to a webhook subscription for the harness's receiver {} ({}); \
                     webhooks are disabled there, or it cannot reach the receiver \
                     (see --webhook-listen / --webhook-public-url)",
                    r.status,
                    mb.url(),
                    crate::transcript::preview(&r.body, 160)
                )),
                Err(e) => Support::No(format!("the webhook probe got no answer: {e}")),
            }
        }
    };
    Capability {
        pull_wake,
        webhooks,
    }
}

/// The subscription control API of one case.
#[derive(Clone)]
pub struct Subs {
    pub ctx: Ctx,
    /// `{stream-root}/__ds`.
    base: String,
}

/// A pull-wake subscription a case set up, with its wake stream.
#[derive(Clone, Debug)]
pub struct PullSub {
    pub id: String,
    /// Case-scoped name of the wake stream (`ctx.rel` gives its path).
    pub wake: String,
}

impl Subs {
    pub fn new(ctx: &Ctx) -> Subs {
        let root = ctx.target().root.as_str().trim_end_matches('/');
        Subs {
            ctx: ctx.clone(),
            base: format!("{root}/__ds"),
        }
    }

    /// A subscription id unique to this run and case.
    pub fn id(&self, suffix: &str) -> String {
        let slug: String = self
            .ctx
            .case_id()
            .rsplit("::")
            .next()
            .unwrap_or("case")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("{}-{slug}-{suffix}", self.ctx.run().run_id)
    }

    pub fn sub_url(&self, id: &str) -> String {
        format!("{}/subscriptions/{id}", self.base)
    }
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    fn json_req(&self, method: Method, url: &str, body: &Value) -> crate::client::Req {
        self.ctx
            .request(method, url)
            .ct("application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
    }

    /// PUT a subscription configuration (tracked: deleted at cleanup).
    pub async fn put(&self, id: &str, body: &Value) -> Result<Resp, Failure> {
        self.json_req(Method::PUT, &self.sub_url(id), body)
            .send()
            .await
    }
    pub async fn get(&self, id: &str) -> Result<Resp, Failure> {
        self.ctx
            .request(Method::GET, &self.sub_url(id))
            .send()
            .await
    }
    pub async fn delete(&self, id: &str) -> Result<Resp, Failure> {
        self.ctx
            .request(Method::DELETE, &self.sub_url(id))
            .send()
            .await
    }
    /// POST .../streams with root-relative paths (§6.4).
    pub async fn add_streams(&self, id: &str, paths: &[String]) -> Result<Resp, Failure> {
        let url = format!("{}/streams", self.sub_url(id));
        self.json_req(Method::POST, &url, &json!({ "streams": paths }))
            .send()
            .await
    }
    /// DELETE .../streams/:path, the path URL-encoded as one segment.
    pub async fn remove_stream(&self, id: &str, path: &str) -> Result<Resp, Failure> {
        let url = format!("{}/streams/{}", self.sub_url(id), encode_segment(path));
        self.ctx.request(Method::DELETE, &url).send().await
    }
    /// POST .../claim as `worker`, with the service token if one is set.
    pub async fn claim(&self, id: &str, worker: &str) -> Result<Resp, Failure> {
        let auth = self
            .ctx
            .target()
            .subs
            .service_token
            .as_ref()
            .map(|t| format!("Bearer {t}"));
        self.claim_with(id, worker, auth.as_deref()).await
    }
    /// POST .../claim as `worker` with exactly this `Authorization` value
    /// (None: no such header).
    pub async fn claim_with(
        &self,
        id: &str,
        worker: &str,
        authorization: Option<&str>,
    ) -> Result<Resp, Failure> {
        let url = format!("{}/claim", self.sub_url(id));
        let mut req = self.json_req(Method::POST, &url, &json!({ "worker": worker }));
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        req.send().await
    }
    /// POST .../{action} (ack, release, callback) with a bearer token.
    pub async fn post_token(
        &self,
        id: &str,
        action: &str,
        token: &str,
        body: &Value,
    ) -> Result<Resp, Failure> {
        let url = format!("{}/{action}", self.sub_url(id));
        self.post_url_token(&url, token, body).await
    }
    pub async fn post_url_token(
        &self,
        url: &str,
        token: &str,
        body: &Value,
    ) -> Result<Resp, Failure> {
        self.json_req(Method::POST, url, body)
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
    }
    pub async fn jwks(&self) -> Result<Resp, Failure> {
        self.ctx.request(Method::GET, &self.jwks_url()).send().await
    }

    /// A fresh mailbox on the run's webhook receiver.
    pub async fn mailbox(&self) -> Result<Mailbox, Failure> {
        let target = self.ctx.target();
        let rx = target
            .subs
            .receiver
            .get_or_init(|| async {
                Receiver::start(
                    target.subs.webhook_listen,
                    target.subs.webhook_public_url.clone(),
                )
                .await
                .map(Arc::new)
            })
            .await;
        match rx {
            Ok(r) => Ok(r.mailbox()),
            Err(e) => Err(Failure::setup_error(format!("webhook receiver: {e}"))),
        }
    }

    /// Create a JSON wake stream and a pull-wake subscription over
    /// `streams` (case-scoped names) and/or `pattern` (root-relative);
    /// require 201.
    pub async fn pull(
        &self,
        suffix: &str,
        streams: &[&str],
        pattern: Option<&str>,
        lease_ms: Option<u64>,
    ) -> Result<PullSub, Failure> {
        let wake = format!("wake-{suffix}");
        crate::cases::support::create(&self.ctx, &wake, "application/json", "SUB-CREATE-201")
            .await?;
        let id = self.id(suffix);
        let mut body = json!({"type": "pull-wake", "wake_stream": self.ctx.rel(&wake)});
        if !streams.is_empty() {
            body["streams"] = json!(streams.iter().map(|s| self.ctx.rel(s)).collect::<Vec<_>>());
        }
        if let Some(p) = pattern {
            body["pattern"] = json!(p);
        }
        if let Some(ms) = lease_ms {
            body["lease_ttl_ms"] = json!(ms);
        }
        self.put(&id, &body).await?.expect(201, "SUB-CREATE-201")?;
        Ok(PullSub { id, wake })
    }

    /// The subscription's GET body (200 required).
    pub async fn state(&self, id: &str, req: &str) -> Result<Value, Failure> {
        let r = self.get(id).await?;
        r.expect(200, req)?;
        r.json(req)
    }

    /// The link of `path` (root-relative) in a GET body, if any.
    pub fn link<'a>(state: &'a Value, path: &str) -> Option<&'a Value> {
        state["streams"]
            .as_array()?
            .iter()
            .find(|l| l["path"].as_str() == Some(path))
    }

    /// The wake events in the wake stream so far (§7.2).
    pub async fn wake_events(&self, wake: &str) -> Result<Vec<Value>, Failure> {
        let all = self.ctx.read_all(wake, "-1", "SUB-WAKE-EVENT").await?;
        // A JSON stream reads as one array per chunk; any other content
        // type as the appended JSON texts back to back.
        let mut events = Vec::new();
        for v in serde_json::Deserializer::from_slice(&all.bytes).into_iter::<Value>() {
            match v {
                Ok(Value::Array(items)) => events.extend(items),
                Ok(other) => events.push(other),
                Err(_) => break,
            }
        }
        Ok(events)
    }

    /// Wait until the wake stream holds a wake event of `id` with a
    /// generation above `above`; returns it.
    pub async fn wait_wake(
        &self,
        wake: &str,
        id: &str,
        above: i64,
        within: Duration,
    ) -> Result<Option<Value>, Failure> {
        let deadline = Instant::now() + within;
        loop {
            let events = self.wake_events(wake).await?;
            if let Some(e) = events.into_iter().find(|e| {
                e["subscription_id"].as_str() == Some(id)
                    && e["generation"].as_i64().is_some_and(|g| g > above)
            }) {
                return Ok(Some(e));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How long to wait for something the server does "at once" (a wake
    /// after an append, a delivery): generous on a loaded machine.
    pub fn soon(&self) -> Duration {
        Duration::from_secs(5) + self.ctx.target().subs.timer_slack
    }

    /// Slack on top of a server timer (lease expiry, retry backoff).
    pub fn slack(&self) -> Duration {
        self.ctx.target().subs.timer_slack
    }
}

/// Percent-encode a stream path as one URL path segment (`/` → `%2F`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `error.code` of a JSON error body, if any.
pub fn error_code(r: &Resp) -> Option<String> {
    serde_json::from_slice::<Value>(&r.body)
        .ok()?
        .get("error")?
        .get("code")?
        .as_str()
        .map(str::to_string)
}

/// Is this a 409 FENCED answer (§7.1, §7.2)?
pub fn is_fenced(r: &Resp) -> bool {
    r.status == 409 && error_code(r).as_deref() == Some("FENCED")
}
