//! Webhook URL validation (§6.2, §12.8): every spelling of a local,
//! private, link-local or metadata address is refused, http is refused
//! outside the localhost development exception, and a redirect cannot
//! carry a delivery to a refused target. Only the harness's loopback
//! receiver is ever reached; no URL below is contacted by the harness.

use std::time::Duration;

use serde_json::json;

use super::util::{append, stream_with};
use crate::case::{case, register, CaseResult, Failure};
use crate::client::Ctx;
use crate::subs::{require, Need, Reply, Subs};
use crate::{check, fail};

/// PUT a webhook subscription for each URL; each must be refused (4xx,
/// not 404/409/5xx). A URL the target accepts is a failure on `req`.
async fn refused(ctx: &Ctx, s: &Subs, req: &str, urls: &[&str]) -> CaseResult {
    let pat = format!("{}/*", ctx.rel("none"));
    let mut accepted = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let id = s.id(&format!("u{i}"));
        let r = s
            .put(
                &id,
                &json!({"type": "webhook", "pattern": pat, "webhook": {"url": url}}),
            )
            .await?;
        if (200..300).contains(&r.status) {
            accepted.push(format!("{url} ({})", r.status));
            let _ = s.delete(&id).await;
        } else if !matches!(r.status, 400 | 403 | 422) {
            fail!(req, "{url}: expected 400, got {} ({})", r.status, r.text());
        }
    }
    check!(
        accepted.is_empty(),
        req,
        "webhook URLs that must be refused were accepted: {}",
        accepted.join(", ")
    );
    Ok(())
}

/// http:// is only for localhost and 127.0.0.x; other schemes never.
#[case("SUB-WEBHOOK-HTTPS")]
pub async fn http_only_for_localhost(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    refused(
        &ctx,
        &s,
        "SUB-WEBHOOK-HTTPS",
        &[
            "http://hooks.example/h",
            "http://hooks.example:443/h",
            "ftp://hooks.example/h",
            "file:///etc/passwd",
            "gopher://hooks.example/",
            "ws://hooks.example/h",
            "hooks.example/h",
            "//hooks.example/h",
        ],
    )
    .await
}

/// RFC 1918, loopback outside 127.0.0.x, "this host" and link-local IPv4
/// literals, over https and http.
#[case("SUB-SSRF-PRIVATE")]
pub async fn ipv4_private_literals(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    refused(
        &ctx,
        &s,
        "SUB-SSRF-PRIVATE",
        &[
            "https://10.0.0.1/h",
            "https://10.255.255.254/h",
            "https://172.16.0.1/h",
            "https://172.31.255.254/h",
            "https://192.168.0.1/h",
            "https://192.168.255.254:8443/h",
            "https://169.254.1.1/h",
            "https://0.0.0.0/h",
            "http://0.0.0.0/h",
            "http://10.0.0.1/h",
            "http://192.168.1.1/h",
        ],
    )
    .await
}

/// The loopback range beyond 127.0.0.x is not covered by the development
/// exception, over http or https.
#[case("SUB-SSRF-PRIVATE")]
pub async fn loopback_beyond_127_0_0_x(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    refused(
        &ctx,
        &s,
        "SUB-SSRF-PRIVATE",
        &[
            "http://127.1.2.3/h",
            "http://127.0.1.1/h",
            "http://127.255.255.254/h",
            "https://127.1.2.3/h",
            "https://127.255.255.254/h",
        ],
    )
    .await
}

/// Other spellings of private IPv4 addresses: decimal, hex, octal,
/// shortened, userinfo tricks, trailing dots.
#[case("SUB-SSRF-PRIVATE")]
pub async fn ipv4_alternate_spellings(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    refused(
        &ctx,
        &s,
        "SUB-SSRF-PRIVATE",
        &[
            "https://167772161/h",
            "https://0x0a000001/h",
            "https://0xa.0.0.1/h",
            "https://012.0.0.1/h",
            "https://10.1/h",
            "https://192.168.257/h",
            "https://0xc0.0xa8.0x00.0x01/h",
            "https://hooks.example@10.0.0.1/h",
            "https://10.0.0.1./h",
            "http://127.1.2.3./h",
            "http://0x7f.0x1.0x2.0x3/h",
            "http://2130772483/h",
        ],
    )
    .await
}

/// IPv6 literals: loopback, unspecified, link-local, unique-local, and
/// IPv4-mapped/compatible forms of private addresses.
#[case("SUB-SSRF-PRIVATE")]
pub async fn ipv6_literals(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    refused(
        &ctx,
        &s,
        "SUB-SSRF-PRIVATE",
        &[
            "https://[::1]/h",
            "http://[::1]/h",
            "https://[0:0:0:0:0:0:0:1]/h",
            "https://[::]/h",
            "https://[fe80::1]/h",
            "https://[fc00::1]/h",
            "https://[fd12:3456:789a::1]/h",
            "https://[::ffff:127.0.0.1]/h",
            "http://[::ffff:127.0.0.1]/h",
            "https://[::ffff:10.0.0.1]/h",
            "https://[::ffff:192.168.0.1]/h",
            "https://[::ffff:169.254.169.254]/h",
            "https://[::ffff:7f00:1]/h",
            "https://[::ffff:a00:1]/h",
        ],
    )
    .await
}

/// Cloud metadata endpoints by address and by name.
#[case("SUB-SSRF-METADATA", "SUB-SSRF-PRIVATE")]
pub async fn metadata_endpoints(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    refused(
        &ctx,
        &s,
        "SUB-SSRF-PRIVATE",
        &[
            "https://169.254.169.254/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/",
            "https://169.254.169.254./latest/meta-data/",
            "https://0xa9fea9fe/latest/meta-data/",
            "https://[fd00:ec2::254]/latest/meta-data/",
        ],
    )
    .await?;
    refused(
        &ctx,
        &s,
        "SUB-SSRF-METADATA",
        &[
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://metadata.google.internal./computeMetadata/v1/",
            "https://metadata/computeMetadata/v1/",
        ],
    )
    .await
}

/// A delivery to an accepted URL answered by a redirect to a refused one
/// (an IPv4-mapped IPv6 loopback literal, which still reaches the
/// harness's receiver) must not be followed there.
#[case("SUB-SSRF-REDIRECT", secs = 3)]
pub async fn redirect_to_refused_target_not_followed(ctx: Ctx) -> CaseResult {
    let s = require(&ctx, Need::Webhooks).await?;
    if ctx.target().subs.webhook_public_url.is_some() {
        return Err(crate::subs::unimplemented(
            "the redirect check needs the loopback receiver (--webhook-public-url is set)".into(),
        ));
    }
    let trap = s.mailbox().await?;
    let trap_url = trap
        .url()
        .replacen("http://127.0.0.1:", "http://[::ffff:127.0.0.1]:", 1);
    let port = reqwest::Url::parse(&trap_url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(0);
    let mapped = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped(), port));
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(mapped),
    )
    .await;
    if !matches!(reachable, Ok(Ok(_))) {
        return Err(Failure::setup_error(format!(
            "cannot check redirects here: this host does not route IPv4-mapped IPv6 ({mapped})"
        )));
    }
    stream_with(&ctx, "a", "x").await?;
    let mb = s.mailbox().await?;
    mb.set_policy(Some(Reply::redirect(&trap_url)));
    let id = s.id("s");
    s.put(
        &id,
        &json!({"type": "webhook", "streams": [ctx.rel("a")], "webhook": {"url": mb.url()}}),
    )
    .await?
    .expect(201, "SUB-CREATE-201")?;
    append(&ctx, "a", "y").await?;
    check!(
        mb.next(s.soon()).await.is_some(),
        "SUB-WEBHOOK-DELIVERY",
        "no delivery reached the accepted URL"
    );
    let followed = trap.next(Duration::from_millis(2500)).await;
    check!(
        followed.is_none(),
        "SUB-SSRF-REDIRECT",
        "the delivery followed a 307 to {trap_url}, a target the URL check refuses"
    );
    let _ = s.delete(&id).await;
    Ok(())
}

register![
    http_only_for_localhost,
    ipv4_private_literals,
    loopback_beyond_127_0_0_x,
    ipv4_alternate_spellings,
    ipv6_literals,
    metadata_endpoints,
    redirect_to_refused_target_not_followed,
];
