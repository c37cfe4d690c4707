//! §5.8 data events, byte for byte as a WHATWG client reassembles them:
//! SSE framing must survive leading spaces, empty lines and newlines in
//! text, and base64 must carry every byte value.

use super::{catch_up_within, decode_events, Encoding};
use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create, create_with};
use crate::client::Ctx;
use crate::{check, check_eq, fail};

/// Read `name` from `offset` over SSE until caught up; the data decoded.
async fn sse_bytes(
    ctx: &Ctx,
    name: &str,
    offset: &str,
    kind: Encoding,
    req: &str,
) -> Result<Vec<u8>, crate::case::Failure> {
    let mut s = ctx.get(name).offset(offset).live("sse").sse().await?;
    s.expect(200, req)?;
    // Multi-MiB streams get more time to arrive.
    catch_up_within(&mut s, req, super::PROMPT * 4).await?;
    decode_events(&s.events, kind)
}

/// Payloads that SSE framing can mangle (leading spaces, empty lines,
/// LF runs, trailing newline, a colon at line start, `data:` inside the
/// text) reach the client unchanged.
#[case("SSE-TEXT-EXACT")]
pub async fn text_lines_exact(ctx: Ctx) -> CaseResult {
    let parts = [
        " one leading space",
        "  two leading spaces\n",
        "\n\nempty lines above\n\n",
        ": looks like a comment\ndata: looks like a field\nevent: control\n",
        "tab\tand unicode \u{e9}\u{1f600} and trailing newline\n",
    ];
    create(&ctx, "s", "text/plain", "SSE-TEXT-EXACT").await?;
    for p in parts {
        append(&ctx, "s", "text/plain", p, "SSE-TEXT-EXACT").await?;
    }
    let expected = parts.concat();
    let got = sse_bytes(&ctx, "s", "-1", Encoding::Text, "SSE-TEXT-EXACT").await?;
    check_eq!(
        String::from_utf8_lossy(&got),
        expected,
        "SSE-TEXT-EXACT",
        "text reassembled from SSE data events"
    );
    Ok(())
}

/// CR and CRLF inside text: a WHATWG client can at best see LF for each,
/// so the payload with every CRLF/CR as LF is accepted; lost or merged
/// lines are not.
#[case("SSE-TEXT-EXACT")]
pub async fn text_cr_crlf_as_lf(ctx: Ctx) -> CaseResult {
    let body = "crlf line\r\nlone cr\rmixed\r\n\r\nend\r";
    create_with(&ctx, "s", "text/plain", body, "SSE-TEXT-EXACT").await?;
    let got = String::from_utf8_lossy(
        &sse_bytes(&ctx, "s", "-1", Encoding::Text, "SSE-TEXT-EXACT").await?,
    )
    .into_owned();
    let as_lf = body.replace("\r\n", "\n").replace('\r', "\n");
    check!(
        got == body || got == as_lf,
        "SSE-TEXT-EXACT",
        "text with CR/CRLF reassembled from SSE data events:\n  expected: {body:?}\n  (or with CR/CRLF as LF: {as_lf:?})\n  actual:   {got:?}"
    );
    if got != body {
        ctx.note("CR/CRLF arrived as LF (the best a WHATWG client can see)");
    }
    Ok(())
}

/// A binary stream holding every byte value (several appends) decodes
/// from base64 to exactly those bytes.
#[case("SSE-BINARY-EXACT", "SSE-BASE64-VALID")]
pub async fn binary_every_byte_value(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    let all: Vec<u8> = (0..=255u8).collect();
    let parts = [
        all.clone(),
        all.iter().rev().copied().collect(),
        vec![0],
        vec![0xff, 0x0a],
        b"\r\n\r".to_vec(),
    ];
    create(&ctx, "s", ct, "SSE-BINARY-EXACT").await?;
    for p in &parts {
        append(&ctx, "s", ct, p.clone(), "SSE-BINARY-EXACT").await?;
    }
    let expected = parts.concat();
    let got = sse_bytes(&ctx, "s", "-1", Encoding::Base64, "SSE-BINARY-EXACT").await?;
    check_binary_exact(&got, &expected)
}

/// SSE from an offset an append returned delivers exactly what followed.
#[case("SSE-TEXT-EXACT")]
pub async fn from_minted_offset(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "skipped\n", "SSE-TEXT-EXACT").await?;
    let mid = append(&ctx, "s", "text/plain", "also skipped\n", "SSE-TEXT-EXACT").await?;
    append(&ctx, "s", "text/plain", "wanted\n", "SSE-TEXT-EXACT").await?;
    append(&ctx, "s", "text/plain", " too", "SSE-TEXT-EXACT").await?;
    let got = sse_bytes(&ctx, "s", &mid, Encoding::Text, "SSE-TEXT-EXACT").await?;
    check_eq!(
        String::from_utf8_lossy(&got),
        "wanted\n too",
        "SSE-TEXT-EXACT",
        "SSE data from a minted offset"
    );
    Ok(())
}

/// A multi-MiB binary stream (several appends) decodes to exactly its
/// bytes, however the server splits it into events and lines.
#[case("SSE-BINARY-EXACT", "SSE-BASE64-VALID")]
pub async fn large_binary_exact(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    create(&ctx, "s", ct, "SSE-BINARY-EXACT").await?;
    let mut expected = Vec::new();
    for salt in 0..3u8 {
        let part = crate::cases::support::binary_payload(512 * 1024 + salt as usize, salt);
        append(&ctx, "s", ct, part.clone(), "SSE-BINARY-EXACT").await?;
        expected.extend(part);
    }
    let got = sse_bytes(&ctx, "s", "-1", Encoding::Base64, "SSE-BINARY-EXACT").await?;
    check_binary_exact(&got, &expected)
}

/// Multi-MiB texts made of CRLF pairs, one shifted by a byte: whatever
/// size the server cuts events at, some cut falls between a CR and its LF
/// in one of them. No line break may be lost or doubled there (a CR ending
/// one event and its LF starting the next read as two line breaks). The
/// appends themselves never split a pair.
#[case("SSE-TEXT-EXACT")]
pub async fn large_text_crlf(ctx: Ctx) -> CaseResult {
    let pairs = "\r\n".repeat(256 * 1024);
    for (name, first) in [("even", pairs.clone()), ("odd", format!("x{pairs}"))] {
        create(&ctx, name, "text/plain", "SSE-TEXT-EXACT").await?;
        let parts = [first, pairs.clone(), pairs.clone()];
        for part in &parts {
            append(&ctx, name, "text/plain", part.clone(), "SSE-TEXT-EXACT").await?;
        }
        let body = parts.concat();
        let got = sse_bytes(&ctx, name, "-1", Encoding::Text, "SSE-TEXT-EXACT").await?;
        let got = String::from_utf8_lossy(&got);
        let as_lf = body.replace("\r\n", "\n");
        if got != body && got != as_lf {
            let breaks = |s: &str| s.matches('\n').count();
            fail!(
                "SSE-TEXT-EXACT",
                "stream {name:?}: {} CRLF line breaks arrived as {} line breaks ({} bytes received, {} expected as LF)",
                breaks(&as_lf),
                breaks(&got),
                got.len(),
                as_lf.len()
            );
        }
    }
    Ok(())
}

/// Decoded base64 SSE data is exactly the stream's bytes.
fn check_binary_exact(got: &[u8], expected: &[u8]) -> CaseResult {
    check!(
        got == expected,
        "SSE-BINARY-EXACT",
        "decoded SSE data ({} bytes) differs from the stream ({} bytes)",
        got.len(),
        expected.len()
    );
    Ok(())
}

register![
    text_lines_exact,
    text_cr_crlf_as_lf,
    binary_every_byte_value,
    from_minted_offset,
    large_text_crlf,
    large_binary_exact,
];
