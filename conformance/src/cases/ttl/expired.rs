//! §4 "Durability" (bytes persist until the stream is deleted or expired),
//! §5.1 Stream-TTL / Stream-Expires-At, §5.5: an expired stream no longer
//! exists — every operation answers 404 — and a stream created again at its
//! URL (§4 advises against reuse, so a server may refuse) starts fresh.

use std::time::{Duration, Instant};

use super::util::{expires_in, put_text, wait_status};
use crate::case::{case, register, CaseResult};
use crate::check;
use crate::client::Ctx;

const REQ: &str = "TTL-EXPIRED-404";

/// Wait until "s", created with a 1 s TTL and idle since `t0`, answers 404.
async fn expired_idle(ctx: &Ctx, t0: Instant) -> Result<u16, crate::case::Failure> {
    wait_status(
        ctx,
        "s",
        &[404],
        t0 + Duration::from_millis(3000),
        "TTL-EXPIRES-IDLE",
        "idle for its 1 s TTL",
    )
    .await
}

/// Every kind of request on the expired stream "s" answers 404, and none of
/// them brings it back.
async fn every_operation_404(ctx: &Ctx, tail: &str) -> CaseResult {
    let quick = Duration::from_secs(5);
    let checks = [
        (
            "GET offset=-1",
            ctx.get("s").offset("-1").send().await?.status,
        ),
        (
            "GET offset=<old tail>",
            ctx.get("s").offset(tail).send().await?.status,
        ),
        (
            "GET offset=now",
            ctx.get("s").offset("now").send().await?.status,
        ),
        (
            "long-poll GET",
            ctx.get("s")
                .offset(tail)
                .long_poll()
                .timeout(quick)
                .send()
                .await?
                .status,
        ),
        (
            "SSE GET",
            ctx.get("s").offset("-1").live("sse").sse().await?.status,
        ),
        ("HEAD", ctx.head("s").send().await?.status),
        (
            "append POST",
            ctx.post("s")
                .ct("text/plain")
                .body("x")
                .send()
                .await?
                .status,
        ),
        (
            "producer POST",
            ctx.post("s")
                .ct("text/plain")
                .producer("p", 0, 0)
                .body("x")
                .send()
                .await?
                .status,
        ),
        (
            "close-only POST",
            ctx.post("s").closed().send().await?.status,
        ),
        ("DELETE", ctx.delete("s").send().await?.status),
        ("HEAD again", ctx.head("s").send().await?.status),
    ];
    for (what, status) in checks {
        check!(
            status == 404,
            REQ,
            "{what} on the expired stream answered {status}, expected 404"
        );
    }
    Ok(())
}

/// After its TTL elapses idle, GET (catch-up, now, long-poll, SSE), HEAD,
/// POST (append, producer, close-only) and DELETE all answer 404.
#[case("TTL-EXPIRED-404", "TTL-EXPIRES-IDLE")]
pub async fn ttl_every_operation_404(ctx: Ctx) -> CaseResult {
    let (r, t0) = put_text(&ctx, "s", |q| q.ttl(1).body("abc"), REQ).await?;
    let tail = r.next_offset(REQ)?;
    expired_idle(&ctx, t0).await?;
    every_operation_404(&ctx, &tail).await
}

/// After its Stream-Expires-At passes, every operation answers 404.
#[case("TTL-EXPIRED-404", "EXPIRES-AT-EXPIRES", secs = 2)]
pub async fn expires_at_every_operation_404(ctx: Ctx) -> CaseResult {
    let (value, at) = expires_in(2);
    let (r, _) = put_text(&ctx, "s", |q| q.expires_at(&value).body("abc"), REQ).await?;
    let tail = r.next_offset(REQ)?;
    wait_status(
        &ctx,
        "s",
        &[404],
        at + Duration::from_millis(1500),
        "EXPIRES-AT-EXPIRES",
        "past its Stream-Expires-At",
    )
    .await?;
    every_operation_404(&ctx, &tail).await
}

/// A PUT at the URL of an expired stream either is refused (4xx; §4: a new
/// stream SHOULD NOT be created at the same URL) or creates a brand-new
/// stream: no old data, not closed, no TTL, and neither the old
/// `Stream-Seq` nor the old producer epoch constrains writers.
#[case("TTL-EXPIRED-RECREATE-FRESH", "TTL-EXPIRES-IDLE")]
pub async fn recreate_after_expiry_is_fresh(ctx: Ctx) -> CaseResult {
    const FRESH: &str = "TTL-EXPIRED-RECREATE-FRESH";
    put_text(&ctx, "s", |q| q.ttl(1).body("old"), FRESH).await?;
    ctx.post("s")
        .ct("text/plain")
        .seq("m")
        .body("-seq")
        .send()
        .await?
        .expect_any(&[200, 204], FRESH)?;
    ctx.post("s")
        .ct("text/plain")
        .producer("p", 5, 0)
        .body("-prod")
        .send()
        .await?
        .expect(200, FRESH)?;
    ctx.post("s").closed().send().await?.expect(204, FRESH)?;
    let t0 = Instant::now();
    expired_idle(&ctx, t0).await?;

    let again = ctx.put("s").ct("text/plain").send().await?;
    if again.status != 201 {
        check!(
            (400..500).contains(&again.status) && again.status != 404,
            FRESH,
            "re-creating the expired stream's URL answered {}; expected 201 (new stream) or a \
             refusal (4xx) — 200 would mean the expired stream still exists",
            again.status
        );
        ctx.note(format!(
            "server refuses to reuse the URL ({}), allowed by §4",
            again.status
        ));
        return Ok(());
    }
    let h = ctx.head("s").send().await?;
    h.expect(200, FRESH)?;
    check!(
        !h.closed(),
        FRESH,
        "the new stream is reported closed (old closure carried over)"
    );
    check!(
        !h.has("stream-ttl"),
        FRESH,
        "the new stream, created without TTL, reports Stream-TTL"
    );
    let all = ctx.read_all("s", "-1", FRESH).await?;
    check!(
        all.bytes.is_empty(),
        FRESH,
        "the new stream holds old data: {:?}",
        all.text()
    );
    let p = ctx
        .post("s")
        .ct("text/plain")
        .seq("a")
        .body("A")
        .send()
        .await?;
    check!(
        matches!(p.status, 200 | 204),
        FRESH,
        "append with Stream-Seq \"a\" answered {} (the expired stream's \"m\" still applies?)",
        p.status
    );
    let p = ctx
        .post("s")
        .ct("text/plain")
        .producer("p", 0, 0)
        .body("B")
        .send()
        .await?;
    check!(
        p.status == 200,
        FRESH,
        "producer p at epoch 0 answered {} (the expired stream's epoch 5 still applies?)",
        p.status
    );
    let all = ctx.read_all("s", "-1", FRESH).await?;
    check!(
        all.text() == "AB",
        FRESH,
        "new stream reads {:?}, expected \"AB\"",
        all.text()
    );
    Ok(())
}

/// A PUT repeating the expired stream's exact configuration must not be
/// answered as an idempotent re-create of it (200 says "this stream exists
/// with this config", §5.1): the expired stream no longer exists, so the
/// answer is 201 (a new, empty stream) or a refusal (4xx, §4). Catches a
/// server whose PUT path skips the expiry check — with a different config
/// such a server answers 409, indistinguishable from a deliberate refusal.
#[case("TTL-EXPIRED-RECREATE-FRESH", "TTL-EXPIRES-IDLE")]
pub async fn same_config_put_after_expiry_is_not_200(ctx: Ctx) -> CaseResult {
    const FRESH: &str = "TTL-EXPIRED-RECREATE-FRESH";
    put_text(&ctx, "s", |q| q.ttl(1).body("old"), FRESH).await?;
    let t0 = Instant::now();
    expired_idle(&ctx, t0).await?;
    let again = ctx.put("s").ct("text/plain").ttl(1).send().await?;
    check!(
        again.status != 200,
        FRESH,
        "PUT with the expired stream's own config (text/plain, Stream-TTL: 1) answered 200: \
         the expired stream is treated as still existing"
    );
    if again.status != 201 {
        check!(
            (400..500).contains(&again.status) && again.status != 404,
            FRESH,
            "re-creating the expired stream's URL answered {}; expected 201 (new stream) or a \
             refusal (4xx)",
            again.status
        );
        ctx.note(format!(
            "server refuses to reuse the URL ({}), allowed by §4",
            again.status
        ));
        return Ok(());
    }
    // The new stream has a 1 s TTL of its own: read it at once.
    let g = ctx.get("s").offset("-1").send().await?;
    if g.status == 404 {
        ctx.note("the new stream expired before it could be read (1 s TTL)");
        return Ok(());
    }
    g.expect(200, FRESH)?;
    check!(
        !g.text().contains("old"),
        FRESH,
        "the stream created at the expired stream's URL reads {:?}: the old data survived",
        g.text()
    );
    Ok(())
}

register![
    ttl_every_operation_404,
    expires_at_every_operation_404,
    recreate_after_expiry_is_fresh,
    same_config_put_after_expiry_is_not_200,
];
