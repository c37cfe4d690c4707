//! Before any case runs: is the target a Durable Streams server at all, and
//! what is its long-poll timeout? One stream is created, appended to, read,
//! long-polled at its tail (to measure the timeout) and deleted. A failing
//! step stops the run with exit 2 and a hint, instead of 319 failures.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::client::{error_chain, Target};

/// What the preflight learned.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// The long-poll timeout the target showed (a 204 at a quiet tail).
    pub long_poll: Option<Duration>,
    /// Lines worth telling the user (disagreements, surprises).
    pub warnings: Vec<String>,
}

/// How long to wait for the measuring long-poll.
fn measure_budget(given: Option<Duration>) -> Duration {
    match given {
        Some(g) => g + g / 2 + Duration::from_secs(5),
        None => Duration::from_secs(65),
    }
}

const HINT: &str = "is --target the stream root (the URL streams live under, e.g. \
                    http://127.0.0.1:4437/v1/stream)? does the server need an \
                    --header 'Authorization: …'?";

async fn send(
    target: &Target,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &'static str,
    timeout: Duration,
) -> Result<(u16, reqwest::header::HeaderMap, String, Duration), String> {
    let mut req = target.http.request(method.clone(), url).timeout(timeout);
    for (k, v) in &target.headers {
        req = req.header(k, v);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() || method == Method::PUT || method == Method::POST {
        req = req.body(body);
    }
    let started = Instant::now();
    let resp = req.send().await.map_err(|e| {
        let mut msg = format!("{method} {url}: {}", error_chain(&e));
        if e.is_timeout() {
            msg = format!(
                "{method} {url}: no answer within {} ms",
                timeout.as_millis()
            );
        } else if msg.contains("certificate") || msg.contains("Certificate") {
            msg.push_str(" (a self-signed test certificate? pass --insecure)");
        }
        msg
    })?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, headers, text, started.elapsed()))
}

fn step_failed(what: &str, status: u16, body: &str) -> String {
    let body: String = body.chars().take(200).collect();
    let extra = match status {
        401 | 403 => " (authentication: pass --header 'Authorization: …')",
        404 | 405 => " (not a stream root?)",
        _ => "",
    };
    format!(
        "preflight: {what} answered {status}{extra}; body: {body:?}\n  {HINT}",
        body = body.trim()
    )
}

/// Run the preflight under `{root}/{run_id}/`. `given`: `--long-poll-timeout-ms` if passed;
/// `measure`: whether to measure the long-poll timeout at all.
pub async fn run(
    target: &Target,
    run_id: &str,
    given: Option<Duration>,
    measure: bool,
) -> Result<Findings, String> {
    let root = target.root.as_str().trim_end_matches('/');
    let url = format!("{root}/{run_id}/preflight/s");
    let quick = Duration::from_secs(15);
    let unreachable = |e: String| format!("cannot reach the target {}: {e}", target.root);
    let mut findings = Findings::default();

    let (status, _, body, _) = send(
        target,
        Method::PUT,
        &url,
        &[("Content-Type", "text/plain")],
        "",
        quick,
    )
    .await
    .map_err(unreachable)?;
    if !(200..300).contains(&status) {
        return Err(step_failed(
            &format!("creating a stream (PUT {url})"),
            status,
            &body,
        ));
    }
    let result = async {
        let (status, h, body, _) = send(
            target,
            Method::POST,
            &url,
            &[("Content-Type", "text/plain")],
            "preflight",
            quick,
        )
        .await?;
        if !(200..300).contains(&status) || !h.contains_key("stream-next-offset") {
            return Err(step_failed(
                &format!("appending (POST {url}) [expected 2xx with Stream-Next-Offset]"),
                status,
                &body,
            ));
        }
        let read = format!("{url}?offset=-1");
        let (status, h, body, _) = send(target, Method::GET, &read, &[], "", quick).await?;
        let tail = h
            .get("stream-next-offset")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(tail) = tail.filter(|_| status == 200 && body == "preflight") else {
            return Err(step_failed(
                &format!(
                    "reading back (GET {read}) [expected 200, body \"preflight\" and Stream-Next-Offset]"
                ),
                status,
                &body,
            ));
        };
        if measure {
            let mut lp = reqwest::Url::parse(&url).map_err(|e| e.to_string())?;
            lp.query_pairs_mut()
                .append_pair("offset", &tail)
                .append_pair("live", "long-poll");
            let budget = measure_budget(given);
            match send(target, Method::GET, lp.as_str(), &[], "", budget).await {
                Ok((204, _, _, took)) => {
                    let ms = (took.as_millis() as u64).div_ceil(100) * 100;
                    findings.long_poll = Some(Duration::from_millis(ms.max(100)));
                }
                Ok((status, _, _, _)) => findings.warnings.push(format!(
                    "preflight: a long-poll at the tail answered {status} instead of 204 \
                     after the target's timeout; could not measure the long-poll timeout"
                )),
                Err(_) => findings.warnings.push(match given {
                    Some(g) => format!(
                        "warning: --long-poll-timeout-ms {} but the target held a long-poll at a \
                         quiet tail for more than {} ms; timing-dependent cases may fail because \
                         of the flag (omit it to measure, or pass the server's real value)",
                        g.as_millis(),
                        budget.as_millis()
                    ),
                    None => format!(
                        "preflight: a long-poll at a quiet tail got no answer within {} s; \
                         could not measure the target's long-poll timeout",
                        budget.as_secs()
                    ),
                }),
            }
        }
        Ok(())
    }
    .await;
    let deleted = send(target, Method::DELETE, &url, &[], "", quick).await;
    result?;
    match deleted {
        Ok((status, _, _, _)) if (200..300).contains(&status) => {}
        Ok((status, _, body, _)) => {
            return Err(step_failed(
                &format!("deleting (DELETE {url})"),
                status,
                &body,
            ))
        }
        Err(e) => return Err(format!("preflight: {e}")),
    }
    if let (Some(g), Some(m)) = (given, findings.long_poll) {
        let (g_ms, m_ms) = (g.as_millis() as i64, m.as_millis() as i64);
        if (g_ms - m_ms).abs() > 500.max(g_ms / 5) {
            findings.warnings.push(format!(
                "warning: --long-poll-timeout-ms {g_ms} but the target ended a long-poll after \
                 about {m_ms} ms; timing-dependent cases may fail because of the flag \
                 (pass --long-poll-timeout-ms {m_ms}, or omit it to use the measured value)"
            ));
        }
    }
    Ok(findings)
}
