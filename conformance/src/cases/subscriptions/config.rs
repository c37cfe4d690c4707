//! Creating, re-confirming, reading and deleting subscriptions (§6, §6.2,
//! §6.3): 201/200/409, validation 400s, GET fields, DELETE, the reserved
//! prefix, and no shared secret in any answer.

use serde_json::{json, Value};

use super::util::link_paths;
use crate::case::{case, register, CaseResult};
use crate::cases::support::create;
use crate::client::Ctx;
use crate::subs::{require, Need};
use crate::{check, check_eq, fail};

/// A fresh pull-wake subscription reads back with every documented field
/// and the 30 s default lease.
#[case(
    "SUB-CREATE-201",
    "SUB-GET-FIELDS",
    "SUB-LEASE-DEFAULT",
    "SUB-LINK-FIELDS"
)]
pub async fn create_201_and_get_fields(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    create(&ctx, "a", "text/plain", "SUB-CREATE-201").await?;
    create(&ctx, "wake", "application/json", "SUB-CREATE-201").await?;
    let id = s.id("s");
    let body = json!({"type": "pull-wake", "streams": [ctx.rel("a")],
        "wake_stream": ctx.rel("wake"), "description": "harness"});
    s.put(&id, &body).await?.expect(201, "SUB-CREATE-201")?;
    let st = s.state(&id, "SUB-GET-FIELDS").await?;
    check_eq!(st["id"], json!(id), "SUB-GET-FIELDS", "id");
    check_eq!(
        st["subscription_id"],
        json!(id),
        "SUB-GET-FIELDS",
        "subscription_id"
    );
    check_eq!(st["type"], json!("pull-wake"), "SUB-GET-FIELDS", "type");
    check_eq!(
        st["wake_stream"],
        json!(ctx.rel("wake")),
        "SUB-GET-FIELDS",
        "wake_stream"
    );
    check_eq!(
        st["description"],
        json!("harness"),
        "SUB-GET-FIELDS",
        "description"
    );
    check_eq!(st["status"], json!("active"), "SUB-GET-FIELDS", "status");
    check_eq!(
        st["lease_ttl_ms"],
        json!(30000),
        "SUB-LEASE-DEFAULT",
        "lease_ttl_ms when omitted"
    );
    let created = st["created_at"].as_str().unwrap_or_default();
    check!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "SUB-GET-FIELDS",
        "created_at is not an RFC 3339 timestamp: {st}"
    );
    check!(
        st["pattern"].is_null(),
        "SUB-GET-FIELDS",
        "pattern was not given but reads back as {}",
        st["pattern"]
    );
    check_eq!(
        link_paths(&st),
        vec![ctx.rel("a")],
        "SUB-LINK-FIELDS",
        "links"
    );
    let link = &st["streams"][0];
    check_eq!(
        link["link_type"],
        json!("explicit"),
        "SUB-LINK-FIELDS",
        "link_type of a streams[] link"
    );
    check!(
        link["acked_offset"].is_string(),
        "SUB-LINK-FIELDS",
        "link lacks acked_offset: {link}"
    );
    Ok(())
}

/// The same configuration again is 200, also with `streams[]` reordered.
#[case("SUB-RECONFIRM-200")]
pub async fn reconfirm_identical_is_200(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    for n in ["a", "b"] {
        create(&ctx, n, "text/plain", "SUB-CREATE-201").await?;
    }
    create(&ctx, "wake", "application/json", "SUB-CREATE-201").await?;
    let id = s.id("s");
    let cfg = |streams: [&str; 2]| {
        json!({"type": "pull-wake", "pattern": format!("{}/*", ctx.rel("none")),
            "streams": streams.map(|n| ctx.rel(n)), "wake_stream": ctx.rel("wake"),
            "lease_ttl_ms": 5000, "description": "same"})
    };
    s.put(&id, &cfg(["a", "b"]))
        .await?
        .expect(201, "SUB-CREATE-201")?;
    s.put(&id, &cfg(["a", "b"]))
        .await?
        .expect(200, "SUB-RECONFIRM-200")?;
    s.put(&id, &cfg(["b", "a"]))
        .await?
        .expect(200, "SUB-RECONFIRM-200")?;
    let st = s.state(&id, "SUB-RECONFIRM-200").await?;
    check_eq!(
        link_paths(&st),
        vec![ctx.rel("a"), ctx.rel("b")],
        "SUB-RECONFIRM-200",
        "links after re-confirming"
    );
    Ok(())
}

/// Changing any one field of an existing subscription is 409, and the
/// stored configuration stays as it was.
#[case("SUB-CONFIG-CONFLICT-409")]
pub async fn changed_field_is_409(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    for n in ["a", "b"] {
        create(&ctx, n, "text/plain", "SUB-CREATE-201").await?;
    }
    for n in ["wake", "wake2"] {
        create(&ctx, n, "application/json", "SUB-CREATE-201").await?;
    }
    let id = s.id("s");
    let base = json!({"type": "pull-wake", "pattern": format!("{}/*", ctx.rel("p")),
        "streams": [ctx.rel("a")], "wake_stream": ctx.rel("wake"),
        "lease_ttl_ms": 5000, "description": "first"});
    s.put(&id, &base).await?.expect(201, "SUB-CREATE-201")?;
    let mut variants: Vec<(&str, Value)> = Vec::new();
    let mut with = |what: &'static str, f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        variants.push((what, v));
    };
    with("pattern", &|v| {
        v["pattern"] = json!(format!("{}/*", ctx.rel("q")))
    });
    with("pattern removed", &|v| {
        v.as_object_mut().map(|o| o.remove("pattern"));
    });
    with("a stream added", &|v| {
        v["streams"] = json!([ctx.rel("a"), ctx.rel("b")])
    });
    with("streams replaced", &|v| {
        v["streams"] = json!([ctx.rel("b")])
    });
    with("wake_stream", &|v| {
        v["wake_stream"] = json!(ctx.rel("wake2"))
    });
    with("lease_ttl_ms", &|v| v["lease_ttl_ms"] = json!(6000));
    with("lease_ttl_ms omitted (default 30000)", &|v| {
        v.as_object_mut().map(|o| o.remove("lease_ttl_ms"));
    });
    with("description", &|v| v["description"] = json!("second"));
    with("description removed", &|v| {
        v.as_object_mut().map(|o| o.remove("description"));
    });
    if require(&ctx, Need::Webhooks).await.is_ok() {
        let mb = s.mailbox().await?;
        let url = mb.url();
        with("type webhook", &|v| {
            v["type"] = json!("webhook");
            v["webhook"] = json!({ "url": url });
            v.as_object_mut().map(|o| o.remove("wake_stream"));
        });
    }
    for (what, v) in variants {
        let r = s.put(&id, &v).await?;
        check!(
            r.status == 409,
            "SUB-CONFIG-CONFLICT-409",
            "re-PUT with {what} changed: expected 409, got {} ({})",
            r.status,
            r.text()
        );
    }
    let st = s.state(&id, "SUB-CONFIG-CONFLICT-409").await?;
    check_eq!(
        st["lease_ttl_ms"],
        json!(5000),
        "SUB-CONFIG-CONFLICT-409",
        "stored lease after refused changes"
    );
    check_eq!(
        st["description"],
        json!("first"),
        "SUB-CONFIG-CONFLICT-409",
        "stored description after refused changes"
    );
    Ok(())
}

/// Invalid configurations are 400 and create nothing; the lease bounds
/// themselves (1 s and 10 min) are accepted.
#[case("SUB-CREATE-VALIDATION")]
pub async fn invalid_config_is_400(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    create(&ctx, "wake", "application/json", "SUB-CREATE-201").await?;
    let wake = ctx.rel("wake");
    let pat = format!("{}/*", ctx.rel("none"));
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("no type", json!({"pattern": pat, "wake_stream": wake})),
        ("unknown type", json!({"type": "carrier-pigeon", "pattern": pat, "wake_stream": wake})),
        ("neither pattern nor streams", json!({"type": "pull-wake", "wake_stream": wake})),
        ("empty streams, no pattern", json!({"type": "pull-wake", "streams": [], "wake_stream": wake})),
        ("lease_ttl_ms 999", json!({"type": "pull-wake", "pattern": pat, "wake_stream": wake, "lease_ttl_ms": 999})),
        ("lease_ttl_ms 0", json!({"type": "pull-wake", "pattern": pat, "wake_stream": wake, "lease_ttl_ms": 0})),
        ("lease_ttl_ms 600001", json!({"type": "pull-wake", "pattern": pat, "wake_stream": wake, "lease_ttl_ms": 600001})),
        ("lease_ttl_ms a string", json!({"type": "pull-wake", "pattern": pat, "wake_stream": wake, "lease_ttl_ms": "5000"})),
        ("pull-wake without wake_stream", json!({"type": "pull-wake", "pattern": pat})),
        ("webhook without webhook", json!({"type": "webhook", "pattern": pat})),
        ("webhook without url", json!({"type": "webhook", "pattern": pat, "webhook": {}})),
    ]
    .into_iter()
    .map(|(w, v)| (w, serde_json::to_vec(&v).unwrap_or_default()))
    .chain([("a body that is not JSON", b"{\"type\": \"pull-wake\",".to_vec())])
    .collect();
    for (i, (what, body)) in bad.into_iter().enumerate() {
        let id = s.id(&format!("bad{i}"));
        let r = ctx
            .request(reqwest::Method::PUT, &s.sub_url(&id))
            .ct("application/json")
            .body(body)
            .send()
            .await?;
        check!(
            matches!(r.status, 400 | 422),
            "SUB-CREATE-VALIDATION",
            "{what}: expected 400, got {} ({})",
            r.status,
            r.text()
        );
        let g = s.get(&id).await?;
        check!(
            g.status == 404,
            "SUB-CREATE-VALIDATION",
            "{what}: the refused PUT left a subscription behind (GET {})",
            g.status
        );
    }
    for (i, ms) in [1000, 600000].into_iter().enumerate() {
        let id = s.id(&format!("edge{i}"));
        let r = s
            .put(&id, &json!({"type": "pull-wake", "pattern": pat, "wake_stream": wake, "lease_ttl_ms": ms}))
            .await?;
        check!(
            r.status == 201,
            "SUB-CREATE-VALIDATION",
            "lease_ttl_ms {ms} is within 1 s..10 min but got {} ({})",
            r.status,
            r.text()
        );
    }
    Ok(())
}

/// DELETE is 204, the subscription is gone, and the id can be reused.
#[case("SUB-DELETE-204")]
pub async fn delete_is_204_and_id_reusable(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::PullWake).await?;
    create(&ctx, "wake", "application/json", "SUB-CREATE-201").await?;
    let id = s.id("s");
    let cfg = json!({"type": "pull-wake", "pattern": format!("{}/*", ctx.rel("x")), "wake_stream": ctx.rel("wake")});
    s.put(&id, &cfg).await?.expect(201, "SUB-CREATE-201")?;
    s.delete(&id).await?.expect(204, "SUB-DELETE-204")?;
    let g = s.get(&id).await?;
    check!(
        g.status == 404,
        "SUB-DELETE-204",
        "GET after DELETE: expected 404, got {}",
        g.status
    );
    let cfg2 = json!({"type": "pull-wake", "pattern": format!("{}/*", ctx.rel("y")), "wake_stream": ctx.rel("wake")});
    let r = s.put(&id, &cfg2).await?;
    check!(
        r.status == 201,
        "SUB-DELETE-204",
        "re-creating a deleted id with another configuration: expected 201, got {} ({})",
        r.status,
        r.text()
    );
    Ok(())
}

/// Paths whose first root-relative segment is `__ds` are control routes,
/// never application streams.
#[case("SUB-RESERVED-PREFIX")]
pub async fn reserved_prefix_is_not_a_stream(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Api).await?;
    let root = ctx.target().root.as_str().trim_end_matches('/').to_string();
    let url = format!("{root}/__ds/{}-not-a-stream", ctx.run().run_id);
    let r = ctx
        .request(reqwest::Method::PUT, &url)
        .ct("text/plain")
        .body("x")
        .send()
        .await?;
    check!(
        !(200..300).contains(&r.status),
        "SUB-RESERVED-PREFIX",
        "PUT {url} created an application stream under the reserved prefix ({})",
        r.status
    );
    let g = s.get(&s.id("never-created")).await?;
    check!(
        g.status == 404,
        "SUB-RESERVED-PREFIX",
        "GET of an unknown subscription: expected 404, got {}",
        g.status
    );
    Ok(())
}

/// No answer about a webhook subscription carries a shared signing
/// secret; signing metadata, if present, names a key of the JWK Set.
#[case("SUB-NO-SHARED-SECRET", "SUB-SIGNING-METADATA", "SUB-GET-FIELDS")]
pub async fn webhook_answers_carry_no_secret(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    let mb = s.mailbox().await?;
    let id = s.id("s");
    let put = s
        .put(&id, &json!({"type": "webhook", "pattern": format!("{}/*", ctx.rel("x")), "webhook": {"url": mb.url()}}))
        .await?;
    put.expect(201, "SUB-CREATE-201")?;
    let get = s.get(&id).await?;
    get.expect(200, "SUB-GET-FIELDS")?;
    for r in [&put, &get] {
        if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
            if let Some(p) = secret_at(&v, "$") {
                fail!(
                    "SUB-NO-SHARED-SECRET",
                    "the answer carries a secret at {p}: {v}"
                );
            }
        }
    }
    let st = get.json("SUB-GET-FIELDS")?;
    check_eq!(st["type"], json!("webhook"), "SUB-GET-FIELDS", "type");
    check_eq!(
        st["webhook"]["url"],
        json!(mb.url()),
        "SUB-GET-FIELDS",
        "webhook.url"
    );
    let signing = &st["webhook"]["signing"];
    if !signing.is_null() {
        let jwks = s.jwks().await?;
        jwks.expect(200, "SUB-SIGNING-METADATA")?;
        let set = crate::subs::jwks::Jwks::parse(&jwks.json("SUB-SIGNING-METADATA")?)?;
        let kid = signing["kid"].as_str().unwrap_or_default();
        check!(
            set.get(kid).is_some(),
            "SUB-SIGNING-METADATA",
            "signing.kid {kid:?} is not in the JWK Set (kids {:?})",
            set.kids()
        );
        let url = signing["jwks_url"].as_str().unwrap_or_default();
        check!(
            url.ends_with("/__ds/jwks.json"),
            "SUB-SIGNING-METADATA",
            "signing.jwks_url {url:?} is not the stream root's __ds/jwks.json"
        );
    }
    Ok(())
}

/// Where in `v` a secret-looking key or value sits, if anywhere.
fn secret_at(v: &Value, at: &str) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let l = k.to_ascii_lowercase();
            if l.contains("secret") || l == "private_key" || l == "d" {
                Some(format!("{at}.{k}"))
            } else {
                secret_at(x, &format!("{at}.{k}"))
            }
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| secret_at(x, &format!("{at}[{i}]"))),
        Value::String(s) if s.starts_with("whsec_") => Some(at.to_string()),
        _ => None,
    }
}

register![
    create_201_and_get_fields,
    reconfirm_identical_is_200,
    changed_field_is_409,
    invalid_config_is_400,
    delete_is_204_and_id_reusable,
    reserved_prefix_is_not_a_stream,
    webhook_answers_carry_no_secret,
];
