//! Spec regression snapshots: what the reference server puts on the wire for
//! canonical exchanges of §5, §8, §9.1 and §10, normalised (offsets, cursors
//! and ETags become stable placeholders) and compared with
//! fixtures/snapshots/*.snap. A behaviour change shows up as a readable diff;
//! accept it with `INSTA_UPDATE=always cargo test --test wire_snapshots`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ds_conformance::client::{Ctx, Target};
use ds_conformance::transcript::Exchange;

/// Headers worth pinning: the protocol's own plus caching and security.
fn interesting(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("stream-")
        || n.starts_with("producer-")
        || matches!(
            n.as_str(),
            "content-type"
                | "etag"
                | "cache-control"
                | "location"
                | "x-content-type-options"
                | "cross-origin-resource-policy"
        )
}

struct Normaliser {
    base: String,
    tokens: HashMap<String, String>,
}

impl Normaliser {
    fn token(&mut self, kind: &str, value: &str) -> String {
        let n = self.tokens.len() + 1;
        self.tokens
            .entry(format!("{kind}:{value}"))
            .or_insert_with(|| format!("<{kind}-{n}>"))
            .clone()
    }

    /// Replace every token we learned (longest first) inside `text`.
    fn offsets_in(&self, text: &str) -> String {
        let mut known: Vec<(&str, &String)> = self
            .tokens
            .iter()
            .map(|(k, v)| (k.split_once(':').map(|(_, raw)| raw).unwrap_or(""), v))
            .collect();
        known.sort_by_key(|(raw, _)| std::cmp::Reverse(raw.len()));
        let mut out = text.to_string();
        for (raw, v) in known {
            if !raw.is_empty() {
                out = out.replace(raw, v);
            }
        }
        out
    }

    fn render(&mut self, ex: &Exchange) -> String {
        if let Some(n) = &ex.note {
            return format!("# {n}\n");
        }
        // Learn offsets first, so URLs and bodies that echo them normalise too.
        for (k, v) in &ex.response_headers {
            if k.eq_ignore_ascii_case("stream-next-offset") {
                self.token("offset", v);
            }
        }
        let url = ex.url.replace(&self.base, "{root}/");
        let mut s = format!("{} {}\n", ex.method, self.offsets_in(&url));
        let base_path = reqwest::Url::parse(&self.base)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        for (k, v) in &ex.request_headers {
            let v = v.replace(&base_path, "{root-path}/");
            s.push_str(&format!("  > {k}: {}\n", self.offsets_in(&v)));
        }
        if ex.request_body_len > 0 {
            s.push_str(&format!("  > body: {}\n", ex.request_body_preview));
        }
        s.push_str(&format!(
            "  < {}\n",
            ex.status
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no response".into())
        ));
        let mut headers: Vec<(String, String)> = ex
            .response_headers
            .iter()
            .filter(|(k, _)| interesting(k))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.sort();
        for (k, v) in headers {
            let v = match k.as_str() {
                "stream-cursor" => "<cursor>".to_string(),
                "etag" => self.token("etag", &v),
                "location" => v.replace(&self.base, "{root}/"),
                _ => self.offsets_in(&v),
            };
            s.push_str(&format!("  < {k}: {v}\n"));
        }
        if ex.response_body_len > 0 {
            let body = self.offsets_in(&ex.response_body_preview);
            let body = normalise_cursor_field(&body);
            s.push_str(&format!("  < body: {body}\n"));
        }
        s
    }
}

/// `"streamCursor":"123"` → `"streamCursor":"<cursor>"` (SSE control events).
fn normalise_cursor_field(s: &str) -> String {
    let key = "\\\"streamCursor\\\":\\\"";
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(key) {
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let end = rest.find("\\\"").unwrap_or(rest.len());
        out.push_str("<cursor>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn with_server<F, Fut>(name: &str, scenario: F) -> String
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = Result<(), ds_conformance::Failure>>,
{
    let config = ds_reference_server::Config {
        long_poll_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let server = ds_reference_server::spawn(config)
        .await
        .expect("spawn reference server");
    let target = Target::new(&format!("{}/v1/stream", server.url)).expect("target");
    let ctx = Ctx::new(Arc::new(target), name);
    let base = ctx.url("");
    scenario(ctx.clone()).await.expect("scenario runs");
    let mut n = Normaliser {
        base,
        tokens: HashMap::new(),
    };
    let text: String = ctx
        .transcript()
        .iter()
        .map(|e| n.render(e))
        .collect::<Vec<_>>()
        .join("\n");
    server.shutdown().await;
    text
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../../fixtures/snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[tokio::test]
async fn wire_basic_lifecycle() {
    let text = with_server("snap::wire::basic", |ctx| async move {
        ctx.put("s").ct("text/plain").body("hello ").send().await?;
        ctx.put("s").ct("text/plain").send().await?;
        ctx.post("s").ct("text/plain").body("world").send().await?;
        let r = ctx.get("s").offset("-1").send().await?;
        let etag = r.header("etag").unwrap_or_default();
        ctx.get("s")
            .offset("-1")
            .header("If-None-Match", &etag)
            .send()
            .await?;
        ctx.head("s").send().await?;
        ctx.get("s").offset("now").send().await?;
        ctx.post("s").closed().send().await?;
        ctx.post("s").ct("text/plain").body("late").send().await?;
        let tail = ctx
            .head("s")
            .send()
            .await?
            .header("stream-next-offset")
            .unwrap_or_default();
        ctx.get("s").offset(&tail).send().await?;
        ctx.get("s").offset(&tail).long_poll().send().await?;
        let mut sse = ctx.get("s").offset("-1").live("sse").sse().await?;
        sse.wait_closed(Duration::from_secs(5)).await;
        ctx.delete("s").send().await?;
        ctx.head("s").send().await?;
        Ok(())
    })
    .await;
    settings().bind(|| insta::assert_snapshot!("wire_basic_lifecycle", text));
}

#[tokio::test]
async fn wire_json_and_producers() {
    let text = with_server("snap::wire::json", |ctx| async move {
        ctx.put("j")
            .ct("application/json")
            .body("[]")
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body(r#"[{"a":1},[2,3]]"#)
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body("[]")
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body("{")
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body(r#"{"b":2}"#)
            .producer("p", 0, 0)
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body(r#"{"b":2}"#)
            .producer("p", 0, 0)
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body(r#"{"c":3}"#)
            .producer("p", 0, 2)
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body(r#"{"c":3}"#)
            .producer("p", 1, 0)
            .send()
            .await?;
        ctx.post("j")
            .ct("application/json")
            .body(r#"{"z":0}"#)
            .producer("p", 0, 1)
            .send()
            .await?;
        ctx.get("j").offset("-1").send().await?;
        Ok(())
    })
    .await;
    settings().bind(|| insta::assert_snapshot!("wire_json_and_producers", text));
}

#[tokio::test]
async fn wire_fork_and_soft_delete() {
    let text = with_server("snap::wire::fork", |ctx| async move {
        ctx.put("src").ct("text/plain").body("abc").send().await?;
        let r = ctx.post("src").ct("text/plain").body("def").send().await?;
        let mid = r.header("stream-next-offset").unwrap_or_default();
        ctx.post("src").ct("text/plain").body("ghi").send().await?;
        ctx.put("f").fork_of("src").fork_offset(&mid).send().await?;
        ctx.post("f").ct("text/plain").body("XYZ").send().await?;
        ctx.get("f").offset("-1").send().await?;
        ctx.delete("src").send().await?;
        ctx.get("src").offset("-1").send().await?;
        ctx.put("src").ct("text/plain").send().await?;
        ctx.get("f").offset("-1").send().await?;
        ctx.delete("f").send().await?;
        Ok(())
    })
    .await;
    settings().bind(|| insta::assert_snapshot!("wire_fork_and_soft_delete", text));
}
