//! §12.7 X-Content-Type-Options: nosniff and Cross-Origin-Resource-Policy
//! on every kind of response: 201, 200, 204, 304, 400, 404, 409, a
//! long-poll 204, an SSE stream (and 410 when the server supports forks,
//! which is how a 410 arises).

use crate::case::{case, register, CaseResult, Failure};
use crate::client::{Ctx, Resp};
use crate::fail;

/// One response of each kind, labelled.
async fn every_kind(ctx: &Ctx) -> Result<Vec<(String, Resp)>, Failure> {
    let mut out = Vec::new();
    let mut add = |label: &str, r: Resp| out.push((format!("{label} → {}", r.status), r));
    let created = ctx.put("s").ct("text/plain").body("abc").send().await?;
    created.expect(201, "CREATE-NEW-201")?;
    add("PUT new", created);
    add("PUT same", ctx.put("s").ct("text/plain").send().await?);
    add(
        "POST append",
        ctx.post("s").ct("text/plain").body("d").send().await?,
    );
    let read = ctx.get("s").offset("-1").send().await?;
    let etag = read.header("etag");
    add("GET", read);
    add("HEAD", ctx.head("s").send().await?);
    match etag {
        Some(tag) => {
            let r = ctx
                .get("s")
                .offset("-1")
                .header("If-None-Match", tag)
                .send()
                .await?;
            if r.status == 304 {
                add("GET If-None-Match", r);
            } else {
                ctx.note(format!(
                    "If-None-Match answered {}, no 304 to check",
                    r.status
                ));
            }
        }
        None => ctx.note("no ETag on reads: no 304 to check"),
    }
    add("POST empty", ctx.post("s").ct("text/plain").send().await?);
    add("GET missing", ctx.get("missing").send().await?);
    add(
        "POST other type",
        ctx.post("s")
            .ct("application/json")
            .body("{}")
            .send()
            .await?,
    );
    add(
        "PUT other type",
        ctx.put("s").ct("application/json").send().await?,
    );
    add("OPTIONS", ctx.options("s").send().await?);
    // A 410 needs a soft-deleted stream: a source deleted while a fork exists.
    ctx.put("src").ct("text/plain").body("x").send().await?;
    let fork = ctx
        .put("fork")
        .ct("text/plain")
        .fork_of("src")
        .send()
        .await?;
    if fork.status == 201 && ctx.delete("src").send().await?.status == 204 {
        let gone = ctx.get("src").send().await?;
        if gone.status == 410 {
            add("GET soft-deleted", gone);
        }
    } else {
        ctx.note(format!(
            "fork creation answered {}: no 410 to check",
            fork.status
        ));
    }
    // Live reads on a closed stream answer at once: a long-poll 204 and an
    // SSE response (whose headers a server may build on a separate path).
    ctx.put("c").ct("text/plain").closed().send().await?;
    let lp = ctx.get("c").offset("now").long_poll().send().await?;
    if lp.status == 204 {
        add("long-poll GET at a closed tail", lp);
    } else {
        ctx.note(format!(
            "long-poll on a closed stream answered {}: no 204 to check",
            lp.status
        ));
    }
    let sse = ctx.get("c").offset("-1").live("sse").sse().await?;
    let sse = Resp {
        status: sse.status,
        headers: sse.headers.clone(),
        body: Default::default(),
        exchange: 0,
        elapsed: Default::default(),
    };
    add("SSE GET", sse);
    let del = ctx.delete("s").send().await?;
    add("DELETE", del);
    Ok(out)
}

/// SHOULD: X-Content-Type-Options: nosniff on every response.
#[case("SEC-NOSNIFF")]
pub async fn nosniff_on_every_response(ctx: Ctx) -> CaseResult {
    for (label, r) in every_kind(&ctx).await? {
        match r.header("x-content-type-options") {
            Some(v) if v.trim().eq_ignore_ascii_case("nosniff") => {}
            other => fail!(
                "SEC-NOSNIFF",
                "{label}: X-Content-Type-Options is {other:?}, expected nosniff"
            ),
        }
    }
    Ok(())
}

/// SHOULD: Cross-Origin-Resource-Policy (cross-origin, same-site or
/// same-origin) on every response.
#[case("SEC-CORP")]
pub async fn corp_on_every_response(ctx: Ctx) -> CaseResult {
    for (label, r) in every_kind(&ctx).await? {
        let v = r
            .header("cross-origin-resource-policy")
            .map(|v| v.trim().to_ascii_lowercase());
        match v.as_deref() {
            Some("cross-origin" | "same-site" | "same-origin") => {}
            other => fail!(
                "SEC-CORP",
                "{label}: Cross-Origin-Resource-Policy is {other:?}"
            ),
        }
    }
    Ok(())
}

register![nosniff_on_every_response, corp_on_every_response,];
