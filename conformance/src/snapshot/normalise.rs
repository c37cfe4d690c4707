//! Normalised transcripts: a case's exchanges with every value the server
//! was free to choose replaced by a placeholder, so two runs (or two
//! servers) can be compared line by line.
//!
//! Offsets are opaque (§8): nothing here parses one. The tokens the server
//! minted (`Stream-Next-Offset`, any `*Offset` field of an SSE control event
//! or JSON body) are learnt as they appear and become `<offset-N>` in order
//! of first appearance, wherever they reappear (query strings, request
//! headers such as `Stream-Fork-Offset`, bodies). Cursors (§10.1) become
//! `<cursor>`, ETags `<etag-N>`, RFC 3339 dates `<date>`, the run-scoped
//! case URL `{case}` (path: `{case-path}`), the stream root `{root}`.

use std::collections::BTreeMap;

use crate::transcript::Exchange;

/// How much the normaliser forgives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Regression snapshots of one server: every protocol-relevant detail.
    Snapshot,
    /// Comparing two servers: also forgets what the spec leaves open
    /// (chunk boundaries, MAY headers, error texts, cursor on closed).
    Diff,
}

/// Where a case's requests went, so generated URLs can be redacted.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The case's run-scoped base URL (no trailing slash).
    pub case_url: String,
    /// The stream root URL (no trailing slash).
    pub root_url: String,
    pub run_id: String,
    /// Names of headers the harness adds to every request (`--header`).
    pub extra_headers: Vec<String>,
}

impl Scope {
    fn path_of(url: &str) -> String {
        reqwest::Url::parse(url)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default()
    }
    fn host_of(url: &str) -> String {
        reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| {
                    format!(
                        "{h}{}",
                        u.port().map(|p| format!(":{p}")).unwrap_or_default()
                    )
                })
            })
            .unwrap_or_default()
    }
}

/// Response headers a snapshot keeps: the protocol's own, caching,
/// security (§12.7) and CORS. Transport headers (Date, Content-Length,
/// Transfer-Encoding, Connection…) say nothing about the protocol.
fn relevant(name: &str) -> bool {
    name.starts_with("stream-")
        || name.starts_with("producer-")
        || name.starts_with("access-control-")
        || matches!(
            name,
            "content-type"
                | "etag"
                | "cache-control"
                | "location"
                | "x-content-type-options"
                | "cross-origin-resource-policy"
                | "content-disposition"
                | "vary"
                | "allow"
                | "retry-after"
                | "www-authenticate"
        )
}

/// Headers whose presence or value the spec leaves to the server (MAY, or a
/// choice among allowed values): ignored in [`Mode::Diff`].
fn optional_in_diff(name: &str) -> bool {
    matches!(
        name,
        // §12.7 / §10: no-store, private…, or public max-age are all allowed.
        "cache-control"
            // §12.7: MAY for application/octet-stream.
            | "content-disposition"
            | "vary"
            | "allow"
            | "retry-after"
    ) || name.starts_with("access-control-")
}

/// A normalised body: text lines or hex.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

/// One normalised exchange before rendering.
#[derive(Debug, Clone)]
struct Norm {
    note: Option<String>,
    method: String,
    /// URL with placeholders, query split off.
    path: String,
    query: Vec<(String, String)>,
    req_headers: Vec<(String, String)>,
    req_body: Option<Body>,
    status: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Body>,
}

impl Norm {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Learns the server's tokens across one case's transcript.
pub struct Normaliser {
    mode: Mode,
    scope: Scope,
    case_path: String,
    root_path: String,
    host: String,
    offsets: Vec<String>,
    etags: Vec<String>,
    cursors: Vec<String>,
}

impl Normaliser {
    pub fn new(scope: Scope, mode: Mode) -> Normaliser {
        Normaliser {
            mode,
            case_path: Scope::path_of(&scope.case_url),
            root_path: Scope::path_of(&scope.root_url),
            host: Scope::host_of(&scope.root_url),
            scope,
            offsets: Vec::new(),
            etags: Vec::new(),
            cursors: Vec::new(),
        }
    }

    /// The whole transcript as blocks of text, one per exchange.
    pub fn transcript(&mut self, exchanges: &[Exchange]) -> Vec<String> {
        let mut norms: Vec<Norm> = exchanges.iter().filter_map(|e| self.exchange(e)).collect();
        if self.mode == Mode::Diff {
            norms = merge_chunks(norms);
        }
        let mut blocks: Vec<String> = norms.iter().map(render).collect();
        // Polling (wait until a TTL expires, until a GC finished) repeats
        // one exchange a timing-dependent number of times: shown once.
        blocks.dedup();
        if blocks.len() > MAX_EXCHANGES {
            let rest = blocks.split_off(MAX_EXCHANGES);
            let text = rest.join("\n\n");
            blocks.push(format!(
                "# … {} more exchanges, fnv64 of their normalised text {:016x}",
                rest.len(),
                fnv64(text.as_bytes())
            ));
        }
        if self.mode == Mode::Diff {
            renumber(blocks)
                .into_iter()
                .map(|b| forget_numbers(&b, "<etag-"))
                .collect()
        } else {
            blocks
        }
    }

    fn learn_offset(&mut self, raw: &str) {
        if !raw.is_empty() && !self.offsets.iter().any(|o| o == raw) {
            self.offsets.push(raw.to_string());
        }
    }
    fn offset_placeholder(&self, raw: &str) -> Option<String> {
        self.offsets
            .iter()
            .position(|o| o == raw)
            .map(|i| format!("<offset-{}>", i + 1))
    }
    fn etag_placeholder(&mut self, raw: &str) -> String {
        let i = match self.etags.iter().position(|e| e == raw) {
            Some(i) => i,
            None => {
                self.etags.push(raw.to_string());
                self.etags.len() - 1
            }
        };
        format!("<etag-{}>", i + 1)
    }

    /// A value that may be exactly a token the server minted.
    fn token(&self, v: &str) -> String {
        if let Some(p) = self.offset_placeholder(v) {
            return p;
        }
        if self.cursors.iter().any(|c| c == v) {
            return "<cursor>".into();
        }
        self.text(v)
    }

    /// Free text: generated URLs and paths, run id, dates, ETags, and
    /// offsets long enough not to collide with ordinary words.
    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        let subs = [
            (self.scope.case_url.as_str(), "{case}"),
            (self.scope.root_url.as_str(), "{root}"),
            (self.case_path.as_str(), "{case-path}"),
            (self.root_path.as_str(), "{root-path}"),
            (self.scope.run_id.as_str(), "{run}"),
            (self.host.as_str(), "{host}"),
        ];
        for (from, to) in subs {
            if from.len() > 1 {
                out = out.replace(from, to);
            }
        }
        let mut known: Vec<(String, String)> = Vec::new();
        for (i, e) in self.etags.iter().enumerate() {
            known.push((e.clone(), format!("<etag-{}>", i + 1)));
        }
        for (i, o) in self.offsets.iter().enumerate() {
            if o.len() >= 6 {
                known.push((o.clone(), format!("<offset-{}>", i + 1)));
            }
        }
        known.sort_by_key(|(raw, _)| std::cmp::Reverse(raw.len()));
        for (raw, ph) in known {
            if out.contains(&raw) {
                out = out.replace(&raw, &ph);
            }
        }
        redact_http_dates(&redact_dates(&out))
    }

    fn exchange(&mut self, ex: &Exchange) -> Option<Norm> {
        if let Some(n) = &ex.note {
            if self.mode == Mode::Diff {
                return None;
            }
            return Some(Norm {
                note: Some(redact_numbers_before_ms(&self.text(n))),
                method: String::new(),
                path: String::new(),
                query: Vec::new(),
                req_headers: Vec::new(),
                req_body: None,
                status: None,
                headers: Vec::new(),
                body: None,
            });
        }
        let (path, query) = self.url(&ex.url);
        let mut req_headers: Vec<(String, String)> = ex
            .request_headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .filter(|(k, _)| !self.scope.extra_headers.contains(k))
            .map(|(k, v)| {
                let v = match k.as_str() {
                    "authorization" => "<redacted>".to_string(),
                    "if-none-match" => self.text(v),
                    _ => self.token(v),
                };
                (k, v)
            })
            .collect();
        req_headers.sort();
        let req_body = (!ex.request_body.is_empty()).then(|| self.body(&ex.request_body));

        // Learn what the response mints before rendering it, so a body that
        // repeats the header's offset shows the same placeholder.
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in &ex.response_headers {
            let k = k.to_ascii_lowercase();
            match k.as_str() {
                "stream-next-offset" => self.learn_offset(v),
                "stream-cursor" if !self.cursors.contains(v) => self.cursors.push(v.clone()),
                _ => {}
            }
        }
        let sse = ex.response_headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type") && v.contains("text/event-stream")
        });
        self.learn_from_body(&ex.response_body, sse);
        // CORS headers only where a browser would look at them.
        let cors = ex.method == "OPTIONS"
            || ex
                .request_headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("origin"));
        for (k, v) in &ex.response_headers {
            let k = k.to_ascii_lowercase();
            if !relevant(&k)
                || (k.starts_with("access-control-") && !cors)
                || (self.mode == Mode::Diff && optional_in_diff(&k))
            {
                continue;
            }
            let v = match k.as_str() {
                "stream-cursor" => "<cursor>".to_string(),
                "etag" => self.etag_placeholder(v),
                "stream-next-offset" => self.token(v),
                _ => self.text(v),
            };
            let v = if self.mode == Mode::Diff {
                diff_value(&k, &v)
            } else {
                v
            };
            headers.push((k, v));
        }
        headers.sort();
        let status = match (&ex.error, ex.status) {
            (Some(e), _) => Some(format!("error: {}", self.text(e))),
            (None, Some(code)) => Some(code.to_string()),
            (None, None) => Some("(no response)".to_string()),
        };
        let mut body = if ex.response_body.is_empty() {
            None
        } else if sse {
            Some(Body::Text(self.sse_body(&ex.response_body)))
        } else {
            Some(self.body(&ex.response_body))
        };
        let mut norm = Norm {
            note: None,
            method: ex.method.clone(),
            path,
            query,
            req_headers,
            req_body,
            status,
            headers,
            body: None,
        };
        if self.mode == Mode::Diff {
            let error = ex.status.is_some_and(|s| s >= 400);
            if error {
                // The spec fixes error statuses, not their message texts.
                body = None;
                norm.headers
                    .retain(|(k, _)| k.starts_with("stream-") || k.starts_with("producer-"));
            }
            // §10: ETags are required on GET (not offset=now) only; their
            // values are the server's, so only their presence counts.
            if ex.method != "GET" || norm.query("offset") == Some("now") {
                norm.headers.retain(|(k, _)| k != "etag");
            }
            let closed = norm.header("stream-closed") == Some("true");
            let live = norm.query("live").is_some();
            if closed || !live {
                // §5.6/§5.7: Stream-Cursor MAY appear on catch-up reads and
                // MAY be omitted once the stream is closed.
                norm.headers.retain(|(k, _)| k != "stream-cursor");
            }
        }
        norm.body = body;
        Some(norm)
    }

    /// Path with placeholders, and the query as (key, value) pairs whose
    /// values are tokens when the server minted them.
    fn url(&self, url: &str) -> (String, Vec<(String, String)>) {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let path = self.text(base);
        let mut pairs = Vec::new();
        for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let decoded: String = url_decode(v);
            let v = match (self.offset_placeholder(&decoded), k) {
                (Some(p), _) => p,
                // Cursors are the server's (§10.1); a case may also send one
                // it derived from a minted cursor (a "future" cursor).
                (None, "cursor") => "<cursor>".into(),
                _ => self.text(v),
            };
            pairs.push((k.to_string(), v));
        }
        (path, pairs)
    }

    /// Offsets and cursors named in SSE control events or JSON bodies.
    fn learn_from_body(&mut self, body: &[u8], sse: bool) {
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        let mut values = Vec::new();
        if sse {
            for line in text.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim_start()) {
                        values.push(v);
                    }
                }
            }
        } else if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            values.push(v);
        }
        for v in &values {
            let mut found = Vec::new();
            collect_tokens(v, &mut found);
            for (key, val) in found {
                if key.ends_with("offset") {
                    self.learn_offset(&val);
                } else if key.ends_with("cursor") && !self.cursors.contains(&val) {
                    self.cursors.push(val);
                }
            }
        }
    }

    fn body(&self, body: &[u8]) -> Body {
        match std::str::from_utf8(body) {
            Ok(t) if printable(t) => Body::Text(self.json_tokens(&self.text(t))),
            _ => Body::Bytes(body.to_vec()),
        }
    }

    /// `"token"` inside JSON (SSE control events, JSON bodies) → placeholder.
    fn json_tokens(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (i, o) in self.offsets.iter().enumerate() {
            out = out.replace(&format!("\"{o}\""), &format!("\"<offset-{}>\"", i + 1));
        }
        for c in &self.cursors {
            out = out.replace(&format!("\"{c}\""), "\"<cursor>\"");
        }
        out
    }

    fn sse_body(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = self.json_tokens(&self.text(&text));
        if self.mode == Mode::Snapshot {
            return text;
        }
        sse_for_diff(&text)
    }
}

/// Every (lower-cased key, string value) pair in a JSON value.
fn collect_tokens(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if let serde_json::Value::String(s) = v {
                    out.push((k.to_ascii_lowercase(), s.clone()));
                } else {
                    collect_tokens(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_tokens(v, out)),
        _ => {}
    }
}

/// Diff mode: an SSE body as the bytes its data events carried (batching
/// is the server's choice, §5.8) plus its last control event, with the
/// fields the spec lets a closed stream omit removed.
fn sse_for_diff(text: &str) -> String {
    let mut data = String::new();
    let mut last_control = None;
    let mut tail = Vec::new();
    for event in text.split("\n\n") {
        let mut kind = "";
        let mut lines = Vec::new();
        for line in event.lines() {
            if let Some(k) = line.strip_prefix("event: ") {
                kind = k;
            } else if let Some(d) = line.strip_prefix("data: ") {
                lines.push(d);
            } else if !line.is_empty() {
                tail.push(line.to_string());
            }
        }
        match kind {
            "data" => data.push_str(&lines.join("\n")),
            "control" => {
                let joined = lines.join("\n");
                last_control = Some(match serde_json::from_str::<serde_json::Value>(&joined) {
                    Ok(serde_json::Value::Object(mut m)) => {
                        if m.get("streamClosed") == Some(&serde_json::Value::Bool(true)) {
                            m.remove("streamCursor");
                            m.remove("upToDate");
                        }
                        serde_json::Value::Object(m).to_string()
                    }
                    _ => joined,
                });
            }
            _ => {}
        }
    }
    let mut out = format!("data (all events): {data}");
    if let Some(c) = last_control {
        out.push_str(&format!("\nlast control: {c}"));
    }
    for t in tail {
        out.push('\n');
        out.push_str(&t);
    }
    out
}

/// Header values compared loosely where the spec allows (booleans are
/// case-insensitive, media types may carry parameters).
fn diff_value(name: &str, v: &str) -> String {
    match name {
        "stream-closed" | "stream-up-to-date" => v.trim().to_ascii_lowercase(),
        "content-type" => v
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
        _ => v.to_string(),
    }
}

/// Diff mode: consecutive catch-up GETs that follow each other's
/// `Stream-Next-Offset` are one read; servers choose chunk sizes freely.
fn merge_chunks(norms: Vec<Norm>) -> Vec<Norm> {
    let mut out: Vec<Norm> = Vec::new();
    for n in norms {
        if let Some(prev) = out.last_mut() {
            let continues = prev.method == "GET"
                && n.method == "GET"
                && prev.path == n.path
                && prev.query("live").is_none()
                && n.query("live").is_none()
                && prev.status.as_deref() == Some("200")
                && n.status.as_deref() == Some("200")
                && prev.header("stream-up-to-date").is_none()
                && prev.header("stream-next-offset").is_some()
                && n.query("offset") == prev.header("stream-next-offset");
            if continues {
                prev.body = match (prev.body.take(), n.body.clone()) {
                    (None, b) | (b, None) => b,
                    (Some(Body::Text(a)), Some(Body::Text(b))) => {
                        Some(Body::Text(concat_json_or_text(&a, &b)))
                    }
                    (Some(a), Some(b)) => {
                        let mut bytes = body_bytes(a);
                        bytes.extend(body_bytes(b));
                        Some(Body::Bytes(bytes))
                    }
                };
                prev.headers = n.headers;
                continue;
            }
        }
        out.push(n);
    }
    out
}

fn body_bytes(b: Body) -> Vec<u8> {
    match b {
        Body::Text(t) => t.into_bytes(),
        Body::Bytes(b) => b,
    }
}

/// Two JSON-array chunks join into one array; other text concatenates.
fn concat_json_or_text(a: &str, b: &str) -> String {
    let parse = |s: &str| serde_json::from_str::<Vec<serde_json::Value>>(s).ok();
    match (parse(a), parse(b)) {
        (Some(mut x), Some(y)) => {
            x.extend(y);
            serde_json::Value::Array(x).to_string()
        }
        _ => format!("{a}{b}"),
    }
}

/// Placeholders numbered again by first appearance (after merging chunks
/// dropped some).
fn renumber(blocks: Vec<String>) -> Vec<String> {
    let mut map: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for b in blocks {
        let mut s = String::new();
        let mut rest = b.as_str();
        while let Some(i) = rest.find("<offset-") {
            s.push_str(&rest[..i]);
            let after = &rest[i + 8..];
            let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
            if !digits.is_empty() && after[digits.len()..].starts_with('>') {
                let n = map.len() + 1;
                let n = *map.entry(digits.clone()).or_insert(n);
                s.push_str(&format!("<offset-{n}>"));
                rest = &after[digits.len() + 1..];
            } else {
                s.push_str("<offset-");
                rest = after;
            }
        }
        s.push_str(rest);
        out.push(s);
    }
    out
}

/// `<etag-3>` → `<etag>`: in diff mode only presence counts.
fn forget_numbers(s: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i]);
        let after = &rest[i + prefix.len()..];
        let digits = after.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && after[digits..].starts_with('>') {
            out.push_str(&prefix[..prefix.len() - 1]);
            out.push('>');
            rest = &after[digits + 1..];
        } else {
            out.push_str(prefix);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn printable(t: &str) -> bool {
    t.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\t'))
}

/// Shown bodies stop here; the rest is summarised by length and hash.
const SHOW: usize = 1024;
/// Exchanges shown per case (chunk-walking cases make hundreds); the rest
/// is summarised by count and hash.
const MAX_EXCHANGES: usize = 120;

fn render_body(out: &mut String, dir: &str, b: &Body) {
    match b {
        Body::Text(t) => {
            let shown = cut(t, SHOW);
            out.push_str(&format!("  {dir} body:\n"));
            for line in shown.split('\n') {
                out.push_str(&format!("  | {line}\n"));
            }
            if !t.ends_with('\n') {
                out.push_str("  (no final newline)\n");
            }
            if shown.len() < t.len() {
                out.push_str(&format!(
                    "  … {} more bytes, fnv64 {:016x}\n",
                    t.len() - shown.len(),
                    fnv64(t.as_bytes())
                ));
            }
        }
        Body::Bytes(b) => {
            out.push_str(&format!("  {dir} body ({} bytes, hex):\n", b.len()));
            for row in b[..b.len().min(SHOW / 2)].chunks(32) {
                let hex: String = row.iter().map(|x| format!("{x:02x}")).collect();
                out.push_str(&format!("  | {hex}\n"));
            }
            if b.len() > SHOW / 2 {
                out.push_str(&format!(
                    "  … {} more bytes, fnv64 {:016x}\n",
                    b.len() - SHOW / 2,
                    fnv64(b)
                ));
            }
        }
    }
}

fn cut(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn render(n: &Norm) -> String {
    if let Some(note) = &n.note {
        return format!("# {note}");
    }
    let mut s = format!("{} {}", n.method, n.path);
    for (i, (k, v)) in n.query.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s.push('\n');
    for (k, v) in &n.req_headers {
        s.push_str(&format!("  > {k}: {v}\n"));
    }
    if let Some(b) = &n.req_body {
        render_body(&mut s, ">", b);
    }
    s.push_str(&format!("  < {}\n", n.status.as_deref().unwrap_or("")));
    for (k, v) in &n.headers {
        s.push_str(&format!("  < {k}: {v}\n"));
    }
    if let Some(b) = &n.body {
        render_body(&mut s, "<", b);
    }
    s.trim_end().to_string()
}

fn url_decode(v: &str) -> String {
    let b = v.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// FNV-1a: a stable digest for the part of a body a snapshot does not show.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// RFC 3339 timestamps (`2026-01-02T03:04:05[.123](Z|±hh:mm)`) → `<date>`.
pub fn redact_dates(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 19 <= b.len() {
        let d = |j: usize| b[i + j].is_ascii_digit();
        let shape = (0..4).all(d)
            && b[i + 4] == b'-'
            && d(5)
            && d(6)
            && b[i + 7] == b'-'
            && d(8)
            && d(9)
            && matches!(b[i + 10], b'T' | b't' | b' ')
            && d(11)
            && d(12)
            && b[i + 13] == b':'
            && d(14)
            && d(15)
            && b[i + 16] == b':'
            && d(17)
            && d(18);
        if !shape {
            i += 1;
            continue;
        }
        let mut j = i + 19;
        if j < b.len() && b[j] == b'.' {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        if j < b.len() && matches!(b[j], b'Z' | b'z') {
            j += 1;
        } else if j + 6 <= b.len()
            && matches!(b[j], b'+' | b'-')
            && b[j + 3] == b':'
            && [1, 2, 4, 5].iter().all(|k| b[j + k].is_ascii_digit())
        {
            j += 6;
        }
        out.push_str(&s[copied..i]);
        out.push_str("<date>");
        copied = j;
        i = j;
    }
    out.push_str(&s[copied..]);
    out
}

/// IMF-fixdate (`Sun, 06 Dec 2026 22:26:01 GMT`, e.g. a raw `Date:`
/// header a case quotes) → `<http-date>`.
fn redact_http_dates(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" GMT") {
        // "Www, DD Mon YYYY HH:MM:SS" is 25 bytes before " GMT".
        let start = i.checked_sub(25).filter(|&st| rest.is_char_boundary(st));
        let shaped = start.is_some_and(|st| {
            let d = &rest.as_bytes()[st..i];
            d[3] == b',' && d[4] == b' ' && d[16] == b' ' && d[19] == b':' && d[22] == b':'
        });
        match (start, shaped) {
            (Some(st), true) => {
                out.push_str(&rest[..st]);
                out.push_str("<http-date>");
            }
            _ => out.push_str(&rest[..i + 4]),
        }
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    out
}

/// "restart finished after 123 ms" → "after <n> ms": notes carry timings.
fn redact_numbers_before_ms(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let timing = w.chars().all(|c| c.is_ascii_digit())
            && !w.is_empty()
            && words.get(i + 1).is_some_and(|n| n.starts_with("ms"));
        out.push(if timing { "<n>" } else { w });
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            case_url: "http://127.0.0.1:5/v1/stream/run-1/a.b.c".into(),
            root_url: "http://127.0.0.1:5/v1/stream".into(),
            run_id: "run-1".into(),
            extra_headers: vec![],
        }
    }

    fn ex(
        method: &str,
        url: &str,
        req: &[(&str, &str)],
        status: u16,
        resp: &[(&str, &str)],
        body: &str,
    ) -> Exchange {
        let mut e = Exchange::request(
            method,
            url,
            req.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            b"",
        );
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in resp {
            h.append(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        e.respond(
            status,
            &h,
            body.as_bytes(),
            std::time::Duration::from_millis(3),
        );
        e
    }

    #[test]
    fn offsets_are_numbered_by_first_appearance_wherever_they_reappear() {
        let base = "http://127.0.0.1:5/v1/stream/run-1/a.b.c";
        let t = vec![
            ex(
                "POST",
                &format!("{base}/s"),
                &[],
                204,
                &[("Stream-Next-Offset", "xyz_0042")],
                "",
            ),
            ex(
                "GET",
                &format!("{base}/s?offset=xyz_0042&live=sse"),
                &[],
                200,
                &[("content-type", "text/event-stream"), ("Date", "Sun")],
                "event: control\ndata: {\"streamNextOffset\":\"q7\",\"streamCursor\":\"991\"}\n\n",
            ),
            ex(
                "PUT",
                &format!("{base}/f"),
                &[
                    ("Stream-Fork-Offset", "q7"),
                    ("Stream-Forked-From", "/v1/stream/run-1/a.b.c/s"),
                ],
                201,
                &[
                    ("Location", &format!("{base}/f")),
                    ("Stream-Expires-At", "2026-01-02T03:04:05.5Z"),
                ],
                "",
            ),
        ];
        let blocks = Normaliser::new(scope(), Mode::Snapshot).transcript(&t);
        let all = blocks.join("\n\n");
        assert!(all.contains("POST {case}/s"), "{all}");
        assert!(all.contains("stream-next-offset: <offset-1>"), "{all}");
        assert!(all.contains("?offset=<offset-1>&live=sse"), "{all}");
        assert!(all.contains("\"streamNextOffset\":\"<offset-2>\""), "{all}");
        assert!(all.contains("\"streamCursor\":\"<cursor>\""), "{all}");
        assert!(all.contains("> stream-fork-offset: <offset-2>"), "{all}");
        assert!(all.contains("> stream-forked-from: {case-path}/s"), "{all}");
        assert!(all.contains("< location: {case}/f"), "{all}");
        assert!(all.contains("< stream-expires-at: <date>"), "{all}");
        assert!(
            !all.contains("date: Sun"),
            "transport headers are dropped: {all}"
        );
        assert!(!all.contains("xyz_0042") && !all.contains("run-1"), "{all}");
    }

    #[test]
    fn diff_mode_merges_chunks_that_follow_each_other() {
        let base = "http://127.0.0.1:5/v1/stream/run-1/a.b.c";
        let one = vec![
            ex(
                "GET",
                &format!("{base}/s?offset=-1"),
                &[],
                200,
                &[("stream-next-offset", "A")],
                "ab",
            ),
            ex(
                "GET",
                &format!("{base}/s?offset=A"),
                &[],
                200,
                &[("stream-next-offset", "B"), ("stream-up-to-date", "true")],
                "cd",
            ),
        ];
        let two = vec![ex(
            "GET",
            &format!("{base}/s?offset=-1"),
            &[],
            200,
            &[
                ("stream-next-offset", "0_4"),
                ("Stream-Up-To-Date", "TRUE"),
                ("cache-control", "no-store"),
            ],
            "abcd",
        )];
        let a = Normaliser::new(scope(), Mode::Diff).transcript(&one);
        let b = Normaliser::new(scope(), Mode::Diff).transcript(&two);
        assert_eq!(a, b);
        // Snapshot mode keeps the chunks apart.
        assert_eq!(
            Normaliser::new(scope(), Mode::Snapshot)
                .transcript(&one)
                .len(),
            2
        );
    }

    #[test]
    fn dates_and_hex() {
        assert_eq!(redact_dates("x 2026-12-06T21:00:00+01:00 y"), "x <date> y");
        assert_eq!(redact_dates("2026-12-06T21:00:00Z"), "<date>");
        assert_eq!(redact_dates("2026-12-06"), "2026-12-06");
        assert_eq!(
            redact_http_dates("date: Sun, 06 Dec 2026 22:26:01 GMT\r\n"),
            "date: <http-date>\r\n"
        );
        assert_eq!(redact_http_dates("x GMT"), "x GMT");
        assert_eq!(
            forget_numbers("a <etag-12> <etag-x", "<etag-"),
            "a <etag> <etag-x"
        );
        let n = Normaliser::new(scope(), Mode::Snapshot);
        assert_eq!(n.body(&[0, 255]), Body::Bytes(vec![0, 255]));
    }
}
