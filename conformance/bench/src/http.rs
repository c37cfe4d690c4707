//! A lean HTTP/1.1 client: one keep-alive connection per `Conn` (hyper's
//! client connection, no pool), plain TCP or TLS (rustls, webpki roots).
//! Every request goes to the target's host; paths are built by the caller.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long connecting (TCP + TLS) may take before it is an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server under test: where to connect and the stream root's path.
#[derive(Clone)]
pub struct Target {
    host: String,
    port: u16,
    authority: String,
    /// Path of the stream root without a trailing slash (may be empty).
    root: String,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
}

impl Target {
    /// Parses a stream root URL such as `http://127.0.0.1:4437/v1/stream`.
    pub fn parse(url: &str) -> Result<Target> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("bad target URL '{url}'"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => bail!("target URL '{url}' must start with http:// or https://"),
        };
        let host = uri
            .host()
            .with_context(|| format!("target URL '{url}' has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if uri.query().is_some() {
            bail!("target URL '{url}' must not carry a query");
        }
        let root = uri.path().trim_end_matches('/').to_string();
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| host.clone());
        let tls = if https {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            // ring, not aws-lc-rs (no cmake/C toolchain build); ring lacks
            // post-quantum key exchange, which a load generator can do without.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .context("TLS configuration")?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .with_context(|| format!("'{host}' is not a valid TLS server name"))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Target {
            host,
            port,
            authority,
            root,
            tls,
        })
    }

    /// The path of stream `name` (the stream's URL path, also what
    /// `Stream-Forked-From` names).
    pub fn path(&self, name: &str) -> String {
        format!("{}/{}", self.root, name)
    }

    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
}

/// A complete (buffered) response.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// One keep-alive connection; reconnects when the server closed it
/// between requests (never in the middle of one: that is an error).
pub struct Conn {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far (1 for a connection that was never lost).
    pub opened: u64,
}

impl Conn {
    pub async fn open(target: &Target) -> Result<Conn> {
        let mut c = Conn {
            target: target.clone(),
            sender: None,
            opened: 0,
        };
        c.ensure().await?;
        Ok(c)
    }

    async fn ensure(&mut self) -> Result<&mut SendRequest<Full<Bytes>>> {
        let usable = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !usable {
            // Let go of the dead connection before opening the next: a
            // reader holds one open file at a time, even when thousands
            // reconnect together.
            self.sender = None;
            self.sender = Some(connect(&self.target).await?);
            self.opened += 1;
        }
        Ok(self.sender.as_mut().expect("just connected"))
    }

    /// Sends a request and returns the response head with its body still
    /// unread (for SSE and other streaming bodies).
    pub async fn start(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<http::Response<Incoming>> {
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("host", &self.target.authority);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).context("building a request")?;
        let sender = self.ensure().await?;
        sender
            .send_request(req)
            .await
            .with_context(|| format!("request to {path_and_query}"))
    }

    /// Sends a request and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Resp> {
        let resp = self.start(method, path_and_query, headers, body).await?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .with_context(|| format!("reading the answer to {path_and_query}"))?
            .to_bytes();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>> {
    let addr = (target.host.as_str(), target.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .with_context(|| format!("connecting to {}:{} timed out", target.host, target.port))?
        .with_context(|| format!("cannot connect to {}:{}", target.host, target.port))?;
    tcp.set_nodelay(true)?;
    match &target.tls {
        None => handshake(TokioIo::new(tcp)).await,
        Some((connector, name)) => {
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name.clone(), tcp))
                .await
                .context("TLS handshake timed out")?
                .context("TLS handshake")?;
            handshake(TokioIo::new(tls)).await
        }
    }
}

async fn handshake<I>(io: I) -> Result<SendRequest<Full<Bytes>>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Percent-encodes an offset for a query string (offsets are opaque, §8).
pub fn encode_query(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_roots() {
        let t = Target::parse("http://127.0.0.1:4437/v1/stream/").unwrap();
        assert_eq!(t.port, 4437);
        assert_eq!(t.path("a"), "/v1/stream/a");
        assert!(t.is_loopback());
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(t.port, 80);
        assert_eq!(t.path("a"), "/a");
        let t = Target::parse("https://example.com/s").unwrap();
        assert_eq!(t.port, 443);
        assert!(t.tls.is_some());
        assert!(!t.is_loopback());
        let t = Target::parse("http://[::1]:9/x").unwrap();
        assert_eq!(t.host, "::1");
        assert!(t.is_loopback());
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("http://x/?a=b").is_err());
        assert!(Target::parse("no url").is_err());
    }

    #[test]
    fn encodes_offsets() {
        assert_eq!(encode_query("-1"), "-1");
        assert_eq!(encode_query("0000_12"), "0000_12");
        assert_eq!(encode_query("a b+c/%"), "a%20b%2Bc%2F%25");
    }
}
