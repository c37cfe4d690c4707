//! Recorded request/response exchanges, rendered as replayable curl lines.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Serialize;

const PREVIEW: usize = 2048;
/// Raw response bytes kept for snapshots (conformance/src/snapshot/).
const KEEP_BODY: usize = 8 << 20;

/// One request and its response (or a free-text note).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Exchange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body_len: usize,
    pub request_body_preview: String,
    #[serde(skip)]
    pub request_body: Vec<u8>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body_len: usize,
    pub response_body_preview: String,
    /// The first `KEEP_BODY` bytes of the response body (SSE: the events as
    /// shown in the preview), for normalised snapshots.
    #[serde(skip)]
    pub response_body: Vec<u8>,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Exchange {
    pub fn note(text: String) -> Exchange {
        Exchange {
            note: Some(text),
            ..Default::default()
        }
    }

    pub fn request(
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Exchange {
        Exchange {
            method: method.to_string(),
            url: url.to_string(),
            request_headers: headers,
            request_body_len: body.len(),
            request_body_preview: preview(body, PREVIEW),
            request_body: body.to_vec(),
            ..Default::default()
        }
    }

    pub fn respond(&mut self, status: u16, headers: &HeaderMap, body: &[u8], elapsed: Duration) {
        self.status = Some(status);
        self.response_headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        self.response_body_len = body.len();
        self.response_body_preview = preview(body, PREVIEW);
        self.response_body = body[..body.len().min(KEEP_BODY)].to_vec();
        self.elapsed_ms = elapsed.as_millis() as u64;
    }

    /// Append streamed body text (SSE) to the preview.
    pub fn stream_more(&mut self, text: &str) {
        self.response_body_len += text.len();
        let room = KEEP_BODY.saturating_sub(self.response_body.len());
        self.response_body
            .extend_from_slice(&text.as_bytes()[..text.len().min(room)]);
        if self.response_body_preview.len() < 4 * PREVIEW {
            self.response_body_preview.push_str(text);
        }
    }

    pub fn fail(&mut self, error: String, elapsed: Duration) {
        self.error = Some(error);
        self.elapsed_ms = elapsed.as_millis() as u64;
    }

    /// A curl command that replays this request.
    pub fn curl(&self) -> String {
        if let Some(n) = &self.note {
            return format!("# {n}");
        }
        let mut s = String::from("curl -sS -i");
        match self.method.as_str() {
            "GET" => {}
            "HEAD" => s.push_str(" -I"),
            m => s.push_str(&format!(" -X {m}")),
        }
        for (k, v) in &self.request_headers {
            let v = if k.eq_ignore_ascii_case("authorization") {
                "<redacted>"
            } else {
                v.as_str()
            };
            s.push_str(&format!(
                " -H {}",
                shell_quote(format!("{k}: {v}").as_bytes())
            ));
        }
        if self.request_body_len > 0 || matches!(self.method.as_str(), "POST" | "PUT") {
            s.push_str(&format!(
                " --data-binary {}",
                shell_quote(&self.request_body)
            ));
        }
        s.push_str(&format!(" {}", shell_quote(self.url.as_bytes())));
        s
    }

    /// Human-readable summary: curl line plus the response head.
    pub fn render(&self) -> String {
        let mut s = self.curl();
        if self.note.is_some() {
            return s;
        }
        match (self.status, &self.error) {
            (_, Some(e)) => s.push_str(&format!("\n  -> {e}")),
            (Some(code), None) => {
                s.push_str(&format!("\n  -> {code} ({} ms)", self.elapsed_ms));
                for (k, v) in &self.response_headers {
                    s.push_str(&format!("\n     {k}: {v}"));
                }
                if self.response_body_len > 0 {
                    s.push_str(&format!(
                        "\n     body ({} bytes): {}",
                        self.response_body_len,
                        truncate(&self.response_body_preview, 400)
                    ));
                }
            }
            (None, None) => s.push_str("\n  -> (no response)"),
        }
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Printable preview of a body: text as-is (escaped controls), binary as hex.
pub fn preview(body: &[u8], max: usize) -> String {
    let slice = &body[..body.len().min(max)];
    let more = if body.len() > max { "…" } else { "" };
    match std::str::from_utf8(slice) {
        Ok(t) => format!("{}{more}", t.escape_debug()),
        Err(_) => {
            let hex: String = slice
                .iter()
                .take(max / 2)
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("hex:{hex}{more}")
        }
    }
}

/// Quote bytes for bash: plain single quotes when safe, `$'..'` otherwise.
pub fn shell_quote(bytes: &[u8]) -> String {
    let plain = bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\'');
    if plain {
        return format!("'{}'", String::from_utf8_lossy(bytes));
    }
    let mut s = String::from("$'");
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_quotes_binary_and_quotes() {
        let ex = Exchange::request(
            "POST",
            "http://127.0.0.1:1/a",
            vec![("Content-Type".into(), "text/plain".into())],
            b"it's\n\x00",
        );
        let c = ex.curl();
        assert!(c.contains("-X POST"), "{c}");
        assert!(c.contains(r"--data-binary $'it\'s\n\x00'"), "{c}");
        assert!(c.ends_with("'http://127.0.0.1:1/a'"), "{c}");
    }

    #[test]
    fn authorization_is_redacted() {
        let ex = Exchange::request(
            "GET",
            "http://x/a",
            vec![("Authorization".into(), "Bearer s3cret".into())],
            b"",
        );
        assert!(!ex.curl().contains("s3cret"));
    }
}
