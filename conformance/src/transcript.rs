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
    /// When the request was made (replay scripts keep the pauses).
    #[serde(skip)]
    pub started: Option<std::time::Instant>,
    /// On a note: a wait the case made on purpose (`Ctx::sleep`), which a
    /// replay script must make too.
    #[serde(skip)]
    pub wait: Option<Duration>,
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
            started: Some(std::time::Instant::now()),
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

    /// A curl command that replays this request, runnable as pasted.
    pub fn curl(&self) -> String {
        self.curl_with_body_limit(usize::MAX)
    }

    /// As `curl`, but a body over `limit` bytes is replaced by a printf
    /// that regenerates it when it is one short unit repeated (the large
    /// cases' payloads), else elided with its length (console output).
    fn curl_with_body_limit(&self, limit: usize) -> String {
        if let Some(n) = &self.note {
            return format!("# {}", n.replace('\n', "\n# "));
        }
        let mut s = String::from("curl -sS -i");
        match self.method.as_str() {
            "GET" => {}
            "HEAD" => s.push_str(" -I"),
            m => s.push_str(&format!(" -X {m}")),
        }
        for (k, v) in &self.request_headers {
            s.push_str(&format!(" -H {}", header_arg(k, v)));
        }
        if self.request_body_len > 0 || matches!(self.method.as_str(), "POST" | "PUT") {
            if self.request_body.contains(&0) && self.request_body.len() <= limit {
                // Bash strings end at NUL: let printf write the bytes.
                s.push_str(&format!(
                    " --data-binary @<(printf %b {})",
                    printf_b_arg(&self.request_body)
                ));
            } else if self.request_body.len() <= limit {
                s.push_str(&format!(
                    " --data-binary {}",
                    shell_quote(&self.request_body)
                ));
            } else if let Some((unit, n)) = repetition(&self.request_body) {
                s.push_str(&format!(
                    " --data-binary @<(for i in $(seq {n}); do printf %s {}; done)",
                    shell_quote(unit)
                ));
            } else {
                s.push_str(&format!(
                    " --data-binary @BODY  # {} bytes, too long to show",
                    self.request_body.len()
                ));
            }
        }
        s.push_str(&format!(" {}", shell_quote(self.url.as_bytes())));
        s
    }

    /// Human-readable summary: curl line plus the response head as `#`
    /// comments, so a pasted transcript runs as a bash script.
    pub fn render(&self) -> String {
        let mut s = self.curl_with_body_limit(4096);
        if self.note.is_some() {
            return s;
        }
        match (self.status, &self.error) {
            (_, Some(e)) => s.push_str(&format!("\n#  -> {}", one_line(e))),
            (Some(code), None) => {
                s.push_str(&format!("\n#  -> {code} ({} ms)", self.elapsed_ms));
                for (k, v) in &self.response_headers {
                    s.push_str(&format!("\n#     {k}: {}", one_line(v)));
                }
                if self.response_body_len > 0 {
                    s.push_str(&format!(
                        "\n#     body ({} bytes): {}",
                        self.response_body_len,
                        one_line(&truncate(&self.response_body_preview, 400))
                    ));
                }
            }
            (None, None) => s.push_str("\n#  -> (no response)"),
        }
        s
    }
}

/// A credential the user configured (`--header`, `--service-token`) is
/// recorded as this shell reference instead of its value: reports never
/// hold it, and a replay takes it from the environment.
pub fn credential_placeholder(var: &str, flag: &str) -> String {
    format!("${{{var}:?set {var} to the value given with {flag}}}")
}

/// Replace every configured secret in a recorded header value by its
/// placeholder (see [`credential_placeholder`]).
pub fn redact(value: &str, secrets: &[(String, String)]) -> String {
    secrets
        .iter()
        .filter(|(secret, _)| !secret.is_empty())
        .fold(value.to_string(), |v, (secret, placeholder)| {
            v.replace(secret.as_str(), placeholder)
        })
}

/// `-H` argument for a recorded header: single-quoted, or double-quoted
/// when it holds a credential placeholder (so the shell expands it).
pub fn header_arg(name: &str, value: &str) -> String {
    let line = format!("{name}: {value}");
    if !line.contains("${DS_") {
        return shell_quote(line.as_bytes());
    }
    let mut out = String::from("\"");
    let mut rest = line.as_str();
    while let Some(at) = rest.find("${DS_") {
        out.push_str(&escape_double(&rest[..at]));
        let end = rest[at..].find('}').map_or(rest.len(), |e| at + e + 1);
        out.push_str(&rest[at..end]);
        rest = &rest[end..];
    }
    out.push_str(&escape_double(rest));
    out.push('"');
    out
}

/// Text inside a double-quoted shell word.
fn escape_double(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' | '\\' | '$' | '`' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Any bytes as one single-quoted argument for `printf %b` (`\xHH` escapes
/// for everything but a few plain characters).
pub fn printf_b_arg(b: &[u8]) -> String {
    let mut s = String::from("'");
    for &c in b {
        if c.is_ascii_alphanumeric() || b" {}[]:,.|-_".contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s.push('\'');
    s
}

/// Text for a `#` comment line: no raw line breaks.
fn one_line(s: &str) -> String {
    s.replace('\r', "\\r").replace('\n', "\\n")
}

/// `body` as `unit` repeated `n` times, for a unit of at most 16 bytes.
fn repetition(body: &[u8]) -> Option<(&[u8], usize)> {
    (1..=16.min(body.len())).find_map(|k| {
        let unit = &body[..k];
        (body.len().is_multiple_of(k) && body.chunks(k).all(|c| c == unit))
            .then(|| (unit, body.len() / k))
    })
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
        // NUL cannot live in a bash string: printf writes the bytes.
        assert!(
            c.contains(r"--data-binary @<(printf %b 'it\x27s\x0a\x00')"),
            "{c}"
        );
        let ex = Exchange::request("PUT", "http://127.0.0.1:1/a", vec![], b"it's\n");
        assert!(ex.curl().contains(r"--data-binary $'it\'s\n'"));
        assert!(c.ends_with("'http://127.0.0.1:1/a'"), "{c}");
    }

    #[test]
    fn long_bodies_are_regenerated_or_elided_on_the_console() {
        let ex = Exchange::request("POST", "http://x/a", vec![], "\r\n".repeat(5000).as_bytes());
        let r = ex.render();
        assert!(r.contains("$(seq 5000); do printf %s $'\\r\\n'"), "{r}");
        let mixed: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let ex = Exchange::request("POST", "http://x/a", vec![], &mixed);
        assert!(ex.render().contains("10000 bytes, too long to show"));
        assert!(ex.curl().len() > 10_000);
    }

    #[test]
    fn configured_credentials_become_environment_references() {
        let secrets = vec![(
            "s3cret".to_string(),
            credential_placeholder("DS_SERVICE_TOKEN", "--service-token"),
        )];
        let recorded = redact("Bearer s3cret", &secrets);
        assert!(!recorded.contains("s3cret"));
        let ex = Exchange::request(
            "GET",
            "http://x/a",
            vec![
                ("Authorization".into(), recorded),
                ("X-Note".into(), "it's $HOME".into()),
            ],
            b"",
        );
        let curl = ex.curl();
        assert!(!curl.contains("s3cret"), "{curl}");
        // The shell expands the placeholder and nothing else.
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                &format!(
                    "printf '%s\\n' {} {}",
                    header_arg("Authorization", &ex.request_headers[0].1),
                    header_arg("X-Note", "it's $HOME")
                ),
            ])
            .env("DS_SERVICE_TOKEN", "tok\"en")
            .output()
            .expect("bash runs");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Authorization: Bearer tok\"en\nX-Note: it's $HOME\n"
        );
        // A token the server minted (not configured) is shown as is.
        let ex = Exchange::request(
            "POST",
            "http://x/a",
            vec![("Authorization".into(), "Bearer minted".into())],
            b"",
        );
        assert!(ex.curl().contains("Bearer minted"));
    }
}
