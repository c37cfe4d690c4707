//! Replay scripts built from a case's recorded exchanges, for cases whose
//! requests carry values the server minted (claim tokens, wake ids,
//! offsets): `subscriptions::props` writes one for its minimal failing
//! sequence.
//!
//! The script re-sends every request in order against `TARGET` (the
//! recorded stream root unless set), under a fresh `RUN` namespace in
//! place of the run id, with the recorded pauses. A value the server
//! minted in one answer (a JSON string field, `Stream-Next-Offset`,
//! `Stream-Cursor`) and sent back in a later request is captured from the
//! replay's own answer into a shell variable, so the replay talks to the
//! server as the harness did. The status of every request but a GET is
//! compared with the recorded run's (a GET's may depend on timing); the
//! script exits 1 when all agree, i.e. when it reproduced the failure, and
//! 0 when an answer differs.

use std::fmt::Write as _;

use serde_json::Value;

use crate::transcript::{header_arg, shell_quote, Exchange};

/// Response headers whose values the harness sends back.
const HEADERS: [&str; 2] = ["stream-next-offset", "stream-cursor"];
/// Pauses shorter than this are not kept.
const MIN_PAUSE_MS: u128 = 150;
/// A longer pause that the case did not make on purpose (no `Ctx::sleep`
/// in it) is the harness doing other work between the exchanges it
/// recorded, e.g. the property search between a capability probe and the
/// final replay: the scenario does not need it, and the script skips it.
/// The waits the case made on purpose are kept whatever their length.
const MAX_PAUSE_MS: u128 = 10_000;

/// Where a minted value is read from in the replay's own answer.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Header(&'static str),
    /// The first `"key": "..."` in the body (what `field key` extracts).
    Field(String),
}

#[derive(Clone, Debug)]
struct Capture {
    value: String,
    var: String,
    source: Source,
    /// Index (in `requests`) of the exchange whose answer holds it.
    from: usize,
}

/// Where in a request a substitution may happen.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Url,
    Header,
    Body,
}

/// What the script needs to know beyond the exchanges.
pub struct Replay<'a> {
    /// The stream root as recorded (URLs starting with it become `$TARGET`).
    pub root: &'a str,
    /// The run id (replaced by a fresh `$RUN`).
    pub run_id: &'a str,
    /// Comment lines for the top of the script (no leading `#`).
    pub header: &'a str,
    /// The requirement the recorded run broke; None when the harness's own
    /// final replay did not fail (the script then only re-sends).
    pub broke: Option<&'a str>,
}

impl Replay<'_> {
    pub fn render(&self, exchanges: &[Exchange]) -> String {
        let is_request = |e: &Exchange| e.note.is_none() && !e.method.is_empty();
        let requests: Vec<&Exchange> = exchanges.iter().filter(|e| is_request(e)).collect();
        // The waits the case made on purpose before each request.
        let mut waits = Vec::with_capacity(requests.len());
        let mut waited = std::time::Duration::ZERO;
        for e in exchanges {
            if is_request(e) {
                waits.push(std::mem::take(&mut waited));
            } else if let Some(w) = e.wait {
                waited += w;
            }
        }
        let captures = self.captures(&requests);
        let mut out = String::new();
        out.push_str("#!/usr/bin/env bash\n");
        for l in self.header.lines() {
            let _ = writeln!(out, "# {l}");
        }
        out.push_str(
            "# Needs bash and curl. TARGET (the stream root) and RUN (the namespace\n# replacing the run id) may be set in the environment.\n",
        );
        out.push_str(PRELUDE);
        let _ = writeln!(
            out,
            "TARGET=\"${{TARGET:-{}}}\"",
            self.root.trim_end_matches('/')
        );
        let _ = writeln!(
            out,
            "RUN=\"${{RUN:-{}-replay-$(date +%s)-$RANDOM}}\"",
            self.run_id
        );
        let mut previous_end: Option<std::time::Instant> = None;
        for (i, ex) in requests.iter().enumerate() {
            let known: Vec<&Capture> = captures.iter().filter(|c| c.from < i).collect();
            let n = i + 1;
            let _ = writeln!(out, "\n# {n}. {} {}", ex.method, self.label(&ex.url));
            let waited = waits[i].as_millis();
            if waited > 0 {
                let _ = writeln!(
                    out,
                    "sleep {}.{:03}  # the case waited {waited} ms here on purpose",
                    waited / 1000,
                    waited % 1000
                );
            } else if let (Some(end), Some(start)) = (previous_end, ex.started) {
                let gap = start.saturating_duration_since(end).as_millis();
                if gap > MAX_PAUSE_MS {
                    let _ = writeln!(
                        out,
                        "# (the recorded run spent {gap} ms on other work here, e.g. the property search: no wait needed)"
                    );
                } else if gap >= MIN_PAUSE_MS {
                    let _ = writeln!(
                        out,
                        "sleep {}.{:03}  # as the recorded run did",
                        gap / 1000,
                        gap % 1000
                    );
                }
            }
            previous_end = ex
                .started
                .map(|s| s + std::time::Duration::from_millis(ex.elapsed_ms));
            let mut cmd = format!("req {n}");
            let sse = ex
                .request_headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("accept") && v.contains("event-stream"))
                || ex.url.contains("live=sse");
            cmd.push_str(if sse {
                " -N --max-time 5"
            } else {
                " --max-time 60"
            });
            match ex.method.as_str() {
                "GET" => {}
                "HEAD" => cmd.push_str(" -I"),
                m => {
                    let _ = write!(cmd, " -X {m}");
                }
            }
            for (k, v) in &ex.request_headers {
                if v.contains("${DS_") {
                    let _ = write!(cmd, " -H {}", header_arg(k, v));
                } else {
                    let _ = write!(
                        cmd,
                        " -H {}",
                        self.word(&format!("{k}: "), v, &known, Place::Header)
                    );
                }
            }
            if !ex.request_body.is_empty() || matches!(ex.method.as_str(), "POST" | "PUT") {
                match std::str::from_utf8(&ex.request_body) {
                    Ok(text) if !text.contains('\0') => {
                        let body = if text.is_empty() {
                            "''".to_string()
                        } else {
                            self.word("", text, &known, Place::Body)
                        };
                        let _ = write!(cmd, " --data-binary {body}");
                    }
                    _ => {
                        let _ = write!(
                            cmd,
                            " --data-binary @<(printf %b {})",
                            crate::transcript::printf_b_arg(&ex.request_body)
                        );
                    }
                }
            }
            let _ = write!(cmd, " {}", self.word("", &ex.url, &known, Place::Url));
            out.push_str(&cmd);
            out.push('\n');
            if let (Some(code), false) = (ex.status, ex.method == "GET") {
                let _ = writeln!(out, "seen {n} {code}");
            }
            for c in captures.iter().filter(|c| c.from == i) {
                let _ = match &c.source {
                    Source::Header(h) => writeln!(out, "{}=$(hdr {h})", c.var),
                    Source::Field(k) => writeln!(out, "{}=$(field {k})", c.var),
                };
            }
        }
        match self.broke {
            Some(req) => {
                let _ = writeln!(
                    out,
                    "\nif [ \"$DIFFER\" = 0 ]; then echo 'REPRODUCED: every answer but the GETs had the recorded status; the recorded run broke {req}'; exit 1; fi"
                );
                out.push_str(
                    "echo 'not reproduced: answers differ from the recorded run (see \"differs\" above)'; exit 0\n",
                );
            }
            None => out.push_str(
                "\necho 'the harness could not reproduce this failure itself (flaky?): nothing to compare'; exit 0\n",
            ),
        }
        out
    }

    /// A request's URL for comments: without the root.
    fn label(&self, url: &str) -> String {
        let rest = url
            .strip_prefix(self.root.trim_end_matches('/'))
            .unwrap_or(url);
        rest.replace(self.run_id, "$RUN").replace('\n', " ")
    }

    /// Values minted in one answer and sent back in a later request.
    fn captures(&self, requests: &[&Exchange]) -> Vec<Capture> {
        let mut sent = String::new();
        let mut out: Vec<Capture> = Vec::new();
        for (i, ex) in requests.iter().enumerate() {
            sent.push_str(&request_text(ex));
            let mut found: Vec<(String, Source)> = Vec::new();
            for h in HEADERS {
                if let Some((_, v)) = ex
                    .response_headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(h))
                {
                    found.push((v.clone(), Source::Header(h)));
                }
            }
            let body = String::from_utf8_lossy(&ex.response_body);
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                let mut leaves = Vec::new();
                string_fields(&v, &mut leaves);
                for (key, value) in leaves {
                    // Only what `field key` would extract from this body.
                    if first_field(&body, &key).as_deref() == Some(value.as_str()) {
                        found.push((value, Source::Field(key)));
                    }
                }
            }
            for (value, source) in found {
                let fresh = value.len() >= 4
                    && !value.contains(self.run_id)
                    && !sent.contains(&value)
                    && !out.iter().any(|c| c.value == value);
                let used_later = requests[i + 1..].iter().any(|later| uses(later, &value));
                if fresh && used_later {
                    out.push(Capture {
                        var: format!("V{}", out.len() + 1),
                        value,
                        source,
                        from: i,
                    });
                }
            }
        }
        out
    }

    /// `prefix` then `text` as one shell word: in `text` the root (URLs
    /// only), the run id and the captured values replaced by variables, the
    /// rest quoted.
    fn word(&self, prefix: &str, text: &str, known: &[&Capture], place: Place) -> String {
        let root = self.root.trim_end_matches('/');
        let mut pieces: Vec<(bool, String)> = vec![(false, prefix.to_string())]; // (is variable, text)
        let push = |pieces: &mut Vec<(bool, String)>, var: bool, s: &str| match pieces.last_mut() {
            Some((false, last)) if !var => last.push_str(s),
            _ => pieces.push((var, s.to_string())),
        };
        let mut rest = text;
        if place == Place::Url {
            if let Some(r) = text.strip_prefix(root) {
                push(&mut pieces, true, "TARGET");
                rest = r;
            }
        }
        let mut i = 0;
        let mut literal_start = 0;
        while i < rest.len() {
            let here = &rest[i..];
            let hit = if !self.run_id.is_empty() && here.starts_with(self.run_id) {
                Some(("RUN".to_string(), self.run_id.len()))
            } else {
                known
                    .iter()
                    .filter(|c| here.starts_with(c.value.as_str()))
                    .filter(|c| bounded(rest, i, c.value.len(), place))
                    .max_by_key(|c| c.value.len())
                    .map(|c| (c.var.clone(), c.value.len()))
            };
            match hit {
                Some((var, len)) => {
                    push(&mut pieces, false, &rest[literal_start..i]);
                    push(&mut pieces, true, &var);
                    i += len;
                    literal_start = i;
                }
                None => {
                    i += 1;
                    while i < rest.len() && !rest.is_char_boundary(i) {
                        i += 1;
                    }
                }
            }
        }
        push(&mut pieces, false, &rest[literal_start..]);
        let word: String = pieces
            .iter()
            .filter(|(var, s)| *var || !s.is_empty())
            .map(|(var, s)| {
                if *var {
                    format!("\"${s}\"")
                } else {
                    shell_quote(s.as_bytes())
                }
            })
            .collect();
        if word.is_empty() {
            "''".to_string()
        } else {
            word
        }
    }
}

/// Is the occurrence at `at..at+len` of `text` a whole value where it is?
/// URL: a query parameter's value; header: the whole value or a bearer
/// token; body: a whole JSON string.
fn bounded(text: &str, at: usize, len: usize, place: Place) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at + len..].chars().next();
    match place {
        Place::Url => before == Some('=') && matches!(after, None | Some('&') | Some('#')),
        Place::Header => matches!(before, None | Some(' ')) && after.is_none(),
        Place::Body => before == Some('"') && after == Some('"'),
    }
}

/// Does `ex` send `value` back (where a substitution would replace it)?
fn uses(ex: &Exchange, value: &str) -> bool {
    let found = |text: &str, place: Place| {
        text.match_indices(value)
            .any(|(at, _)| bounded(text, at, value.len(), place))
    };
    found(&ex.url, Place::Url)
        || ex
            .request_headers
            .iter()
            .any(|(_, v)| found(v, Place::Header))
        || std::str::from_utf8(&ex.request_body).is_ok_and(|b| found(b, Place::Body))
}

fn request_text(ex: &Exchange) -> String {
    let mut s = ex.url.clone();
    for (k, v) in &ex.request_headers {
        let _ = write!(s, "\n{k}: {v}");
    }
    s.push('\n');
    s.push_str(&String::from_utf8_lossy(&ex.request_body));
    s
}

/// Every `key: "string"` pair in a JSON value, in document order.
fn string_fields(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) => out.push((k.clone(), s.clone())),
                    other => string_fields(other, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| string_fields(x, out)),
        _ => {}
    }
}

/// What the script's `field key` prints for `body`: the first
/// `"key"[ \t]*:[ \t]*"..."` (no quote inside), or None. Keys are limited
/// to characters that need no quoting in the grep pattern.
fn first_field(body: &str, key: &str) -> Option<String> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let needle = format!("\"{key}\"");
    for (at, _) in body.match_indices(&needle) {
        let rest = body[at + needle.len()..].trim_start_matches([' ', '\t']);
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start_matches([' ', '\t']);
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        let Some(end) = rest.find(['"', '\n']) else {
            continue;
        };
        if rest.as_bytes()[end] == b'"' {
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// The helpers every replay script starts with (this one's and the
/// property scripts' of `props::script`): `req N CURL-ARGS...` sends request
/// N and sets STATUS and NEXT (its Stream-Next-Offset); `seen N STATUS
/// [BODY]` notes (DIFFER=1) an answer unlike the recorded run's; `hdr NAME`
/// and `field NAME` read the last answer's header and JSON string field.
pub(crate) const PRELUDE: &str = r##"set -u
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT; DIFFER=0; STATUS=; NEXT=
req() {
  local n=$1; shift
  : >"$TMP/h"; : >"$TMP/b"
  curl -sS -D "$TMP/h" -o "$TMP/b" "$@"
  STATUS=$(tr -d '\r' <"$TMP/h" | sed -n 's/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' | tail -n1)
  NEXT=$(hdr Stream-Next-Offset)
  echo "<<< $n: ${STATUS:-no answer} $(head -c 300 "$TMP/b" | tr '\n' ' ')"
}
# seen N STATUS [BODY]: the recorded run's request N was answered STATUS (and BODY)
seen() { if [ "$STATUS" != "$2" ]; then echo "# differs from the recorded run: request $1 answered ${STATUS:-nothing}, the recorded run saw $2"; DIFFER=1; elif [ $# -ge 3 ] && ! cmp -s "$TMP/b" <(printf '%b' "$3"); then echo "# differs from the recorded run: the body of request $1"; DIFFER=1; fi; }
hdr() { tr -d '\r' <"$TMP/h" | grep -i "^$1:" | head -n1 | sed 's/^[^:]*:[[:space:]]*//'; }
field() { grep -o "\"$1\"[[:blank:]]*:[[:blank:]]*\"[^\"]*\"" "$TMP/b" | head -n1 | sed 's/^.*:[[:blank:]]*"//; s/"$//'; }
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
        Exchange::request(
            method,
            url,
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body.as_bytes(),
        )
    }

    fn answered(mut e: Exchange, status: u16, headers: &[(&str, &str)], body: &str) -> Exchange {
        e.status = Some(status);
        e.response_headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.response_body = body.as_bytes().to_vec();
        e
    }

    #[test]
    fn first_field_is_what_the_script_extracts() {
        let body = "{\"wake\": {\"token\" : \"t-1\"}, \"token\": \"t-2\"}";
        assert_eq!(first_field(body, "token").as_deref(), Some("t-1"));
        assert_eq!(
            first_field("{\"a\":\"x\\\"y\"}", "a").as_deref(),
            Some("x\\")
        );
        assert_eq!(first_field("[\"token\", 1]", "token"), None);
    }

    /// A wait the case made on purpose (`Ctx::sleep`, e.g. for a lease to
    /// expire) is replayed in full, however long; it is not cut to a cap.
    #[test]
    fn the_cases_own_waits_are_replayed_in_full() {
        let root = "http://127.0.0.1:9/v1/stream";
        let t0 = std::time::Instant::now();
        let mut claim = ex("POST", &format!("{root}/r-1/s/claim"), &[], "{}");
        claim.status = Some(200);
        claim.started = Some(t0);
        let mut wait = Exchange::note("sleep 12000 ms".into());
        wait.wait = Some(std::time::Duration::from_millis(12_000));
        let mut ack = ex("POST", &format!("{root}/r-1/s/ack"), &[], "{}");
        ack.status = Some(409);
        ack.started = Some(t0 + std::time::Duration::from_millis(12_080));
        let s = Replay {
            root,
            run_id: "r-1",
            header: "test",
            broke: Some("SUB-X"),
        }
        .render(&[claim, wait, ack]);
        assert!(
            s.contains("\nsleep 12.000  # the case waited 12000 ms here on purpose\n"),
            "{s}"
        );
        assert_eq!(s.matches("\nsleep ").count(), 1, "{s}");
    }

    #[test]
    fn minted_values_are_captured_and_sent_back_as_variables() {
        let root = "http://127.0.0.1:9/v1/stream";
        let run = "dsc-1-abcd";
        let t = vec![
            answered(
                ex(
                    "POST",
                    &format!("{root}/__ds/subscriptions/{run}-s/claim"),
                    &[],
                    "{\"worker\":\"w0\"}",
                ),
                200,
                &[],
                "{\"wake_id\":\"wk-77\",\"generation\":3,\"token\":\"tok-secret-1\"}",
            ),
            answered(
                ex("GET", &format!("{root}/{run}/wake?offset=-1"), &[], ""),
                200,
                &[("stream-next-offset", "0005")],
                "[]",
            ),
            answered(
                ex(
                    "POST",
                    &format!("{root}/__ds/subscriptions/{run}-s/ack"),
                    &[("Authorization", "Bearer tok-secret-1")],
                    "{\"wake_id\":\"wk-77\",\"generation\":3,\"done\":true}",
                ),
                409,
                &[],
                "{}",
            ),
            answered(
                ex(
                    "GET",
                    &format!("{root}/{run}/wake?offset=0005&live=long-poll"),
                    &[],
                    "",
                ),
                204,
                &[],
                "",
            ),
        ];
        let mut t = t;
        let t0 = std::time::Instant::now();
        for (e, at_ms) in t.iter_mut().zip([0u64, 40_000, 42_500, 42_600]) {
            e.started = Some(t0 + std::time::Duration::from_millis(at_ms));
            e.elapsed_ms = 0;
        }
        let s = Replay {
            root,
            run_id: run,
            header: "test",
            broke: Some("SUB-X"),
        }
        .render(&t);
        let var = |what: &str| {
            s.lines()
                .find_map(|l| l.strip_suffix(&format!("=$({what})")))
                .unwrap_or_else(|| panic!("no capture of {what}:\n{s}"))
                .to_string()
        };
        let (wake, token, offset) = (
            var("field wake_id"),
            var("field token"),
            var("hdr stream-next-offset"),
        );
        assert!(
            s.contains(&format!("'Authorization: Bearer '\"${token}\"")),
            "{s}"
        );
        assert!(
            s.contains(&format!(
                "'{{\"wake_id\":\"'\"${wake}\"'\",\"generation\":3"
            )),
            "{s}"
        );
        assert!(
            s.contains(&format!(
                "\"$TARGET\"'/'\"$RUN\"'/wake?offset='\"${offset}\"'&live=long-poll'"
            )),
            "{s}"
        );
        assert!(
            s.contains("# (the recorded run spent 40000 ms on other work here"),
            "{s}"
        );
        assert!(s.contains("sleep 2.500  # as the recorded run did"), "{s}");
        assert_eq!(
            s.matches("\nsleep ").count(),
            1,
            "100 ms is no pause, 40 s of other work neither: {s}"
        );
        assert!(s.contains("seen 3 409"), "{s}");
        assert!(!s.contains("seen 2 "), "GETs are not compared: {s}");
        assert!(!s.contains("tok-secret-1"), "{s}");
        assert!(s.contains("exit 1"), "{s}");
    }
}
