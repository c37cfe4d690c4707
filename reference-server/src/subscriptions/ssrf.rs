//! §6.2 and §12.8 webhook URL validation (SSRF prevention).
//!
//! - `https://` is required, except that with `allow_local` (the
//!   `--allow-local-webhooks` development flag) `http://localhost` and
//!   `http://127.0.0.x` are accepted.
//! - Loopback, RFC 1918, link-local (incl. the `169.254.169.254` cloud
//!   metadata address), CGNAT, unspecified, multicast and broadcast IPv4
//!   targets, IPv6 loopback / unique-local / link-local / mapped local
//!   addresses, and names of the local network (`localhost`, `*.localhost`,
//!   `*.local`, `*.internal`) are refused unless covered by that flag.
//! - URLs with credentials are refused (they would be logged and sent).
//!
//! Names are not resolved here: [`CheckedResolver`] is the webhook client's
//! resolver, so every delivery resolves the host name, drops local
//! addresses and connects only to an address it checked (a name that
//! resolves, or is re-pointed by DNS rebinding, to a private address is
//! refused at delivery time). Deliveries follow no redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Checks a webhook URL; `Err` is the reason (a 400 `WEBHOOK_URL_REJECTED`).
pub fn check(raw: &str, allow_local: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("webhook.url is not a valid URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("webhook.url must not contain credentials".into());
    }
    let host = url
        .host()
        .ok_or_else(|| "webhook.url has no host".to_string())?;
    let dev = match &host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.octets()[..3] == [127, 0, 0],
        Host::Ipv6(_) => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if dev && allow_local => return Ok(url),
        "http" if dev => {
            return Err(
                "http://localhost and http://127.0.0.x webhooks are for development \
                 and are off on this server (--allow-local-webhooks)"
                    .into(),
            )
        }
        "http" => return Err("webhook.url must use https://".into()),
        other => return Err(format!("webhook.url scheme {other:?} is not https")),
    }
    if dev {
        return if allow_local {
            Ok(url)
        } else {
            Err("webhook.url targets this machine (localhost / 127.0.0.x)".into())
        };
    }
    let local = match &host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            // A single-label name (`metadata`) resolves through local
            // search domains.
            !d.contains('.')
                || d == "localhost"
                || d.ends_with(".localhost")
                || d.ends_with(".local")
                || d.ends_with(".internal")
        }
        Host::Ipv4(ip) => local_v4(*ip),
        Host::Ipv6(ip) => local_v6(*ip),
    };
    if local {
        return Err(
            "webhook.url targets a loopback, private, link-local or other local \
             network address"
                .into(),
        );
    }
    Ok(url)
}

/// Whether `host` (a URL host name) is the development exception's
/// `localhost`.
fn is_localhost(host: &str) -> bool {
    host.trim_end_matches('.').eq_ignore_ascii_case("localhost")
}

/// The resolved addresses of `host` a webhook may connect to: local ones
/// are dropped, except loopback addresses of `localhost` under the
/// development flag (§6.2, §12.8). `Err` when none is left.
pub fn admit(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_local: bool,
) -> Result<Vec<SocketAddr>, String> {
    let dev = allow_local && is_localhost(host);
    let ok: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| match a.ip() {
            IpAddr::V4(ip) if dev => ip.octets()[..3] == [127, 0, 0],
            IpAddr::V6(ip) if dev => ip.is_loopback(),
            IpAddr::V4(ip) => !local_v4(ip),
            IpAddr::V6(ip) => !local_v6(ip),
        })
        .collect();
    if ok.is_empty() {
        return Err(format!(
            "webhook host {host:?} resolves only to refused (local) addresses: {addrs:?}"
        ));
    }
    Ok(ok)
}

/// The webhook client's DNS resolver: the system resolver, then [`admit`].
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    pub allow_local: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allow_local = self.allow_local;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok = admit(&host, addrs, allow_local)?;
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || a >= 240
}

fn local_v6(ip: Ipv6Addr) -> bool {
    // Mapped (::ffff:a.b.c.d) and the deprecated compatible (::a.b.c.d)
    // spellings of IPv4 addresses.
    if let Some(v4) = ip.to_ipv4() {
        if local_v4(v4) {
            return true;
        }
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::{admit, check, CheckedResolver};
    use reqwest::dns::Resolve;

    #[test]
    fn resolved_local_addresses_are_dropped() {
        let a = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        let public = a("93.184.216.34:0");
        for local in [
            "127.0.0.1:0",
            "10.1.2.3:0",
            "169.254.169.254:0",
            "[::1]:0",
            "[::ffff:192.168.0.1]:0",
            "[fd00::1]:0",
        ] {
            assert!(
                admit("hooks.example", vec![a(local)], false).is_err(),
                "{local}"
            );
            assert!(
                admit("hooks.example", vec![a(local)], true).is_err(),
                "{local} (dev flag)"
            );
            assert_eq!(
                admit("hooks.example", vec![a(local), public], false),
                Ok(vec![public])
            );
        }
        assert_eq!(
            admit("localhost", vec![a("127.0.0.1:0")], true),
            Ok(vec![a("127.0.0.1:0")])
        );
        assert_eq!(
            admit("localhost.", vec![a("[::1]:0")], true),
            Ok(vec![a("[::1]:0")])
        );
        assert!(admit("localhost", vec![a("127.0.0.1:0")], false).is_err());
        assert!(admit("localhost", vec![a("127.0.1.1:0")], true).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_of_this_machine() {
        let r = CheckedResolver { allow_local: false };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_err());
        let r = CheckedResolver { allow_local: true };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = r.resolve(name).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn https_public_hosts_pass() {
        assert!(check("https://worker.example/hooks", false).is_ok());
        assert!(check("https://93.184.216.34/x", false).is_ok());
    }

    #[test]
    fn plain_http_is_refused_except_local_development() {
        assert!(check("http://worker.example/hooks", true).is_err());
        assert!(check("http://localhost:8080/h", false).is_err());
        assert!(check("http://127.0.0.1:9/h", false).is_err());
        assert!(check("http://localhost:8080/h", true).is_ok());
        assert!(check("http://127.0.0.7/h", true).is_ok());
        assert!(check("http://127.0.1.1/h", true).is_err());
    }

    #[test]
    fn local_targets_are_refused() {
        for u in [
            "https://10.0.0.1/h",
            "https://172.16.5.4/h",
            "https://192.168.1.1/h",
            "https://169.254.169.254/latest/meta-data",
            "https://127.0.0.1/h",
            "https://0.0.0.0/h",
            "https://100.64.0.1/h",
            "https://[::1]/h",
            "https://[fd00::1]/h",
            "https://[fe80::1]/h",
            "https://[::ffff:10.0.0.1]/h",
            "https://[::127.0.0.1]/h",
            "https://metadata/computeMetadata/v1/",
            "https://localhost/h",
            "https://metadata.google.internal/h",
            "https://printer.local/h",
            "http://10.0.0.1/hook",
        ] {
            assert!(check(u, false).is_err(), "{u} passed");
        }
        assert!(check("https://10.0.0.1/h", true).is_err());
    }

    #[test]
    fn junk_is_refused() {
        assert!(check("not a url", true).is_err());
        assert!(check("ftp://worker.example/x", true).is_err());
        assert!(check("https://user:pw@worker.example/x", true).is_err());
    }
}
