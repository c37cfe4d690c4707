//! Bad input (§5.1/§5.2/§5.6 "400 Bad Request", §12.2): malformed headers,
//! bodies, queries and paths get a prompt 4xx, never a 5xx or a hang.
//! Values that a server may legitimately accept (opaque strings) only must
//! not produce a 5xx.

use std::time::Duration;

use reqwest::Method;

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::create_with;
use crate::check;
use crate::client::{Ctx, Req, Resp};

const PROMPT: Duration = Duration::from_secs(10);

async fn send(req: Req) -> Result<Resp, Failure> {
    req.timeout(PROMPT).send().await
}

fn is_4xx(r: &Resp) -> bool {
    (400..500).contains(&r.status)
}

/// Base-protocol header values that are invalid by the spec's syntax: 4xx.
/// (Producer and fork header syntax belong to those areas' cases; here
/// they only must not produce a 5xx.)
#[case("SEC-BAD-INPUT-4XX")]
pub async fn malformed_headers_are_4xx(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    let cases: Vec<(&str, Req)> = vec![
        (
            "PUT Stream-TTL: <non-UTF-8>",
            ctx.put("b")
                .ct("text/plain")
                .header_bytes("Stream-TTL", b"\xff\xfe"),
        ),
        (
            "PUT Stream-Expires-At: <non-UTF-8>",
            ctx.put("c")
                .ct("text/plain")
                .header_bytes("Stream-Expires-At", b"2030-01-01T00:00:00\xffZ"),
        ),
        (
            "PUT Stream-Expires-At: <4 KiB garbage>",
            ctx.put("d")
                .ct("text/plain")
                .header("Stream-Expires-At", "9".repeat(4096)),
        ),
    ];
    for (label, req) in cases {
        let r = send(req).await?;
        check!(
            is_4xx(&r),
            "SEC-BAD-INPUT-4XX",
            "{label} answered {} (expected 4xx)",
            r.status
        );
    }
    Ok(())
}

/// Odd but possibly acceptable header values (opaque Stream-Seq bytes,
/// exotic content types, huge values): never a 5xx.
#[case("SEC-BAD-INPUT-4XX")]
pub async fn odd_header_values_are_never_5xx(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    let cases: Vec<(&str, Req)> = vec![
        (
            "PUT Stream-TTL: 18446744073709551616000",
            ctx.put("a")
                .ct("text/plain")
                .header("Stream-TTL", "18446744073709551616000"),
        ),
        (
            "POST Producer-Epoch: abc",
            ctx.post("s")
                .ct("text/plain")
                .header("Producer-Id", "p")
                .header("Producer-Epoch", "abc")
                .header("Producer-Seq", "0")
                .body("y"),
        ),
        (
            "POST Producer-Seq: -1",
            ctx.post("s")
                .ct("text/plain")
                .header("Producer-Id", "p")
                .header("Producer-Epoch", "0")
                .header("Producer-Seq", "-1")
                .body("y"),
        ),
        (
            "POST Producer-Epoch: 2^70",
            ctx.post("s")
                .ct("text/plain")
                .header("Producer-Id", "p")
                .header("Producer-Epoch", "1180591620717411303424")
                .header("Producer-Seq", "0")
                .body("y"),
        ),
        (
            "PUT Stream-Fork-Sub-Offset: x",
            ctx.put("f")
                .ct("text/plain")
                .fork_of("s")
                .fork_sub_offset("x"),
        ),
        (
            "POST Stream-Seq: <high bytes>",
            ctx.post("s")
                .ct("text/plain")
                .header_bytes("Stream-Seq", b"\xff\x80")
                .body("y"),
        ),
        (
            "POST Stream-Seq: <8 KiB>",
            ctx.post("s")
                .ct("text/plain")
                .header("Stream-Seq", "z".repeat(8192))
                .body("y"),
        ),
        (
            "POST Content-Type: <non-UTF-8>",
            ctx.post("s")
                .header_bytes("Content-Type", b"text/\xffplain")
                .body("y"),
        ),
        ("POST Content-Type: ;;;", ctx.post("s").ct(";;;").body("y")),
        (
            "PUT Content-Type: <non-UTF-8>",
            ctx.put("a").header_bytes("Content-Type", b"x/\xfe"),
        ),
        ("PUT Content-Type: <empty>", ctx.put("b").ct("")),
        (
            "POST Stream-Closed: <non-UTF-8>",
            ctx.post("s")
                .ct("text/plain")
                .header_bytes("Stream-Closed", b"tr\xffue")
                .body("y"),
        ),
        (
            "PUT Stream-Forked-From: <garbage path>",
            ctx.put("c")
                .ct("text/plain")
                .header("Stream-Forked-From", "%%%/../.."),
        ),
        (
            "PUT fork with Stream-Fork-Offset: a,b",
            ctx.put("d")
                .ct("text/plain")
                .fork_of("s")
                .fork_offset("a,b"),
        ),
        (
            "GET If-None-Match: <garbage>",
            ctx.get("s").header("If-None-Match", "\"unterminated"),
        ),
        (
            "POST Producer-Id: <4 KiB>",
            ctx.post("s")
                .ct("text/plain")
                .header("Producer-Id", "p".repeat(4096))
                .header("Producer-Epoch", "0")
                .header("Producer-Seq", "0")
                .body("y"),
        ),
    ];
    for (label, req) in cases {
        let r = send(req).await?;
        check!(
            r.status < 500,
            "SEC-BAD-INPUT-4XX",
            "{label} answered {}",
            r.status
        );
    }
    Ok(())
}

/// Malformed bodies: invalid JSON nested past any sane depth and binary
/// garbage on a JSON stream are 4xx; valid JSON nested as deep is never a 5xx.
#[case("SEC-BAD-INPUT-4XX", "SEC-LIMITS-4XX")]
pub async fn malformed_bodies_are_4xx(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "j", "application/json", "[]", "CREATE-NEW-201").await?;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(99_999));
    let r = send(ctx.post("j").ct("application/json").body(deep)).await?;
    check!(
        is_4xx(&r),
        "SEC-BAD-INPUT-4XX",
        "100000-deep unbalanced JSON answered {}",
        r.status
    );
    let deep_ok = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = send(ctx.post("j").ct("application/json").body(deep_ok)).await?;
    check!(
        r.status < 500,
        "SEC-LIMITS-4XX",
        "well-formed JSON nested 100000 deep answered {}",
        r.status
    );
    let r = send(ctx.post("j").ct("application/json").body(vec![0xffu8; 64])).await?;
    check!(
        is_4xx(&r),
        "SEC-BAD-INPUT-4XX",
        "binary garbage to a JSON stream answered {}",
        r.status
    );
    Ok(())
}

/// Odd query strings on reads: never a 5xx, answered promptly.
#[case("SEC-BAD-INPUT-4XX")]
pub async fn odd_queries_are_never_5xx(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    for raw in [
        "live=bogus",
        "live=",
        "live=sse&live=long-poll",
        "cursor=%00",
        "offset=-1&cursor=",
        "%%%",
        "a=%zz&offset=-1",
        "live=long-poll&offset=%FF",
    ] {
        let r = send(ctx.get("s").raw_query(raw)).await?;
        check!(
            r.status < 500,
            "SEC-BAD-INPUT-4XX",
            "GET ?{raw} answered {}",
            r.status
        );
    }
    Ok(())
}

/// Odd stream paths (encoded slashes and dots, NUL, very long segments,
/// non-ASCII): every operation answers without a 5xx.
#[case("SEC-PATH-SANITIZE")]
pub async fn odd_paths_are_never_5xx(ctx: Ctx) -> CaseResult {
    let long = "L".repeat(4000);
    let names = [
        "a/..%2f..%2fx",
        "%2e%2e%2f%2e%2e",
        "nul%00byte",
        long.as_str(),
        "%C3%A9t%C3%A9",
        "%FF%FE",
        "a//b",
        "sp%20ace",
        "semi;colon",
    ];
    for name in names {
        for m in [
            Method::PUT,
            Method::POST,
            Method::GET,
            Method::HEAD,
            Method::DELETE,
        ] {
            let mut req = ctx.request(m.clone(), &ctx.url(name));
            if m == Method::PUT || m == Method::POST {
                req = req.ct("text/plain").body("x");
            }
            let r = send(req).await?;
            check!(
                r.status < 500,
                "SEC-PATH-SANITIZE",
                "{m} on stream {:?} answered {}",
                &name[..name.len().min(40)],
                r.status
            );
        }
    }
    Ok(())
}

/// A method the protocol does not define is refused with a 4xx (405) or
/// 501 Not Implemented — the answer RFC 9110 §9.1 recommends for an
/// unrecognised method, and one §5.2/§5.4 allow for unsupported
/// operations — never another 5xx.
#[case("SEC-BAD-INPUT-4XX")]
pub async fn unsupported_method_is_4xx(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "x", "CREATE-NEW-201").await?;
    for m in ["PATCH", "TRACE", "PROPFIND"] {
        let method =
            Method::from_bytes(m.as_bytes()).map_err(|e| Failure::no_answer(e.to_string()))?;
        let r = send(ctx.request(method, &ctx.url("s"))).await?;
        check!(
            is_4xx(&r) || r.status == 501,
            "SEC-BAD-INPUT-4XX",
            "{m} answered {} (expected 405 or another 4xx, or 501)",
            r.status
        );
    }
    Ok(())
}

register![
    malformed_headers_are_4xx,
    odd_header_values_are_never_5xx,
    malformed_bodies_are_4xx,
    odd_queries_are_never_5xx,
    odd_paths_are_never_5xx,
    unsupported_method_is_4xx,
];
