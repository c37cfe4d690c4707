//! The few protocol operations the benchmarks make (§5.1 create, §5.2
//! append, §5.5 HEAD, §5.6 catch-up read following `Stream-Next-Offset`),
//! each checking its status so no error answer goes uncounted.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::Method;

use crate::http::{encode_query, Conn, Resp};

pub const OCTET: &str = "application/octet-stream";
pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain";

/// PUT: creates a stream (201, or 200 when it already exists alike).
pub async fn create(
    conn: &mut Conn,
    path: &str,
    content_type: &str,
    extra: &[(&str, &str)],
) -> Result<Resp> {
    let mut h = vec![("content-type", content_type)];
    h.extend_from_slice(extra);
    let r = conn.send(Method::PUT, path, &h, Bytes::new()).await?;
    if !(r.status == 201 || r.status == 200) {
        bail!(
            "PUT {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        );
    }
    Ok(r)
}

/// POST: appends `body`; any status other than 200/204 is an error.
pub async fn append(
    conn: &mut Conn,
    path: &str,
    content_type: &str,
    body: Bytes,
    extra: &[(&str, &str)],
) -> Result<Resp> {
    let mut h = vec![("content-type", content_type)];
    h.extend_from_slice(extra);
    let r = conn.send(Method::POST, path, &h, body).await?;
    if !(r.status == 200 || r.status == 204) {
        bail!(
            "POST {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        );
    }
    Ok(r)
}

/// HEAD: the stream's tail offset (`Stream-Next-Offset`).
pub async fn tail_offset(conn: &mut Conn, path: &str) -> Result<String> {
    let r = conn.send(Method::HEAD, path, &[], Bytes::new()).await?;
    if r.status != 200 {
        bail!("HEAD {path}: {}", r.status);
    }
    next_offset(&r, path)
}

pub fn next_offset(r: &Resp, path: &str) -> Result<String> {
    Ok(r.header("stream-next-offset")
        .with_context(|| format!("{path}: answer {} without Stream-Next-Offset", r.status))?
        .to_string())
}

/// GET of one chunk at `offset`; must be 200.
pub async fn read_at(conn: &mut Conn, path: &str, offset: &str) -> Result<Resp> {
    let url = format!("{path}?offset={}", encode_query(offset));
    let r = conn.send(Method::GET, &url, &[], Bytes::new()).await?;
    if r.status != 200 {
        bail!(
            "GET {url}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        );
    }
    Ok(r)
}

/// What a full catch-up read saw.
#[derive(Debug, Default, Clone)]
pub struct ReadAll {
    pub bytes: u64,
    pub requests: u64,
    pub next_offset: String,
}

/// Reads from `offset` to the tail, following `Stream-Next-Offset` until
/// `Stream-Up-To-Date`, handing each body to `each`.
pub async fn read_all(
    conn: &mut Conn,
    path: &str,
    offset: &str,
    mut each: impl FnMut(&Bytes) -> Result<()>,
) -> Result<ReadAll> {
    let mut out = ReadAll {
        next_offset: offset.to_string(),
        ..ReadAll::default()
    };
    loop {
        let r = read_at(conn, path, &out.next_offset).await?;
        out.requests += 1;
        out.bytes += r.body.len() as u64;
        each(&r.body)?;
        let next = next_offset(&r, path)?;
        let done = r.header("stream-up-to-date") == Some("true");
        if !done && next == out.next_offset && r.body.is_empty() {
            bail!("GET {path}: empty chunk without Stream-Up-To-Date at {next} (no progress)");
        }
        out.next_offset = next;
        if done {
            return Ok(out);
        }
    }
}

/// Messages in a JSON-mode chunk (§9.1: a read returns a JSON array).
pub fn json_messages(body: &[u8]) -> Result<u64> {
    let v: Vec<&serde_json::value::RawValue> =
        serde_json::from_slice(body).context("a JSON stream's chunk is not a JSON array")?;
    Ok(v.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_json_messages() {
        assert_eq!(json_messages(b"[]").unwrap(), 0);
        assert_eq!(json_messages(br#"[{"a":[1,2]},"x",3]"#).unwrap(), 3);
        assert!(json_messages(b"{}").is_err());
        assert!(json_messages(b"").is_err());
    }
}
