//! §6.2 subscription configuration: parsing and validation of the PUT body,
//! stream-path normalisation, and the hash of the normalised configuration
//! that decides between 200 (re-confirmed) and 409 (different).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::glob::Glob;
use super::ssrf;

pub const DEFAULT_LEASE_TTL_MS: u64 = 30_000;
pub const MIN_LEASE_TTL_MS: u64 = 1_000;
pub const MAX_LEASE_TTL_MS: u64 = 600_000;
const MAX_PATH_BYTES: usize = 1024;
const MAX_ID_BYTES: usize = 256;
const MAX_DESCRIPTION_BYTES: usize = 4096;
const MAX_STREAMS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Webhook,
    PullWake,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::PullWake => "pull-wake",
        }
    }
}

/// A validated, normalised subscription configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubConfig {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub pattern: Option<String>,
    /// Explicit streams: normalised, deduplicated, sorted.
    pub streams: Vec<String>,
    pub webhook_url: Option<String>,
    pub wake_stream: Option<String>,
    pub lease_ttl_ms: u64,
    pub description: Option<String>,
}

/// Why a request was refused: `(code, message)`, answered as a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid {
        code: "INVALID_REQUEST",
        message: message.into(),
    }
}

/// What the server allows for webhooks.
#[derive(Debug, Clone, Copy)]
pub struct WebhookPolicy {
    pub enabled: bool,
    pub allow_local: bool,
}

impl SubConfig {
    /// Validates a PUT body (§6.2).
    pub fn parse(body: &[u8], policy: WebhookPolicy) -> Result<SubConfig, Invalid> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("body is not valid JSON: {e}")))?;
        let Value::Object(o) = v else {
            return Err(invalid("body must be a JSON object"));
        };
        let kind = match o.get("type") {
            Some(Value::String(s)) if s == "webhook" => Kind::Webhook,
            Some(Value::String(s)) if s == "pull-wake" => Kind::PullWake,
            Some(_) => return Err(invalid("type must be \"webhook\" or \"pull-wake\"")),
            None => return Err(invalid("type is required (\"webhook\" or \"pull-wake\")")),
        };
        let pattern = match o.get("pattern") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => {
                let p = normalise(p);
                Glob::parse(&p).map_err(|e| invalid(format!("bad pattern: {e}")))?;
                Some(p)
            }
            Some(_) => return Err(invalid("pattern must be a string")),
        };
        let mut streams = match o.get("streams") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => stream_list(v)?,
        };
        streams.sort();
        streams.dedup();
        if pattern.is_none() && streams.is_empty() {
            return Err(invalid("at least one of pattern or streams is required"));
        }
        let lease_ttl_ms = match o.get("lease_ttl_ms") {
            None | Some(Value::Null) => DEFAULT_LEASE_TTL_MS,
            Some(v) => v
                .as_u64()
                .filter(|n| (MIN_LEASE_TTL_MS..=MAX_LEASE_TTL_MS).contains(n))
                .ok_or_else(|| {
                    invalid("lease_ttl_ms must be an integer from 1000 to 600000 (1 s to 10 min)")
                })?,
        };
        let description = match o.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) if d.len() <= MAX_DESCRIPTION_BYTES => Some(d.clone()),
            Some(Value::String(_)) => return Err(invalid("description is too long")),
            Some(_) => return Err(invalid("description must be a string")),
        };
        let mut webhook_url = None;
        let wake_stream;
        match kind {
            Kind::Webhook => {
                if !policy.enabled {
                    return Err(Invalid {
                        code: "WEBHOOKS_DISABLED",
                        message: "webhook subscriptions are off on this server \
                                  (start it with --webhooks)"
                            .into(),
                    });
                }
                let url = o
                    .get("webhook")
                    .and_then(|w| w.get("url"))
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| invalid("webhook subscriptions require webhook.url"))?;
                ssrf::check(url, policy.allow_local).map_err(|message| Invalid {
                    code: "WEBHOOK_URL_REJECTED",
                    message,
                })?;
                webhook_url = Some(url.to_string());
                // §6.2's own example gives a webhook subscription a
                // wake_stream: accepted (validated, part of the hash and
                // shown by GET) and not used: webhooks are the wake channel.
                wake_stream = match o.get("wake_stream") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(w)) => Some(stream_path(w)?),
                    Some(_) => return Err(invalid("wake_stream must be a string")),
                };
            }
            Kind::PullWake => {
                let w = match o.get("wake_stream") {
                    Some(Value::String(w)) => stream_path(w)?,
                    _ => return Err(invalid("pull-wake subscriptions require wake_stream")),
                };
                if streams.contains(&w) {
                    return Err(invalid(
                        "the wake stream cannot be one of the subscription's own streams",
                    ));
                }
                wake_stream = Some(w);
                if o.get("webhook").is_some_and(|w| !w.is_null()) {
                    return Err(invalid("webhook is for webhook subscriptions"));
                }
            }
        }
        Ok(SubConfig {
            kind,
            pattern,
            streams,
            webhook_url,
            wake_stream,
            lease_ttl_ms,
            description,
        })
    }

    /// SHA-256 of the canonical JSON of the normalised configuration
    /// (type, pattern, streams, delivery, lease_ttl_ms, description).
    pub fn hash(&self) -> String {
        let canonical = serde_json::json!({
            "type": self.kind.name(),
            "pattern": self.pattern,
            "streams": self.streams,
            "webhook": self.webhook_url.as_ref().map(|u| serde_json::json!({"url": u})),
            "wake_stream": self.wake_stream,
            "lease_ttl_ms": self.lease_ttl_ms,
            "description": self.description,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The stream wake events are written to: pull-wake only (a webhook
    /// subscription's `wake_stream` is accepted and unused).
    pub fn wake_channel(&self) -> Option<&str> {
        match self.kind {
            Kind::PullWake => self.wake_stream.as_deref(),
            Kind::Webhook => None,
        }
    }

    pub fn glob(&self) -> Option<Glob> {
        self.pattern.as_deref().and_then(|p| Glob::parse(p).ok())
    }
}

/// Strips leading and trailing slashes.
pub fn normalise(p: &str) -> String {
    p.trim_matches('/').to_string()
}

/// A stream-root-relative stream path from a request body or URL.
pub fn stream_path(raw: &str) -> Result<String, Invalid> {
    let p = normalise(raw);
    if p.is_empty() {
        return Err(invalid("stream paths must not be empty"));
    }
    if p.len() > MAX_PATH_BYTES {
        return Err(invalid("stream path is too long"));
    }
    if p.chars().any(char::is_control) {
        return Err(invalid("stream paths must not contain control characters"));
    }
    for seg in p.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(invalid(format!(
                "stream path {p:?} has an empty or dot segment"
            )));
        }
    }
    if p.split('/').next() == Some("__ds") {
        return Err(invalid("stream paths under __ds are reserved (§6)"));
    }
    Ok(p)
}

/// `streams: [..]` of a PUT or of `POST …/streams`.
pub fn stream_list(v: &Value) -> Result<Vec<String>, Invalid> {
    let Value::Array(items) = v else {
        return Err(invalid("streams must be an array of stream paths"));
    };
    if items.len() > MAX_STREAMS {
        return Err(invalid(format!(
            "at most {MAX_STREAMS} streams per request"
        )));
    }
    items
        .iter()
        .map(|s| match s {
            Value::String(s) => stream_path(s),
            _ => Err(invalid("streams must contain only strings")),
        })
        .collect()
}

/// A subscription id from the URL (percent-decoded).
pub fn subscription_id(raw: &str) -> Result<String, Invalid> {
    if raw.is_empty() {
        return Err(invalid("subscription id must not be empty"));
    }
    if raw.len() > MAX_ID_BYTES {
        return Err(invalid("subscription id is too long"));
    }
    if raw.chars().any(char::is_control) || raw.contains('/') {
        return Err(invalid("subscription id has a control character or slash"));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: WebhookPolicy = WebhookPolicy {
        enabled: true,
        allow_local: false,
    };

    fn parse(s: &str) -> Result<SubConfig, Invalid> {
        SubConfig::parse(s.as_bytes(), ON)
    }

    #[test]
    fn defaults_and_normalisation_give_one_hash() {
        let a = parse(
            r#"{"type":"webhook","pattern":"/events/*/","streams":["b","/a","b"],
                "webhook":{"url":"https://w.example/h"}}"#,
        )
        .unwrap();
        let b = parse(
            r#"{"type":"webhook","pattern":"events/*","streams":["a","b"],
                "webhook":{"url":"https://w.example/h"},"lease_ttl_ms":30000}"#,
        )
        .unwrap();
        assert_eq!(a.lease_ttl_ms, 30_000);
        assert_eq!(a.streams, vec!["a", "b"]);
        assert_eq!(a.hash(), b.hash());
        let c = parse(
            r#"{"type":"webhook","pattern":"events/*","streams":["a","b"],
                "webhook":{"url":"https://w.example/h"},"description":"x"}"#,
        )
        .unwrap();
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn the_spec_example_with_a_webhook_and_a_wake_stream_is_accepted() {
        // §6.2's example body, verbatim: wake_stream kept for the hash and
        // GET, never used as a wake channel for a webhook subscription.
        let ex = parse(
            r#"{"type":"webhook","pattern":"events/*","streams":["events/manual-a","events/manual-b"],
                "webhook":{"url":"https://worker.example/hooks"},"wake_stream":"wake/pool",
                "lease_ttl_ms":30000,"description":"event processor"}"#,
        )
        .unwrap();
        assert_eq!(ex.wake_stream.as_deref(), Some("wake/pool"));
        assert_eq!(ex.wake_channel(), None);
        let without = parse(
            r#"{"type":"webhook","pattern":"events/*","streams":["events/manual-a","events/manual-b"],
                "webhook":{"url":"https://worker.example/hooks"},
                "lease_ttl_ms":30000,"description":"event processor"}"#,
        )
        .unwrap();
        assert_ne!(ex.hash(), without.hash());
        assert!(parse(
            r#"{"type":"webhook","pattern":"a","webhook":{"url":"https://w.example"},"wake_stream":7}"#
        )
        .is_err());
    }

    #[test]
    fn each_field_is_validated() {
        let cases = [
            "nope",
            "[]",
            r#"{"pattern":"a/*","webhook":{"url":"https://w.example"}}"#,
            r#"{"type":"poll","pattern":"a"}"#,
            r#"{"type":"pull-wake","wake_stream":"w"}"#,
            r#"{"type":"pull-wake","pattern":"a","wake_stream":"w","lease_ttl_ms":999}"#,
            r#"{"type":"pull-wake","pattern":"a","wake_stream":"w","lease_ttl_ms":600001}"#,
            r#"{"type":"pull-wake","pattern":"a","wake_stream":"w","lease_ttl_ms":1.5}"#,
            r#"{"type":"pull-wake","pattern":"a"}"#,
            r#"{"type":"webhook","pattern":"a"}"#,
            r#"{"type":"pull-wake","pattern":"a*b","wake_stream":"w"}"#,
            r#"{"type":"pull-wake","streams":[3],"wake_stream":"w"}"#,
            r#"{"type":"pull-wake","streams":["__ds/x"],"wake_stream":"w"}"#,
            r#"{"type":"pull-wake","streams":["a/../b"],"wake_stream":"w"}"#,
            r#"{"type":"pull-wake","streams":["w"],"wake_stream":"w"}"#,
        ];
        for c in cases {
            assert!(parse(c).is_err(), "{c} was accepted");
        }
        let ok =
            parse(r#"{"type":"pull-wake","pattern":"a","wake_stream":"w","lease_ttl_ms":1000}"#);
        assert_eq!(ok.unwrap().lease_ttl_ms, 1000);
    }

    #[test]
    fn webhook_policy_applies() {
        let body = br#"{"type":"webhook","pattern":"a","webhook":{"url":"http://127.0.0.1:9/h"}}"#;
        let off = WebhookPolicy {
            enabled: false,
            allow_local: true,
        };
        assert_eq!(
            SubConfig::parse(body, off).unwrap_err().code,
            "WEBHOOKS_DISABLED"
        );
        assert_eq!(
            SubConfig::parse(body, ON).unwrap_err().code,
            "WEBHOOK_URL_REJECTED"
        );
        let dev = WebhookPolicy {
            enabled: true,
            allow_local: true,
        };
        assert!(SubConfig::parse(body, dev).is_ok());
    }
}
